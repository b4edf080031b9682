"""``carbonx surveil ...`` on a small simulated day: what each action prints, and its errors as one line."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from carbonx.cli import main
from carbonx.config import load_config
from carbonx.simulation import run_simulation
from engine.journal import follow_journal
from surveillance import trail
from surveillance.alerts import evidence
from surveillance.book_replay import book_at
from surveillance.schema import EXPORTED
from surveillance.store import STORE_FILE, Store

pytestmark = pytest.mark.not_per_book  # ingest and the book replay the simulated day on the default book

REPO = Path(__file__).resolve().parents[1]
CONFIG = str(REPO / "config")
DAY = dt.date(2026, 12, 1)
HAND_DAY = 20261130  # the day of the alert these tests raise by hand: no rule raises one on it
SHANGHAI = ZoneInfo("Asia/Shanghai")


class Where(msgspec.Struct, frozen=True):
    data_dir: Path
    store_dir: Path

    def args(self) -> list[str]:
        return ["--config", CONFIG, "--data-dir", str(self.data_dir), "--store", str(self.store_dir)]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> list[str]:
    """The lines a command that succeeds prints, nothing on stderr."""
    status = main(["surveil", *argv])
    out, err = capsys.readouterr()
    assert (status, err) == (0, ""), (status, err)
    return out.splitlines()


def one_line(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The error line of a command that fails with exit status 2, nothing else printed."""
    status = main(["surveil", *argv])
    out, err = capsys.readouterr()
    assert (status, out) == (2, ""), (status, out, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err.rstrip("\n")


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Where:
    """A simulated day, ingested once by ``surveil ingest``, with one alert added by hand (id 1000)."""
    root = tmp_path_factory.mktemp("surveil-cli")
    where = Where(root / "data", root / "store")
    run_simulation(load_config(CONFIG).exchange, where.data_dir, seed=3, orders=200, trading_day=DAY, fsync=False)
    assert main(["surveil", "ingest", *where.args()]) == 0
    with Store.open(where.store_dir) as store:
        proof = msgspec.json.encode(evidence(["A101", "A102"], trades=[1, 2])).decode()
        store.insert(
            "alerts",
            [(1000, "by-hand", "wash.same_owner", HAND_DAY, "SHEA2025", "A101,A102", 8_765, json.dumps({"min_t": 1}),
              json.dumps({"trades": 2}), proof, "A101 and A102 dealt with each other", 7, 1_780_000_000 * 10**9)],
        )  # fmt: skip
    return where


@pytest.fixture
def where(simulated: Where, tmp_path: Path) -> Where:
    """The simulated store, copied: a test's case actions stay its own."""
    shutil.copytree(simulated.store_dir, tmp_path / "store")
    return Where(simulated.data_dir, tmp_path / "store")


def stored(where: Where, sql: str) -> list[tuple[object, ...]]:
    with Store.open(where.store_dir, read_only=True) as store:
        return store.con.execute(sql).fetchall()


# ------------------------------------------------------------------ ingest
def test_ingest_prints_the_records_the_days_the_alerts_and_the_store(
    capsys: pytest.CaptureFixture[str], simulated: Where, tmp_path: Path
) -> None:
    fresh = Where(simulated.data_dir, tmp_path / "fresh")
    last_seq = [record.seq for record, _end in follow_journal(simulated.data_dir)][-1]

    first = run(capsys, "ingest", *fresh.args())
    again = run(capsys, "ingest", *fresh.args())

    alerts = stored(fresh, "SELECT count(*) FROM alerts")[0][0]
    assert first[0].startswith(f"ingested {last_seq:,} journal records (")
    assert first[0].endswith(f" events) up to seq {last_seq:,}")
    assert first[1:] == [
        "days with new activity: 2026-12-01",
        f"new alerts: {alerts:,}" + ("  (carbonx surveil alerts)" if alerts else ""),
        f"store: {fresh.store_dir}",
    ]
    assert again == [
        f"ingested 0 journal records (0 events) up to seq {last_seq:,}",
        "days with new activity: none",
        "new alerts: 0",
        f"store: {fresh.store_dir}",
    ]


# ------------------------------------------------------------------ alerts and cases
def test_alerts_lists_every_alert_and_filters_them(capsys: pytest.CaptureFixture[str], where: Where) -> None:
    total = stored(where, "SELECT count(*) FROM alerts")[0][0]

    every = run(capsys, "alerts", *where.args())
    by_hand = run(capsys, "alerts", "--date", "2026-11-30", "--rule", "wash", "--status", "new", *where.args())
    none = run(capsys, "alerts", "--date", "2026-11-30", "--status", "closed", *where.args())

    assert every[0].split() == ["id", "day", "rule", "instrument", "subjects", "score", "status", "summary"]
    assert every[-1] == f"{total:,} alerts"
    assert len(by_hand) == 4 and by_hand[-1] == "1 alerts"
    assert by_hand[1].split()[:8] == [
        "1000",
        "2026-11-30",
        "wash.same_owner",
        "SHEA2025",
        "A101,",
        "A102",
        "0.87",
        "new",
    ]
    assert none == ["no alerts"]


def test_alert_shows_the_alert_and_its_case(capsys: pytest.CaptureFixture[str], where: Where) -> None:
    lines = run(capsys, "alert", "1000", *where.args())

    assert lines[:5] == [
        "alert 1000: wash.same_owner on 2026-11-30, SHEA2025",
        "  A101 and A102 dealt with each other",
        "score        0.87",
        "status       new",
        "subjects     A101, A102",
    ]
    assert "parameters   min_t=1" in lines and "figures      trades=2" in lines
    assert "  accounts   A101, A102" in lines and "  trades     1, 2" in lines
    assert lines[lines.index("case") + 1] == "  no actions yet"


def test_the_case_actions_are_appended_with_who_and_shown_in_the_case(
    capsys: pytest.CaptureFixture[str], where: Where
) -> None:
    said = [
        run(capsys, "assign", "1000", "--to", "wang", "--analyst", "lin", *where.args()),
        run(capsys, "note", "1000", "both accounts trade from one office", "--analyst", "wang", *where.args()),
        run(capsys, "escalate", "1000", "--reason", "pattern repeats", "--analyst", "wang", *where.args()),
        run(capsys, "close", "1000", "--reason", "referred to the regulator", *where.args()),
    ]
    shown = run(capsys, "alert", "1000", *where.args())

    me = getpass.getuser()
    assert said == [
        ["alert 1000: assign by lin (action 1); the case is assigned"],
        ["alert 1000: note by wang (action 2); the case is assigned"],
        ["alert 1000: escalate by wang (action 3); the case is escalated"],
        [f"alert 1000: close by {me} (action 4); the case is closed"],
    ]
    assert stored(where, "SELECT action_id, analyst, action, assignee, text FROM case_actions ORDER BY 1") == [
        (1, "lin", "assign", "wang", ""),
        (2, "wang", "note", "", "both accounts trade from one office"),
        (3, "wang", "escalate", "", "pattern repeats"),
        (4, me, "close", "", "referred to the regulator"),
    ]
    case = [line.split(maxsplit=4) for line in shown[shown.index("case") + 1 : -2]]
    assert [(c[0], c[3], " ".join(c[4:])) for c in case] == [
        ("1", "lin", "assign to wang"),
        ("2", "wang", "note: both accounts trade from one office"),
        ("3", "wang", "escalate: pattern repeats"),
        ("4", me, "close: referred to the regulator"),
    ]
    assert "status       closed (assigned to wang)" in shown


def test_a_closed_case_refuses_another_action_with_one_line(capsys: pytest.CaptureFixture[str], where: Where) -> None:
    run(capsys, "close", "1000", "--reason", "nothing", "--analyst", "lin", *where.args())

    line = one_line(capsys, "assign", "1000", "--to", "wang", "--analyst", "lin", *where.args())

    assert line == "carbonx surveil: error: alert 1000: the case is closed; only notes may be added"


# ------------------------------------------------------------------ trails
def test_trail_of_an_order_lists_its_events_from_entry_to_the_end(
    capsys: pytest.CaptureFixture[str], where: Where
) -> None:
    ((order_id, events),) = stored(
        where,
        "SELECT order_id, count(*) FROM order_events WHERE order_id IN "
        "(SELECT order_id FROM order_events WHERE event = 'filled') AND order_id > 0 "
        "GROUP BY order_id ORDER BY count(*) DESC, order_id LIMIT 1",
    )

    lines = run(capsys, "trail", "--order", str(order_id), *where.args())

    assert lines[0].split() == ["time", "seq", "kind", "id", "event", "account", "instrument", "detail"]
    assert lines[-1] == f"{events:,} events"
    rows = [line.split() for line in lines[1:-2]]  # date, time, seq, kind, id, event, ...
    assert len(rows) == events
    assert rows[0][3:6] == ["order", str(order_id), "accepted"]
    assert all(row[3:5] == ["order", str(order_id)] for row in rows)
    assert "filled" in {row[5] for row in rows}


def first_accepted(where: Where) -> tuple[str, str, int]:
    """The account, client order id and order id of the day's first accepted order."""
    ((account, client_order_id, order_id),) = stored(
        where,
        "SELECT account, client_order_id, order_id FROM order_events WHERE event = 'accepted' ORDER BY seq LIMIT 1",
    )
    return str(account), str(client_order_id), int(str(order_id))


def test_trail_of_a_client_order_id_is_its_orders_whole_trail(capsys: pytest.CaptureFixture[str], where: Where) -> None:
    account, client_order_id, order_id = first_accepted(where)
    with Store.open(where.store_dir, read_only=True) as store:
        expected = trail.client_order_trails(store, client_order_id, account)

    lines = run(capsys, "trail", "--client-order-id", client_order_id, "--account", account, *where.args())

    assert lines[-1] == f"{len(expected):,} events"
    assert {e.ref for e in expected} == {order_id}
    assert lines[1].split()[3:6] == ["order", str(order_id), "accepted"]


def test_trail_of_an_account_lists_its_events(capsys: pytest.CaptureFixture[str], where: Where) -> None:
    account, _client_order_id, _order_id = first_accepted(where)
    with Store.open(where.store_dir, read_only=True) as store:
        expected = trail.account_trail(store, account, 20261201)

    lines = run(capsys, "trail", "--account", account, "--date", "2026-12-01", *where.args())

    assert lines[-1] == f"{len(expected):,} events" and len(expected) > 5
    assert all(row.split()[6] == account for row in lines[1:-2])


# ------------------------------------------------------------------ the book
def test_book_at_a_seq_prints_the_replayed_book(capsys: pytest.CaptureFixture[str], simulated: Where) -> None:
    seq = 150
    replayed = book_at(simulated.data_dir, "SHEA2025", seq=seq)

    lines = run(capsys, "book", "SHEA2025", "--seq", str(seq), "--depth", "50", *simulated.args())

    assert lines[0].startswith(f"SHEA2025 after journal seq {seq} (2026-12-01 ")
    assert lines[1] == f"rebuilt from {seq} journal records"
    bids = f"bids: {len(replayed.bids):,} orders, {sum(o.leaves for o in replayed.bids):,} t"
    asks = f"asks: {len(replayed.asks):,} orders, {sum(o.leaves for o in replayed.asks):,} t"
    assert any(line.startswith(bids) for line in lines) and any(line.startswith(asks) for line in lines)
    shown = {line.split()[3] for line in lines if line[:1].isdigit()}
    assert shown == {str(o.order_id) for o in (*replayed.bids, *replayed.asks)}


def test_book_at_a_time_is_after_the_last_command_stamped_by_then(
    capsys: pytest.CaptureFixture[str], simulated: Where
) -> None:
    moment = dt.datetime(2026, 12, 1, 10, 30, tzinfo=SHANGHAI)
    before = [r.seq for r, _end in follow_journal(simulated.data_dir) if r.ts <= moment.timestamp() * 10**9]

    lines = run(capsys, "book", "SHEA2025", "--at", "2026-12-01 10:30", *simulated.args())

    assert lines[0].startswith(f"SHEA2025 after journal seq {before[-1]} (2026-12-01 09:30:")
    assert lines[0].endswith("; trading day 2026-12-01)")


# ------------------------------------------------------------------ report, export, import
def test_report_writes_one_html_page(capsys: pytest.CaptureFixture[str], where: Where, tmp_path: Path) -> None:
    out = tmp_path / "report.html"

    lines = run(capsys, "report", "--date", "2026-12-01", "--out", str(out), *where.args())

    page = out.read_text(encoding="utf-8").strip()
    assert page.lower().startswith(("<!doctype html>", "<html"))
    assert page.endswith("</html>")
    assert len(lines) == 1 and lines[0].startswith(f"wrote {out}: 2026-12-01, ")


def test_export_then_import_into_a_new_store(capsys: pytest.CaptureFixture[str], where: Where, tmp_path: Path) -> None:
    out, copy = tmp_path / "parquet", tmp_path / "copy"

    exported = run(capsys, "export", "--out", str(out), *where.args())
    imported = run(capsys, "import", "--from", str(out), "--store", str(copy), "--config", CONFIG,
                   "--data-dir", str(where.data_dir))  # fmt: skip

    counts = {t: stored(where, f"SELECT count(*) FROM {t}")[0][0] for t in EXPORTED}
    assert [line.split()[:2] for line in exported[:-1]] == [[t, f"{counts[t]:,}"] for t in EXPORTED]
    assert exported[-1] == f"wrote {out}/<table>/ (Parquet)"
    assert [line.split()[:2] for line in imported[:-1]] == [[t, f"{counts[t]:,}"] for t in EXPORTED]
    assert imported[-1] == f"store: {copy}"
    for table in EXPORTED:
        assert stored(Where(where.data_dir, copy), f"SELECT * FROM {table} ORDER BY ALL") == stored(
            where, f"SELECT * FROM {table} ORDER BY ALL"
        ), table


# ------------------------------------------------------------------ errors: one line, exit 2
def test_errors_are_one_line(capsys: pytest.CaptureFixture[str], where: Where, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    last_seq = [record.seq for record, _end in follow_journal(where.data_dir)][-1]
    other = tmp_path / "another-day"
    run_simulation(
        load_config(CONFIG).exchange, other, seed=4, orders=20, trading_day=dt.date(2026, 12, 2), fsync=False
    )
    for table in EXPORTED:  # an export for the import to be refused
        (tmp_path / table).mkdir()
    lines = {
        "bad data dir": one_line(capsys, "ingest", *Where(missing, tmp_path / "s1").args()),
        "store inside": one_line(capsys, "ingest", *Where(where.data_dir, where.data_dir / "store").args()),
        "unknown alert": one_line(capsys, "alert", "999999", *where.args()),
        "bad time": one_line(capsys, "book", "SHEA2025", "--at", "yesterday noon", *where.args()),
        "no store yet": one_line(
            capsys, "report", "--out", str(tmp_path / "r.html"), *Where(where.data_dir, tmp_path / "empty").args()
        ),
        "seq beyond": one_line(capsys, "book", "SHEA2025", "--seq", "99999", *where.args()),
        "import into a full store": one_line(capsys, "import", "--from", str(tmp_path), *where.args()),
        "another journal": one_line(capsys, "ingest", *Where(other, where.store_dir).args()),
    }

    assert lines == {
        "bad data dir": f"carbonx surveil: error: {missing}: data directory not found",
        "store inside": f"carbonx surveil: error: {where.data_dir / 'store'}: the store must not be inside the data "
        f"directory {where.data_dir}",
        "unknown alert": "carbonx surveil: error: alert 999999: no such alert",
        "bad time": "carbonx surveil: error: --at 'yesterday noon': not a time 'YYYY-MM-DD HH:MM[:SS[.ffffff]]'",
        "no store yet": f"carbonx surveil: error: {tmp_path / 'empty'}: no surveillance store yet (run `carbonx "
        "surveil ingest` first)",
        "seq beyond": f"carbonx surveil: error: --seq 99999: the journal ends at seq {last_seq}",
        "import into a full store": f"carbonx surveil: error: {where.store_dir / STORE_FILE}: the store already "
        "holds market data; import into a new --store",
        "another journal": f"carbonx surveil: error: {where.store_dir / STORE_FILE}: built from another journal, not "
        f"{other}'s; ingest into another --store",
    }
    assert not (tmp_path / "empty").exists() and not (where.data_dir / "store").exists()


def test_an_ingest_of_a_missing_data_directory_creates_no_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    one_line(capsys, "ingest", "--config", CONFIG, "--data-dir", str(tmp_path / "typo"))

    assert sorted(p.name for p in tmp_path.iterdir()) == []


# ------------------------------------------------------------------ help
HELP = {
    "ingest": ["--data-dir", "--store", "--config"],
    "alerts": ["--date", "--rule", "--status"],
    "alert": ["ID"],
    "assign": ["ID", "--to", "--analyst"],
    "note": ["ID", "TEXT", "--analyst"],
    "escalate": ["ID", "--reason", "--analyst"],
    "close": ["ID", "--reason", "--analyst"],
    "trail": ["--order", "--client-order-id", "--account", "--date"],
    "book": ["INSTRUMENT", "--at", "--seq", "--depth"],
    "report": ["--date", "--out"],
    "export": ["--out"],
    "import": ["--from"],
    "watch": ["--member", "--endpoint", "--keys-dir", "--interval-ms", "--seconds"],
}


@pytest.mark.parametrize("action", sorted(HELP))
def test_the_help_of_every_action_names_its_options(capsys: pytest.CaptureFixture[str], action: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["surveil", action, "--help"])
    out, err = capsys.readouterr()

    assert (exited.value.code, err) == (0, "")
    assert out.startswith(f"usage: carbonx surveil {action} ")
    assert [option for option in HELP[action] if option not in out] == []


def test_the_help_of_surveil_lists_every_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["surveil", "--help"])
    out, _err = capsys.readouterr()

    assert exited.value.code == 0
    assert [action for action in HELP if f"    {action} " not in out] == []


def test_no_other_command_and_not_the_node_loads_duckdb_or_matplotlib() -> None:
    # The node builds the whole parser; surveillance's libraries load only when a surveil action runs.
    probe = (
        "import sys, carbonx.cli as c; c.build_parser(); print('duckdb' in sys.modules, 'matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.split() == ["False", "False"]


def test_without_a_store_or_data_dir_an_action_uses_the_store_of_the_last_ingest(
    capsys: pytest.CaptureFixture[str], where: Where, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.chdir(tmp_path)  # node.toml's data_dir, var, is not there
    assert main(["surveil", "alerts", "--config", CONFIG]) == 2
    assert "no surveillance store yet" in capsys.readouterr().err

    assert main(["surveil", "ingest", "--config", CONFIG, "--data-dir", str(where.data_dir), "--store",
                 str(where.store_dir)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["surveil", "alerts", "--config", CONFIG]) == 0
    out, err = capsys.readouterr()

    assert err == f"carbonx surveil: the store of the last ingest, {where.store_dir.resolve()} (--store or " \
        "--data-dir chooses another)\n"  # fmt: skip
    assert out.splitlines()[0].split()[:3] == ["id", "day", "rule"]
    assert main(["surveil", "book", "SHEA2025", "--seq", "5", "--config", CONFIG]) == 0  # the store's data directory
