"""The member SDK: ``MemberClient`` (blocking) and ``AsyncMemberClient`` (asyncio).

Both log on over CURVE (the member's key pair and the server's public key), number requests,
wait for each request's ``Ack`` and the execution reports it names, notice gaps in the report
numbering and ask for them again, and log on again by themselves if the gateway forgot the
session (a node restart): the logon asks for every report after the last one seen.

Heartbeats: the blocking client sends one whenever it is inside a call and has been quiet for
the interval, so a program that waits between orders should call ``poll`` now and then (or use
the asyncio client, which heartbeats in the background). A member with cancel-on-disconnect
loses its open orders when its session goes quiet for ``heartbeat_misses`` intervals.

    with MemberClient.from_keys("tcp://127.0.0.1:7001", "M001", "config/demo-keys") as client:
        result = client.new_order("A001", "SHEA2025", Side.BUY, quantity=100, price=8000)
        fills = [e for e in result.events if isinstance(e, Fill)]

Auction requests (bids, announcements, the auction queries) come from ``gateway.client_auctions``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar, cast

import zmq
import zmq.asyncio
from zmq.utils.monitor import recv_monitor_message

from engine.messages import (
    AcceptTransfer,
    AmendOrder,
    AnyCommand,
    CancelAllOrders,
    CancelOrder,
    CancelTransfer,
    Command,
    OrderType,
    Reject,
    RejectTransfer,
    Side,
    StpMode,
)
from gateway.client_auctions import AsyncAuctionRequests, AuctionRequests
from gateway.client_commands import ClientKeys as _Keys
from gateway.client_commands import new_order_command, propose_transfer_command
from gateway.client_core import ClientCore, Result
from gateway.contexts import terminate
from gateway.errors import GatewayError
from gateway.protocol import (
    AccountBalance,
    AccountList,
    ExecutionReport,
    Heartbeat,
    ListOrders,
    ListTransfers,
    Logon,
    LogonAccepted,
    Logout,
    OpenOrder,
    OrderList,
    QueryAccounts,
    Refused,
    Rehearsal,
    ResendEnd,
    ResendRequest,
    Submit,
    SubmitBatch,
    TransferList,
    TransferProposal,
    WireMessage,
)

_NS_PER_MS = 1_000_000
T = TypeVar("T", bound=WireMessage)


class MemberClient(AuctionRequests):
    def __init__(
        self,
        endpoint: str,
        member: str,
        keys: _Keys,
        *,
        heartbeat_ms: int = 1_000,
        timeout_ms: int = 5_000,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
        resend_from: int = 0,
        batch_reports: bool = False,
    ) -> None:
        self.endpoint, self.member = endpoint, member
        self.heartbeat_ms, self.timeout_ms = heartbeat_ms, timeout_ms
        self.batch_reports = batch_reports  # reports and acks in one Reports frame per turn (PROTOCOL.md §4.17)
        self.core = ClientCore()
        self._own_context = context is None
        self.context = context or zmq.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 1_000)
        keys.apply(self.socket)
        self.monitor = self.socket.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_SUCCEEDED)
        try:
            self.socket.connect(endpoint)
        except zmq.ZMQError as exc:
            self.close()
            raise GatewayError(f"{endpoint}: cannot connect: {exc.strerror} (expected tcp://HOST:PORT)") from None
        self._last_sent = time.monotonic_ns()
        try:
            self.session: LogonAccepted = self._logon(resend_from)
        except BaseException:
            # Refused or unanswered: nothing of this client may outlive it (a context left to the
            # collector blocks in term() on a socket that still holds a frame for the gone node).
            self.close()
            raise

    @classmethod
    def from_keys(
        cls,
        endpoint: str,
        member: str,
        keys_dir: str | Path,
        *,
        heartbeat_ms: int = 1_000,
        timeout_ms: int = 5_000,
        resend_from: int = 0,
        batch_reports: bool = False,
    ) -> MemberClient:
        """Connect with ``<keys_dir>/<member>.key_secret`` and ``<keys_dir>/server.key``."""
        keys = _Keys.load(keys_dir, member)
        return cls(
            endpoint,
            member,
            keys,
            heartbeat_ms=heartbeat_ms,
            timeout_ms=timeout_ms,
            resend_from=resend_from,
            batch_reports=batch_reports,
        )

    # ------------------------------------------------------------------ session
    def _logon(self, resend_from: int) -> LogonAccepted:
        rid = self.core.request_id()
        logon = Logon(
            request_id=rid,
            member=self.member,
            heartbeat_ms=self.heartbeat_ms,
            resend_from=resend_from,
            batch_reports=self.batch_reports,
        )
        self._send(logon)
        answer = self._wait_answer(rid, logon=True)
        if isinstance(answer, Refused):
            raise GatewayError(f"{self.endpoint}: logon as {self.member} refused: {answer.text}")
        if not isinstance(answer, LogonAccepted):
            raise GatewayError(f"{self.endpoint}: unexpected answer to logon: {type(answer).__name__}")
        if resend_from <= 0:
            self.core.start_after(answer.last_report_seq)
        self.heartbeat_ms = answer.heartbeat_ms  # the interval granted: the gateway counts misses in it
        return answer

    def logout(self) -> None:
        # Never blocks: a client whose node went away must still close.
        self.socket.send(self.core.encode(Logout(request_id=self.core.request_id())), zmq.NOBLOCK)

    def close(self) -> None:
        if not self.socket.closed:
            with contextlib.suppress(zmq.ZMQError):
                self.logout()
            self.socket.disable_monitor()
            self.monitor.close(linger=0)
            self.socket.close()
        if self._own_context:
            terminate(self.context)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    # ------------------------------------------------------------------ requests
    def new_order(
        self,
        account: str,
        instrument: str,
        side: Side,
        quantity: int,
        price: int = 0,
        order_type: OrderType = OrderType.LIMIT,
        client_order_id: str | None = None,
        stp: StpMode | None = None,
    ) -> Result:
        """Send a new order; a random client order id when none is given. Resending the same id is safe."""
        command = new_order_command(account, instrument, side, quantity, price, order_type, client_order_id, stp)
        return self.submit(command)

    def cancel(self, account: str, order_id: int) -> Result:
        return self.submit(CancelOrder(account=account, order_id=order_id))

    def cancel_all(self, account: str, instrument: str = "") -> Result:
        return self.submit(CancelAllOrders(account=account, instrument=instrument))

    def amend(self, account: str, order_id: int, price: int, quantity: int) -> Result:
        return self.submit(AmendOrder(account=account, order_id=order_id, price=price, quantity=quantity))

    # Agreement transfers (PROTOCOL.md §4.18): bulk bilateral trades, afternoon session only.
    def propose_transfer(
        self,
        account: str,
        counterparty: str,
        instrument: str,
        side: Side,
        price: int,
        quantity: int,
        client_proposal_id: str | None = None,
    ) -> Result:
        """Propose a bulk trade to ``counterparty``'s account; ``side`` is ``account``'s own. A random
        client proposal id when none is given. The ``TransferProposed`` event carries the transfer id."""
        command = propose_transfer_command(account, counterparty, instrument, side, price, quantity, client_proposal_id)
        return self.submit(command)

    def accept_transfer(self, account: str, transfer_id: int) -> Result:
        """The counterparty (``account``) accepts: the trade settles at once (``TransferExecuted``)."""
        return self.submit(AcceptTransfer(account=account, transfer_id=transfer_id))

    def reject_transfer(self, account: str, transfer_id: int) -> Result:
        """The counterparty (``account``) declines the proposal."""
        return self.submit(RejectTransfer(account=account, transfer_id=transfer_id))

    def cancel_transfer(self, account: str, transfer_id: int) -> Result:
        """The proposer (``account``) withdraws its open proposal (the regulator may cancel any)."""
        return self.submit(CancelTransfer(account=account, transfer_id=transfer_id))

    def list_transfers(self, account: str = "") -> list[TransferProposal]:
        """Today's proposals ``account`` is a party to (empty: every account the member may see)."""
        rid = self.core.request_id()
        self._send(ListTransfers(request_id=rid, account=account))
        return self._expect(rid, TransferList).transfers

    def submit(self, command: Command) -> Result:
        return self._request(lambda rid: Submit(request_id=rid, command=cast(AnyCommand, command)))

    def submit_batch(self, commands: Sequence[Command]) -> Result:
        """Several commands in one frame, sequenced together; one result with all their reports."""
        batch = [cast(AnyCommand, c) for c in commands]
        return self._request(lambda rid: SubmitBatch(request_id=rid, commands=batch))

    def submit_atomic(self, commands: Sequence[Command], dry_run: bool = False) -> Result | Rehearsal:
        """Regulator: all or nothing. A ``Rehearsal`` comes back for a dry run or when any would be rejected."""
        rid = self.core.request_id()
        batch = [cast(AnyCommand, c) for c in commands]
        self._send(SubmitBatch(request_id=rid, commands=batch, atomic=True, dry_run=dry_run))
        return self._wait_result(rid, rehearsal=True)

    def list_orders(self, account: str = "", instrument: str = "") -> list[OpenOrder]:
        rid = self.core.request_id()
        self._send(ListOrders(request_id=rid, account=account, instrument=instrument))
        return self._expect(rid, OrderList).orders

    def accounts(self, account: str = "") -> list[AccountBalance]:
        rid = self.core.request_id()
        self._send(QueryAccounts(request_id=rid, account=account))
        return self._expect(rid, AccountList).accounts

    def resend(self, from_seq: int, to_seq: int = 0) -> list[ExecutionReport]:
        """This member's execution reports ``from_seq`` .. ``to_seq`` (0: up to the newest), sent again
        page after page. Each report resent costs a throttle token (PROTOCOL.md §4.8), so a long range
        comes at the throttle's pace. A range that starts before the oldest report kept is refused
        (``GatewayError``; ``LogonAccepted.first_kept_report`` says where the kept ones start)."""
        reports: list[ExecutionReport] = []
        from_seq = max(from_seq, 1)
        deadline = time.monotonic_ns() + self.timeout_ms * _NS_PER_MS
        while to_seq <= 0 or from_seq <= to_seq:
            rid = self.core.request_id()
            self._send(ResendRequest(request_id=rid, from_seq=from_seq, to_seq=to_seq))
            end = self._wait_answer(rid)
            if isinstance(end, Refused) and end.code is Reject.THROTTLED:
                # The bucket is empty: let it refill (heartbeats go on meanwhile), then ask again.
                if time.monotonic_ns() >= deadline:
                    raise GatewayError(f"{self.endpoint}: resend throttled for {self.timeout_ms} ms: {end.text}")
                self._pump(min(100, self.heartbeat_ms))
                continue
            if isinstance(end, Refused):
                raise GatewayError(f"{self.endpoint}: refused: {end.text}")
            if not isinstance(end, ResendEnd):
                raise GatewayError(f"{self.endpoint}: unexpected answer {type(end).__name__}")
            reports += self.core.received(end.first_seq, end.last_seq)
            if not end.more:
                break
            from_seq = end.last_seq + 1
            deadline = time.monotonic_ns() + self.timeout_ms * _NS_PER_MS
        return reports

    def poll(self, timeout_ms: int = 0) -> list[ExecutionReport]:
        """Reports that arrived unasked (fills of resting orders, statements), in number order."""
        deadline = time.monotonic_ns() + timeout_ms * _NS_PER_MS
        while True:
            self._pump(max(0, deadline - time.monotonic_ns()) // _NS_PER_MS if not self.core.unsolicited else 0)
            if self.core.unsolicited or time.monotonic_ns() >= deadline:
                return self.core.take_unsolicited()

    # ------------------------------------------------------------------ waiting
    def _request(self, make: Callable[[int], WireMessage]) -> Result:
        rid = self.core.request_id()
        self._send(make(rid))
        result = self._wait_result(rid)
        assert isinstance(result, Result)
        if result.refused is not None and result.refused.code is Reject.NOT_LOGGED_ON:
            # The gateway forgot us (a restart, or our heartbeats stopped): log on again, catch up, retry once.
            self.session = self._logon(self.core.expected_report)
            rid = self.core.request_id()
            self._send(make(rid))
            retried = self._wait_result(rid)
            assert isinstance(retried, Result)
            return retried
        return result

    def _wait_result(self, rid: int, rehearsal: bool = False) -> Result | Rehearsal:
        deadline = time.monotonic_ns() + self.timeout_ms * _NS_PER_MS
        while True:
            if rehearsal and isinstance(self.core.answers.get(rid), Rehearsal):
                answer = self.core.answer(rid)
                assert isinstance(answer, Rehearsal)
                return answer
            result = self.core.result(rid)
            if result is not None:
                return result
            self._wait_until(deadline, rid)

    def _wait_answer(self, rid: int, logon: bool = False) -> WireMessage:
        deadline = time.monotonic_ns() + self.timeout_ms * _NS_PER_MS
        while True:
            answer = self.core.answer(rid)
            if answer is not None:
                return answer
            self._wait_until(deadline, rid, logon)

    def _ask(self, make: Callable[[int], WireMessage], kind: type[T]) -> T:
        """Send a query and wait for its answer, of ``kind`` (a refusal raises ``GatewayError``)."""
        rid = self.core.request_id()
        self._send(make(rid))
        return self._expect(rid, kind)

    def _expect(self, rid: int, kind: type[T]) -> T:
        answer = self._wait_answer(rid)
        if isinstance(answer, Refused):
            raise GatewayError(f"{self.endpoint}: refused: {answer.text}")
        if not isinstance(answer, kind):
            raise GatewayError(f"{self.endpoint}: unexpected answer {type(answer).__name__}")
        return answer

    def _wait_until(self, deadline: int, rid: int, logon: bool = False) -> None:
        left = deadline - time.monotonic_ns()
        if left <= 0:
            what = "the logon" if logon else f"request {rid}"
            raise GatewayError(
                f"{self.endpoint}: no answer to {what} within {self.timeout_ms} ms (is carbonx serve running there?)"
            )
        self._pump(min(left // _NS_PER_MS, self.heartbeat_ms), logon)

    def _pump(self, timeout_ms: int, logon: bool = False) -> None:
        """Receive what is waiting (up to ``timeout_ms``); send heartbeats and resend requests due."""
        if self.socket.poll(timeout_ms, zmq.POLLIN):
            while self.socket.poll(0, zmq.POLLIN):
                self.core.receive(self.socket.recv())
        if logon:
            self._check_handshake()
        for frame in self.core.take_outgoing():
            self._send_frame(frame)
        if time.monotonic_ns() - self._last_sent >= self.heartbeat_ms * _NS_PER_MS:
            self._send(Heartbeat())

    def _check_handshake(self) -> None:
        while self.monitor.poll(0, zmq.POLLIN):
            event = recv_monitor_message(self.monitor)
            if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
                raise GatewayError(f"{self.endpoint}: the gateway refused the key of {self.member}")

    def _send(self, message: WireMessage) -> None:
        self._send_frame(self.core.encode(message))

    def _send_frame(self, frame: bytes) -> None:
        self.socket.send(frame)
        self._last_sent = time.monotonic_ns()


class AsyncMemberClient(AsyncAuctionRequests):
    """The asyncio client: the same requests as ``MemberClient``, awaited; heartbeats in the background."""

    def __init__(
        self,
        endpoint: str,
        member: str,
        keys: _Keys,
        *,
        heartbeat_ms: int = 1_000,
        timeout_ms: int = 5_000,
        batch_reports: bool = False,
    ) -> None:
        self.endpoint, self.member = endpoint, member
        self.heartbeat_ms, self.timeout_ms = heartbeat_ms, timeout_ms
        self.batch_reports = batch_reports
        self.core = ClientCore()
        self.context = zmq.asyncio.Context()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 1_000)
        keys.apply(self.socket)
        self._changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.session: LogonAccepted | None = None

    @classmethod
    async def connect(
        cls, endpoint: str, member: str, keys_dir: str | Path, *, batch_reports: bool = False, **options: int
    ) -> AsyncMemberClient:
        client = cls(endpoint, member, _Keys.load(keys_dir, member), batch_reports=batch_reports, **options)
        client.socket.connect(endpoint)
        client._tasks = [asyncio.create_task(client._reader()), asyncio.create_task(client._heartbeats())]
        rid = client.core.request_id()
        heartbeat_ms, batched = client.heartbeat_ms, client.batch_reports
        await client._send(Logon(request_id=rid, member=member, heartbeat_ms=heartbeat_ms, batch_reports=batched))
        answer = await client._wait(lambda: client.core.answer(rid), f"the logon of {member}")
        if not isinstance(answer, LogonAccepted):
            await client.close()
            text = answer.text if isinstance(answer, Refused) else type(answer).__name__
            raise GatewayError(f"{endpoint}: logon as {member} refused: {text}")
        client.session = answer
        client.core.start_after(answer.last_report_seq)
        return client

    async def _reader(self) -> None:
        while True:
            frame = await self.socket.recv()
            self.core.receive(frame)
            for outgoing in self.core.take_outgoing():
                await self.socket.send(outgoing)
            self._changed.set()

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_ms / 1_000)
            await self._send(Heartbeat())

    async def _send(self, message: WireMessage) -> None:
        await self.socket.send(self.core.encode(message))

    async def _wait(self, ready: Callable[[], object], what: str) -> object:
        async def until() -> object:
            while True:
                value = ready()
                if value is not None:
                    return value
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(until(), self.timeout_ms / 1_000)
        except TimeoutError:
            raise GatewayError(f"{self.endpoint}: no answer to {what} within {self.timeout_ms} ms") from None

    async def submit(self, command: Command) -> Result:
        rid = self.core.request_id()
        await self._send(Submit(request_id=rid, command=cast(AnyCommand, command)))
        result = await self._wait(lambda: self.core.result(rid), f"request {rid}")
        assert isinstance(result, Result)
        return result

    async def _ask(self, make: Callable[[int], WireMessage], kind: type[T]) -> T:
        rid = self.core.request_id()
        await self._send(make(rid))
        answer = await self._wait(lambda: self.core.answer(rid), f"request {rid}")
        if isinstance(answer, Refused):
            raise GatewayError(f"{self.endpoint}: refused: {answer.text}")
        if not isinstance(answer, kind):
            raise GatewayError(f"{self.endpoint}: unexpected answer {type(answer).__name__}")
        return answer

    async def new_order(
        self, account: str, instrument: str, side: Side, quantity: int, price: int = 0, **kw: object
    ) -> Result:
        return await self.submit(new_order_command(account, instrument, side, quantity, price, **kw))  # type: ignore[arg-type]

    async def cancel(self, account: str, order_id: int) -> Result:
        return await self.submit(CancelOrder(account=account, order_id=order_id))

    async def list_orders(self, account: str = "") -> list[OpenOrder]:
        rid = self.core.request_id()
        await self._send(ListOrders(request_id=rid, account=account))
        answer = await self._wait(lambda: self.core.answer(rid), f"request {rid}")
        if not isinstance(answer, OrderList):
            raise GatewayError(f"{self.endpoint}: unexpected answer {type(answer).__name__}")
        return answer.orders

    async def propose_transfer(
        self,
        account: str,
        counterparty: str,
        instrument: str,
        side: Side,
        price: int,
        quantity: int,
        client_proposal_id: str | None = None,
    ) -> Result:
        command = propose_transfer_command(account, counterparty, instrument, side, price, quantity, client_proposal_id)
        return await self.submit(command)

    async def accept_transfer(self, account: str, transfer_id: int) -> Result:
        return await self.submit(AcceptTransfer(account=account, transfer_id=transfer_id))

    async def reject_transfer(self, account: str, transfer_id: int) -> Result:
        return await self.submit(RejectTransfer(account=account, transfer_id=transfer_id))

    async def cancel_transfer(self, account: str, transfer_id: int) -> Result:
        return await self.submit(CancelTransfer(account=account, transfer_id=transfer_id))

    async def list_transfers(self, account: str = "") -> list[TransferProposal]:
        rid = self.core.request_id()
        await self._send(ListTransfers(request_id=rid, account=account))
        answer = await self._wait(lambda: self.core.answer(rid), f"request {rid}")
        if isinstance(answer, Refused):
            raise GatewayError(f"{self.endpoint}: refused: {answer.text}")
        if not isinstance(answer, TransferList):
            raise GatewayError(f"{self.endpoint}: unexpected answer {type(answer).__name__}")
        return answer.transfers

    async def reports(self, timeout_ms: int = 0) -> list[ExecutionReport]:
        if not self.core.unsolicited and timeout_ms:
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout_ms / 1_000)
        return self.core.take_unsolicited()

    async def close(self) -> None:
        with contextlib.suppress(zmq.ZMQError):
            await self._send(Logout(request_id=self.core.request_id()))
        for task in self._tasks:
            task.cancel()
        self.socket.close()
        # In a thread: the wait for libzmq (up to ``TERM_TIMEOUT_S``) leaves the caller's loop running.
        await asyncio.to_thread(terminate, self.context)
