"""`carbonx surveil report`'s library part: the day's HTML page, its pictures and the case status."""

from __future__ import annotations

import base64
import json
import re
from html.parser import HTMLParser

import msgspec
import pytest
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from surveillance import charts
from surveillance.alerts import Evidence, evidence
from surveillance.cases import case_status
from surveillance.report import ROW_LIMIT, cny, day_report, score
from tests.surveil_rows import DAY, SECOND, Market, at

NEXT_DAY = 20261202
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "wbr", "source"}
EVIL = "<script>alert(1)</script>"


class Alerts:
    """Alert and case-action rows written as the store keeps them."""

    def __init__(self, market: Market) -> None:
        self.market = market
        self.next_action = 0

    def alert(self, alert_id: int, rule: str, subjects: list[str], score_bp: int, proof: Evidence, *,
              summary: str = "", day: int = DAY) -> None:  # fmt: skip
        self.market.store.insert(
            "alerts",
            [(alert_id, f"fp{alert_id}", rule, day, self.market.instrument, ",".join(subjects), score_bp,
              json.dumps({"min_share_bp": 3_000}), json.dumps({"share_bp": 4_500, "volume_t": 12_000}),
              msgspec.json.encode(proof).decode(), summary or f"{rule} by {', '.join(subjects)}", 100, 0)],
        )  # fmt: skip

    def act(self, alert_id: int, action: str, text: str = "", assignee: str = "") -> None:
        self.next_action += 1
        self.market.store.insert(
            "case_actions", [(self.next_action, alert_id, 1_780_000_000 * SECOND + self.next_action, "ana", action,
                              assignee, text)]
        )  # fmt: skip


def day_market() -> tuple[Market, dict[str, list[int]]]:
    """A day of a few trades, an order, a bid and a transfer, four alerts with their cases."""
    market = Market()
    for account, member in (("A1", "M1"), ("A2", "M1"), ("B1", "M2"), ("C1", "M3"), ("D1", "M4")):
        market.account(account, member)
    market.store.insert("accounts", [("X9", "M5", "institution", EVIL, False, "", 0, 0)])
    trades = [market.trade("A1", "A2", 8_000 + i, 100 + i, at(60 * i)) for i in range(6)]
    trades += [market.trade("B1", "C1", 8_010, 50, at(3 * 3_600 + 60 * i)) for i in range(3)]
    spoof = market.order("B1", "SELL", 8_100, 5_000, at(4 * 3_600))
    market.cancel("B1", spoof, 5_000, at(4 * 3_600 + 2))
    market.auction(7, 7_000, 10_000, at(-600), clearing_price=7_500)
    market.bid("C1", 7, 71, 7_500, 1_000, at(-500), allocated=1_000)
    market.bid("D1", 7, 72, 7_500, 1_000, at(-400), allocated=1_000)
    market.bid("A1", 7, 73, 7_200, 500, at(-300))
    market.transfer("D1", "X9", 8_000, 2_000, at(5 * 3_600), transfer_id=31)
    market.bulletin(8_004, 1_065)
    market.store.set_meta("last_seq", "4242")
    alerts = Alerts(market)
    alerts.alert(1, "wash.same_owner", ["A1", "A2"], 8_765, evidence(["A1", "A2"], trades=trades[1:3]))
    alerts.alert(2, "spoofing.layering", ["B1"], 5_000, evidence(["B1", "C1"], orders=[spoof], trades=[trades[6]]))
    alerts.alert(3, "auction.identical_bids", ["C1", "D1"], 9_000, evidence(["C1", "D1"], bids=[71, 72], auctions=[7]))
    alerts.alert(4, "prohibited", ["X9"], 10_000, evidence(["D1", "X9"], transfers=[31]), summary=f"staff {EVIL}")
    alerts.act(1, "assign", assignee="bob")
    alerts.act(1, "note", text=f"looked {EVIL}")
    alerts.act(2, "assign", assignee="bob")
    alerts.act(2, "escalate", text="to compliance")
    alerts.act(3, "close", text="two funds, one manager")
    alerts.act(3, "note", text="reopened? no")
    return market, {"trades": trades, "orders": [spoof]}


@pytest.fixture(scope="module")
def page() -> str:
    market, _ = day_market()
    return day_report(market.con, DAY)


def sections(page: str) -> dict[int, str]:
    return {int(n): body for n, body in re.findall(r'<section class="alert" id="alert-(\d+)">(.*?)</section>', page)}


