// The market overview: every instrument live.

import { fmtMoney, fmtPrice, fmtSignedFen, fmtTonnes, sign, toBig } from "./format.js";
import { bi, emptyRow, flash, h, instrumentLink, loading, pageHead, setDir, setText, tableWrap, th, tonnesNode } from "./dom.js";
import { S } from "./store.js";

// ----- overview

const OVERVIEW_COLUMNS = [
  ["code", "代码", "Code", ""],
  ["reference", "参考价", "Ref.", "num opt"],
  ["last", "最新价", "Last", "num"],
  ["change", "涨跌", "Change", "num"],
  ["change-pct", "涨跌幅", "Change %", "num"],
  ["bid", "买一价", "Bid", "num"],
  ["bid-quantity", "买一量", "Bid qty", "num opt"],
  ["ask", "卖一价", "Ask", "num"],
  ["ask-quantity", "卖一量", "Ask qty", "num opt"],
  ["volume", "成交量", "Volume", "num"],
  ["turnover", "成交额", "Turnover (CNY)", "num"],
  ["bulk-volume", "大宗成交量", "Bulk volume", "num opt"],
  ["status", "状态", "Status", "ctr"],
];

export function overviewView() {
  let root;
  let tbody;
  let rows = new Map();

  function build() {
    const table = h("table", { id: "overview", class: "data quotes" },
      h("thead", null, h("tr", null, OVERVIEW_COLUMNS.map(([, zh, en, cls]) => th(zh, en, cls)))),
      tbody = h("tbody"));
    rows = new Map();
    for (const code of S.instruments) {
      const cells = {};
      const tr = h("tr", { dataset: { instrument: code, href: `/instrument/${encodeURIComponent(code)}` }, class: "flat" });
      for (const [key, , , cls] of OVERVIEW_COLUMNS) {
        const td = h("td", { class: `${key} ${cls}`.trim() });
        cells[key] = td;
        tr.append(td);
      }
      cells.code.append(instrumentLink(code));
      rows.set(code, { tr, cells, last: undefined });
      tbody.append(tr);
      fill(code);
    }
    if (!S.instruments.length) tbody.append(emptyRow(OVERVIEW_COLUMNS.length, "暂无品种", "No instruments"));
    const totals = h("div", { id: "market-totals", class: "totals" });
    root.replaceChildren(
      pageHead("市场行情", "Market overview", h("p", { class: "sub" },
        bi("点击品种查看五档行情与分时走势", "Select an instrument for its order book and intraday chart"))),
      totals,
      tableWrap(table),
    );
    fillTotals();
  }

  function fillTotals() {
    const el = root.querySelector("#market-totals");
    if (!el) return;
    let volume = 0n;
    let turnover = 0n;
    let bulkVolume = 0n;
    let bulkTurnover = 0n;
    for (const code of S.instruments) {
      const q = S.quotes[code];
      if (!q) continue;
      volume += toBig(q.volume) || 0n;
      turnover += toBig(q.turnover) || 0n;
      bulkVolume += toBig(q.bulk_volume) || 0n;
      bulkTurnover += toBig(q.bulk_turnover) || 0n;
    }
    el.replaceChildren(
      h("div", { class: "stat" }, h("div", { class: "k" }, bi("挂牌成交量", "Listing volume")), h("div", { class: "v num" }, tonnesNode(volume))),
      h("div", { class: "stat" }, h("div", { class: "k" }, bi("挂牌成交额", "Listing turnover")), h("div", { class: "v num" }, fmtMoney(turnover), h("span", { class: "unit" }, " 元"))),
      h("div", { class: "stat" }, h("div", { class: "k" }, bi("大宗成交量", "Bulk volume")), h("div", { class: "v num" }, tonnesNode(bulkVolume))),
      h("div", { class: "stat" }, h("div", { class: "k" }, bi("大宗成交额", "Bulk turnover")), h("div", { class: "v num" }, fmtMoney(bulkTurnover), h("span", { class: "unit" }, " 元"))),
    );
  }

  function fill(code) {
    const row = rows.get(code);
    if (!row) return;
    const { tr, cells } = row;
    const q = S.quotes[code];
    const st = S.status[code];
    const traded = q && sign(q.last) !== 0;
    const d = traded ? sign(q.change) : 0;
    setDir(tr, d);
    for (const key of ["last", "change", "change-pct"]) setDir(cells[key], d);
    setText(cells.reference, q ? fmtPrice(q.reference_price) : "—");
    setText(cells.last, q ? fmtPrice(q.last) : "—");
    setText(cells.change, traded ? fmtSignedFen(q.change) : "—");
    setText(cells["change-pct"], traded && q.change_pct ? q.change_pct : "—");
    setText(cells.bid, q ? fmtPrice(q.bid) : "—");
    setText(cells["bid-quantity"], q && sign(q.bid) ? fmtTonnes(q.bid_quantity) : "—");
    setText(cells.ask, q ? fmtPrice(q.ask) : "—");
    setText(cells["ask-quantity"], q && sign(q.ask) ? fmtTonnes(q.ask_quantity) : "—");
    setText(cells.volume, q ? fmtTonnes(q.volume) : "—");
    setText(cells.turnover, q ? fmtMoney(q.turnover) : "—");
    setText(cells["bulk-volume"], q ? fmtTonnes(q.bulk_volume) : "—");
    const halted = !!(st && st.halted);
    const statusText = halted ? "停牌 Halted" : "交易中 Trading";
    if (cells.status.dataset.text !== statusText) {
      cells.status.dataset.text = statusText;
      cells.status.replaceChildren(h("span", { class: `badge ${halted ? "halted" : "trading"}`, title: halted && st.reason ? st.reason : null },
        halted ? bi("停牌", "Halted") : bi("交易中", "Trading")));
    }
    tr.classList.toggle("is-halted", halted);
    const last = q ? q.last : undefined;
    if (row.last !== undefined && last !== row.last && traded) flash(cells.last, sign(last - row.last));
    row.last = last;
  }

  return {
    title: "行情 Market",
    nav: "market",
    mount(el) {
      root = el;
      if (S) build(); else loading(root);
    },
    update(d) {
      if (d.all || d.structure) return build();
      const codes = new Set([...d.quote, ...d.status]);
      for (const code of codes) fill(code);
      if (d.quote.size) fillTotals();
    },
    unmount() {},
  };
}
