// One instrument: five levels, the last trades, the intraday chart, the band and the reference price.

import { dirClass, fenMul, fmtDay, fmtInt, fmtMoney, fmtPrice, fmtSignedFen, fmtTime, fmtTonnes, sign, validMs } from "./format.js";
import { bi, emptyRow, field, flash, h, loading, pageHead, setDir, setText, th, tonnesNode } from "./dom.js";
import { S } from "./store.js";
import { intradayChart } from "./charts.js";

// ----- instrument

export function instrumentView(code) {
  let root;
  let chart = null;
  let resizeObs = null;
  let lastTradeSeen = null;
  const ids = {};

  function el(id) {
    return ids[id] || (ids[id] = root.querySelector(`#${id}`));
  }

  function build() {
    for (const k of Object.keys(ids)) delete ids[k];
    if (chart) { chart.destroy(); chart = null; }
    const known = S.instruments.includes(code) || S.quotes[code];
    if (!known) {
      root.replaceChildren(
        pageHead("未知品种", "Unknown instrument"),
        h("p", { class: "notice" }, bi("没有此品种", "There is no instrument"), " ", h("code", { id: "instrument-code" }, code), ". ",
          h("a", { href: "/" }, bi("返回行情", "Back to the market"))));
      return;
    }
    const stat = (id, zh, en) => field(zh, en, h("span", { id, class: "num" }, "—"));
    root.replaceChildren(
      h("div", { class: "inst-head" },
        h("div", { class: "inst-title" },
          h("a", { href: "/", class: "back" }, "← ", bi("行情", "Market")),
          h("h1", null, h("span", { id: "instrument-code" }, code)),
          h("span", { id: "inst-status" })),
        h("div", { class: "inst-price" },
          h("span", { id: "inst-last", class: "big num" }, "—"),
          h("span", { id: "inst-change", class: "num" }, "—"),
          h("span", { id: "inst-change-pct", class: "num" }, "—"),
          h("span", { id: "inst-updated", class: "muted small" }))),
      h("dl", { class: "stats figures" },
        stat("reference-price", "参考价", "Reference"),
        stat("limit-up", "涨停价", "Limit up"),
        stat("limit-down", "跌停价", "Limit down"),
        stat("inst-open", "开盘", "Open"),
        stat("inst-high", "最高", "High"),
        stat("inst-low", "最低", "Low"),
        stat("inst-volume", "成交量", "Volume"),
        stat("inst-turnover", "成交额", "Turnover (CNY)"),
        stat("inst-trades-count", "成交笔数", "Trades"),
        stat("inst-bulk-volume", "大宗成交量", "Bulk volume"),
        stat("inst-bulk-turnover", "大宗成交额", "Bulk turnover (CNY)"),
        stat("inst-bulk-trades", "大宗笔数", "Bulk trades")),
      h("div", { class: "inst-grid" },
        h("section", { class: "card chart-card" },
          h("h2", null, bi("分时走势", "Intraday"), h("span", { class: "muted small" }, " ", bi("一分钟", "one-minute bars"))),
          h("div", { id: "chart", class: "chart" }),
          h("p", { id: "chart-empty", class: "muted small chart-empty", hidden: true }, bi("今日暂无成交", "No trades yet today"))),
        h("section", { class: "card depth-card" },
          h("h2", null, bi("五档行情", "Order book")),
          h("table", { id: "depth", class: "data depth" },
            h("thead", null, h("tr", null, th("档位", "Level", ""), th("价格", "Price", "num"), th("数量", "Quantity", "num"), th("笔数", "Orders", "num"))),
            h("tbody")))),
      h("div", { class: "inst-grid lower" },
        h("section", { class: "card" },
          h("h2", null, bi("最新成交", "Last trades"), h("span", { class: "muted small" }, " ", bi("最新在上", "newest first"))),
          h("div", { class: "scroll-box" }, h("table", { id: "trades", class: "data trades" },
            h("thead", null, h("tr", null, th("时间", "Time", ""), th("价格", "Price", "num"), th("数量", "Quantity", "num"), th("方向", "Side", "ctr"))),
            h("tbody")))),
        h("section", { class: "card" },
          h("h2", null, bi("大宗交易", "Bulk trades")),
          h("div", { class: "scroll-box short" }, h("table", { class: "data inst-bulk" },
            h("thead", null, h("tr", null, th("时间", "Time", ""), th("价格", "Price", "num"), th("数量", "Quantity", "num"), th("金额", "Value (CNY)", "num"))),
            h("tbody"))),
          h("div", { id: "inst-bulletin" }))),
    );
    fillQuote();
    fillStatus();
    fillDepth();
    lastTradeSeen = null;
    fillTrades();
    fillBulk();
    fillBulletin();
    const chartEl = el("chart");
    chart = intradayChart(chartEl, code);
    fillChartNote();
    let lastWidth = chartEl.clientWidth;
    resizeObs = new ResizeObserver(() => {
      if (chart && chartEl.clientWidth !== lastWidth) {
        lastWidth = chartEl.clientWidth;
        chart.resize();
      }
    });
    resizeObs.observe(chartEl);
  }

  function fillQuote() {
    const q = S.quotes[code];
    const traded = q && sign(q.last) !== 0;
    const d = traded ? sign(q.change) : 0;
    const last = el("inst-last");
    const prevText = last.textContent;
    setText(last, q ? fmtPrice(q.last) : "—");
    if (prevText !== "—" && prevText !== last.textContent) flash(last, 0);
    setText(el("inst-change"), traded ? fmtSignedFen(q.change) : "—");
    setText(el("inst-change-pct"), traded && q.change_pct ? q.change_pct : "—");
    for (const id of ["inst-last", "inst-change", "inst-change-pct"]) setDir(el(id), d);
    setText(el("reference-price"), q ? fmtPrice(q.reference_price) : "—");
    setText(el("limit-up"), q ? fmtPrice(q.limit_up) : "—");
    setText(el("limit-down"), q ? fmtPrice(q.limit_down) : "—");
    el("limit-up").classList.add("up");
    el("limit-down").classList.add("down");
    const ref = q ? q.reference_price : 0;
    for (const [id, key] of [["inst-open", "open"], ["inst-high", "high"], ["inst-low", "low"]]) {
      setText(el(id), q ? fmtPrice(q[key]) : "—");
      setDir(el(id), q && sign(q[key]) ? sign(q[key] - ref) : 0);
    }
    setText(el("inst-volume"), q ? fmtTonnes(q.volume) : "—");
    setText(el("inst-turnover"), q ? fmtMoney(q.turnover) : "—");
    setText(el("inst-trades-count"), q ? fmtInt(q.trades) : "—");
    setText(el("inst-bulk-volume"), q ? fmtTonnes(q.bulk_volume) : "—");
    setText(el("inst-bulk-turnover"), q ? fmtMoney(q.bulk_turnover) : "—");
    setText(el("inst-bulk-trades"), q ? fmtInt(q.bulk_trades) : "—");
    setText(el("inst-updated"), q && validMs(q.ts_ms) ? `更新 Updated ${fmtTime(q.ts_ms)}` : "");
    document.title = q && traded ? `${code} ${fmtPrice(q.last)} ${q.change_pct || ""} · carbonx` : `${code} · carbonx`;
  }

  function fillStatus() {
    const st = S.status[code];
    const halted = !!(st && st.halted);
    el("inst-status").replaceChildren(h("span", null,
      h("span", { class: `badge ${halted ? "halted" : "trading"}` }, halted ? bi("停牌", "Halted") : bi("交易中", "Trading")),
      halted && st.reason ? h("span", { class: "muted small" }, ` ${st.reason}`) : null));
  }

  function depthRow(side, level, entry, ref) {
    const [zh, en] = side === "ask" ? ["卖", "Ask"] : ["买", "Bid"];
    const price = entry ? entry[0] : 0;
    return h("tr", { class: `${side}${level === 1 ? " best" : ""}`, dataset: { side, level: String(level) } },
      h("td", { class: "lvl" }, `${zh}${level} `, h("span", { class: "en" }, `${en} ${level}`)),
      h("td", { class: `num price ${entry ? dirClass(sign(price - ref)) : ""}` }, entry ? fmtPrice(price) : "—"),
      h("td", { class: "num qty" }, entry ? tonnesNode(entry[1]) : "—"),
      h("td", { class: "num orders" }, entry ? fmtInt(entry[2]) : "—"));
  }

  function fillDepth() {
    const dp = S.depth[code] || { bids: [], asks: [] };
    const q = S.quotes[code];
    const ref = q ? q.reference_price : 0;
    const asks = dp.asks || [];
    const bids = dp.bids || [];
    const rows = [];
    for (let level = 5; level >= 1; level--) rows.push(depthRow("ask", level, asks[level - 1], ref));
    for (let level = 1; level <= 5; level++) rows.push(depthRow("bid", level, bids[level - 1], ref));
    root.querySelector("#depth tbody").replaceChildren(...rows);
  }

  function fillTrades() {
    const list = S.trades[code] || [];
    const q = S.quotes[code];
    const ref = q ? q.reference_price : 0;
    const rows = [];
    for (let i = list.length - 1; i >= 0; i--) {
      const t = list[i];
      const buy = t.aggressor === "buy";
      const isNew = lastTradeSeen !== null && t.trade_id > lastTradeSeen;
      rows.push(h("tr", { dataset: { tradeId: String(t.trade_id) }, class: isNew ? "new" : null },
        h("td", { class: "time" }, fmtTime(t.ts_ms)),
        h("td", { class: `num price ${dirClass(sign(t.price - ref))}` }, fmtPrice(t.price)),
        h("td", { class: "num qty" }, tonnesNode(t.quantity)),
        h("td", { class: `ctr side ${buy ? "up" : "down"}` }, buy ? bi("买", "Buy") : bi("卖", "Sell"))));
    }
    if (!rows.length) rows.push(emptyRow(4, "今日暂无成交", "No trades yet today"));
    root.querySelector("#trades tbody").replaceChildren(...rows);
    lastTradeSeen = list.length ? Math.max(lastTradeSeen ?? 0, list[list.length - 1].trade_id) : lastTradeSeen ?? 0;
  }

  function fillBulk() {
    const list = S.bulk[code] || [];
    const rows = [];
    for (let i = list.length - 1; i >= 0; i--) {
      const b = list[i];
      rows.push(h("tr", null,
        h("td", { class: "time" }, fmtTime(b.ts_ms)),
        h("td", { class: "num" }, fmtPrice(b.price)),
        h("td", { class: "num" }, tonnesNode(b.quantity)),
        h("td", { class: "num" }, fmtMoney(fenMul(b.price, b.quantity)))));
    }
    if (!rows.length) rows.push(emptyRow(4, "今日暂无大宗交易", "No bulk trades today"));
    root.querySelector(".inst-bulk tbody").replaceChildren(...rows);
  }

  function fillBulletin() {
    const b = S.bulletins[code];
    const box = el("inst-bulletin");
    if (!b) { box.replaceChildren(); return; }
    box.replaceChildren(
      h("h3", null, bi("收盘公告", "Closing bulletin"), " ",
        h("a", { href: `/bulletin/${b.trading_day}`, class: "num" }, fmtDay(b.trading_day))),
      h("dl", { class: "stats compact" },
        field("收盘", "Close", h("span", { class: "num" }, fmtPrice(b.close))),
        field("均价", "VWAP", h("span", { class: "num" }, fmtPrice(b.vwap))),
        field("成交量", "Volume", h("span", { class: "num" }, tonnesNode(b.volume))),
        field("成交额", "Turnover", h("span", { class: "num" }, fmtMoney(b.turnover)))));
  }

  function fillChartNote() {
    const empty = !(S.bars[code] || []).length;
    el("chart-empty").hidden = !empty;
  }

  return {
    title: code,
    nav: "market",
    mount(elRoot) {
      root = elRoot;
      document.title = `${code} · carbonx`;
      if (S) build(); else loading(root);
    },
    update(d) {
      if (d.all || (d.structure && !root.querySelector("#depth"))) return build();
      if (!root.querySelector("#depth")) return;
      if (d.quote.has(code)) {
        fillQuote();
        fillDepth(); // prices are coloured against the reference price
        if (chart) chart.redraw();
      } else if (d.depth.has(code)) fillDepth();
      if (d.status.has(code)) fillStatus();
      if (d.trades.has(code) || d.quote.has(code)) fillTrades();
      if (d.bulk.has(code)) fillBulk();
      if (d.bulletins) fillBulletin();
      if (d.bars.has(code) && chart) {
        chart.update();
        fillChartNote();
      }
    },
    unmount() {
      if (resizeObs) resizeObs.disconnect();
      if (chart) chart.destroy();
      chart = null;
    },
  };
}
