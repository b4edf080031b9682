"""The surveillance store's tables (DuckDB): docs/SURVEILLANCE.md "The store" describes each column.

Every table of market activity carries the journal ``seq`` of the command that caused the row, the
index ``ev`` of the event among that command's events, the exchange time ``ts`` (ns since the epoch,
UTC) and the trading ``day`` (YYYYMMDD): together they order everything exactly as the engine did,
and ``day`` partitions the Parquet export. Prices are fen/t, quantities t, money fen; enums are kept
by their names (``side`` 'BUY'/'SELL'), so a query reads as the market speaks.

``alerts`` and ``case_actions`` are the analysts' own: an alert is written once (by fingerprint) and
never changed; every case action is a new row, never an update.
"""

from __future__ import annotations

# Market activity, rebuilt from the journal by ``surveillance.ingest`` (exported to Parquet).
ACTIVITY_TABLES: dict[str, str] = {
    "order_events": """
        seq BIGINT NOT NULL, ev INTEGER NOT NULL, ts BIGINT NOT NULL, day INTEGER NOT NULL,
        origin VARCHAR NOT NULL,        -- the member whose request caused it ('' the node itself)
        event VARCHAR NOT NULL,         -- accepted, rejected, filled, amended, converted, cancelled
        order_id BIGINT NOT NULL,       -- 0 for a rejected order
        account VARCHAR NOT NULL, instrument VARCHAR NOT NULL, client_order_id VARCHAR NOT NULL,
        side VARCHAR NOT NULL,          -- BUY, SELL ('' on a rejected order)
        order_type VARCHAR NOT NULL,    -- LIMIT, LIMIT_IOC, ... ('' on a rejected order)
        price BIGINT NOT NULL,          -- accepted: as entered (0 market); filled: the trade's;
                                        -- amended, converted: the new price
        quantity BIGINT NOT NULL,       -- accepted: as entered; filled: the fill; cancelled: cancelled;
                                        -- amended, converted: the new open quantity
        leaves BIGINT NOT NULL,         -- open quantity after the event
        trade_id BIGINT NOT NULL,       -- filled: the trade (0 otherwise)
        counterparty VARCHAR NOT NULL,  -- filled: the other side's account
        best_bid BIGINT NOT NULL,       -- accepted: the best bid and ask of the book the order met,
        best_ask BIGINT NOT NULL,       -- before it traded (0: that side was empty)
        reason VARCHAR NOT NULL,        -- cancelled: the CancelReason; rejected: the reject code's name
        code INTEGER NOT NULL,          -- rejected: the reject code
        text VARCHAR NOT NULL           -- rejected: the reject text
    """,
    "trades": """
        seq BIGINT NOT NULL, ev INTEGER NOT NULL, ts BIGINT NOT NULL, day INTEGER NOT NULL,
        trade_id BIGINT NOT NULL, instrument VARCHAR NOT NULL, price BIGINT NOT NULL, quantity BIGINT NOT NULL,
        aggressor VARCHAR NOT NULL,     -- BUY or SELL: the side of the incoming order
        buy_order_id BIGINT NOT NULL, sell_order_id BIGINT NOT NULL,
        buy_account VARCHAR NOT NULL, sell_account VARCHAR NOT NULL,
        buy_member VARCHAR NOT NULL, sell_member VARCHAR NOT NULL,
        buy_fee BIGINT NOT NULL, sell_fee BIGINT NOT NULL
    """,
    "transfer_events": """
        seq BIGINT NOT NULL, ev INTEGER NOT NULL, ts BIGINT NOT NULL, day INTEGER NOT NULL,
        origin VARCHAR NOT NULL,
        event VARCHAR NOT NULL,         -- proposed, accepted, rejected, cancelled, expired, executed
        transfer_id BIGINT NOT NULL, instrument VARCHAR NOT NULL,
        proposer VARCHAR NOT NULL, counterparty VARCHAR NOT NULL,
        side VARCHAR NOT NULL,          -- the proposer's side
        price BIGINT NOT NULL, quantity BIGINT NOT NULL,   -- as proposed (executed: as settled)
        buy_account VARCHAR NOT NULL, sell_account VARCHAR NOT NULL   -- executed: who bought and sold
    """,
    "auction_events": """
        seq BIGINT NOT NULL, ev INTEGER NOT NULL, ts BIGINT NOT NULL, day INTEGER NOT NULL,
        event VARCHAR NOT NULL,         -- announced, applied, opened, closed, cancelled, cleared
        auction_id BIGINT NOT NULL, kind VARCHAR NOT NULL, instrument VARCHAR NOT NULL,
        auctioneer VARCHAR NOT NULL,
        volume BIGINT NOT NULL,         -- announced, cleared: the volume offered (0: a budget-only buyback)
        budget BIGINT NOT NULL,
        price_limit BIGINT NOT NULL,    -- the floor (a sale) or ceiling (a buyback)
        clearing_price BIGINT NOT NULL, volume_sold BIGINT NOT NULL, revenue BIGINT NOT NULL,
        bid_count INTEGER NOT NULL, bidders INTEGER NOT NULL,
        cancelled BOOLEAN NOT NULL, reason VARCHAR NOT NULL, seed VARCHAR NOT NULL
    """,
    "bid_events": """
        seq BIGINT NOT NULL, ev INTEGER NOT NULL, ts BIGINT NOT NULL, day INTEGER NOT NULL,
        origin VARCHAR NOT NULL,
        event VARCHAR NOT NULL,         -- accepted, amended, withdrawn, allocated
        bid_id BIGINT NOT NULL, auction_id BIGINT NOT NULL, account VARCHAR NOT NULL,
        client_bid_id VARCHAR NOT NULL,
        price BIGINT NOT NULL, quantity BIGINT NOT NULL,   -- the bid's (allocated: as bid)
        allocated BIGINT NOT NULL,      -- allocated: tonnes won (0 none)
        paid_price BIGINT NOT NULL      -- allocated: the price paid or received
    """,
    "rejects": """
        seq BIGINT NOT NULL, ev INTEGER NOT NULL, ts BIGINT NOT NULL, day INTEGER NOT NULL,
        origin VARCHAR NOT NULL,
        request VARCHAR NOT NULL,       -- the command refused: NewOrder, SubmitBid, ProposeTransfer ...
        account VARCHAR NOT NULL, instrument VARCHAR NOT NULL,
        client_id VARCHAR NOT NULL,     -- its client order, bid or proposal id ('' none)
        target_id BIGINT NOT NULL,      -- the order, bid, transfer or auction it named (0 none)
        code INTEGER NOT NULL, code_name VARCHAR NOT NULL, text VARCHAR NOT NULL
    """,
    "holdings": """
        day INTEGER NOT NULL, account VARCHAR NOT NULL, instrument VARCHAR NOT NULL,
        closing BIGINT NOT NULL, bought BIGINT NOT NULL, sold BIGINT NOT NULL,
        position_limit BIGINT NOT NULL  -- t, the account's limit in force (engine.risk: a covered entity's
                                        -- own free allocation added); 0: its kind has none
    """,
    "large_holders": """
        day INTEGER NOT NULL, account VARCHAR NOT NULL, member VARCHAR NOT NULL, instrument VARCHAR NOT NULL,
        holding BIGINT NOT NULL, threshold BIGINT NOT NULL
    """,
    "bulletins": """
        day INTEGER NOT NULL, instrument VARCHAR NOT NULL, reference_price BIGINT NOT NULL,
        open BIGINT NOT NULL, high BIGINT NOT NULL, low BIGINT NOT NULL, last BIGINT NOT NULL,
        close BIGINT NOT NULL, vwap BIGINT NOT NULL, volume BIGINT NOT NULL, turnover BIGINT NOT NULL,
        trades BIGINT NOT NULL, bulk_volume BIGINT NOT NULL, bulk_turnover BIGINT NOT NULL
    """,
    "days": """
        day INTEGER NOT NULL, first_seq BIGINT NOT NULL, start_ts BIGINT NOT NULL,
        last_seq BIGINT NOT NULL, end_ts BIGINT NOT NULL, ended BOOLEAN NOT NULL
    """,
}

