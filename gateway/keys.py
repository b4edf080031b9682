"""CURVE key pairs of the node and its members, and their public keys in members.toml.

The keys directory holds pyzmq certificate files (``zmq.auth.create_certificates`` and
``zmq.auth.load_certificate`` read and write the same format): ``server.key`` (the node's public key,
handed to every member) and ``server.key_secret`` (public + secret, for the node only), and
``<MEMBER>.key`` / ``<MEMBER>.key_secret`` for each member. A member connects with its own
``.key_secret`` file and the server's ``.key`` file; the node recognises it by the public key written
into its ``[[member]]`` table of members.toml, which is where the gateway's ZAP handler looks.

Secret files are created mode 0600 and a new directory 0700: a readable secret key lets anyone log on
as that member. An existing secret file is never replaced unless asked (``force``), because the
member holding its copy would be locked out.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import zmq

from gateway.errors import GatewayError

SERVER = "server"  # file stem of the node's own pair
PUBLIC_SUFFIX = ".key"
SECRET_SUFFIX = ".key_secret"
MEMBERS_FILE = "members.toml"
GENERATE = "carbonx keys generate"
# The demo key pairs published with the source (config/demo-keys): their secret files are no secret.
DEMO_KEYS = Path(__file__).resolve().parent.parent / "config" / "demo-keys"

_Z85_KEY = re.compile(rb"^[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
# A member id becomes a file name: nothing that could leave the directory or hide the file.
_FILE_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_PUBLIC_BANNER = """\
#   ****  Generated on {when} by carbonx keys generate (pyzmq certificate format)  ****
#   ZeroMQ CURVE Public Certificate
#   Exchange securely, or use a secure mechanism to verify the contents
#   of this file after exchange.

"""
_SECRET_BANNER = """\
#   ****  Generated on {when} by carbonx keys generate (pyzmq certificate format)  ****
#   ZeroMQ CURVE **Secret** Certificate
#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

"""


class KeyReport(msgspec.Struct, frozen=True, kw_only=True):
    """What ``generate_keys`` did, for the command line to tell the operator."""

    keys_dir: str
    members_file: str
    written: list[str]  # file names (in keys_dir) written by this run
    kept: list[str]  # file names of secret files that existed and were kept
    members_updated: list[str]  # members whose public_key in members.toml changed
    members_unchanged: list[str]  # members whose public_key was already the right one
    server_public_key: str  # Z85


class _Pair(msgspec.Struct, frozen=True):
    public: bytes  # Z85, 40 bytes
    secret: bytes


# ------------------------------------------------------------------------------------------- loading


def load_server_secret(keys_dir: Path) -> tuple[bytes, bytes]:
    """The node's (public, secret) key pair, Z85, from ``server.key_secret``."""
    pair = _load_pair(Path(keys_dir) / (SERVER + SECRET_SUFFIX), GENERATE)
    return pair.public, pair.secret


def load_server_public(keys_dir: Path) -> bytes:
    """The node's public key, Z85, from ``server.key`` (the file members are given)."""
    # Without --force, `generate` rewrites a lost or damaged public file from the kept secret file.
    public, _ = _read_certificate(Path(keys_dir) / (SERVER + PUBLIC_SUFFIX), GENERATE, GENERATE)
    return public


def load_member_secret(keys_dir: Path, member: str) -> tuple[bytes, bytes]:
    """A member's (public, secret) key pair, Z85, from ``<MEMBER>.key_secret``."""
    _check_member_id(member, Path(keys_dir))
    pair = _load_pair(Path(keys_dir) / (member + SECRET_SUFFIX), f"{GENERATE} --member {member}")
    return pair.public, pair.secret


def demo_secret_files(keys_dir: Path, names: Iterable[str] | None = None, shipped: Path = DEMO_KEYS) -> list[str]:
    """The secret files of ``keys_dir`` that are, byte for byte, the demo pairs published with carbonx:
    anyone has their secrets. ``names``: the files to look at (default: every demo secret file).

    The bytes decide, not the directory's name: a copy of the demo keys elsewhere is found, and
    pairs of one's own in a directory called demo-keys are not.
    """
    if names is None:
        names = sorted(path.name for path in shipped.glob("*" + SECRET_SUFFIX))
    demo = []
    for name in names:
        try:
            if (Path(keys_dir) / name).read_bytes() == (shipped / name).read_bytes():
                demo.append(name)
        except OSError:
            continue  # not among the demo files, or not in keys_dir: a pair of its own
    return demo


