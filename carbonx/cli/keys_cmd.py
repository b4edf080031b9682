"""``carbonx keys generate``: CURVE key pairs for the node and its members, public keys into members.toml."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from carbonx.cli.commands import help_of
from carbonx.config import load_config
from gateway.keys import DEMO_KEYS, PUBLIC_SUFFIX, SECRET_SUFFIX, SERVER, KeyReport, demo_secret_files, generate_keys

HELP = help_of("keys")
DESCRIPTION = """\
The order gateway and the drop copy accept only ZeroMQ CURVE connections whose public key is
written in the member's [[member]] table of members.toml. The key files live in one directory
(node.toml [gateway] keys_dir, relative to the config directory; demo-keys by default):

  server.key          the node's public key: give it to every member
  server.key_secret   the node's key pair: never leaves the node
  <MEMBER>.key        a member's public key (also written into members.toml as public_key)
  <MEMBER>.key_secret a member's key pair: give it to that member only

The files are pyzmq certificates (zmq.auth.load_certificate reads them); secret files are mode 0600.
"""
GENERATE_HELP = "create missing key pairs and write the members' public keys into members.toml"
GENERATE_DESCRIPTION = """\
Create the node's key pair and one per member (every [[member]] of members.toml, or those named
with --member), then set public_key = "<key>" in each of those members' tables of members.toml.
Every other line and comment of members.toml is kept; the file is replaced in one step.

A key pair whose secret file already exists is kept (its public key is still written into
members.toml), so running the command again changes nothing. --force replaces the pairs instead:
with --member only those members' pairs, without it the node's and every member's. Restart the
node afterwards; a member whose pair was replaced needs its new secret file, and after a new node
pair every member needs the new server.key.
"""
GENERATE_EPILOG = """\
examples:
  carbonx keys generate                          all members; keys in config/demo-keys
  carbonx keys generate --member M001 M002       only these members (and the node, if missing)
  carbonx keys generate --member M001 --force    new key pair for M001: its old key stops working
  carbonx keys generate --config /etc/carbonx --keys-dir /etc/carbonx/keys

A member connects with its <MEMBER>.key_secret file and the node's server.key file.
"""


def add_parser(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "keys",
        help=HELP,
        description=DESCRIPTION,
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help=GENERATE_HELP,
        description=GENERATE_DESCRIPTION,
        epilog=GENERATE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    generate.add_argument(
        "--config",
        type=Path,
        default=Path("config"),
        metavar="DIR",
        help="config directory; its members.toml is updated (default: config)",
    )
    generate.add_argument(
        "--keys-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the key files go, created mode 0700 if new (default: the keys_dir of the config's node.toml)",
    )
    generate.add_argument(
        "--member",
        action="extend",
        nargs="+",
        default=None,
        metavar="ID",
        help="only these members (repeatable; default: every member of members.toml)",
    )
    generate.add_argument(
        "--force",
        action="store_true",
        help="replace existing key pairs instead of keeping them: the named members' with --member, else all",
    )
    generate.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config_dir: Path = args.config
    keys_dir: Path = args.keys_dir if args.keys_dir is not None else load_config(config_dir).keys_dir
    report = generate_keys(config_dir, keys_dir, args.member, force=args.force)
    for line in summary(report, demo_secret_files(Path(report.keys_dir), report.kept)):
        print(line)
    return 0


def summary(report: KeyReport, demo: Sequence[str] = ()) -> list[str]:
    """What was written and kept, and what to hand to whom."""
    keys_dir = Path(report.keys_dir)
    lines = [f"carbonx keys generate: {keys_dir}"]
    for what, names in (("written", report.written), ("kept", report.kept)):
        if names:
            lines.append(f"{what:<13}{', '.join(names)}")
    if demo:
        lines += _demo_advice(keys_dir, report.members_file)
    elif report.kept:
        lines.append(f"{'':<13}(existing pairs are kept; --force replaces them)")
    if report.members_updated:
        lines.append(
            f"{'members.toml':<13}public_key set for {', '.join(report.members_updated)} ({report.members_file})"
        )
    else:
        lines.append(f"{'members.toml':<13}already up to date ({report.members_file})")
    lines += [
        f"{'server key':<13}{keys_dir / (SERVER + PUBLIC_SUFFIX)} (public key {report.server_public_key})",
        "",
        f"To connect, each member needs its own <MEMBER>{SECRET_SUFFIX} file and the public file "
        f"{SERVER + PUBLIC_SUFFIX}; {SERVER + SECRET_SUFFIX} never leaves the node.",
    ]
    if SERVER + SECRET_SUFFIX in report.written:
        lines.append(f"The node's key pair is new: give every member the new {SERVER + PUBLIC_SUFFIX}.")
    if report.members_updated or report.written:
        lines.append("A running node loads keys when it starts: restart it to use these.")
    return lines


def _demo_advice(keys_dir: Path, members_file: str) -> list[str]:
    """Why the demo pairs were kept, and the two ways to pairs of one's own."""
    config_dir = Path(members_file).parent
    force = "carbonx keys generate --force" + ("" if config_dir == Path("config") else f" --config {config_dir}")
    indent = " " * 13
    return [
        f"{'demo pairs':<13}the kept pairs are the demo pairs published with carbonx (config/{DEMO_KEYS.name}): "
        "their secret",
        f"{indent}files are public, so they serve the demo only. For pairs of your own, either replace them:",
        f"{indent}  {force}",
        f"{indent}  (new pairs in {keys_dir}, their public keys into {members_file}), or make a config",
        f"{indent}directory of your own (keys_dir in its node.toml names its keys directory):",
        f"{indent}  cp -r config DIR && rm -r DIR/{DEMO_KEYS.name}",
        f"{indent}  carbonx keys generate --config DIR",
    ]
