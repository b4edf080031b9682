"""Checks of config/auctions.toml: the defaults and bounds of sealed-bid auctions (docs/AUCTIONS.md).

Each problem is one ``ConfigError`` line naming the file and the key, as for every config file.
"""

from __future__ import annotations

from pathlib import Path

from carbonx.errors import ConfigError
from engine.config import TRADING_ACCOUNT_KINDS, AuctionRules, PurposeRules
from engine.messages.limits import MAX_CLIENT_ORDER_ID_LENGTH

BP = 10_000
PPM = 1_000_000
MAX_K_BP = 100_000  # k of 10: far beyond any rule, and keeps k × turnover well inside 64 bits
# Upper bounds that keep the state (and each snapshot) bounded whatever the file says.
MOST = {
    "history_days": 10_000,
    "max_bids_per_account": 10_000,
    "max_bids_per_auction": 1_000_000,
    "max_live_auctions": 1_000,
    "max_live_applications": 1_000,
    "max_applications_per_account": 1_000,
    "results_kept": 10_000,
}


def check_auction(path: Path, rules: AuctionRules) -> None:
    for name, purpose in (("compliance", rules.compliance), ("market_supply", rules.market_supply)):
        _check_purpose(path, name, purpose)
    _require(path, "one_way_min_t", rules.one_way_min_t >= 1, f"must be >= 1 t, got {rules.one_way_min_t}")
    for key in ("one_way_floor_bp", "one_way_ceiling_bp"):
        value = getattr(rules, key)
        _require(path, key, 1 <= value < BP, f"{value} is outside 1..{BP - 1} (basis points)")
    fee = rules.one_way_fee_ppm
    _require(path, "one_way_fee_ppm", 0 <= fee < PPM, f"{fee} is outside 0..{PPM - 1} (parts per million)")
    for key, most in MOST.items():
        value = getattr(rules, key)
        _require(path, key, 1 <= value <= most, f"must be 1..{most}, got {value}")
    sent, live = rules.max_bids_sent_per_account, rules.max_bids_per_account
    most_sent = MOST["max_bids_per_auction"]
    _require(
        path,
        "max_bids_sent_per_account",
        sent == 0 or live <= sent <= most_sent,
        f"must be 0 (no limit) or max_bids_per_account ({live})..{most_sent}, got {sent}",
    )
    length = rules.client_bid_id_max_length
    most_length = MAX_CLIENT_ORDER_ID_LENGTH
    _require(path, "client_bid_id_max_length", 1 <= length <= most_length, f"must be 1..{most_length}, got {length}")


def _check_purpose(path: Path, name: str, purpose: PurposeRules) -> None:
    k = purpose.vwap_k_bp
    _require(path, f"{name}.vwap_k_bp", 1 <= k <= MAX_K_BP, f"must be 1..{MAX_K_BP} (basis points), got {k}")
    kinds = purpose.eligible_kinds
    _require(path, f"{name}.eligible_kinds", bool(kinds), "name at least one account kind")
    for kind in [*kinds, *purpose.caps_t]:
        allowed = ", ".join(sorted(TRADING_ACCOUNT_KINDS))
        _require(path, f"{name}", kind in TRADING_ACCOUNT_KINDS, f"{kind!r} is not a kind that bids ({allowed})")
    for kind, tonnes in purpose.caps_t.items():
        _require(path, f"{name}.caps_t.{kind}", tonnes >= 1, f"must be >= 1 t, got {tonnes}")


def _require(path: Path, key: str, ok: bool, problem: str) -> None:
    if not ok:
        raise ConfigError(f"{path}: auction.{key}: {problem}" if key else f"{path}: {problem}")