def _read_certificate(path: Path, missing: str, damaged: str) -> tuple[bytes, bytes | None]:
    """(public, secret or None) of one certificate file; a problem is one line naming the file and
    the command that mends it (``missing``: when absent, ``damaged``: when unusable)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise GatewayError(f"{path}: key file not found; run `{missing}`") from None
    except OSError as exc:
        raise GatewayError(f"{path}: cannot read key file: {exc.strerror or exc}") from None
    fields: dict[bytes, bytes] = {}
    for line in raw.splitlines():  # the pyzmq format: `    public-key = "<Z85>"` under `curve`
        name, equals, value = line.strip().partition(b"=")
        if equals and name.strip() in (b"public-key", b"secret-key"):
            fields.setdefault(name.strip(), value.strip(b" \t'\""))
    public, secret = fields.get(b"public-key"), fields.get(b"secret-key")
    if public is None or not _Z85_KEY.match(public):
        raise GatewayError(f"{path}: no valid CURVE public-key in this file; run `{damaged}` to replace it")
    if secret is not None and not _Z85_KEY.match(secret):
        raise GatewayError(f"{path}: the secret-key is not a Z85 CURVE key; run `{damaged}` to replace it")
    return public, secret


def _load_pair(path: Path, remedy: str) -> _Pair:
    """A secret file's pair. A damaged secret file is only replaced on purpose (--force): whoever
    holds a copy is locked out by the new key."""
    public, secret = _read_certificate(path, remedy, f"{remedy} --force")
    if secret is None:
        raise GatewayError(f"{path}: no secret-key in this file (a public certificate?); run `{remedy} --force`")
    # A hand-edited file could pair a key with another key's secret: the handshake would then fail
    # with nothing but a timeout, so it is caught here.
    if zmq.curve_public(secret) != public:
        raise GatewayError(f"{path}: public-key does not match secret-key; run `{remedy} --force` to replace it")
    return _Pair(public, secret)


# ---------------------------------------------------------------------------------------- generating


def generate_keys(
    config_dir: Path, keys_dir: Path, members: Sequence[str] | None = None, force: bool = False
) -> KeyReport:
    """Create the server pair and the named members' pairs (default: every member), then write
    each of those members' public keys into members.toml.

    Existing secret files are kept (and their public keys still written) unless ``force``. ``force``
    with named ``members`` replaces only their pairs: rotating one member's key must not replace the
    node's, which every member holds. Every check runs before the first file is written, so an error
    leaves the files as they were.
    """
    config_dir, keys_dir = Path(config_dir), Path(keys_dir)
    members_path = config_dir / MEMBERS_FILE
    text = _read_members_text(members_path)
    document = _parse_members(members_path, text)
    known = [str(entry.get("id", "")) for entry in document["member"]]
    chosen = _choose_members(members_path, known, members, keys_dir)

    plans = [_plan(keys_dir, SERVER, force and members is None)]
    plans += [_plan(keys_dir, member, force) for member in chosen]
    new_keys = {plan.stem: plan.pair.public.decode("ascii") for plan in plans[1:]}
    new_text, updated = _rewrite_members(members_path, text, new_keys)
    _verify_rewrite(members_path, document, new_text, new_keys)

    _make_keys_dir(keys_dir)
    written: list[str] = []
    for plan in plans:
        if plan.write_secret:
            _write_file(keys_dir / (plan.stem + SECRET_SUFFIX), _certificate(plan.pair, secret=True), mode=0o600)
            written.append(plan.stem + SECRET_SUFFIX)
        if plan.write_public:
            _write_file(keys_dir / (plan.stem + PUBLIC_SUFFIX), _certificate(plan.pair, secret=False), mode=0o644)
            written.append(plan.stem + PUBLIC_SUFFIX)
    if new_text != text:
        _write_file(members_path, new_text.encode("utf-8"), mode=members_path.stat().st_mode & 0o777)

    return KeyReport(
        keys_dir=str(keys_dir),
        members_file=str(members_path),
        written=written,
        kept=[plan.stem + SECRET_SUFFIX for plan in plans if not plan.write_secret],
        members_updated=updated,
        members_unchanged=[member for member in chosen if member not in updated],
        server_public_key=plans[0].pair.public.decode("ascii"),
    )


class _Plan(msgspec.Struct, frozen=True):
    stem: str
    pair: _Pair
    write_secret: bool
    write_public: bool


def _plan(keys_dir: Path, stem: str, force: bool) -> _Plan:
    """A new pair, or the existing one (its public file rewritten if missing or not matching)."""
    secret_path = keys_dir / (stem + SECRET_SUFFIX)
    if force or not secret_path.exists():
        public, secret = zmq.curve_keypair()
        return _Plan(stem, _Pair(public, secret), write_secret=True, write_public=True)
    remedy = GENERATE if stem == SERVER else f"{GENERATE} --member {stem}"
    pair = _load_pair(secret_path, remedy)  # a broken secret file stops the run: --force replaces it
    try:
        public, _ = _read_certificate(keys_dir / (stem + PUBLIC_SUFFIX), remedy, remedy)
    except GatewayError:
        public = b""
    return _Plan(stem, pair, write_secret=False, write_public=public != pair.public)


def _read_members_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise GatewayError(f"{path}: required file not found") from None
    except OSError as exc:
        raise GatewayError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise GatewayError(f"{path}: not valid UTF-8 at byte {exc.start}") from None


def _parse_members(path: Path, text: str) -> dict[str, Any]:
    """The whole file as plain dicts: the rewrite is verified against it."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GatewayError(f"{path}: TOML syntax error: {exc}") from None
    table = document.get("member")
    if not isinstance(table, list) or not all(isinstance(entry, dict) for entry in table):
        raise GatewayError(f"{path}: member: no [[member]] tables")
    return document


