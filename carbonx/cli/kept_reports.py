"""A member's execution reports as the node keeps them — the current and the previous trading day —
fetched again by resend and told apart by trading day.

The logon says where the days start (``LogonAccepted.trading_day``, ``day_first_report``,
``first_kept_report``, docs/PROTOCOL.md §4.7): the reports from ``day_first_report`` on are the
current day's, those before it the previous day's, whose date the day's end-of-day statements name.
Older days are gone from the node; their trades are in the statements (``carbonx eod report``).
Only the day asked is resent: each report resent costs a throttle token (PROTOCOL.md §4.8).
"""

from __future__ import annotations

from carbonx.cli.display import iso
from carbonx.errors import CarbonxError
from engine.messages import AccountStatement, MemberSettlement
from gateway.client import MemberClient
from gateway.protocol import ExecutionReport


class NotKept(CarbonxError):
    """A trading day whose reports the node no longer keeps (or never had)."""


def current_day(client: MemberClient) -> tuple[int, list[ExecutionReport]]:
    """The current trading day (YYYYMMDD; 0: none has started) and the member's reports of it."""
    session = client.session
    if not session.trading_day:
        return 0, []
    return session.trading_day, _span(client, _day_first_report(client), session.last_report_seq)


def day_reports(client: MemberClient, day: int | None) -> tuple[int, list[ExecutionReport]]:
    """The member's reports of trading day ``day`` (None: the current one) and that day; ``NotKept``
    for a day the node does not keep, naming the days it keeps and where the older ones are."""
    session = client.session
    current = session.trading_day
    if day is None or day == current:
        return current_day(client)
    if day > current:
        raise NotKept(f"no trading day {iso(day)} yet: the current one is {iso(current) if current else 'none'}")
    previous_reports = _span(client, session.first_kept_report, _day_first_report(client) - 1)
    previous = _statement_day(previous_reports)
    if day == previous:
        return day, previous_reports
    kept = " and ".join(iso(d) for d in (previous, current) if d)
    accounts = session.accounts
    account = accounts[0] if len(accounts) == 1 else "ACCOUNT"
    raise NotKept(
        f"the node does not keep the reports of {iso(day)} (only those of {kept}); "
        f"that day's trades are in its statement: carbonx eod report --date {iso(day)} --account {account}"
    )


def _day_first_report(client: MemberClient) -> int:
    """Where the current trading day's reports start (a gateway that predates it says 0)."""
    first = client.session.day_first_report
    if not first:
        raise CarbonxError(f"{client.endpoint}: the gateway does not say where trading days start (upgrade the node)")
    return first


def _span(client: MemberClient, first: int, last: int) -> list[ExecutionReport]:
    """The reports ``first`` .. ``last`` (none when ``last`` < ``first``: a resend to 0 means the newest)."""
    return client.resend(first, last) if 0 < first <= last else []


def _statement_day(reports: list[ExecutionReport]) -> int:
    """The trading day whose end of day the reports hold (0: none: the member had nothing that day)."""
    for report in reversed(reports):
        event = report.event
        if isinstance(event, AccountStatement | MemberSettlement):
            return event.trading_day
    return 0
