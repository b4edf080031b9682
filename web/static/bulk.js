// The day's bulk trades (agreement transfers), apart from listing trades.

import { fenMul, fmtInt, fmtMoney, fmtPrice, fmtTime } from "./format.js";
import { bi, emptyRow, h, instrumentLink, loading, pageHead, tableWrap, th, tonnesNode } from "./dom.js";
import { S } from "./store.js";

// ----- bulk trades

export function bulkView() {
  let root;

  function allBulk() {
    const out = [];
    for (const [code, list] of Object.entries(S.bulk)) {
      for (const b of list || []) out.push([code, b]);
    }
    out.sort((a, b) => (b[1].ts_ms - a[1].ts_ms) || (b[1].transfer_id - a[1].transfer_id));
    return out;
  }

  function build() {
    root.replaceChildren(
      pageHead("大宗交易", "Bulk trades", h("p", { class: "sub" },
        bi("协议转让（大宗交易）今日成交，与挂牌交易分开统计", "Today's agreement transfers, reported apart from listing trades"))),
      h("div", { id: "bulk-totals", class: "totals" }),
      tableWrap(h("table", { id: "bulk", class: "data" },
        h("thead", null, h("tr", null,
          th("时间", "Time", ""), th("品种", "Instrument", ""), th("价格", "Price", "num"),
          th("数量", "Quantity", "num"), th("金额", "Value (CNY)", "num"))),
        h("tbody"))));
    fill();
  }

  function fill() {
    const rows = allBulk().map(([code, b]) => h("tr", { dataset: { transferId: String(b.transfer_id), instrument: code } },
      h("td", { class: "time" }, fmtTime(b.ts_ms)),
      h("td", null, instrumentLink(code)),
      h("td", { class: "num price" }, fmtPrice(b.price)),
      h("td", { class: "num qty" }, tonnesNode(b.quantity)),
      h("td", { class: "num value" }, fmtMoney(fenMul(b.price, b.quantity)))));
    if (!rows.length) rows.push(emptyRow(5, "今日暂无大宗交易", "No bulk trades today"));
    root.querySelector("#bulk tbody").replaceChildren(...rows);
    fillTotals();
  }

  function fillTotals() {
    const box = root.querySelector("#bulk-totals");
    const cards = [];
    for (const code of S.instruments) {
      const q = S.quotes[code];
      if (!q) continue;
      cards.push(h("div", { class: "stat" },
        h("div", { class: "k" }, instrumentLink(code)),
        h("div", { class: "v num" }, tonnesNode(q.bulk_volume)),
        h("div", { class: "s num muted" }, fmtMoney(q.bulk_turnover), " 元 · ", fmtInt(q.bulk_trades), " 笔 trades")));
    }
    box.replaceChildren(...cards);
  }

  return {
    title: "大宗交易 Bulk trades",
    nav: "bulk",
    mount(el) {
      root = el;
      if (S) build(); else loading(root);
    },
    update(d) {
      if (d.all || !root.querySelector("#bulk")) return build();
      if (d.bulk.size) fill();
      else if (d.quote.size || d.structure) fillTotals();
    },
    unmount() {},
  };
}