def _choose_members(path: Path, known: list[str], wanted: Sequence[str] | None, keys_dir: Path) -> list[str]:
    for index, member in enumerate(known):
        if member in known[:index]:
            raise GatewayError(f"{path}: member[{index}].id: duplicate {member!r}; fix members.toml first")
    chosen = list(dict.fromkeys(wanted)) if wanted is not None else known
    for member in chosen:
        if member not in known:
            raise GatewayError(f"{path}: unknown member {member!r}; members: {', '.join(known)}")
        _check_member_id(member, keys_dir)
    return chosen


def _check_member_id(member: str, keys_dir: Path) -> None:
    if member == SERVER or not _FILE_SAFE_ID.match(member):
        raise GatewayError(
            f"{keys_dir}: member id {member!r} cannot name a key file "
            f"(letters, digits, '.', '_', '-' only, and not {SERVER!r})"
        )


def _certificate(pair: _Pair, *, secret: bool) -> bytes:
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    lines = [(_SECRET_BANNER if secret else _PUBLIC_BANNER).format(when=when), "metadata\n", "curve\n"]
    lines.append(f'    public-key = "{pair.public.decode("ascii")}"\n')
    if secret:
        lines.append(f'    secret-key = "{pair.secret.decode("ascii")}"\n')
    return "".join(lines).encode("ascii")


# ---------------------------------------------------------------------------------- members.toml


_TABLE_HEADER = re.compile(r"^\s*\[")
_MEMBER_HEADER = re.compile(r"^\s*\[\[\s*member\s*\]\]\s*(?:#.*)?$")
_ID_LINE = re.compile(r"""^\s*id\s*=\s*(?:"(?P<basic>[^"\\]*)"|'(?P<literal>[^']*)')\s*(?:#.*)?$""")
_KEY_LINE = re.compile(r"""^\s*public_key\s*=\s*(?:"[^"\\]*"|'[^']*')(?P<comment>\s*(?:#.*)?)$""")
_ANY_KEY_LINE = re.compile(r"^\s*public_key\s*=")


class _MemberLines(msgspec.Struct):
    """Where one ``[[member]]`` table keeps its id and its public_key (line numbers, -1: none)."""

    member: str = ""
    id_line: int = -1
    key_line: int = -1


