"""Loads a config directory of TOML files into the validated Structs of ``engine.config``.

One file per subject (docs/CONFIG.md lists every key): ``instruments.toml`` and ``members.toml`` are
required; ``node.toml``, ``calendar.toml``, ``fees.toml``, ``limits.toml`` and ``registry.toml`` may be left
out, and then
their defaults apply. msgspec checks the structure and the types; the checks here add what a type cannot
say (ranges, uniqueness, references between files). The first problem found raises ``ConfigError`` with
one line naming the file, the key path and the problem, so the regulator can fix the file by reading it.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from itertools import pairwise
from pathlib import Path
from typing import Literal, TypeVar

import msgspec
import msgspec.toml

from carbonx.config_auction import check_auction
from carbonx.config_problems import syntax_problem, validation_problem
from carbonx.errors import ConfigError
from engine.config import (
    TRADING_ACCOUNT_KINDS,
    Account,
    AuctionRules,
    Calendar,
    ExchangeConfig,
    Fees,
    Instrument,
    ListingLimits,
    Member,
    MemberKind,
    RegistryRules,
    RiskLimits,
    SessionTimes,
    TransferRules,
)
from engine.messages.limits import MAX_CLIENT_ORDER_ID_LENGTH, MAX_ID_LENGTH, MAX_PRICE_FEN
from gateway.access import DEFAULT_ROLE, GatewayOptions, MemberAccess, Role
from market_data.snapshot_limits import SnapshotLimits
from settlement.limits import FEE_PRODUCT_MAX

T = TypeVar("T")

PPM = 1_000_000  # fee rates are parts per million of traded value
BP = 10_000  # the price band is in basis points of the reference price


class EngineOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    # docs/ARCHITECTURE.md "Two order books, one behaviour"; unset: the engine's default
    # (engine.listing.DEFAULT_BOOK, fast)
    book: Literal["fast", "reference"] | None = None


_SNAPSHOT = SnapshotLimits()  # the snapshot service's defaults, in one place


class MarketDataOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    endpoint: str = "tcp://127.0.0.1:7002"  # PUB, no authentication: public quotes
    snapshot_endpoint: str = "tcp://127.0.0.1:7003"  # ROUTER: current state with its sequence numbers
    conflate_ms: int = 0  # 0: quote and depth after every batch; else at most once per interval
    heartbeat_ms: int = 1_000  # a heartbeat with every channel's sequence number
    recent_trades: int = 1_000  # trades per instrument the snapshot service can resend
    send_hwm: int = 1_000_000  # messages queued per subscriber (ZMQ_SNDHWM); beyond it a slow one loses them
    # The snapshot service is public: its limits (market_data.snapshot_service, PROTOCOL.md §4.16 and §6.6).
    snapshot_max_request_bytes: int = _SNAPSHOT.max_request_bytes
    snapshot_max_topics: int = _SNAPSHOT.max_topics
    snapshot_max_reply_bytes: int = _SNAPSHOT.max_reply_bytes
    snapshot_requests_per_s: int = _SNAPSHOT.requests_per_s
    snapshot_burst: int = _SNAPSHOT.burst
    snapshot_requests_per_turn: int = _SNAPSHOT.requests_per_turn
    snapshot_bytes_per_turn: int = _SNAPSHOT.bytes_per_turn
    snapshot_hwm: int = _SNAPSHOT.hwm

    def snapshot_limits(self) -> SnapshotLimits:
        return SnapshotLimits(
            max_request_bytes=self.snapshot_max_request_bytes,
            max_topics=self.snapshot_max_topics,
            max_reply_bytes=self.snapshot_max_reply_bytes,
            requests_per_s=self.snapshot_requests_per_s,
            burst=self.snapshot_burst,
            requests_per_turn=self.snapshot_requests_per_turn,
            bytes_per_turn=self.snapshot_bytes_per_turn,
            hwm=self.snapshot_hwm,
        )


class SchedulerOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who opens and closes the trading day.

    ``calendar``: the calendar and session times of calendar.toml, in its time zone.
    ``manual``: nothing automatic; the day is driven by session commands (tests, demos).
    """

    mode: Literal["calendar", "manual"] = "calendar"
    start_of_day: dt.time = dt.time(9, 0)  # StartOfDay on each trading day, before the morning opens
    end_of_day: dt.time = dt.time(15, 30)  # EndOfDay after the afternoon close


