"""CURVE key files and members.toml: generate, keep, force, refuse; the loaders' one-line errors."""

from __future__ import annotations

import argparse
import shutil
import stat
import tomllib
from pathlib import Path

import pytest
import zmq
import zmq.auth

from carbonx.cli import keys_cmd
from carbonx.config import load_config
from gateway.errors import GatewayError
from gateway.keys import (
    DEMO_KEYS,
    demo_secret_files,
    generate_keys,
    load_member_secret,
    load_server_public,
    load_server_secret,
)

ROOT = Path(__file__).resolve().parent.parent
MEMBERS = ["EXCHANGE", "REGULATOR", "M001", "M002", "M003", "M101", "M102"]


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the shipped config as it is before any key is generated: the repository's demo
    keys directory and public_key lines are left out."""
    target = tmp_path / "config"
    shutil.copytree(ROOT / "config", target)
    shutil.rmtree(keys_of(target), ignore_errors=True)
    members = target / "members.toml"
    members.write_text("".join(without_key_lines(members.read_text())))
    return target


def keys_of(config_dir: Path) -> Path:
    return load_config(config_dir).keys_dir


def public_keys(config_dir: Path) -> dict[str, str]:
    members = tomllib.loads((config_dir / "members.toml").read_text())["member"]
    return {m["id"]: m.get("public_key", "") for m in members}


def without_key_lines(text: str) -> list[str]:
    return [line for line in text.splitlines(keepends=True) if not line.lstrip().startswith("public_key")]


def one_line(error: pytest.ExceptionInfo[GatewayError], *fragments: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_demo_keys_are_told_by_their_bytes_not_by_the_directory_name(config_dir: Path, tmp_path: Path) -> None:
    own = keys_of(config_dir)  # named demo-keys, as the shipped node.toml says
    generate_keys(config_dir, own)
    copied = tmp_path / "keys"
    shutil.copytree(ROOT / "config" / "demo-keys", copied)
    shipped = sorted(p.name for p in (ROOT / "config" / "demo-keys").glob("*.key_secret"))

    assert DEMO_KEYS == ROOT / "config" / "demo-keys" and "server.key_secret" in shipped
    assert own.name == "demo-keys" and demo_secret_files(own) == []
    assert demo_secret_files(copied) == shipped
    assert demo_secret_files(copied, ["M001.key_secret", "M999.key_secret"]) == ["M001.key_secret"]


def test_generate_writes_every_pair_and_each_public_key(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    report = generate_keys(config_dir, keys_dir)

    assert report.members_updated == MEMBERS
    assert report.kept == []
    assert sorted(report.written) == sorted(
        f"{stem}{suffix}" for stem in ["server", *MEMBERS] for suffix in (".key", ".key_secret")
    )
    written = public_keys(config_dir)
    for member in MEMBERS:
        public, secret = load_member_secret(keys_dir, member)
        assert written[member] == public.decode()
        assert zmq.curve_public(secret) == public
        # pyzmq reads the same files
        assert zmq.auth.load_certificate(keys_dir / f"{member}.key_secret") == (public, secret)
        assert zmq.auth.load_certificate(keys_dir / f"{member}.key") == (public, None)
    server_public, _ = load_server_secret(keys_dir)
    assert load_server_public(keys_dir) == server_public == report.server_public_key.encode()
    assert server_public not in {key.encode() for key in written.values()}
    access = {a.member: a.public_key for a in load_config(config_dir).access}
    assert access == written


def test_members_toml_keeps_every_other_line_and_comment(config_dir: Path) -> None:
    original = (config_dir / "members.toml").read_text()
    generate_keys(config_dir, keys_of(config_dir))
    rewritten = (config_dir / "members.toml").read_text()

    assert without_key_lines(rewritten) == without_key_lines(original)
    assert rewritten.count("public_key = ") == len(MEMBERS)
    lines = rewritten.splitlines()
    for member in MEMBERS:  # each key sits right after its member's id line
        at = lines.index(f'id = "{member}"')
        assert lines[at + 1].startswith('public_key = "')


def test_rerun_keeps_the_keys_and_changes_nothing(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    generate_keys(config_dir, keys_dir)
    members_before = (config_dir / "members.toml").read_bytes()
    files_before = {path.name: path.read_bytes() for path in keys_dir.iterdir()}

    report = generate_keys(config_dir, keys_dir)

    assert report.written == []
    assert report.members_updated == []
    assert report.members_unchanged == MEMBERS
    assert sorted(report.kept) == sorted(f"{stem}.key_secret" for stem in ["server", *MEMBERS])
    assert (config_dir / "members.toml").read_bytes() == members_before
    assert {path.name: path.read_bytes() for path in keys_dir.iterdir()} == files_before


def test_force_replaces_every_pair(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    first = generate_keys(config_dir, keys_dir)
    keys_before = public_keys(config_dir)

    second = generate_keys(config_dir, keys_dir, force=True)

    assert second.server_public_key != first.server_public_key
    assert second.members_updated == MEMBERS
    keys_after = public_keys(config_dir)
    assert all(keys_after[m] != keys_before[m] for m in MEMBERS)
    assert keys_after["M001"] == load_member_secret(keys_dir, "M001")[0].decode()
    load_config(config_dir)


def test_force_for_named_members_keeps_the_node_and_the_others(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    first = generate_keys(config_dir, keys_dir)
    keys_before = public_keys(config_dir)

    report = generate_keys(config_dir, keys_dir, ["M001"], force=True)

    assert report.server_public_key == first.server_public_key  # every member holds server.key
    assert report.members_updated == ["M001"]
    assert sorted(report.written) == ["M001.key", "M001.key_secret"]
    keys_after = public_keys(config_dir)
    assert keys_after["M001"] != keys_before["M001"]
    assert {m: k for m, k in keys_after.items() if m != "M001"} == {m: k for m, k in keys_before.items() if m != "M001"}


def test_named_members_only(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    report = generate_keys(config_dir, keys_dir, ["M002", "M101"])

    assert report.members_updated == ["M002", "M101"]
    assert sorted(path.name for path in keys_dir.iterdir()) == sorted(
        ["server.key", "server.key_secret", "M002.key", "M002.key_secret", "M101.key", "M101.key_secret"]
    )
    assert {m for m, key in public_keys(config_dir).items() if key} == {"M002", "M101"}


def test_a_kept_pair_still_has_its_public_key_written(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    original = (config_dir / "members.toml").read_text()
    generate_keys(config_dir, keys_dir, ["M001"])
    (config_dir / "members.toml").write_text(original)  # the key line was lost, the files were not

    report = generate_keys(config_dir, keys_dir, ["M001"])

    assert report.kept == ["server.key_secret", "M001.key_secret"]
    assert report.members_updated == ["M001"]
    assert public_keys(config_dir)["M001"] == load_member_secret(keys_dir, "M001")[0].decode()


def test_a_lost_public_file_is_restored_from_the_kept_secret(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    generate_keys(config_dir, keys_dir, [])
    public, _ = load_server_secret(keys_dir)
    (keys_dir / "server.key").unlink()

    report = generate_keys(config_dir, keys_dir, [])

    assert report.written == ["server.key"]
    assert report.kept == ["server.key_secret"]
    assert load_server_public(keys_dir) == public


def test_existing_key_line_is_replaced_with_its_comment_and_line_endings(config_dir: Path) -> None:
    path = config_dir / "members.toml"
    stale = "0" * 40
    text = path.read_text().replace(
        'id = "M001"\nname = "Huangpu Steel"\n',
        f'id = "M001"\nname = "Huangpu Steel"\n  public_key = "{stale}"   # issued 2026-01\n',
    )
    path.write_bytes(text.replace("\n", "\r\n").encode())

    generate_keys(config_dir, keys_of(config_dir), ["M001", "M002"])

    rewritten = path.read_bytes().decode()
    assert "\r\n" in rewritten and "\n" not in rewritten.replace("\r\n", "")
    assert stale not in rewritten
    key = load_member_secret(keys_of(config_dir), "M001")[0].decode()
    assert f'\r\n  public_key = "{key}"   # issued 2026-01\r\n' in rewritten
    assert without_key_lines(rewritten) == without_key_lines(text.replace("\n", "\r\n"))
    load_config(config_dir)


def test_unknown_member_is_refused_and_nothing_is_written(config_dir: Path) -> None:
    members_before = (config_dir / "members.toml").read_bytes()
    keys_dir = keys_of(config_dir)

    with pytest.raises(GatewayError) as error:
        generate_keys(config_dir, keys_dir, ["M001", "M999"])

    one_line(error, "members.toml", "unknown member 'M999'", "M001")
    assert not keys_dir.exists()
    assert (config_dir / "members.toml").read_bytes() == members_before


def test_an_id_line_the_rewrite_cannot_find_is_refused(config_dir: Path) -> None:
    path = config_dir / "members.toml"
    path.write_text(path.read_text().replace('id = "M003"', '"id" = "M003"'))
    load_config(config_dir)  # valid TOML, only unusual

    with pytest.raises(GatewayError) as error:
        generate_keys(config_dir, keys_of(config_dir), ["M003"])

    one_line(error, "members.toml", 'id = "M003"', "by hand")
    assert not keys_of(config_dir).exists()


def test_secret_files_are_private(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    generate_keys(config_dir, keys_dir)

    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    for path in keys_dir.iterdir():
        expected = 0o600 if path.name.endswith(".key_secret") else 0o644
        assert stat.S_IMODE(path.stat().st_mode) == expected, path.name
    generate_keys(config_dir, keys_dir, force=True)  # replaced files are private too
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in keys_dir.glob("*.key_secret"))


def test_loaders_name_the_missing_file_and_the_command(tmp_path: Path) -> None:
    for load, name, command in (
        (lambda: load_server_secret(tmp_path), "server.key_secret", "carbonx keys generate"),
        (lambda: load_server_public(tmp_path), "server.key", "carbonx keys generate"),
        (lambda: load_member_secret(tmp_path, "M001"), "M001.key_secret", "carbonx keys generate --member M001"),
    ):
        with pytest.raises(GatewayError) as error:
            load()
        one_line(error, str(tmp_path / name), "not found", f"run `{command}`")


def test_loaders_refuse_damaged_files(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    generate_keys(config_dir, keys_dir, ["M001", "M002"])
    m001 = keys_dir / "M001.key_secret"
    m002_secret = load_member_secret(keys_dir, "M002")[1].decode()
    mismatched = [line for line in m001.read_text().splitlines() if "secret-key" not in line]
    m001.write_text("\n".join([*mismatched, f'    secret-key = "{m002_secret}"', ""]))

    with pytest.raises(GatewayError) as error:
        load_member_secret(keys_dir, "M001")
    one_line(error, "M001.key_secret", "does not match", "--force")

    shutil.copy(keys_dir / "server.key", keys_dir / "server.key_secret")  # a public file in the secret's place
    with pytest.raises(GatewayError) as error:
        load_server_secret(keys_dir)
    one_line(error, "server.key_secret", "no secret-key")

    (keys_dir / "server.key").write_text('curve\n    public-key = "too short"\n')
    with pytest.raises(GatewayError) as error:
        load_server_public(keys_dir)
    one_line(error, "server.key", "no valid CURVE public-key")

    with pytest.raises(GatewayError) as error:
        load_member_secret(keys_dir, "../M001")
    one_line(error, "'../M001'", "cannot name a key file")


def test_a_damaged_secret_file_stops_generate_until_forced(config_dir: Path) -> None:
    keys_dir = keys_of(config_dir)
    generate_keys(config_dir, keys_dir, ["M001"])
    (keys_dir / "M001.key_secret").write_text("garbage\n")

    with pytest.raises(GatewayError) as error:
        generate_keys(config_dir, keys_dir, ["M001"])
    one_line(error, "M001.key_secret", "carbonx keys generate --member M001 --force")

    generate_keys(config_dir, keys_dir, ["M001"], force=True)
    assert public_keys(config_dir)["M001"] == load_member_secret(keys_dir, "M001")[0].decode()


# ------------------------------------------------------------------------------------- the command


def keys_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carbonx")
    keys_cmd.add_parser(parser.add_subparsers(dest="command", required=True))
    return parser


def test_command_generates_and_says_what_it_did(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = keys_parser().parse_args(["keys", "generate", "--config", str(config_dir), "--member", "M001", "M002"])
    assert args.run(args) == 0
    out = capsys.readouterr().out

    keys_dir = config_dir / "demo-keys"
    assert f"carbonx keys generate: {keys_dir}" in out
    assert "written      server.key_secret, server.key, M001.key_secret, M001.key, M002.key_secret, M002.key" in out
    assert "public_key set for M001, M002" in out
    assert f"{keys_dir / 'server.key'} (public key {load_server_public(keys_dir).decode()})" in out
    assert "<MEMBER>.key_secret" in out and "server.key_secret never leaves the node" in out

    again = keys_parser().parse_args(["keys", "generate", "--config", str(config_dir), "--member", "M001"])
    again.run(again)
    out = capsys.readouterr().out
    assert "kept         server.key_secret, M001.key_secret" in out
    assert "already up to date" in out
    assert "written" not in out


def test_command_keys_dir_option(config_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    keys_dir = tmp_path / "elsewhere" / "keys"
    args = keys_parser().parse_args(["keys", "generate", "--config", str(config_dir), "--keys-dir", str(keys_dir)])
    assert args.run(args) == 0
    assert (keys_dir / "M102.key_secret").is_file()
    assert not (config_dir / "demo-keys").exists()
    assert public_keys(config_dir)["M102"] == load_member_secret(keys_dir, "M102")[0].decode()


def test_command_unknown_member_is_a_user_error(config_dir: Path) -> None:
    args = keys_parser().parse_args(["keys", "generate", "--config", str(config_dir), "--member", "NOPE"])
    with pytest.raises(GatewayError) as error:
        args.run(args)
    one_line(error, "unknown member 'NOPE'")


def test_command_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        keys_parser().parse_args(["keys", "generate", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for word in ("--config", "--keys-dir", "--member", "--force", "examples:", "server.key", "members.toml"):
        assert word in out
