"""The public website's HTTP side (web/server.py, carbonx/web_records.py, `carbonx web`).

The aiohttp app runs under ``aiohttp.test_utils`` inside ``asyncio.run`` over a bridge fed by the
fake subscriber of tests/test_web_bridge.py. A cleared auction comes from a real auction run
through the engine and a publisher that saw its events; its results file must pass `carbonx
auction verify`'s check. Past bulletins come from a real end-of-day database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from carbonx.auction_results import load_results, parse_results, results_document, verify
from carbonx.cli import main
from carbonx.statements_db import DB_FILE, StatementStore
from carbonx.web_records import WebRecords
from engine.messages import TieBreak
from market_data.auction_feed import auction_bid
from market_data.messages import AuctionBid, AuctionNotice, AuctionResults, AuctionSnapshot
from market_data.publisher import Publisher
from tests.auction_desk import COMMITMENT, announce_open, bid, clear, close, reserve_sale
from tests.conftest import DAY1, DAY2, Market
from tests.node_process import REPO
from tests.test_statements_db import day_one, day_two
from tests.test_web_bridge import FakeSubscriber
from tests.test_web_state import quote
from web import server as server_module
from web.bridge import Bridge
from web.hub import Hub
from web.server import STATIC, Site

BULLETIN_KEYS = {"trading_day", "instrument", "reference_price", "open", "high", "low", "last", "close", "vwap"}
BULLETIN_KEYS |= {"volume", "turnover", "trades", "bulk_volume", "bulk_turnover", "bulk_trades"}


class Records:
    """``web.server.Records`` with the days and bulletins a test gives."""

    def __init__(self, bulletins: dict[int, list[dict[str, Any]]]) -> None:
        self.days = bulletins

    def trading_days(self) -> list[int]:
        return sorted(self.days, reverse=True)

    def bulletins(self, trading_day: int) -> list[dict[str, Any]]:
        return self.days.get(trading_day, [])

    def results_file(self, notice: AuctionNotice, results: AuctionResults, bids: list[AuctionBid]) -> str:
        return json.dumps({"auction_id": notice.auction_id, "bids": len(bids)})


def website(fake: FakeSubscriber | None = None, records: Any = None, **hub_options: int) -> tuple[Site, Bridge]:
    """A site over a bridge synced from ``fake``, its outputs going to the site's hub as the server's do."""
    fake = fake or FakeSubscriber()
    hubs: list[Hub] = []
    bridge = Bridge("tcp://unused:1", "tcp://unused:2", on_output=lambda *out: hubs[0].publish(*out), subscriber=fake)  # type: ignore[arg-type]
    hubs.append(Hub(bridge.document, **hub_options))
    fake.synced = True
    bridge.turn(0)
    return Site(bridge, hubs[0], records), bridge


def serve(site: Site, test: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def run() -> None:
        async with TestClient(TestServer(site.app())) as client:
            await test(client)

    asyncio.run(run())


async def read_events(response: ClientResponse, count: int, buffer: list[bytes]) -> list[tuple[str, Any]]:
    """The next ``count`` SSE events (name, decoded data) of a stream; comment and retry lines skipped."""
    events: list[tuple[str, Any]] = []
    while len(events) < count:
        if b"\n\n" not in buffer[0]:
            chunk = await asyncio.wait_for(response.content.readany(), 5)
            assert chunk, "the stream ended"
            buffer[0] += chunk
            continue
        block, buffer[0] = buffer[0].split(b"\n\n", 1)
        fields = dict(line.split(": ", 1) for line in block.decode().split("\n") if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


# ------------------------------------------------------------------------------------ pages and files


@pytest.mark.parametrize(
    "path", ["/", "/bulk", "/bulletin", "/bulletin/20261123", "/auctions", "/auctions/3", "/instrument/SHEA2025"]
)
def test_every_page_path_serves_index_html(path: str) -> None:
    async def test(client: TestClient[Any, Any]) -> None:
        page = await client.get(path)
        missing = await client.get("/nowhere")

        assert page.status == 200 and page.content_type == "text/html" and page.charset == "utf-8"
        assert await page.read() == (STATIC / "index.html").read_bytes()
        assert missing.status == 404

    serve(website()[0], test)


@pytest.mark.parametrize(
    "name",
    [*(p.name for p in sorted(STATIC.glob("*.js"))), "app.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"],
)
def test_the_static_files_are_served(name: str) -> None:
    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get(f"/static/{name}")

        assert response.status == 200, name
        assert await response.read() == (STATIC / name).read_bytes()
        if name.endswith(".js"):  # a module script is refused by the browser without a JavaScript type
            assert response.content_type in ("application/javascript", "text/javascript"), response.content_type

    serve(website()[0], test)


@pytest.mark.parametrize("target", ["/static/../server.py", "/static/%2e%2e/server.py", "/static/..%2fserver.py"])
def test_a_path_out_of_static_is_refused(target: str) -> None:
    async def test(client: TestClient[Any, Any]) -> None:
        # Raw bytes on the socket: a client library would tidy the path before sending it.
        reader, writer = await asyncio.open_connection(client.host, client.port)
        writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        reply = await asyncio.wait_for(reader.read(), 5)
        writer.close()

        assert reply.startswith(b"HTTP/1.1 ") and not reply.startswith(b"HTTP/1.1 200"), reply[:80]
        assert b"class Site" not in reply

    serve(website()[0], test)


# ------------------------------------------------------------------------------------ the live state


def test_api_state_is_the_pages_state_as_json() -> None:
    fake = FakeSubscriber()
    fake.values[("quote", "SHEA2025")] = quote(last=8012, change=12, trades=1)
    site, bridge = website(fake)

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/state")

        assert response.status == 200 and response.content_type == "application/json"
        assert response.headers["Cache-Control"] == "no-store"
        assert await response.json() == json.loads(json.dumps(bridge.page.document()))
        health = await (await client.get("/api/health")).json()
        assert (health["feed"], health["streams"], health["failures"]) == ("live", 0, 0)

    serve(site, test)


def test_the_stream_starts_with_the_state_and_then_carries_the_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "PING_S", 0.05)  # a closed stream shows at its next ping
    fake = FakeSubscriber()
    site, bridge = website(fake)

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/stream")
        buffer = [b""]
        ((event, state),) = await read_events(response, 1, buffer)
        fake.polls.append([quote(seq=2, last=8050, change=50, trades=1)])
        bridge.turn(0)  # on the loop's thread here: its output reaches the hub at once
        ((later, batch),) = await read_events(response, 1, buffer)
        response.close()

        assert response.status == 200 and response.headers["Content-Type"] == "text/event-stream"
        assert (event, state["version"], state["feed"]["state"]) == ("state", batch["v"] - 1, "live")
        assert later == "changes" and [c["quote"]["last"] for c in batch["changes"]] == [8050]

    serve(site, test)


def test_a_stream_beyond_max_clients_gets_503(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "PING_S", 0.05)
    site, _ = website(max_clients=2)

    async def test(client: TestClient[Any, Any]) -> None:
        open_streams = [await client.get("/api/stream") for _ in range(2)]
        refused = await client.get("/api/stream")

        assert [s.status for s in open_streams] == [200, 200] and refused.status == 503
        body = await refused.text()
        assert body.count("\n") == 0 and "max_streams=2" in json.loads(body)["error"]
        open_streams[0].close()  # the server notices at its next write (a ping) and frees the place
        deadline = asyncio.get_running_loop().time() + 5
        while len(site.hub.clients) == 2:
            assert asyncio.get_running_loop().time() < deadline, "a closed stream kept its place"
            await asyncio.sleep(0.01)
        again = await client.get("/api/stream")
        assert again.status == 200
        for stream in (open_streams[1], again):
            stream.close()

    serve(site, test)


# ------------------------------------------------------------------------------------ bulletins


def test_bulletin_days_and_a_days_bulletin_from_the_records() -> None:
    row = {"trading_day": DAY1, "instrument": "SHEA2025", "close": 8005}
    site, _ = website(records=Records({DAY1: [row], DAY2: [{**row, "trading_day": DAY2}]}))

    async def test(client: TestClient[Any, Any]) -> None:
        days = await (await client.get("/api/bulletin/days")).json()
        day = await client.get("/api/bulletin/20261123")
        dashed = await (await client.get("/api/bulletin/2026-11-23")).json()
        garbage, unknown = await client.get("/api/bulletin/garbage"), await client.get("/api/bulletin/20261125")

        assert days == {"days": [DAY2, DAY1]}
        assert day.status == 200 and await day.json() == {"trading_day": DAY1, "bulletins": [row]} == dashed
        assert garbage.status == 400 and unknown.status == 404
        for refused in (garbage, unknown):
            text = await refused.text()
            assert refused.content_type == "application/json" and "\n" not in text and json.loads(text)["error"]

    serve(site, test)


@pytest.mark.not_per_book  # the bulletin is the engine's figures; about the database, not the book
def test_web_records_read_a_real_end_of_day_database(tmp_path: Path) -> None:
    market = day_one()
    day_two(market)
    with StatementStore.open(tmp_path / DB_FILE) as store:
        store.record(market.events)
        recorded = store.bulletins(DAY1)
    records = WebRecords(tmp_path)

    assert records.trading_days() == [DAY2, DAY1]
    bulletins = records.bulletins(DAY1)
    assert [set(b) for b in bulletins] == [BULLETIN_KEYS] * len(recorded)
    assert bulletins == [{k: v for k, v in msgspec.structs.asdict(b).items() if k in BULLETIN_KEYS} for b in recorded]
    assert {b["instrument"]: b["volume"] for b in bulletins} == {"CCER": 10, "SHEA2025": 100, "T5": 0}
    assert records.bulletins(20261125) == []


def test_web_records_of_a_data_dir_without_a_database_have_no_days(tmp_path: Path) -> None:
    (tmp_path / "garbage").mkdir()
    (tmp_path / "garbage" / DB_FILE).write_bytes(b"not a database at all, not even close")
    records, unreadable = WebRecords(tmp_path / "empty"), WebRecords(tmp_path / "garbage")

    with capture_logs() as logs:
        assert (records.trading_days(), records.bulletins(DAY1)) == ([], [])
        assert unreadable.trading_days() == []

    assert not (tmp_path / "empty").exists()  # nothing created
    assert [entry["event"] for entry in logs] == ["web.database_unreadable"]


# ------------------------------------------------------------------------------------ auctions


def cleared_sale(desk: Market) -> tuple[AuctionSnapshot, list[AuctionBid], dict[str, Any]]:
    """A reserve sale with a random tie-break run through the engine: what a publisher that saw its
    events keeps, its anonymised bids, and the results file the exchange's own records give."""
    publisher = Publisher(desk.exchange, epoch=1)
    terms = reserve_sale(volume=10_000, tie_break=TieBreak.RANDOM, seed_commitment=COMMITMENT)
    auction_id = announce_open(desk, terms)
    for account, price, quantity in [("A1", 5200, 4_000), ("A2", 5000, 5_000), ("B1", 5000, 5_000), ("A1", 4900, 1)]:
        bid(desk, account, auction_id, price, quantity)
    close(desk, auction_id)
    clear(desk, auction_id)
    publisher.on_events(desk.events)
    item = publisher.auction_item(auction_id)
    assert item is not None
    record = publisher.view.auction(auction_id)
    assert record is not None and record.results is not None
    published = publisher.view.published_bids(auction_id)
    expected = results_document(record.terms, record.results, published)
    auction = msgspec.msgpack.decode(item, type=AuctionSnapshot)
    return auction, [auction_bid(b) for b in published], json.loads(json.dumps(expected))


