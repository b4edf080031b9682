// The daily bulletin, by date: the latest live, the earlier ones from the end-of-day records.

import { dirClass, fmtDay, fmtInt, fmtMoney, fmtPrice, fmtSignedFen, label, sign } from "./format.js";
import { bi, emptyRow, h, instrumentLink, loading, pageHead, tableWrap, th, tonnesNode } from "./dom.js";
import { S, getJSON, markRouted } from "./store.js";

// ----- daily bulletin

let bulletinDays = null;            // from /api/bulletin/days
const bulletinCache = new Map();    // day -> [BULLETIN]

export function bulletinView(dayParam) {
  let root;
  let day = dayParam ? Number(dayParam) : null;
  let fetched = null;        // bulletins fetched for `day`
  let fetchError = null;
  let alive = true;
  let token = 0;
  let requested = null;      // the day whose bulletins were fetched or are being fetched

  function liveDays() {
    const days = new Set();
    for (const b of Object.values(S.bulletins)) if (b && b.trading_day) days.add(Number(b.trading_day));
    return days;
  }

  function allDays() {
    const days = new Set(bulletinDays || []);
    for (const d of liveDays()) days.add(d);
    if (day) days.add(day);
    return [...days].sort((a, b) => b - a);
  }

  function build() {
    root.replaceChildren(
      pageHead("每日公告", "Daily bulletin", h("p", { class: "sub" },
        bi("每个交易日收盘后公布", "Published at the end of every trading day"))),
      h("div", { class: "toolbar" },
        h("label", { for: "bulletin-day" }, bi("交易日", "Trading day")),
        h("select", { id: "bulletin-day", onchange: onSelect })),
      h("div", { id: "bulletin-note", class: "muted small" }),
      tableWrap(h("table", { id: "bulletin", class: "data" },
        h("thead", null, h("tr", null,
          th("品种", "Instrument", ""), th("参考价", "Ref.", "num"), th("开盘", "Open", "num"), th("最高", "High", "num"),
          th("最低", "Low", "num"), th("收盘", "Close", "num"), th("涨跌", "Change", "num"), th("均价", "VWAP", "num"),
          th("成交量", "Volume", "num"), th("成交额", "Turnover (CNY)", "num"), th("笔数", "Trades", "num"),
          th("大宗成交量", "Bulk volume", "num"), th("大宗成交额", "Bulk turnover (CNY)", "num"), th("大宗笔数", "Bulk trades", "num"))),
        h("tbody"))));
    fillSelect();
    fillTable();
    ensureDay();
  }

  // Pick the newest day when none was asked for, and fetch the chosen day's bulletins once.
  function ensureDay() {
    if (!day) {
      const days = allDays();
      if (days.length) day = days[0];
    }
    if (day && requested !== day) loadDay();
  }

  function fillSelect() {
    const select = root.querySelector("#bulletin-day");
    if (!select) return;
    const days = allDays();
    if (!day && days.length) day = days[0];
    const live = liveDays();
    const opts = days.map((d) => h("option", { value: String(d), selected: d === day },
      fmtDay(d), live.has(d) && !(bulletinDays || []).includes(d) ? " · 实时 live" : ""));
    if (!opts.length) opts.push(h("option", { value: "" }, bulletinDays ? "暂无 None yet" : "加载中 Loading…"));
    const sig = opts.map((o) => o.value + o.textContent).join("|");
    if (select.dataset.sig !== sig) {
      select.replaceChildren(...opts);
      select.dataset.sig = sig;
    }
    select.value = day ? String(day) : "";
  }

  function rowsForDay() {
    const byCode = new Map();
    for (const b of fetched || []) byCode.set(b.instrument, b);
    for (const b of Object.values(S.bulletins)) {
      if (b && Number(b.trading_day) === day) byCode.set(b.instrument, b);
    }
    const order = S.instruments;
    return [...byCode.values()].sort((a, b) => {
      const ia = order.indexOf(a.instrument);
      const ib = order.indexOf(b.instrument);
      return (ia < 0 ? 1e9 : ia) - (ib < 0 ? 1e9 : ib) || String(a.instrument).localeCompare(String(b.instrument));
    });
  }

  function fillTable() {
    const tbody = root.querySelector("#bulletin tbody");
    const note = root.querySelector("#bulletin-note");
    if (!tbody) return;
    const list = day ? rowsForDay() : [];
    const rows = list.map((b) => {
      const d = sign(b.close) ? sign(b.close - b.reference_price) : 0;
      return h("tr", { dataset: { instrument: b.instrument, dir: dirClass(d) } },
        h("td", null, instrumentLink(b.instrument)),
        h("td", { class: "num" }, fmtPrice(b.reference_price)),
        h("td", { class: "num open" }, fmtPrice(b.open)),
        h("td", { class: "num high" }, fmtPrice(b.high)),
        h("td", { class: "num low" }, fmtPrice(b.low)),
        h("td", { class: `num close ${dirClass(d)}` }, fmtPrice(b.close)),
        h("td", { class: `num change ${dirClass(d)}` }, sign(b.close) && sign(b.reference_price) ? fmtSignedFen(b.close - b.reference_price) : "—"),
        h("td", { class: "num vwap" }, fmtPrice(b.vwap)),
        h("td", { class: "num volume" }, tonnesNode(b.volume)),
        h("td", { class: "num turnover" }, fmtMoney(b.turnover)),
        h("td", { class: "num trades" }, fmtInt(b.trades)),
        h("td", { class: "num bulk-volume" }, tonnesNode(b.bulk_volume)),
        h("td", { class: "num bulk-turnover" }, fmtMoney(b.bulk_turnover)),
        h("td", { class: "num bulk-trades" }, fmtInt(b.bulk_trades)));
    });
    if (!rows.length) {
      if (fetchError) rows.push(emptyRow(14, "无法加载公告", `Could not load the bulletin: ${fetchError}`));
      else if (day && fetched === null && (bulletinDays || []).includes(day)) rows.push(emptyRow(14, "加载中", "Loading…"));
      else if (!day) rows.push(emptyRow(14, "暂无公告", "No bulletin published yet"));
      else rows.push(emptyRow(14, "该日暂无公告", "No bulletin for this day"));
    }
    tbody.replaceChildren(...rows);
    const live = day && [...liveDays()].includes(day);
    note.replaceChildren(h("span", null, day ? [bi("交易日", "Trading day"), " ", h("span", { class: "num" }, fmtDay(day)),
      live ? [" · ", bi("收盘后实时公布", "published live at the close")] : ""] : null));
    document.title = day ? `每日公告 Daily bulletin ${fmtDay(day)} · carbonx` : "每日公告 Daily bulletin · carbonx";
  }

  async function loadDays() {
    try {
      const body = await getJSON("/api/bulletin/days");
      bulletinDays = (body.days || []).map(Number);
    } catch (err) {
      if (!bulletinDays) bulletinDays = [];
      console.warn("carbonx: bulletin days", err.message);
    }
    if (!alive) return;
    if (S && root.querySelector("#bulletin-day")) {
      fillSelect();
      ensureDay();
      fillTable();
    }
  }

  async function loadDay() {
    const my = ++token;
    requested = day;
    fetchError = null;
    fetched = null;
    if (!day) { if (S) fillTable(); return; }
    if (bulletinCache.has(day)) {
      fetched = bulletinCache.get(day);
      if (S) fillTable();
      return;
    }
    if (bulletinDays === null) {  // the list is not in yet: ask again once it is
      requested = null;
      return;
    }
    if (S) fillTable();
    // A day off the list has no end-of-day record (yet): what there is of it is the live STATE's.
    if (!bulletinDays.includes(day)) return;
    try {
      const body = await getJSON(`/api/bulletin/${day}`);
      if (my !== token || !alive) return;
      fetched = body.bulletins || [];
      bulletinCache.set(day, fetched);
    } catch (err) {
      if (my !== token || !alive) return;
      fetched = [];
      if (err.status !== 404) fetchError = err.message;
    }
    if (S) fillTable();
  }

  function onSelect(ev) {
    const value = Number(ev.target.value);
    if (!value || value === day) return;
    day = value;
    history.pushState(null, "", `/bulletin/${value}`);
    markRouted(location.pathname);
    loadDay();
  }

  return {
    title: "每日公告 Daily bulletin",
    nav: "bulletin",
    mount(el) {
      root = el;
      if (S) build(); else loading(root);
      loadDays();
    },
    update(d) {
      if (d.all || !root.querySelector("#bulletin")) {
        build();
        return;
      }
      if (d.bulletins) {
        fillSelect();
        ensureDay();
        fillTable();
      } else if (d.structure) fillTable();
    },
    unmount() { alive = false; },
  };
}