class Balance(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.mismatches: list[tuple[str, str]] = []
        self.images: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"] or "")
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        expected = self.open.pop() if self.open else ""
        if expected != tag:
            self.mismatches.append((expected, tag))


def parsed(page: str) -> Balance:
    parser = Balance()
    parser.feed(page)
    parser.close()
    return parser


# ------------------------------------------------------------------------------------------ the page


def test_the_page_parses_with_every_tag_closed(page: str) -> None:
    parser = parsed(page)

    assert parser.mismatches == []
    assert parser.open == []
    for tag in ("html", "head", "body", "main", "table"):
        assert len(re.findall(f"<{tag}[ >]", page)) == page.count(f"</{tag}>") > 0, tag


def test_the_page_fetches_nothing(page: str) -> None:
    assert re.findall(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', page, re.IGNORECASE) == []
    for outside in ("<script", "<link", "@import", "url("):
        assert outside not in page


def test_every_image_is_an_embedded_png(page: str) -> None:
    images = parsed(page).images

    assert len(images) == 3  # price and volume, member shares, the auction's bids
    for source in images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.removeprefix("data:image/png;base64,"), validate=True).startswith(b"\x89PNG")


def test_header_counts_alerts_by_rule_and_status(page: str) -> None:
    assert "2026-12-01" in page
    assert "seq 4242" in page
    row = re.search(r"<tr><td>all</td>(.*?)</tr>", page)
    assert row is not None
    assert re.findall(r'<td class="n">(\d+)</td>', row.group(1)) == ["1", "1", "1", "1", "4"]


def test_the_day_s_figures_are_in_cny(page: str) -> None:
    assert '<td>SHEA2025</td><td class="n">80.00</td><td class="n">80.04</td>' in page
    assert cny(8_004 * 1_065) in page


def test_alerts_follow_by_score_each_with_rule_and_subjects(page: str) -> None:
    found = sections(page)

    order = [int(n) for n in re.findall(r'<section class="alert" id="alert-(\d+)">', page)]
    assert order == [4, 3, 1, 2]
    assert "wash.same_owner" in found[1] and "<td>A1</td>" in found[1] and "<td>A2</td>" in found[1]
    assert "spoofing.layering" in found[2] and "<td>B1</td><td>M2</td>" in found[2]
    assert "auction.identical_bids" in found[3] and "<td>D1</td><td>M4</td>" in found[3]
    assert f"score {score(8_765)}" in found[1] and score(8_765) == "0.87"


def test_evidence_ids_appear_in_the_tables(page: str) -> None:
    _, ids = day_market()
    found = sections(page)

    for trade in ids["trades"][1:3]:
        assert f'<tr><td class="n">{trade}</td>' in found[1]
    assert f'<tr><td class="n">{ids["trades"][0]}</td>' not in found[1]
    assert found[2].count(f'<td class="n">{ids["orders"][0]}</td>') == 2  # accepted, cancelled
    assert ">71</td>" in found[3] and ">72</td>" in found[3] and ">73</td>" not in found[3]
    assert '<td class="n">31</td><td>X9</td><td>D1</td>' in found[4]


def test_each_alert_shows_its_case_status_and_actions(page: str) -> None:
    found = sections(page)

    statuses = {n: re.findall(r'Case: <span class="status status-(\w+)">', body) for n, body in found.items()}
    assert statuses == {1: ["assigned"], 2: ["escalated"], 3: ["closed"], 4: ["new"]}
    assert "two funds, one manager" in found[3]
    assert "No case actions." in found[4]


@pytest.mark.parametrize(
    ("actions", "status"),
    [
        ([], "new"),
        (["note"], "new"),
        (["assign"], "assigned"),
        (["assign", "note"], "assigned"),
        (["assign", "escalate"], "escalated"),
        (["escalate", "assign"], "assigned"),
        (["assign", "close"], "closed"),
        (["close", "note"], "closed"),
    ],
)
def test_case_status_is_the_last_assign_escalate_or_close(actions: list[str], status: str) -> None:
    assert case_status(actions) == status


def test_text_from_the_store_is_escaped(page: str) -> None:
    assert EVIL not in page
    assert "staff &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the summary
    assert "looked &lt;script&gt;" in page  # a note
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in sections(page)[4]  # an account's name


def test_long_evidence_shows_the_first_rows_and_counts_the_rest() -> None:
    market = Market()
    market.account("A1", "M1")
    market.account("A2", "M1")
    trades = [market.trade("A1", "A2", 8_000, 10, at(i)) for i in range(ROW_LIMIT + 7)]
    Alerts(market).alert(1, "wash.same_owner", ["A1", "A2"], 100, evidence(["A1", "A2"], trades=trades))

    found = sections(day_report(market.con, DAY))[1]

    assert re.findall(r'<tr><td class="n">(\d+)</td>', found) == [str(t) for t in trades[:ROW_LIMIT]]
    assert "and 7 more" in found


def test_a_day_without_alerts_still_has_its_figures_and_pictures() -> None:
    market, _ = day_market()

    page = day_report(market.con, NEXT_DAY)
    market.trade("A1", "B1", 8_000, 10, at(0, NEXT_DAY), day=NEXT_DAY)
    market.bulletin(8_000, 10, day=NEXT_DAY)
    traded = day_report(market.con, NEXT_DAY)

    for each in (page, traded):
        assert parsed(each).mismatches == []
        assert "No alerts on this day." in each
        assert "alert-" not in each
    assert "No trades on this day." in page and parsed(page).images == []
    assert len(parsed(traded).images) == 2


def test_the_same_store_gives_the_same_bytes() -> None:
    market, _ = day_market()

    assert day_report(market.con, DAY) == day_report(market.con, DAY)


# ------------------------------------------------------------------------------------------ the pictures


def test_alerted_points_are_exactly_the_alerted_trades() -> None:
    trades = [charts.TradePoint(tid, at(tid), 8_000 + tid, 10) for tid in range(1, 8)]

    marked = charts.alerted_points(trades, {2, 5, 99})

    assert [t.trade_id for t in marked] == [2, 5]


def test_the_price_chart_rings_exactly_the_alerted_trades() -> None:
    trades = [charts.TradePoint(tid, at(600 * tid), 8_000 + 3 * tid, 10) for tid in range(1, 8)]

    figure = charts.price_volume_figure("SHEA2025", DAY, trades, {3, 6}, close=8_010)

    prices_axis = figure.axes[0]
    (ringed,) = [line for line in prices_axis.get_lines() if line.get_label() == charts.ALERTED_LABEL]
    assert isinstance(ringed, Line2D)
    assert list(ringed.get_ydata()) == [80.09, 80.18]  # type: ignore[arg-type]
    assert list(ringed.get_xdata()) == charts.chart_hours(DAY, [at(1_800), at(3_600)])  # type: ignore[arg-type]
    assert charts.chart_hours(DAY, [at(0)]) == [9.5]  # 09:30 exchange time
    legend = prices_axis.get_legend()
    assert legend is not None and charts.ALERTED_LABEL in [t.get_text() for t in legend.get_texts()]


def test_a_chart_without_alerted_trades_rings_nothing() -> None:
    trades = [charts.TradePoint(1, at(0), 8_000, 10)]

    figure = charts.price_volume_figure("SHEA2025", DAY, trades, set(), close=0)

    assert [line for line in figure.axes[0].get_lines() if line.get_label() == charts.ALERTED_LABEL] == []


def test_volume_bars_sum_tonnes_per_five_minutes() -> None:
    trades = [charts.TradePoint(1, at(10), 1, 100), charts.TradePoint(2, at(290), 1, 50),
              charts.TradePoint(3, at(300), 1, 7)]  # fmt: skip

    assert charts.volume_bars(trades) == [(at(0), 150), (at(300), 7)]


def test_member_shares_count_both_sides_and_keep_alerted_members_in_view() -> None:
    market, _ = day_market()
    tonnes = charts.member_tonnes(market.con, DAY, market.instrument)

    shares = charts.top_members(tonnes, {"M3"}, top=1)

    assert tonnes == {"M1": 2 * 615, "M2": 150, "M3": 150}
    assert [(s.member, s.alerted) for s in shares] == [("M1", False), ("M3", True)]
    assert shares[0].share_bp == 2 * 615 * 10_000 // (2 * 765)


def test_alerted_members_below_the_top_are_capped_largest_first() -> None:
    tonnes = {f"M{n:02d}": 100 - n for n in range(40)}

    shares = charts.top_members(tonnes, {"M01", "M20", "M30", "M39"}, top=3, below=2)

    assert [(s.member, s.alerted) for s in shares] == [
        ("M00", False), ("M01", True), ("M02", False), ("M20", True), ("M30", True),
    ]  # fmt: skip


def test_the_member_chart_colours_alerted_members() -> None:
    shares = charts.top_members({"M1": 500, "M2": 300, "M3": 200}, {"M2"})

    figure = charts.member_shares_figure("SHEA2025", shares)

    bars = [bar for bar in figure.axes[0].patches if isinstance(bar, Rectangle)]
    red = [bar for bar in bars if bar.get_facecolor()[:3] == (198 / 255, 40 / 255, 40 / 255)]
    assert len(bars) == 3 and len(red) == 1
    assert red[0].get_width() == 30.0  # M2: 300 of 1,000 tonnes counted


def test_the_auction_picture_follows_the_demand_curve() -> None:
    bids = [charts.StandingBid(1, "A", 7_000, 100), charts.StandingBid(2, "B", 7_500, 300)]

    assert charts.demand_curve(bids) == [(300, 7_500), (400, 7_000)]


def test_pictures_are_deterministic_png() -> None:
    trades = [charts.TradePoint(tid, at(900 * tid), 8_000 + tid, 10 * tid) for tid in range(1, 20)]

    first = charts.png(charts.price_volume_figure("SHEA2025", DAY, trades, {4}, 8_005))
    again = charts.png(charts.price_volume_figure("SHEA2025", DAY, trades, {4}, 8_005))

    assert first.startswith(b"\x89PNG") and first == again
    assert b"Software" not in first
