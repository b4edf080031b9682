"""The surveillance parameters: ``config/surveillance.toml`` (docs/SURVEILLANCE.md "Parameters").

Every threshold of every rule is here, with the defaults of RULES.md "Surveillance". A rule's table
sets the exchange-wide values; ``[instrument.<CODE>.<rule>]`` overrides some of them for one
instrument (FCA Market Watch 56/69: no common thresholds fit every market). Durations are seconds,
shares and tolerances basis points (1/100 of a percent), prices ticks of the instrument: integers
only, as everywhere in carbonx. A missing file means the defaults.

A problem with the file is one ``SurveillanceError`` line naming the file and the key.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

SETTINGS_FILE = "surveillance.toml"
BP = 10_000


class SurveillanceError(Exception):
    """A problem the analyst can fix (bad settings, store or data directory); ``str()`` is one line."""


class _Params(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    enabled: bool = True


class WashParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``wash.same_owner`` and ``wash.round_trip``."""

    min_quantity_t: int = 1  # a same-owner trade below this is not alerted
    round_trip_window_s: int = 1_800  # A sells to B and B sells back to A within this
    quantity_tolerance_bp: int = 500  # the two legs' quantities within 5%: positions left unchanged


class CircularParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``circular``: A → B → C (→ ...) → A, each leg a trade or transfer of about the same quantity."""

    window_s: int = 0  # 0: the whole trading day
    quantity_tolerance_bp: int = 500
    min_accounts: int = 3
    max_accounts: int = 6  # the longest cycle searched


class SpoofingParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``spoofing.layering`` and ``spoofing.order_to_trade``."""

    size_multiple: int = 10  # a large order: at least this × the account's median order size
    min_orders: int = 5  # orders the account needs in the day for a median
    away_ticks: int = 1  # at entry, at least this many ticks behind the best price of its own side
    cancel_within_s: int = 30  # the large orders cancelled within this of the account's opposite trade
    max_order_to_trade: int = 15  # order messages (new, amend, cancel) per trade above this alerts
    min_messages: int = 20  # fewer order messages than this in the day are never alerted on the ratio


class MarkingCloseParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``marking_close.vwap`` and ``marking_close.last_minutes``: the close is the day's VWAP."""

    min_ticks: int = 2  # the close without the account's trades differs by at least this
    min_share_bp: int = 1_000  # and the account's share of the day's listing volume is at least this
    last_minutes: int = 10  # the window at the end of the afternoon session


class ConcentrationParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``concentration.volume_share``, ``concentration.near_limit``, ``concentration.large_holder``."""

    volume_share_bp: int = 3_000  # an account's share of the day's listing volume
    min_day_volume_t: int = 1  # a day with less listing volume than this is not judged on shares
    near_limit_bp: int = 500  # closing holding within 5% of the account's position limit


class AuctionParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``auction.ramping``, ``auction.identical_bids``, ``auction.floor_bids``."""

    ramp_days: int = 5  # trading days after the auction's clearing day
    ramp_min_buys: int = 3  # listing buys by the winner in those days
    ramp_min_rise_ticks: int = 5  # from its first to its last buy price
    ramp_min_rising_bp: int = 8_000  # share of its consecutive buys at a price at or above the previous
    ramp_min_aggressor_bp: int = 8_000  # share of its buys where it lifted the offer (the aggressor): pushing
    ramp_min_share_bp: int = 300  # its buys' share of the listing volume since the clearing: weight to push
    identical_min_bids: int = 2  # identical (or mirror) bids two members must share to be alerted
    floor_min_bids: int = 3  # bids at exactly the floor by one group (member or owner group)
    floor_window_days: int = 250  # over the auctions cleared in this many trading days