def _member_lines(lines: list[str]) -> dict[str, _MemberLines]:
    found: dict[str, _MemberLines] = {}
    current: _MemberLines | None = None
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if _TABLE_HEADER.match(body):
            if current is not None and current.member:
                found.setdefault(current.member, current)
            current = _MemberLines() if _MEMBER_HEADER.match(body) else None
            continue
        if current is None:
            continue
        id_match = _ID_LINE.match(body)
        if id_match and current.id_line < 0:
            current.member = id_match["basic"] if id_match["basic"] is not None else id_match["literal"]
            current.id_line = index
        elif _ANY_KEY_LINE.match(body):
            current.key_line = index
    if current is not None and current.member:
        found.setdefault(current.member, current)
    return found


def _indent(body: str) -> str:
    return body[: len(body) - len(body.lstrip(" \t"))]


def _rewrite_members(path: Path, text: str, new_keys: dict[str, str]) -> tuple[str, list[str]]:
    """``text`` with ``public_key = "<Z85>"`` in each member's table: its existing public_key line
    replaced (a trailing comment kept), or a new line right after its ``id`` line. Every other line
    is left byte for byte, so the regulator's comments and layout survive."""
    lines = text.splitlines(keepends=True)
    tables = _member_lines(lines)
    updated: list[str] = []
    insert_after: dict[int, str] = {}
    for member, key in new_keys.items():
        table = tables.get(member)
        if table is None:
            raise GatewayError(
                f'{path}: cannot find the line id = "{member}" of its [[member]] table; '
                f'add public_key = "{key}" to it by hand'
            )
        if table.key_line < 0:
            insert_after[table.id_line] = key
            updated.append(member)
            continue
        old = lines[table.key_line]
        body = old.rstrip("\r\n")
        comment = _KEY_LINE.match(body)
        replacement = f'{_indent(body)}public_key = "{key}"{comment["comment"] if comment else ""}{old[len(body) :]}'
        if replacement != old:
            lines[table.key_line] = replacement
            updated.append(member)

    out: list[str] = []
    for index, line in enumerate(lines):
        out.append(line)
        if index in insert_after:
            body = line.rstrip("\r\n")
            ending = line[len(body) :]
            if not ending:  # the id line was the file's last, without a newline
                ending = "\n"
                out[-1] = body + ending
            out.append(f'{_indent(body)}public_key = "{insert_after[index]}"{ending}')
    return "".join(out), updated


def _verify_rewrite(path: Path, before: dict[str, Any], new_text: str, new_keys: dict[str, str]) -> None:
    """The rewritten file must mean exactly the old one plus the new keys, with no key shared."""
    members = [
        {**entry, "public_key": new_keys[entry["id"]]} if entry.get("id") in new_keys else entry
        for entry in before["member"]
    ]
    try:
        after = tomllib.loads(new_text)
    except tomllib.TOMLDecodeError:
        after = {}
    if after != {**before, "member": members}:
        raise GatewayError(
            f"{path}: the layout of this file defeated the line-by-line rewrite; "
            f"add these public_key lines to the [[member]] tables by hand: {new_keys}"
        )
    owners: dict[str, str] = {}
    for entry in members:
        key = entry.get("public_key", "")
        if key and key in owners:
            raise GatewayError(
                f"{path}: members {owners[key]!r} and {entry['id']!r} would share one public key; "
                f"give {entry['id']!r} its own pair with --member {entry['id']} --force"
            )
        owners[key] = entry["id"]


# ------------------------------------------------------------------------------------------- writing


def _make_keys_dir(keys_dir: Path) -> None:
    if keys_dir.is_dir():
        return
    try:
        keys_dir.mkdir(parents=True)
        keys_dir.chmod(0o700)  # mkdir's mode is masked by the umask; this is not
    except OSError as exc:
        raise GatewayError(f"{keys_dir}: cannot create the keys directory: {exc.strerror or exc}") from None


def _write_file(path: Path, content: bytes, *, mode: int) -> None:
    """Write through a temporary file and a rename: a reader sees the old file or the new, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        # Created 0600 and only then given its mode: a secret is never readable by others, not even briefly.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise GatewayError(f"{path}: cannot write: {exc.strerror or exc}") from None