def test_a_cleared_auctions_results_file_and_curve(desk: Market, tmp_path: Path) -> None:
    auction, bids, expected = cleared_sale(desk)
    fake = FakeSubscriber()
    fake.auction_list, fake.bids[auction.auction_id] = [auction], bids
    site, _ = website(fake, records=WebRecords(tmp_path))
    base = f"/api/auctions/{auction.auction_id}"

    async def test(client: TestClient[Any, Any]) -> None:
        download = await client.get(f"{base}/results.json")
        curve = await (await client.get(f"{base}/curve")).json()
        statuses = [(await client.get(path)).status for path in ("/api/auctions/x/curve", "/api/auctions/99/curve")]
        statuses.append((await client.get("/api/auctions/99/results.json")).status)

        assert download.status == 200 and download.content_type == "application/json"
        disposition = download.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="auction-{auction.auction_id}-results.json"'
        text = await download.text()
        assert json.loads(text) == expected  # what `carbonx auction results --format json` writes
        assert verify(parse_results(json.loads(text), "download")).ok
        (tmp_path / "results.json").write_text(text, encoding="utf-8")
        verdict = verify(load_results(tmp_path / "results.json"))
        assert verdict.ok, verdict.mismatch
        assert [s["price"] for s in curve["steps"]] == [5200, 5000, 5000, 4900]
        assert (curve["side"], curve["volume"], curve["clearing_price"]) == ("demand", 10_000, 5000)
        assert statuses == [404, 404, 404]

    serve(site, test)


@pytest.mark.parametrize("path", ["/api/auctions/%C2%B2/curve", "/api/auctions/%C2%B2/results.json"])
def test_an_auction_id_that_is_not_a_number_is_404(path: str) -> None:
    site, _ = website(records=Records({}))

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get(path)

        assert response.status == 404 and "error" in await response.json()

    serve(site, test)


def test_no_results_file_without_records() -> None:
    site, _ = website()

    async def test(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/auctions/1/results.json")

        assert response.status == 404 and "error" in await response.json()

    serve(site, test)


# ------------------------------------------------------------------------------------ the command


def test_carbonx_web_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["web", "--help"])

    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "usage: carbonx web" in out and "--port" in out and "--snapshot-endpoint" in out


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_carbonx_web_with_a_bad_port_is_one_line(capsys: pytest.CaptureFixture[str], port: str) -> None:
    status = main(["web", "--config", str(REPO / "config"), "--port", port])

    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("carbonx web: error: --port") and "Traceback" not in err
