"""What the agreement-transfer tests share: a funded afternoon market and each event of a transfer, built by hand.

docs/RULES_COVERAGE.md "Agreement transfer". The market is ``market_config()`` (SHEA2025 at 80.00 with
a 1-fen tick and 1 t lot; T5 at 77.75 with a 5-fen tick and a 10 t lot) on DAY1's afternoon session,
the only transfer session by default. A1 (covered entity) and A2 (institution) are the sellers: each
was allocated SELLER_T of SHEA2025 and of T5. A3 and A4 (individuals) hold no allowances. Every
trader has CASH_T fen. The fee is restated here from the rule (0.10% a side of the traded value,
half-up to the fen), not borrowed from the engine.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.config import ExchangeConfig
from engine.exchange import Exchange
from engine.messages import (
    AcceptTransfer,
    AllocateAllowances,
    CancelTransfer,
    Command,
    DepositCash,
    EndOfDay,
    Event,
    NewOrder,
    OrderType,
    ProposeTransfer,
    Reject,
    RejectTransfer,
    RequestRejected,
    Session,
    Side,
    StartOfDay,
    TransferAccepted,
    TransferCancelled,
    TransferExecuted,
    TransferExpired,
    TransferProposed,
    TransferRejected,
)
from tests.conftest import DAY1, DAY2, TRADERS, Market, market_config

SHEA, T5 = "SHEA2025", "T5"
BUY, SELL = Side.BUY, Side.SELL
CASH_T = 2_000_000_000  # fen deposited into each trader: 20,000,000.00 CNY
SELLER_T = 600_000  # tonnes of SHEA2025 and of T5 allocated to A1 and A2
SELLERS = ("A1", "A2")
AGREEMENT_PPM = 1000  # 0.10% a side (config/fees.toml; engine.config.Fees.agreement_ppm)
LISTING_PPM = 1500  # 0.15% a side (engine.config.Fees.listing_ppm)
FEES = "EXCHANGE-FEES"
SHEA_BAND = (5600, 10400)  # 80.00 ± 30%: on the 1-fen tick already
T5_BAND = (5445, 10105)  # 77.75 ± 30% is 54.425 .. 101.075: rounded inward to the 5-fen tick


def agreement_fee(value: int) -> int:
    """0.10% of a traded value, half-up to the fen: the rule restated, not the engine's function."""
    return (value * AGREEMENT_PPM + 500_000) // 1_000_000


def buyer_freeze(price: int, quantity: int) -> int:
    """What a buyer freezes for a transfer: the value plus the fee on it (one trade: the fee is exact)."""
    return price * quantity + agreement_fee(price * quantity)


def transfer_market(
    book_kind: str,
    config: ExchangeConfig | None = None,
    session: Session = Session.AFTERNOON,
    before: Sequence[Command] = (),
) -> Market:
    """DAY1 in ``session`` (the afternoon unless told), the traders funded as the module says; no events kept.

    ``before``: commands sent before the day starts (a merger); an account they closed is not funded.
    """
    market = Market(Exchange(config or market_config(), book=book_kind))
    for command in before:
        market.send(command)
    market.send(StartOfDay(trading_day=DAY1))
    for account in TRADERS:
        if account not in market.exchange.ledger.closed:
            market.send(DepositCash(account=account, amount=CASH_T))
    for account in SELLERS:
        for instrument in (SHEA, T5):
            market.send(AllocateAllowances(account=account, instrument=instrument, quantity=SELLER_T))
    for step in (Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON):
        if market.exchange.market.session is session:
            break
        market.session(step)
    market.events.clear()
    return market


# ------------------------------------------------------------------------------------ commands


def proposal(
    account: str,
    side: Side,
    counterparty: str,
    quantity: int,
    price: int,
    cid: str,
    instrument: str = SHEA,
) -> ProposeTransfer:
    return ProposeTransfer(
        account=account,
        client_proposal_id=cid,
        side=side,
        counterparty=counterparty,
        instrument=instrument,
        price=price,
        quantity=quantity,
    )


def propose(
    market: Market,
    account: str,
    side: Side,
    counterparty: str,
    quantity: int,
    price: int,
    cid: str,
    instrument: str = SHEA,
) -> list[Event]:
    return market.send(proposal(account, side, counterparty, quantity, price, cid, instrument))


def accept(market: Market, account: str, transfer_id: int) -> list[Event]:
    return market.send(AcceptTransfer(account=account, transfer_id=transfer_id))


def decline(market: Market, account: str, transfer_id: int) -> list[Event]:
    return market.send(RejectTransfer(account=account, transfer_id=transfer_id))


def withdraw(market: Market, account: str, transfer_id: int) -> list[Event]:
    return market.send(CancelTransfer(account=account, transfer_id=transfer_id))


# -------------------------------------------------------------------------------------- events


