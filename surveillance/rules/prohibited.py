"""Prohibited participants (RULES.md "Surveillance"; Decree 20 Art. 32): anything a flagged account tried.

An account flagged ``prohibited`` (exchange staff and others the law bars from trading) must not
trade at all, so every attempt counts, accepted or not (the engine refuses most of them with
``PROHIBITED_PARTICIPANT``, but the attempt itself is what the rule reports):

- orders it entered (``order_events`` accepted; its rejected orders are rejected requests, below);
- bids it entered or amended (``bid_events`` accepted, amended);
- agreement transfers it is a party to, proposed, accepted or executed (``transfer_events``);
- one-way auction applications it made (``auction_events`` applied, as the auctioneer);
- every request of its the engine refused (``rejects``, and ``order_events`` rejected: one request
  each, by journal seq and event index). A refused request has no id to put in the evidence: the
  figures carry their number (``rejected``) and the journal seq of the first (``first_seq``), where
  ``carbonx surveil trail`` finds them.

One alert per account per trading day, for the whole exchange (``instrument`` ""; the exchange-wide
``[prohibited]`` parameters apply). Score: always 10,000. The rule is a bright line: a single
attempt is the whole offence, so there is no threshold for evidence to exceed.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb

from surveillance.alerts import SCORE_MAX, Alert, evidence
from surveillance.settings import SurveillanceSettings, parameters

RULE_IDS = ("prohibited",)

_ACTIVITY = """
WITH banned AS (SELECT account FROM accounts WHERE prohibited)
SELECT account, 'order', order_id, '' FROM order_events
    WHERE day = $day AND event = 'accepted' AND account IN (SELECT account FROM banned)
UNION ALL
SELECT account, 'bid', bid_id, '' FROM bid_events
    WHERE day = $day AND event IN ('accepted', 'amended') AND account IN (SELECT account FROM banned)
UNION ALL
SELECT b.account, 'transfer', t.transfer_id,
        CASE WHEN t.proposer = b.account THEN t.counterparty ELSE t.proposer END
    FROM transfer_events t JOIN banned b ON b.account IN (t.proposer, t.counterparty, t.buy_account, t.sell_account)
    WHERE t.day = $day AND t.event IN ('proposed', 'accepted', 'executed')
UNION ALL
SELECT auctioneer, 'auction', auction_id, '' FROM auction_events
    WHERE day = $day AND event = 'applied' AND auctioneer IN (SELECT account FROM banned)
UNION
SELECT account, 'rejected', seq, CAST(ev AS VARCHAR) FROM rejects
    WHERE day = $day AND account IN (SELECT account FROM banned)
UNION
SELECT account, 'rejected', seq, CAST(ev AS VARCHAR) FROM order_events
    WHERE day = $day AND event = 'rejected' AND account IN (SELECT account FROM banned)
"""


def detect(con: duckdb.DuckDBPyConnection, day: int, settings: SurveillanceSettings) -> list[Alert]:
    params = settings.rules.prohibited
    if not params.enabled:
        return []
    found: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    rejected: dict[str, set[tuple[int, str]]] = defaultdict(set)
    others: dict[str, set[str]] = defaultdict(set)
    for account, kind, key, other in con.execute(_ACTIVITY, {"day": day}).fetchall():
        if kind == "rejected":
            rejected[account].add((int(key), other))
        else:
            found[account][kind].add(int(key))
            if other:
                others[account].add(other)
    alerts = []
    for account in sorted({*found, *rejected}):
        ids = found[account]
        refused = rejected[account]
        figures = {
            "orders": len(ids["order"]),
            "bids": len(ids["bid"]),
            "transfers": len(ids["transfer"]),
            "applications": len(ids["auction"]),
            "rejected": len(refused),
        }
        if refused:
            figures["first_seq"] = min(seq for seq, _ in refused)
        attempts = ", ".join(f"{count} {name}" for name, count in figures.items() if count and name != "first_seq")
        alerts.append(
            Alert(
                rule=RULE_IDS[0],
                trading_day=day,
                instrument="",
                subjects=[account],
                score_bp=SCORE_MAX,
                parameters=parameters(params),
                figures=figures,
                evidence=evidence(
                    accounts=[account, *others[account]],
                    orders=ids["order"],
                    bids=ids["bid"],
                    transfers=ids["transfer"],
                    auctions=ids["auction"],
                ),
                summary=f"{account} is prohibited from trading and made requests: {attempts}",
            )
        )
    return alerts