class WebOptions(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The public website (``carbonx web``, docs/WEB.md): where it listens and what it allows."""

    host: str = "127.0.0.1"  # loopback: put a reverse proxy in front to publish it
    port: int = 8080
    max_streams: int = 1_000  # live streams (browsers) open at once; beyond it a new one is refused (503)
    stream_queue_bytes: int = 8_388_608  # a browser this far behind gets the whole state again instead


class NodeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    data_dir: str = "var"  # journal, snapshots and the end-of-day database (carbonx.db)
    fsync: bool = True  # replies leave only after the journal batch is on disk
    snapshots_keep: int = 3  # snapshots (with their companions) the node keeps; older ones are removed
    engine: EngineOptions = msgspec.field(default_factory=EngineOptions)
    gateway: GatewayOptions = msgspec.field(default_factory=GatewayOptions)
    market_data: MarketDataOptions = msgspec.field(default_factory=MarketDataOptions)
    scheduler: SchedulerOptions = msgspec.field(default_factory=SchedulerOptions)
    web: WebOptions = msgspec.field(default_factory=WebOptions)


class LoadedConfig(msgspec.Struct, frozen=True, kw_only=True):
    exchange: ExchangeConfig
    node: NodeConfig
    directory: str
    access: list[MemberAccess] = msgspec.field(default_factory=list)

    @property
    def keys_dir(self) -> Path:
        """The gateway's key directory: relative paths in node.toml are relative to the config directory."""
        return Path(self.directory) / self.node.gateway.keys_dir


# Files whose top level is not itself one of the engine's Structs.
class _InstrumentsFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    instrument: list[Instrument]


class _MemberEntry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A ``[[member]]`` table: the engine's ``Member`` plus the gateway's access settings."""

    id: str
    name: str
    kind: MemberKind
    role: Role | None = None
    public_key: str = ""
    cancel_on_disconnect: bool = False
    throttle_per_s: int = 0
    throttle_burst: int = 0


class _MembersFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    member: list[_MemberEntry]
    account: list[Account]


class _LimitsFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    listing: ListingLimits = msgspec.field(default_factory=ListingLimits)
    transfer: TransferRules = msgspec.field(default_factory=TransferRules)
    risk: RiskLimits = msgspec.field(default_factory=RiskLimits)


class _AuctionsFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    auction: AuctionRules = msgspec.field(default_factory=AuctionRules)


def load_config(directory: str | Path) -> LoadedConfig:
    """Read, decode and check every file of ``directory``; raise ``ConfigError`` on the first problem."""
    root = Path(directory)
    if not root.exists():
        raise ConfigError(f"{root}: config directory not found")
    if not root.is_dir():
        raise ConfigError(f"{root}: config path is not a directory")

    instruments = _load_required(root / "instruments.toml", _InstrumentsFile)
    members = _load_required(root / "members.toml", _MembersFile)
    node = _load(root / "node.toml", NodeConfig) or NodeConfig()
    calendar = _load(root / "calendar.toml", Calendar) or Calendar()
    fees_file = _load(root / "fees.toml", Fees)
    limits = _load(root / "limits.toml", _LimitsFile) or _LimitsFile()
    fees = fees_file or Fees()
    registry = _load(root / "registry.toml", RegistryRules) or RegistryRules()
    auction = (_load(root / "auctions.toml", _AuctionsFile) or _AuctionsFile()).auction

    _check_instruments(root / "instruments.toml", instruments.instrument)
    fee_account = _check_members(root / "members.toml", members)
    _check_fees(root / "fees.toml", fees, fee_account, file_present=fees_file is not None)
    _check_listing(root / "limits.toml", limits.listing)
    _check_listing_fee(root / "fees.toml", fees, limits.listing)
    _check_transfer(root / "limits.toml", limits.transfer)
    _check_risk(root / "limits.toml", limits.risk)
    _check_registry(root / "registry.toml", registry, instruments.instrument)
    check_auction(root / "auctions.toml", auction)
    _check_calendar(root / "calendar.toml", calendar)
    _require(root / "node.toml", "data_dir", node.data_dir.strip() != "", "must not be empty")

    access = _check_access(root / "members.toml", members)
    _check_node(root / "node.toml", node)

    exchange = ExchangeConfig(
        instruments=instruments.instrument,
        members=[Member(id=m.id, name=m.name, kind=m.kind) for m in members.member],
        accounts=members.account,
        calendar=calendar,
        fees=fees,
        listing=limits.listing,
        risk=limits.risk,
        registry=registry,
        transfer=limits.transfer,
        auction=auction,
    )
    return LoadedConfig(exchange=exchange, node=node, directory=str(root), access=access)


# ---------------------------------------------------------------------------------------------- reading


def _line(path: Path, key: str, problem: str) -> str:
    text = f"{path}: {key}: {problem}" if key else f"{path}: {problem}"
    return " ".join(text.splitlines())  # ConfigError promises one line


def _require(path: Path, key: str, ok: bool, problem: str) -> None:
    if not ok:
        raise ConfigError(_line(path, key, problem))


def _load_required(path: Path, shape: type[T]) -> T:
    loaded = _load(path, shape)
    if loaded is None:
        raise ConfigError(_line(path, "", "required file not found"))
    return loaded


def _load(path: Path, shape: type[T]) -> T | None:
    """Decode one file into ``shape``; None when the file does not exist."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(_line(path, "", f"cannot read: {exc.strerror or exc}")) from None
    try:
        text = raw.decode("utf-8")  # TOML files are UTF-8 by definition
    except UnicodeDecodeError as exc:
        raise ConfigError(_line(path, "", f"not valid UTF-8 at byte {exc.start}")) from None
    try:
        return msgspec.toml.decode(text, type=shape)
    except msgspec.ValidationError as exc:  # before DecodeError: it is a subclass
        raise ConfigError(_line(path, *validation_problem(shape, str(exc)))) from None
    except msgspec.DecodeError as exc:
        raise ConfigError(_line(path, *syntax_problem(str(exc)))) from None


# --------------------------------------------------------------------------------------------- checking


def _check_unique(path: Path, table: str, field: str, values: list[str]) -> None:
    first_at: dict[str, int] = {}
    for index, value in enumerate(values):
        key = f"{table}[{index}].{field}"
        _require(path, key, value != "", "must not be empty")
        if value in first_at:
            raise ConfigError(_line(path, key, f"duplicate {value!r} (also {table}[{first_at[value]}])"))
        first_at[value] = index


def _check_instruments(path: Path, instruments: list[Instrument]) -> None:
    _require(path, "instrument", len(instruments) > 0, "at least one instrument is required")
    _check_unique(path, "instrument", "code", [instrument.code for instrument in instruments])
    for index, instrument in enumerate(instruments):
        at = f"instrument[{index}]"
        _check_id_length(path, f"{at}.code", instrument.code)
        tick = instrument.tick_fen
        _require(path, f"{at}.tick_fen", tick >= 1, f"must be >= 1 fen, got {tick}")
        _require(path, f"{at}.lot_t", instrument.lot_t >= 1, f"must be >= 1 t, got {instrument.lot_t}")
        price = instrument.reference_price_fen
        _require(path, f"{at}.reference_price_fen", price > 0, f"must be > 0 fen, got {price}")
        # The band is rounded inward to the tick from the reference price, so the price must be on the tick.
        off_tick = f"{price} is not a multiple of tick_fen {tick}"
        _require(path, f"{at}.reference_price_fen", price % tick == 0, off_tick)


def _check_members(path: Path, members: _MembersFile) -> str:
    """Check members and accounts; return the id of the one ``exchange_fees`` account."""
    _check_unique(path, "member", "id", [member.id for member in members.member])
    _check_unique(path, "account", "id", [account.id for account in members.account])
    member_ids = {member.id for member in members.member}
    for index, member in enumerate(members.member):
        _check_id_length(path, f"member[{index}].id", member.id)
    fee_accounts: list[tuple[int, str]] = []
    for index, account in enumerate(members.account):
        _check_id_length(path, f"account[{index}].id", account.id)
        unknown = f"unknown member {account.member!r}"
        _require(path, f"account[{index}].member", account.member in member_ids, unknown)
        if account.kind == "exchange_fees":
            fee_accounts.append((index, account.id))
    none = "no account of kind 'exchange_fees' (fees are paid into it)"
    _require(path, "account", len(fee_accounts) > 0, none)
    if len(fee_accounts) > 1:
        (first, _), (second, _) = fee_accounts[:2]
        problem = f"second account of kind 'exchange_fees' (first is account[{first}]); exactly one allowed"
        raise ConfigError(_line(path, f"account[{second}].kind", problem))
    return fee_accounts[0][1]


def _check_fees(path: Path, fees: Fees, fee_account: str, *, file_present: bool) -> None:
    for key, rate in (
        ("listing_ppm", fees.listing_ppm),
        ("agreement_ppm", fees.agreement_ppm),
        ("auction_ppm", fees.auction_ppm),
    ):
        _require(path, key, 0 <= rate <= PPM, f"{rate} is outside 0..{PPM} (parts per million)")
    default = "" if file_present else " (the default; the file is absent)"
    problem = f"{fees.fee_account!r}{default} is not the exchange_fees account {fee_account!r} (members.toml)"
    _require(path, "fee_account", fees.fee_account == fee_account, problem)


def _check_listing(path: Path, listing: ListingLimits) -> None:
    band, low, high = listing.band_bp, listing.min_quantity_t, listing.max_quantity_t
    _require(path, "listing.band_bp", 1 <= band < BP, f"{band} is outside 1..{BP - 1} (basis points)")
    _require(path, "listing.min_quantity_t", low >= 1, f"must be >= 1 t, got {low}")
    _require(path, "listing.max_quantity_t", high >= low, f"{high} is below min_quantity_t {low}")
    levels, length = listing.market_levels, listing.client_order_id_max_length
    _require(path, "listing.market_levels", levels >= 1, f"must be >= 1, got {levels}")
    most = MAX_CLIENT_ORDER_ID_LENGTH  # the wire refuses longer ones before the engine sees them
    _require(path, "listing.client_order_id_max_length", 1 <= length <= most, f"must be 1..{most}, got {length}")


def _check_listing_fee(path: Path, fees: Fees, listing: ListingLimits) -> None:
    """The fast book computes a listing fee in 64 bits: value × rate must fit for the largest order.

    The largest value an order's fee is taken on: its most tonnes at twice the largest price an
    order may carry (a market buy freezes at the band's upper limit, which may lie above it).
    """
    largest = 2 * MAX_PRICE_FEN * listing.max_quantity_t
    most = FEE_PRODUCT_MAX // largest
    problem = f"{fees.listing_ppm} is above {most} for orders of up to {listing.max_quantity_t} t (limits.toml)"
    _require(path, "listing_ppm", fees.listing_ppm <= most, problem)


def _check_transfer(path: Path, transfer: TransferRules) -> None:
    band, low, free = transfer.band_bp, transfer.min_quantity_t, transfer.free_price_from_t
    _require(path, "transfer.band_bp", 1 <= band < BP, f"{band} is outside 1..{BP - 1} (basis points)")
    _require(path, "transfer.min_quantity_t", low >= 1, f"must be >= 1 t, got {low}")
    _require(path, "transfer.free_price_from_t", free >= 1, f"must be >= 1 t, got {free}")
    sessions = transfer.sessions
    _require(path, "transfer.sessions", len(sessions) >= 1, "name at least one session (morning, afternoon)")
    _require(path, "transfer.sessions", len(set(sessions)) == len(sessions), f"{sessions} names a session twice")
    length, most = transfer.client_proposal_id_max_length, MAX_CLIENT_ORDER_ID_LENGTH
    key = "transfer.client_proposal_id_max_length"
    _require(path, key, 1 <= length <= most, f"must be 1..{most}, got {length}")
    daily = transfer.max_proposals_per_day
    _require(path, "transfer.max_proposals_per_day", daily >= 1, f"must be >= 1, got {daily}")


def _check_id_length(path: Path, key: str, identifier: str) -> None:
    """Identifiers travel in commands, whose fields are bounded (engine.messages.limits)."""
    fits = 1 <= len(identifier) <= MAX_ID_LENGTH
    _require(path, key, fits, f"{identifier!r} must be 1 to {MAX_ID_LENGTH} characters")


def _check_risk(path: Path, risk: RiskLimits) -> None:
    kinds = sorted(TRADING_ACCOUNT_KINDS)
    for table, limits in (
        ("risk.position_limit_t", risk.position_limit_t),
        ("risk.large_holder_t", risk.large_holder_t),
    ):
        for kind, tonnes in limits.items():
            known = f"unknown account kind {kind!r}; trading kinds are {', '.join(kinds)}"
            _require(path, f"{table}.{kind}", kind in TRADING_ACCOUNT_KINDS, known)
            _require(path, f"{table}.{kind}", tonnes >= 0, f"must be >= 0 t, got {tonnes}")
    for index, kind in enumerate(risk.allocation_kinds):
        known = f"unknown account kind {kind!r}; trading kinds are {', '.join(kinds)}"
        _require(path, f"risk.allocation_kinds[{index}]", kind in TRADING_ACCOUNT_KINDS, known)


def _check_registry(path: Path, registry: RegistryRules, instruments: list[Instrument]) -> None:
    cap = registry.offset_cap_bp
    _require(path, "offset_cap_bp", 0 <= cap <= BP, f"{cap} is outside 0..{BP} (basis points)")
    by_code = {i.code: i for i in instruments}
    sources: dict[str, int] = {}
    for index, rule in enumerate(registry.carry_over):
        at = f"carry_over[{index}]"
        for key in ("from_instrument", "to_instrument"):
            code = getattr(rule, key)
            _require(path, f"{at}.{key}", code in by_code, f"unknown instrument {code!r} (instruments.toml)")
        old, new = by_code[rule.from_instrument], by_code[rule.to_instrument]
        same_kind = f"{new.code!r} is a {new.kind}, {old.code!r} a {old.kind}: carry-over keeps the kind"
        _require(path, f"{at}.to_instrument", new.kind == old.kind, same_kind)
        later = f"vintage {new.vintage} of {new.code!r} is not later than {old.vintage} of {old.code!r}"
        _require(path, f"{at}.to_instrument", new.vintage > old.vintage, later)
        if rule.from_instrument in sources:
            twice = f"second rule for {rule.from_instrument!r} (first is carry_over[{sources[rule.from_instrument]}])"
            raise ConfigError(_line(path, f"{at}.from_instrument", twice))
        sources[rule.from_instrument] = index


def _check_calendar(path: Path, calendar: Calendar) -> None:
    _require(path, "weekdays", len(calendar.weekdays) > 0, "at least one trading weekday is required")
    for index, day in enumerate(calendar.weekdays):
        key = f"weekdays[{index}]"
        _require(path, key, 1 <= day <= 7, f"{day} is not an ISO weekday 1..7 (Monday = 1)")
        _require(path, key, day not in calendar.weekdays[:index], f"duplicate weekday {day}")
    try:
        zoneinfo.ZoneInfo(calendar.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(_line(path, "timezone", f"unknown time zone {calendar.timezone!r}")) from None
    _check_sessions(path, calendar.sessions)


def _check_sessions(path: Path, sessions: SessionTimes) -> None:
    ordered = (
        ("morning_open", sessions.morning_open),
        ("morning_close", sessions.morning_close),
        ("afternoon_open", sessions.afternoon_open),
        ("afternoon_close", sessions.afternoon_close),
    )
    for (earlier_key, earlier), (later_key, later) in pairwise(ordered):
        # The lunch break may be empty (morning_close == afternoon_open); a session may not.
        ok = later >= earlier if later_key == "afternoon_open" else later > earlier
        relation = "before" if later_key == "afternoon_open" else "at or before"
        _require(path, f"sessions.{later_key}", ok, f"{later} is {relation} {earlier_key} {earlier}")


_Z85 = re.compile(r"^[0-9A-Za-z.\-:+=^!/*?&<>()\[\]{}@%$#]{40}$")
# The roles a member kind may be given: a trading member cannot be made regulator or surveillance.
_ALLOWED_ROLES: dict[str, frozenset[str]] = {
    "self_dealing": frozenset({"member"}),
    "comprehensive": frozenset({"member"}),
    "regulator": frozenset({"regulator", "surveillance"}),
    "exchange": frozenset({"surveillance"}),
}


def _check_access(path: Path, members: _MembersFile) -> list[MemberAccess]:
    """The gateway's view of each member: role, key (unique), accounts and session options."""
    access: list[MemberAccess] = []
    key_owner: dict[str, int] = {}
    for index, entry in enumerate(members.member):
        at = f"member[{index}]"
        role = entry.role or DEFAULT_ROLE[entry.kind]
        allowed = ", ".join(sorted(_ALLOWED_ROLES[entry.kind]))
        _require(
            path,
            f"{at}.role",
            role in _ALLOWED_ROLES[entry.kind],
            f"{role!r} not allowed for kind {entry.kind!r} (allowed: {allowed})",
        )
        if entry.public_key:
            _require(
                path,
                f"{at}.public_key",
                _Z85.match(entry.public_key) is not None,
                "not a 40-character Z85 CURVE public key",
            )
            if entry.public_key in key_owner:
                problem = f"the same key as member[{key_owner[entry.public_key]}]; every member needs its own key"
                raise ConfigError(_line(path, f"{at}.public_key", problem))
            key_owner[entry.public_key] = index
        for key, value in (("throttle_per_s", entry.throttle_per_s), ("throttle_burst", entry.throttle_burst)):
            _require(path, f"{at}.{key}", value >= 0, f"must be >= 0 (0: the gateway's default), got {value}")
        accounts = [a.id for a in members.account if a.member == entry.id]
        access.append(
            MemberAccess(
                member=entry.id,
                role=role,
                public_key=entry.public_key,
                accounts=accounts,
                cancel_on_disconnect=entry.cancel_on_disconnect,
                throttle_per_s=entry.throttle_per_s,
                throttle_burst=entry.throttle_burst,
            )
        )
    return access


def _check_node(path: Path, node: NodeConfig) -> None:
    _require(path, "snapshots_keep", node.snapshots_keep >= 1, f"must be >= 1, got {node.snapshots_keep}")
    gateway, market_data = node.gateway, node.market_data
    endpoints = {
        "gateway.endpoint": gateway.endpoint,
        "gateway.drop_copy_endpoint": gateway.drop_copy_endpoint,
        "market_data.endpoint": market_data.endpoint,
        "market_data.snapshot_endpoint": market_data.snapshot_endpoint,
    }
    seen: dict[str, str] = {}
    for key, endpoint in endpoints.items():
        _require(
            path,
            key,
            endpoint.startswith(("tcp://", "ipc://", "inproc://")),
            f"{endpoint!r} is not a ZeroMQ endpoint (tcp://host:port)",
        )
        if endpoint in seen and not endpoint.endswith((":*", ":0")):  # ephemeral ports differ by definition
            raise ConfigError(_line(path, key, f"{endpoint!r} is also {seen[endpoint]}"))
        seen[endpoint] = key
    positive = {
        "gateway.heartbeat_min_ms": gateway.heartbeat_min_ms,
        "gateway.heartbeat_misses": gateway.heartbeat_misses,
        "gateway.max_frame_bytes": gateway.max_frame_bytes,
        "gateway.max_batch": gateway.max_batch,
        "gateway.throttle_per_s": gateway.throttle_per_s,
        "gateway.throttle_burst": gateway.throttle_burst,
        "gateway.max_poll_batch": gateway.max_poll_batch,
        "gateway.turn_frames_per_connection": gateway.turn_frames_per_connection,
        "gateway.inbound_queue_bytes": gateway.inbound_queue_bytes,
        "gateway.outbound_queue_frames": gateway.outbound_queue_frames,
        "gateway.refusals_per_s": gateway.refusals_per_s,
        "gateway.refusals_burst": gateway.refusals_burst,
        "gateway.resend_page": gateway.resend_page,
        "market_data.heartbeat_ms": market_data.heartbeat_ms,
        "market_data.recent_trades": market_data.recent_trades,
        "market_data.send_hwm": market_data.send_hwm,
        "market_data.snapshot_max_topics": market_data.snapshot_max_topics,
        "market_data.snapshot_requests_per_s": market_data.snapshot_requests_per_s,
        "market_data.snapshot_burst": market_data.snapshot_burst,
        "market_data.snapshot_requests_per_turn": market_data.snapshot_requests_per_turn,
        "market_data.snapshot_bytes_per_turn": market_data.snapshot_bytes_per_turn,
        "market_data.snapshot_hwm": market_data.snapshot_hwm,
    }
    for key, value in positive.items():
        _require(path, key, value > 0, f"must be > 0, got {value}")
    _require(
        path,
        "gateway.heartbeat_max_ms",
        gateway.heartbeat_max_ms >= gateway.heartbeat_min_ms,
        "must be >= heartbeat_min_ms",
    )
    _require(
        path, "market_data.conflate_ms", market_data.conflate_ms >= 0, f"must be >= 0, got {market_data.conflate_ms}"
    )
    _check_snapshot_sizes(path, market_data)
    _require(path, "gateway.keys_dir", gateway.keys_dir.strip() != "", "must not be empty")
    web = node.web
    _require(
        path, "web.port", 0 <= web.port <= 65_535, f"must be a TCP port (0-65535; 0: any free one), got {web.port}"
    )
    _require(path, "web.host", web.host.strip() != "", "must not be empty")
    _require(path, "web.max_streams", web.max_streams > 0, f"must be > 0, got {web.max_streams}")
    _require(path, "web.stream_queue_bytes", web.stream_queue_bytes >= 65_536, "must be >= 65536")
    scheduler = node.scheduler
    _require(path, "scheduler.end_of_day", scheduler.start_of_day < scheduler.end_of_day, "must be after start_of_day")


# The largest encoded market-data Trade (about 100 bytes with today's codes), with room for long codes.
_TRADE_BYTES = 256


def _check_snapshot_sizes(path: Path, market_data: MarketDataOptions) -> None:
    """Sizes a client cannot get round: a request that fits the socket, a reply that holds one trade topic."""
    request = market_data.snapshot_max_request_bytes
    _require(path, "market_data.snapshot_max_request_bytes", request >= 1_024, f"must be >= 1024, got {request}")
    # A reply holding one trade topic's recent trades must fit, or a gap on it could never be repaired.
    reply, floor = market_data.snapshot_max_reply_bytes, market_data.recent_trades * _TRADE_BYTES
    problem = f"must be >= recent_trades x {_TRADE_BYTES} = {floor} (one trade topic's snapshot), got {reply}"
    _require(path, "market_data.snapshot_max_reply_bytes", reply >= floor, problem)
