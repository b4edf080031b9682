"""``Gateway.tick`` on every turn of the node: O(1) while nothing is due, on time when something is.

The node calls ``tick`` and ``next_tick_ns`` each turn. They used to look at every session and
connection each time (110 µs a turn at 200 sessions, 210 at 500: bench/RESULTS.md, issue 19). Now
a turn before the moment the last look found reads no session, and a logon or a logout, which
could bring a moment earlier, makes the next turn look again; of the connections, a turn reads
only those with refusals withheld and not yet logged.
"""

from __future__ import annotations

from typing import Any

from structlog.testing import capture_logs

from gateway.protocol import Heartbeat, Logon, encoder
from tests.gateway_helpers import MS, NS, R1, R2, T0, Harness


class CountingSessions(dict[bytes, Any]):
    """The gateway's sessions, counting how often they are gone through."""

    looks = 0

    def values(self) -> Any:
        CountingSessions.looks += 1
        return super().values()


def _m1_quiet_for_a_minute() -> Harness:
    """M1 logged on with a minute's heartbeat, and a tick that found nothing due before T0 + 60 s."""
    h = Harness()
    h.logon(R1, "M1", heartbeat_ms=60_000)
    h.gateway.tick(T0)
    h.take_all()
    return h


def test_a_turn_before_the_next_moment_reads_no_session() -> None:
    h = Harness()
    h.logon(R1, "M1", heartbeat_ms=1_000)
    h.logon(R2, "M2", heartbeat_ms=2_000)
    h.gateway.tick(T0)  # looks once, and finds the first moment: T0 + 1 s
    h.take_all()
    h.gateway.sessions = CountingSessions(h.gateway.sessions)
    CountingSessions.looks = 0

    for ms in range(1, 1_000, 7):
        h.gateway.tick(T0 + ms * MS)
        assert h.gateway.next_tick_ns(T0 + ms * MS) == NS - ms * MS
    assert CountingSessions.looks == 0 and h.take_all() == []

    h.gateway.tick(T0 + NS)
    assert CountingSessions.looks > 0
    assert h.take(R1) == [Heartbeat(last_report_seq=0)] and h.take(R2) == []


def test_a_session_logged_on_after_the_look_gets_its_heartbeats_on_time() -> None:
    h = _m1_quiet_for_a_minute()

    h.logon(R2, "M2", heartbeat_ms=400)  # at T0: its first heartbeat is due at T0 + 400 ms
    assert h.gateway.next_tick_ns(T0) == 400 * MS
    h.gateway.tick(T0 + 399 * MS)
    assert h.take(R2) == []
    h.gateway.tick(T0 + 400 * MS)
    assert h.take(R2) == [Heartbeat(last_report_seq=0)] and h.take(R1) == []


def test_refusals_withheld_after_the_look_are_logged_within_the_second() -> None:
    h = _m1_quiet_for_a_minute()

    for n in range(2_000):  # beyond the refusal budget: most refusals are withheld
        h.gateway.receive(R1, [b"\xc1 garbage %d" % n], "M1", T0 + NS)
    h.take_all()
    with capture_logs() as logs:
        h.gateway.tick(T0 + NS)

    withheld = [e["frames"] for e in logs if e["event"] == "gateway.refusals_withheld"]
    assert len(withheld) == 1 and withheld[0] > 1_000


def test_a_connection_closed_with_refusals_withheld_gets_no_line_and_is_let_go() -> None:
    h = Harness()
    h.gateway.receive(R1, [encoder.encode(Logon(request_id=0, member="M1", heartbeat_ms=60_000))], "M1", T0, 1, 11)
    h.gateway.receive(R2, [encoder.encode(Logon(request_id=0, member="M2", heartbeat_ms=60_000))], "M2", T0, 2, 12)
    for n in range(2_000):
        h.gateway.receive(R1, [b"\xc1 garbage %d" % n], "M1", T0, 1, 11)
        h.gateway.receive(R2, [b"\xc1 garbage %d" % n], "M2", T0, 2, 12)
    h.gateway.connection_closed(11, T0)

    with capture_logs() as logs:
        h.gateway.tick(T0 + NS)
        h.gateway.tick(T0 + NS + 1)  # M2's next line is a second away

    assert [e["member"] for e in logs if e["event"] == "gateway.refusals_withheld"] == ["M2"]
    assert h.gateway.connections.withholding == {}  # nothing kept for the closed one, nor for the one told