# Reference data, rewritten from the data directory's recorded config at each ingest.
REFERENCE_TABLES: dict[str, str] = {
    "members": "member VARCHAR NOT NULL, name VARCHAR NOT NULL, kind VARCHAR NOT NULL",
    "accounts": """
        account VARCHAR NOT NULL, member VARCHAR NOT NULL, kind VARCHAR NOT NULL, name VARCHAR NOT NULL,
        prohibited BOOLEAN NOT NULL,
        owner_group VARCHAR NOT NULL,   -- the declared beneficial-owner group ('' none)
        position_limit BIGINT NOT NULL, large_holder BIGINT NOT NULL   -- t, by the account's kind (0 none)
    """,
    "instruments": """
        instrument VARCHAR NOT NULL, kind VARCHAR NOT NULL, tick BIGINT NOT NULL, lot BIGINT NOT NULL,
        reference_price BIGINT NOT NULL
    """,
}

# The analysts' own: never exported, never rebuilt.
ANALYST_TABLES: dict[str, str] = {
    "alerts": """
        alert_id BIGINT PRIMARY KEY, fingerprint VARCHAR NOT NULL UNIQUE,
        rule VARCHAR NOT NULL, day INTEGER NOT NULL, instrument VARCHAR NOT NULL,
        subjects VARCHAR NOT NULL,      -- the accounts alerted on, comma-separated
        score_bp INTEGER NOT NULL,
        parameters VARCHAR NOT NULL, figures VARCHAR NOT NULL, evidence VARCHAR NOT NULL,   -- JSON
        summary VARCHAR NOT NULL,
        raised_seq BIGINT NOT NULL,     -- the journal seq the store had reached when it was raised
        raised_at BIGINT NOT NULL       -- wall-clock ns when it was raised
    """,
    "case_actions": """
        action_id BIGINT PRIMARY KEY, alert_id BIGINT NOT NULL,
        acted_at BIGINT NOT NULL,       -- wall-clock ns
        analyst VARCHAR NOT NULL,
        action VARCHAR NOT NULL,        -- assign, note, escalate, close
        assignee VARCHAR NOT NULL,      -- assign: to whom
        text VARCHAR NOT NULL           -- note: the note; escalate: why; close: the reason
    """,
    "meta": "key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL",
}

TABLES: dict[str, str] = {**ACTIVITY_TABLES, **REFERENCE_TABLES, **ANALYST_TABLES}

# What `surveil export` writes: the activity partitioned by day, the reference data whole.
EXPORTED: tuple[str, ...] = (*ACTIVITY_TABLES, *REFERENCE_TABLES)


def columns(table: str) -> list[str]:
    """The column names of ``table`` in order (as ingest fills them)."""
    names = []
    for line in TABLES[table].splitlines():
        text = line.split("--", 1)[0]
        for part in text.split(","):
            words = part.split()
            if words:
                names.append(words[0])
    return names


def create_statements() -> list[str]:
    return [f"CREATE TABLE IF NOT EXISTS {name} ({body})" for name, body in TABLES.items()]