class ProhibitedParams(_Params, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``prohibited``: any order, bid or transfer from a prohibited account, accepted or not."""


class RuleParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    wash: WashParams = WashParams()
    circular: CircularParams = CircularParams()
    spoofing: SpoofingParams = SpoofingParams()
    marking_close: MarkingCloseParams = MarkingCloseParams()
    concentration: ConcentrationParams = ConcentrationParams()
    auction: AuctionParams = AuctionParams()
    prohibited: ProhibitedParams = ProhibitedParams()


FAMILIES = tuple(RuleParams.__struct_fields__)


class SurveillanceSettings(msgspec.Struct, frozen=True, kw_only=True):
    rules: RuleParams = RuleParams()
    instruments: dict[str, RuleParams] = msgspec.field(default_factory=dict)  # full params per overridden code

    def for_instrument(self, instrument: str) -> RuleParams:
        """The parameters in force for ``instrument``: its overrides over the exchange-wide values."""
        return self.instruments.get(instrument, self.rules)


def parameters(params: msgspec.Struct) -> dict[str, int]:
    """A rule family's parameters as an alert records them (``enabled`` left out)."""
    return {name: int(getattr(params, name)) for name in params.__struct_fields__ if name != "enabled"}


def load_settings(directory: str | Path) -> SurveillanceSettings:
    """Read ``<directory>/surveillance.toml``; the defaults when it is absent."""
    path = Path(directory) / SETTINGS_FILE
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return SurveillanceSettings()
    except (OSError, UnicodeDecodeError) as exc:
        raise SurveillanceError(f"{path}: cannot read: {exc}") from None
    try:
        raw = msgspec.toml.decode(text)
    except msgspec.DecodeError as exc:
        raise SurveillanceError(f"{path}: {' '.join(str(exc).splitlines())}") from None
    if not isinstance(raw, dict):
        raise SurveillanceError(f"{path}: not a table")
    overrides = raw.pop("instrument", {})
    rules = _rules(path, "", raw)
    if not isinstance(overrides, dict):
        raise SurveillanceError(f"{path}: instrument: must be a table of instrument codes")
    instruments: dict[str, RuleParams] = {}
    for code, table in overrides.items():
        if not isinstance(table, dict):
            raise SurveillanceError(f"{path}: instrument.{code}: must be a table of rule families")
        merged = {
            family: {**msgspec.to_builtins(getattr(rules, family)), **table.get(family, {})} for family in FAMILIES
        }
        unknown = sorted(set(table) - set(FAMILIES))
        if unknown:
            raise SurveillanceError(f"{path}: instrument.{code}.{unknown[0]}: unknown rule family")
        instruments[code] = _rules(path, f"instrument.{code}.", merged)
    return SurveillanceSettings(rules=rules, instruments=instruments)


def _rules(path: Path, prefix: str, raw: dict[str, Any]) -> RuleParams:
    try:
        rules = msgspec.convert(raw, RuleParams)
    except msgspec.ValidationError as exc:
        raise SurveillanceError(f"{path}: {prefix}{_where(exc)}") from None
    for family in FAMILIES:
        params = getattr(rules, family)
        for name in params.__struct_fields__:
            value = getattr(params, name)
            if not isinstance(value, bool) and value < 0:
                raise SurveillanceError(f"{path}: {prefix}{family}.{name}: must not be negative, got {value}")
    spoofing, circular = rules.spoofing, rules.circular
    if circular.min_accounts < 3 or circular.max_accounts < circular.min_accounts:
        raise SurveillanceError(f"{path}: {prefix}circular: need 3 <= min_accounts <= max_accounts")
    if spoofing.size_multiple < 1 or spoofing.min_orders < 1:
        raise SurveillanceError(f"{path}: {prefix}spoofing: size_multiple and min_orders must be >= 1")
    return rules


def _where(error: msgspec.ValidationError) -> str:
    # msgspec says "Expected `int`, got `str` - at `$.wash.min_quantity_t`": key first, as every config line.
    text = " ".join(str(error).splitlines())
    message, _, at = text.partition(" - at `$.")
    key = at.rstrip("`")
    unknown = re.fullmatch(r"Object contains unknown field `(\w+)`", message)
    if unknown:
        return f"{key}.{unknown[1]}: unknown key" if key else f"{unknown[1]}: unknown rule family"
    return f"{key}: {message}" if key else message
