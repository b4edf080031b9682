"""The commands the README and every `--help` show are commands carbonx takes.

A new user copies them; an option renamed or a subcommand moved must fail here, not in their
terminal. Each example is parsed by the real parser (nothing runs): the README's shell blocks and
`$ ` lines, and the example lines of every command's epilog.
"""

from __future__ import annotations

import argparse
import re
import shlex
from pathlib import Path

import pytest

from carbonx.cli import build_parser, main
from tests.node_process import REPO

pytestmark = pytest.mark.not_per_book

# In the README a command is a line of `.venv/bin/carbonx ...` or `$ ...`; a bare "carbonx ..." there
# is output. In a --help epilog every "carbonx ..." line is an example.
README_PROGRAM = re.compile(r"^(?:\$ )?\.venv/bin/carbonx(?= |$)|^\$ carbonx(?= |$)")
HELP_PROGRAM = re.compile(r"^carbonx(?= |$)")
# Options that print and exit instead of parsing into a command.
EXITS_AT_ONCE = {"--help", "-h", "--version"}


def _commands(line: str, program: re.Pattern[str]) -> list[list[str]]:
    """The carbonx commands of one shell line: comments dropped, `;`-separated commands split, and
    what the shell does with the output (`> file`, `| more`) left to the shell."""
    found = []
    for part in line.split("#", 1)[0].split(";"):
        part = re.split(r"\s[>|]", part.strip())[0]
        if program.match(part):
            words = shlex.split(program.sub("", part, count=1))
            if not EXITS_AT_ONCE & set(words):
                found.append(words)
    return found


def readme_examples() -> list[list[str]]:
    examples: list[list[str]] = []
    inside = False
    for line in (REPO / "README.md").read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if inside:
            examples += _commands(line, README_PROGRAM)
    return examples


def _parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _parsers(sub)
    return found


def help_examples() -> list[list[str]]:
    examples: list[list[str]] = []
    for parser in _parsers(build_parser()):
        for line in (parser.epilog or "").splitlines():
            command = re.split(r"\s{2,}", line.strip())[0]  # the explanation follows after two spaces
            examples += _commands(command, HELP_PROGRAM)
    return examples


def test_the_readme_and_the_help_show_the_first_hour_of_every_user_group() -> None:
    shown = {" ".join(words[:2]) for words in readme_examples()} | {" ".join(w[:2]) for w in help_examples()}

    first_hour = {
        "order new",
        "fills --member",
        "order list",
        "quotes",
        "bulletin",
        "regulator session",
        "regulator end-of-day",
        "regulator start-of-day",
        "eod report",
    }
    assert {s for s in first_hour if not any(shown_one.startswith(s) for shown_one in shown)} == set()


@pytest.mark.parametrize("words", readme_examples() + help_examples(), ids=" ".join)
def test_every_example_is_a_command_carbonx_takes(words: list[str]) -> None:
    try:
        args = build_parser().parse_args(words)
    except SystemExit as refused:
        pytest.fail(f"carbonx {' '.join(words)}: refused by the parser (exit {refused.code})")
    assert callable(args.run)


def test_the_readmes_simulated_day_is_what_simulate_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The sample names its date, so the `eod report --date` it shows works; and it is real output."""
    readme = (REPO / "README.md").read_text()
    command = "$ .venv/bin/carbonx simulate --date 2026-11-23 --overwrite\n"
    shown = readme.split(command, 1)[1].split("\n$ ", 1)[0] + "\n"
    (tmp_path / "config").symlink_to(REPO / "config")
    monkeypatch.chdir(tmp_path)  # the sample's paths are relative to the directory it ran in

    status = main(["simulate", "--date", "2026-11-23", "--overwrite"])

    assert (status, capsys.readouterr().out) == (0, shown)
    assert "report             carbonx eod report --date 2026-11-23 --data-dir var-simulate" in shown
    assert main(["eod", "report", "--date", "2026-11-23", "--data-dir", "var-simulate"]) == 0
