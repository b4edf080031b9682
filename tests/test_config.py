"""carbonx.config: the shipped config/ loads, and every kind of mistake gives one line naming file and key.

Each error test copies config/ to tmp_path, changes one file, and checks the message of ConfigError.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonx.config import EngineOptions, LoadedConfig, NodeConfig, load_config
from carbonx.errors import ConfigError
from engine.config import AuctionRules, Calendar, CarryOverRule, Fees, ListingLimits, RegistryRules, RiskLimits

SHIPPED = Path(__file__).resolve().parents[1] / "config"

Rewrite = Callable[[str], str]


def config_with(tmp_path: Path, file: str, rewrite: Rewrite | None) -> Path:
    """A copy of the shipped config/ with ``file`` rewritten (or removed when ``rewrite`` is None)."""
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED, directory)
    target = directory / file
    if rewrite is None:
        target.unlink()
    else:
        before = target.read_text(encoding="utf-8")
        after = rewrite(before)
        assert after != before, f"the edit of {file} changed nothing"
        target.write_text(after, encoding="utf-8")
    return directory


def sub(pattern: str, replacement: str) -> Rewrite:
    """Replace the first line-anchored match of ``pattern``; the edit must apply."""

    def rewrite(text: str) -> str:
        edited, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
        assert count == 1, f"{pattern!r} not found"
        return edited

    return rewrite


def setting(key: str, value: str) -> Rewrite:
    """Set the first ``key = ...`` line of the file to ``key = value`` (value in TOML syntax)."""
    return sub(rf"^{re.escape(key)} = .*$", f"{key} = {value}")


def append(extra: str) -> Rewrite:
    return lambda text: text + "\n" + extra


def whole(text: str) -> Rewrite:
    return lambda _old: text


def error_of(directory: Path | str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    return message


def shipped() -> LoadedConfig:
    return load_config(SHIPPED)


# ------------------------------------------------------------------------------------------ shipped config


def test_shipped_config_loads() -> None:
    loaded = shipped()
    exchange = loaded.exchange

    assert loaded.directory == str(SHIPPED)
    assert loaded.node == NodeConfig(data_dir="var", fsync=True, engine=EngineOptions())
    prices = {instrument.code: instrument.reference_price_fen for instrument in exchange.instruments}
    assert prices == {"SHEA2024": 7650, "SHEA2025": 8000, "CCER": 8500, "SHCER": 3500}
    assert exchange.fees == Fees(listing_ppm=1500, agreement_ppm=1000, auction_ppm=0, fee_account="EXCHANGE-FEES")
    assert exchange.listing == ListingLimits()
    assert exchange.risk == RiskLimits(
        position_limit_t={"covered_entity": 1_000_000, "institution": 1_000_000, "individual": 1_000_000},
        large_holder_t={"covered_entity": 500_000, "institution": 500_000, "individual": 500_000},
        allocation_kinds=["covered_entity"],
    )
    assert exchange.registry == RegistryRules(
        offset_cap_bp=500, carry_over=[CarryOverRule(from_instrument="SHEA2024", to_instrument="SHEA2025")]
    )
    assert exchange.calendar.timezone == "Asia/Shanghai"
    assert exchange.calendar.weekdays == [1, 2, 3, 4, 5]
    assert (exchange.calendar.sessions.morning_open, exchange.calendar.sessions.afternoon_close) == (
        dt.time(9, 30),
        dt.time(15, 0),
    )


def test_shipped_calendar_closes_the_2026_public_holidays() -> None:
    calendar = shipped().exchange.calendar
    closures_2026 = [day for day in calendar.holidays if day.year == 2026]
    expected = ["01-01", "01-02", "02-16", "02-17", "02-18", "02-19", "02-20", "02-23", "04-06", "05-01"]
    expected += ["05-04", "05-05", "06-19", "09-25", "10-01", "10-02", "10-05", "10-06", "10-07"]

    assert closures_2026 == [dt.date.fromisoformat(f"2026-{day}") for day in expected]
    assert dt.date(2027, 1, 1) in calendar.holidays
    assert calendar.next_trading_day(dt.date(2026, 2, 13)) == dt.date(2026, 2, 24)


def test_shipped_members_and_accounts() -> None:
    exchange = shipped().exchange
    accounts = {account.id: account for account in exchange.accounts}

    assert [account.id for account in exchange.accounts if account.kind == "exchange_fees"] == ["EXCHANGE-FEES"]
    assert {accounts[system].member for system in ("RESERVE", "TREASURY", "REGISTRY")} == {"REGULATOR"}
    assert [account.id for account in exchange.accounts if account.prohibited] == ["A199"]
    assert {accounts[a].kind for a in ("A001", "A002", "A003")} == {"covered_entity"}


def test_optional_files_absent_use_defaults(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED, directory)
    for optional in ("node.toml", "calendar.toml", "fees.toml", "limits.toml", "registry.toml", "auctions.toml"):
        (directory / optional).unlink()

    loaded = load_config(directory)

    assert loaded.node == NodeConfig()
    assert loaded.exchange.calendar == Calendar()
    assert loaded.exchange.fees == Fees()
    assert loaded.exchange.listing == ListingLimits()
    assert loaded.exchange.risk == RiskLimits()
    assert loaded.exchange.registry == RegistryRules(offset_cap_bp=500, carry_over=[])
    assert loaded.exchange.auction == AuctionRules()


def test_lunch_break_may_be_empty(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "calendar.toml", setting("afternoon_open", "11:30:00"))

    assert load_config(directory).exchange.calendar.sessions.afternoon_open == dt.time(11, 30)


# ------------------------------------------------------------------------------ files and directories


def test_missing_directory(tmp_path: Path) -> None:
    assert error_of(tmp_path / "nowhere") == f"{tmp_path / 'nowhere'}: config directory not found"


def test_directory_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "config").write_text("", encoding="utf-8")

    assert error_of(tmp_path / "config") == f"{tmp_path / 'config'}: config path is not a directory"


@pytest.mark.parametrize("file", ["instruments.toml", "members.toml"])
def test_missing_required_file(tmp_path: Path, file: str) -> None:
    directory = config_with(tmp_path, file, None)

    assert error_of(directory) == f"{directory / file}: required file not found"


def test_message_uses_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config_with(tmp_path, "instruments.toml", None)
    monkeypatch.chdir(tmp_path)

    assert error_of("config") == "config/instruments.toml: required file not found"


def test_unreadable_file(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "members.toml", None)
    (directory / "members.toml").mkdir()

    assert error_of(directory).startswith(f"{directory / 'members.toml'}: cannot read: ")


def test_file_not_utf8(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "fees.toml", None)
    (directory / "fees.toml").write_bytes(b'fee_account = "\xff"\n')

    assert error_of(directory) == f"{directory / 'fees.toml'}: not valid UTF-8 at byte 15"


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "node.toml", whole('data_dir = "var"\nfsync = = true\n'))

    message = error_of(directory)

    assert message.startswith(f"{directory / 'node.toml'}: line 2, column ")
    assert "TOML syntax error: invalid value" in message


# ------------------------------------------------------------------------------------ structure and types


def test_bad_type(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "instruments.toml", setting("tick_fen", '"1"'))

    assert error_of(directory) == f"{directory / 'instruments.toml'}: instrument[0].tick_fen: expected int, got str"


@pytest.mark.parametrize(
    ("file", "rewrite", "key", "problem"),
    [
        (
            "instruments.toml",
            sub(r"^(code = .*)$", '\\1\ncolour = "green"'),
            "instrument[0].colour",
            "unknown key",
        ),
        ("fees.toml", append("discount_ppm = 5\n"), "discount_ppm", "unknown key"),
        ("instruments.toml", sub(r"^name = .*\n", ""), "instrument[0].name", "missing required key"),
        ("instruments.toml", whole("# nothing listed\n"), "instrument", "missing required key"),
        ("members.toml", sub(r"^\[\[account\]\][\s\S]*", ""), "account", "missing required key"),
        (
            "instruments.toml",
            setting("kind", '"bond"'),
            "instrument[0].kind",
            "'bond' is not one of allowance, ccer, shcer",
        ),
        (
            "node.toml",
            sub(r"^# book = .*$", 'book = "turbo"'),
            "engine.book",
            "'turbo' is not one of fast, reference",
        ),
        ("calendar.toml", sub(r"^  2026-01-01,", '  "2026-01-01",'), "holidays[0]", "expected date, got str"),
        (
            "calendar.toml",
            setting("morning_open", '"09:30"'),
            "sessions.morning_open",
            "expected time, got str",
        ),
    ],
    ids=[
        "unknown-nested",
        "unknown-top",
        "missing-key",
        "missing-table",
        "missing-accounts",
        "bad-enum",
        "unknown-book",
        "holiday-string",
        "time-string",
    ],
)
def test_structure_errors(tmp_path: Path, file: str, rewrite: Rewrite, key: str, problem: str) -> None:
    directory = config_with(tmp_path, file, rewrite)

    assert error_of(directory) == f"{directory / file}: {key}: {problem}"


# ---------------------------------------------------------------------------------------------- semantics


def test_duplicate_instrument_code(tmp_path: Path) -> None:
    first = shipped().exchange.instruments[0]
    count = len(shipped().exchange.instruments)
    extra = f'[[instrument]]\ncode = "{first.code}"\nname = "copy"\nkind = "allowance"\n'
    extra += "reference_price_fen = 100\n"
    directory = config_with(tmp_path, "instruments.toml", append(extra))

    message = error_of(directory)

    assert message.startswith(f"{directory / 'instruments.toml'}: instrument[{count}].code: duplicate ")
    assert "(also instrument[0])" in message


def test_duplicate_member_and_account_ids(tmp_path: Path) -> None:
    exchange = shipped().exchange
    extra = f'[[member]]\nid = "{exchange.members[0].id}"\nname = "copy"\nkind = "self_dealing"\n'
    directory = config_with(tmp_path, "members.toml", append(extra))

    assert error_of(directory).startswith(
        f"{directory / 'members.toml'}: member[{len(exchange.members)}].id: duplicate "
    )

    shutil.rmtree(directory)
    extra = f'[[account]]\nid = "{exchange.accounts[0].id}"\nmember = "M001"\nkind = "institution"\n'
    directory = config_with(tmp_path, "members.toml", append(extra))

    assert error_of(directory).startswith(
        f"{directory / 'members.toml'}: account[{len(exchange.accounts)}].id: duplicate "
    )


def test_identifiers_must_fit_the_bounds_of_the_commands_that_carry_them(tmp_path: Path) -> None:
    # engine.messages.limits: an account or instrument id longer than 64 characters could never be
    # named in a command on the wire.
    count = len(shipped().exchange.accounts)
    extra = f'[[account]]\nid = "{"A" * 65}"\nmember = "M001"\nkind = "institution"\n'
    directory = config_with(tmp_path, "members.toml", append(extra))

    assert error_of(directory) == (
        f"{directory / 'members.toml'}: account[{count}].id: {'A' * 65!r} must be 1 to 64 characters"
    )


def test_second_exchange_fees_account(tmp_path: Path) -> None:
    count = len(shipped().exchange.accounts)
    extra = '[[account]]\nid = "MORE-FEES"\nmember = "EXCHANGE"\nkind = "exchange_fees"\n'
    directory = config_with(tmp_path, "members.toml", append(extra))

    message = error_of(directory)

    assert message.startswith(f"{directory / 'members.toml'}: account[{count}].kind: second account of kind ")


def test_default_fee_account_must_exist(tmp_path: Path) -> None:
    directory = config_with(tmp_path, "members.toml", sub(r'^id = "EXCHANGE-FEES"', 'id = "FEES"'))
    (directory / "fees.toml").unlink()

    message = error_of(directory)

    assert message.startswith(f"{directory / 'fees.toml'}: fee_account: 'EXCHANGE-FEES' (the default; ")
    assert "'FEES'" in message


@pytest.mark.parametrize(
    ("file", "rewrite", "key", "fragment"),
    [
        ("instruments.toml", setting("code", '""'), "instrument[0].code", "must not be empty"),
        ("instruments.toml", whole("instrument = []\n"), "instrument", "at least one instrument"),
        ("instruments.toml", setting("tick_fen", "0"), "instrument[0].tick_fen", "must be >= 1"),
        ("instruments.toml", setting("lot_t", "0"), "instrument[0].lot_t", "must be >= 1"),
        (
            "instruments.toml",
            setting("reference_price_fen", "0"),
            "instrument[0].reference_price_fen",
            "must be > 0",
        ),
        (
            "instruments.toml",
            setting("tick_fen", "7"),
            "instrument[0].reference_price_fen",
            "not a multiple of tick_fen 7",
        ),
        ("members.toml", setting("id", '""'), "member[0].id", "must not be empty"),
        (
            "members.toml",
            sub(r'^(\[\[account\]\]\nid = )".*"', '\\1""'),
            "account[0].id",
            "must not be empty",
        ),
        ("members.toml", setting("member", '"M9"'), "account[0].member", "unknown member 'M9'"),
        (
            "members.toml",
            sub(r'^kind = "exchange_fees"', 'kind = "institution"'),
            "account",
            "no account of kind 'exchange_fees'",
        ),
        (
            "fees.toml",
            setting("fee_account", '"A101"'),
            "fee_account",
            "not the exchange_fees account 'EXCHANGE-FEES'",
        ),
        ("fees.toml", setting("listing_ppm", "1000001"), "listing_ppm", "outside 0..1000000"),
        ("fees.toml", setting("agreement_ppm", "-1"), "agreement_ppm", "outside 0..1000000"),
        # The fast book's fee arithmetic is 64-bit: the largest order's value × the rate must fit.
        (
            "fees.toml",
            setting("listing_ppm", "46118"),
            "listing_ppm",
            "46118 is above 46117 for orders of up to 99999 t",
        ),
        ("limits.toml", setting("free_price_from_t", "0"), "transfer.free_price_from_t", "must be >= 1 t, got 0"),
        ("limits.toml", setting("sessions", "[]"), "transfer.sessions", "name at least one session"),
        ("limits.toml", setting("max_proposals_per_day", "0"), "transfer.max_proposals_per_day", "must be >= 1, got 0"),
        (
            "limits.toml",
            setting("sessions", '["afternoon", "afternoon"]'),
            "transfer.sessions",
            "names a session twice",
        ),
        (
            "limits.toml",
            setting("client_proposal_id_max_length", "65"),
            "transfer.client_proposal_id_max_length",
            "must be 1..64, got 65",
        ),
        ("fees.toml", setting("auction_ppm", "2000000"), "auction_ppm", "outside 0..1000000"),
        ("auctions.toml", setting("one_way_min_t", "0"), "auction.one_way_min_t", "must be >= 1 t, got 0"),
        ("auctions.toml", setting("one_way_floor_bp", "10000"), "auction.one_way_floor_bp", "outside 1..9999"),
        ("auctions.toml", setting("history_days", "0"), "auction.history_days", "must be 1..10000, got 0"),
        ("auctions.toml", setting("max_bids_per_auction", "0"), "auction.max_bids_per_auction", "must be 1..1000000"),
        (
            "auctions.toml",
            setting("max_bids_sent_per_account", "50"),
            "auction.max_bids_sent_per_account",
            "must be 0 (no limit) or max_bids_per_account (100)..1000000, got 50",
        ),
        ("auctions.toml", setting("vwap_k_bp", "0"), "auction.compliance.vwap_k_bp", "must be 1..100000"),
        (
            "auctions.toml",
            setting("eligible_kinds", '["reserve"]'),
            "auction.compliance",
            "'reserve' is not a kind that bids",
        ),
        ("auctions.toml", setting("client_bid_id_max_length", "65"), "auction.client_bid_id_max_length", "1..64"),
        ("limits.toml", setting("band_bp", "0"), "listing.band_bp", "outside 1..9999"),
        ("limits.toml", setting("band_bp", "10000"), "listing.band_bp", "outside 1..9999"),
        ("limits.toml", setting("min_quantity_t", "0"), "listing.min_quantity_t", "must be >= 1"),
        (
            "limits.toml",
            setting("min_quantity_t", "100000"),
            "listing.max_quantity_t",
            "below min_quantity_t 100000",
        ),
        ("limits.toml", setting("market_levels", "0"), "listing.market_levels", "must be >= 1"),
        (
            "limits.toml",
            setting("client_order_id_max_length", "0"),
            "listing.client_order_id_max_length",
            "must be 1..64, got 0",
        ),
        (
            "limits.toml",
            setting("client_order_id_max_length", "65"),
            "listing.client_order_id_max_length",
            "must be 1..64, got 65",  # longer ones are refused on the wire (INVALID_FIELD)
        ),
        ("calendar.toml", setting("weekdays", "[]"), "weekdays", "at least one trading weekday"),
        ("calendar.toml", setting("weekdays", "[1, 2, 8]"), "weekdays[2]", "not an ISO weekday"),
        ("calendar.toml", setting("weekdays", "[1, 2, 2]"), "weekdays[2]", "duplicate weekday 2"),
        (
            "calendar.toml",
            setting("timezone", '"Mars/Olympus"'),
            "timezone",
            "unknown time zone 'Mars/Olympus'",
        ),
        ("calendar.toml", setting("timezone", '"../etc"'), "timezone", "unknown time zone"),
        (
            "calendar.toml",
            setting("morning_close", "09:00:00"),
            "sessions.morning_close",
            "at or before morning_open 09:30:00",
        ),
        (
            "calendar.toml",
            setting("afternoon_open", "11:00:00"),
            "sessions.afternoon_open",
            "before morning_close 11:30:00",
        ),
        (
            "calendar.toml",
            setting("afternoon_close", "13:00:00"),
            "sessions.afternoon_close",
            "at or before afternoon_open 13:00:00",
        ),
        ("node.toml", setting("data_dir", '""'), "data_dir", "must not be empty"),
        (
            "limits.toml",
            sub(r"^position_limit_t = \{ covered_entity", "position_limit_t = { broker"),
            "risk.position_limit_t.broker",
            "unknown account kind 'broker'",
        ),
        (
            "limits.toml",
            sub(r"^large_holder_t = \{ covered_entity = 500_000", "large_holder_t = { covered_entity = -1"),
            "risk.large_holder_t.covered_entity",
            "must be >= 0 t, got -1",
        ),
        (
            "limits.toml",
            setting("allocation_kinds", '["covered_entity", "reserve"]'),
            "risk.allocation_kinds[1]",
            "unknown account kind 'reserve'",
        ),
        ("registry.toml", setting("offset_cap_bp", "10001"), "offset_cap_bp", "outside 0..10000"),
        (
            "registry.toml",
            setting("to_instrument", '"SHEA2030"'),
            "carry_over[0].to_instrument",
            "unknown instrument 'SHEA2030'",
        ),
        (
            "registry.toml",
            setting("to_instrument", '"CCER"'),
            "carry_over[0].to_instrument",
            "'CCER' is a ccer, 'SHEA2024' a allowance",
        ),
        (
            "registry.toml",
            setting("to_instrument", '"SHEA2024"'),
            "carry_over[0].to_instrument",
            "vintage 2024 of 'SHEA2024' is not later than 2024",
        ),
        (
            "registry.toml",
            append('[[carry_over]]\nfrom_instrument = "SHEA2024"\nto_instrument = "SHEA2025"\n'),
            "carry_over[1].from_instrument",
            "second rule for 'SHEA2024' (first is carry_over[0])",
        ),
    ],
)
def test_semantic_errors(tmp_path: Path, file: str, rewrite: Rewrite, key: str, fragment: str) -> None:
    directory = config_with(tmp_path, file, rewrite)

    message = error_of(directory)

    assert message.startswith(f"{directory / file}: {key}: ")
    assert fragment in message
