"""Issue 13, every command: `carbonx --version`, config enum mistakes that list the valid values,
`keys generate` on the demo pairs, and the first start's kernel compile with its progress."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core import event

import settlement.kernels
from carbonx.cli import main
from carbonx.cli.serve_cmd import member_keys_line
from carbonx.config import load_config
from carbonx.errors import ConfigError
from carbonx.kernel_progress import ESTIMATE, compile_progress, kernels
from carbonx.version import carbonx_version
from engine.listing.fast import commands, ladder

pytestmark = pytest.mark.not_per_book

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


# ------------------------------------------------------------------------------------------- --version


def test_version_is_the_installed_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])

    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"carbonx {carbonx_version()}\n"
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", carbonx_version())


def test_version_without_an_install_falls_back_to_pyproject(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from importlib import metadata

    def not_installed(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", not_installed)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "carbonx"\nversion = "9.8.7"\n', encoding="utf-8")

    assert carbonx_version(pyproject) == "9.8.7 (source tree, not installed)"
    assert carbonx_version(tmp_path / "missing.toml").startswith("unknown (not installed")


def test_version_runs_as_a_program() -> None:
    result = subprocess.run([sys.executable, "-m", "carbonx", "--version"], capture_output=True, text=True, cwd=ROOT)

    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("carbonx ")


# ------------------------------------------------------------------------------------- enum mistakes


def config_copy(tmp_path: Path, file: str, old: str, new: str) -> Path:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target, ignore=shutil.ignore_patterns("demo-keys"))
    text = (target / file).read_text(encoding="utf-8")
    changed = re.sub(old, new, text, count=1, flags=re.MULTILINE)
    assert changed != text, f"{file}: {old!r} not found"
    (target / file).write_text(changed, encoding="utf-8")
    return target


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "node.toml",
            r"^\[engine\]$",
            '[engine]\nbook = "fats"',
            "engine.book: 'fats' is not one of fast, reference",
        ),
        ("node.toml", r"^mode = .*$", 'mode = "clock"', "scheduler.mode: 'clock' is not one of calendar, manual"),
        (
            "node.toml",
            r"^\[engine\]$",
            "[engine]\nbook = 1",
            "engine.book: expected one of fast, reference; got int",
        ),
        (
            "instruments.toml",
            r'^kind = "allowance"',
            'kind = "bond"',
            "instrument[0].kind: 'bond' is not one of allowance, ccer, shcer",
        ),
        (
            "members.toml",
            r'^kind = "self_dealing"',
            'kind = "self-dealing"',
            "'self-dealing' is not one of comprehensive, exchange, regulator, self_dealing",
        ),
        (
            "members.toml",
            r'^kind = "covered_entity"',
            'kind = "covered"',
            "'covered' is not one of covered_entity, exchange_fees, individual, institution, registry, reserve, "
            "treasury",
        ),
        (
            "members.toml",
            r'^kind = "regulator"',
            'kind = "regulator"\nrole = "boss"',
            "'boss' is not one of member, regulator, surveillance",
        ),
        (
            "limits.toml",
            r"^default_stp = .*$",
            'default_stp = "cancel_oldest"',
            "listing.default_stp: 'cancel_oldest' is not one of cancel_both, cancel_incoming, cancel_resting",
        ),
    ],
    ids=["book", "mode", "book-not-a-string", "instrument-kind", "member-kind", "account-kind", "role", "stp"],
)
def test_an_enum_mistake_lists_the_valid_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str, old: str, new: str, message: str
) -> None:
    directory = config_copy(tmp_path, file, old, new)

    with pytest.raises(ConfigError) as error:
        load_config(directory)
    status, out, err = run(capsys, "simulate", "--config", str(directory), "--data-dir", str(tmp_path / "d"))

    assert str(error.value).startswith(f"{directory / file}: ")
    assert str(error.value).endswith(message)
    assert (status, out) == (2, "")
    assert err == f"carbonx simulate: error: {error.value}\n"


# ------------------------------------------------------------------------------------ keys generate


def test_keys_generate_on_the_demo_pairs_says_they_are_kept_and_how_to_make_real_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(CONFIG, tmp_path / "config")
    before = {p.name: p.read_bytes() for p in (tmp_path / "config" / "demo-keys").iterdir()}

    status, out, err = run(capsys, "keys", "generate", "--config", str(tmp_path / "config"))

    assert (status, err) == (0, "")
    assert "demo pairs   the kept pairs are the demo pairs published with carbonx (config/demo-keys)" in out
    assert f"carbonx keys generate --force --config {tmp_path / 'config'}" in out
    assert "cp -r config DIR && rm -r DIR/demo-keys" in out and "carbonx keys generate --config DIR" in out
    assert "(existing pairs are kept; --force replaces them)" not in out
    assert {p.name: p.read_bytes() for p in (tmp_path / "config" / "demo-keys").iterdir()} == before


def test_keys_generate_says_nothing_of_demo_pairs_for_pairs_of_ones_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "config"
    shutil.copytree(CONFIG, target, ignore=shutil.ignore_patterns("demo-keys"))
    run(capsys, "keys", "generate", "--config", str(target))  # new pairs

    status, out, _ = run(capsys, "keys", "generate", "--config", str(target))

    assert status == 0
    assert "demo pairs" not in out
    assert "(existing pairs are kept; --force replaces them)" in out


def test_serve_warns_of_the_demo_keys_wherever_they_are_and_only_of_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copied = tmp_path / "keys"
    shutil.copytree(CONFIG / "demo-keys", copied)
    own = tmp_path / "config"
    shutil.copytree(CONFIG, own, ignore=shutil.ignore_patterns("demo-keys"))
    run(capsys, "keys", "generate", "--config", str(own))  # pairs of its own, in own/demo-keys

    warning = "(DEMO keys, published with the code: before real use, `carbonx keys generate --force`"
    assert warning in member_keys_line(CONFIG / "demo-keys")
    assert warning in member_keys_line(copied)
    assert member_keys_line(own / "demo-keys") == f"  member keys   {own / 'demo-keys'}/<MEMBER>.key_secret"


# ------------------------------------------------------------------------------ compiling the kernels


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def compiled(dispatcher: object) -> None:
    """What numba tells its listeners when it has compiled a function."""
    with event.trigger_event("numba:compile", data={"dispatcher": dispatcher, "args": (), "return_type": None}):
        pass


def test_the_kernels_counted_are_those_numba_compiles_on_their_own() -> None:
    found = kernels()

    assert commands.run_batch in found and ladder.depth in found
    assert commands.new_order not in found  # inlined into run_batch: never compiled on its own
    assert settlement.kernels.fee_for in found  # the ledger's numba form, called by the kernels
    assert settlement.kernels.settle_trade not in found  # inlined


def test_compile_progress_counts_each_kernel_once_on_a_terminal() -> None:
    out = Terminal()
    total = len(kernels())

    with compile_progress(out, cached=False):
        compiled(commands.run_batch)
        compiled(commands.run_batch)  # a second signature of the same kernel
        compiled(ladder.depth)
        compiled(object())  # numba's own helpers are not counted

    intro, progress, done = out.getvalue().split("\n", 2)
    assert intro == f"compiling the matching kernels (first start after an install or upgrade only): {ESTIMATE}"
    assert progress.startswith(f"\r  0/{total} kernels compiled, ")
    assert f"\r  1/{total} kernels compiled, " in progress and f"\r  2/{total} kernels compiled, " in progress
    assert f"3/{total}" not in progress
    assert all(len(line) < 80 for line in progress.split("\r"))  # rewritten in place: it must not wrap
    assert re.search(r"\r\033\[K  compiled 2 kernels in \d+ s; later starts load them$", progress)
    assert done == ""


def test_compile_progress_off_a_terminal_is_a_line_before_and_after() -> None:
    out = io.StringIO()

    with compile_progress(out, cached=False):
        compiled(commands.run_batch)

    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert len(lines) == 2
    assert lines[0] == f"compiling the matching kernels (first start after an install or upgrade only): {ESTIMATE}"
    assert re.fullmatch(r"  compiled 1 kernel in \d+ s; later starts load them", lines[1])


def test_cached_kernels_show_nothing_and_a_failed_compile_claims_nothing() -> None:
    quiet, failed = io.StringIO(), Terminal()

    with compile_progress(quiet, cached=True):
        compiled(commands.run_batch)
    with pytest.raises(RuntimeError), compile_progress(failed, cached=False):
        raise RuntimeError("numba failed")

    assert quiet.getvalue() == ""
    assert failed.getvalue().endswith("\r\033[K") and "compiled " not in failed.getvalue().split("\n", 1)[1]