def refusal(ts: int, command: Command, text: str) -> RequestRejected:
    """The reject of ``command`` with exactly ``text``; its code is the text's first word."""
    return RequestRejected(
        ts_event=ts,
        request=type(command).__name__,
        code=Reject[text.split(":")[0]],
        text=text,
        account=str(getattr(command, "account", "")),
    )


def proposed(ts: int, transfer_id: int, command: ProposeTransfer) -> TransferProposed:
    is_buy = command.side is BUY
    return TransferProposed(
        ts_event=ts,
        transfer_id=transfer_id,
        account=command.account,
        client_proposal_id=command.client_proposal_id,
        side=command.side,
        counterparty=command.counterparty,
        instrument=command.instrument,
        price=command.price,
        quantity=command.quantity,
        frozen_cash=buyer_freeze(command.price, command.quantity) if is_buy else 0,
        frozen_quantity=0 if is_buy else command.quantity,
    )


def accepted_and_executed(ts: int, transfer_id: int, command: ProposeTransfer) -> list[Event]:
    """The counterparty's acceptance of the proposal ``command`` made: its side frozen, the trade settled."""
    value = command.price * command.quantity
    fee = agreement_fee(value)
    proposer_buys = command.side is BUY
    buyer, seller = (
        (command.account, command.counterparty) if proposer_buys else (command.counterparty, command.account)
    )
    return [
        TransferAccepted(
            ts_event=ts,
            transfer_id=transfer_id,
            account=command.counterparty,
            proposer=command.account,
            instrument=command.instrument,
            frozen_cash=0 if proposer_buys else value + fee,
            frozen_quantity=command.quantity if proposer_buys else 0,
        ),
        TransferExecuted(
            ts_event=ts,
            transfer_id=transfer_id,
            instrument=command.instrument,
            price=command.price,
            quantity=command.quantity,
            buy_account=buyer,
            sell_account=seller,
            buy_fee=fee,
            sell_fee=fee,
            proposer_side=command.side,
        ),
    ]


def _released(command: ProposeTransfer) -> tuple[int, int]:
    if command.side is BUY:
        return buyer_freeze(command.price, command.quantity), 0
    return 0, command.quantity


def rejected_by_counterparty(ts: int, transfer_id: int, command: ProposeTransfer) -> TransferRejected:
    cash, quantity = _released(command)
    return TransferRejected(
        ts_event=ts,
        transfer_id=transfer_id,
        account=command.counterparty,
        proposer=command.account,
        instrument=command.instrument,
        released_cash=cash,
        released_quantity=quantity,
    )


def cancelled_by_proposer(ts: int, transfer_id: int, command: ProposeTransfer) -> TransferCancelled:
    cash, quantity = _released(command)
    return TransferCancelled(
        ts_event=ts,
        transfer_id=transfer_id,
        account=command.account,
        counterparty=command.counterparty,
        instrument=command.instrument,
        released_cash=cash,
        released_quantity=quantity,
    )


def expired(ts: int, transfer_id: int, command: ProposeTransfer) -> TransferExpired:
    cash, quantity = _released(command)
    return TransferExpired(
        ts_event=ts,
        transfer_id=transfer_id,
        account=command.account,
        counterparty=command.counterparty,
        instrument=command.instrument,
        released_cash=cash,
        released_quantity=quantity,
    )


# ------------------------------------------------------------------------------------ checks


def made(market: Market, command: ProposeTransfer, transfer_id: int) -> None:
    """``command`` is accepted as proposal ``transfer_id``."""
    assert market.send(command) == [proposed(market.ts, transfer_id, command)]


def refused(market: Market, command: Command, text: str) -> None:
    """``command`` is refused with exactly ``text`` and changes nothing (an open proposal stays open)."""
    before = market.exchange.state_hash()

    events = market.send(command)

    assert events == [refusal(market.ts, command, text)]
    assert market.exchange.state_hash() == before


# ------------------------------------------------------------------------------------ the listing


def listing_fee(value: int) -> int:
    """The listing fee on a traded value (config/fees.toml listing_ppm, 0.15%), half-up to the fen."""
    return (value * LISTING_PPM + 500_000) // 1_000_000


def listing_order(account: str, side: Side, quantity: int, price: int, cid: str) -> NewOrder:
    """A limit day order on SHEA2025's listing book."""
    return NewOrder(
        account=account,
        instrument=SHEA,
        client_order_id=cid,
        side=side,
        order_type=OrderType.LIMIT,
        quantity=quantity,
        price=price,
    )


def next_day_afternoon(market: Market) -> None:
    market.session(Session.CLOSED)
    market.send(EndOfDay(trading_day=DAY1))
    market.send(StartOfDay(trading_day=DAY2))
    for session in (Session.MORNING, Session.LUNCH_BREAK, Session.AFTERNOON):
        market.session(session)
