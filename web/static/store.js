// The STATE the page holds and the changes that move it (docs/WEB.md), applied once per animation
// frame; the stream (/api/stream) that brings them; the banner; the page shown, which is handed
// what changed.

import { FEED_TEXT, MAX_TRADES, OFFLINE_TEXT, SESSIONS, fmtDay } from "./format.js";
import { bi, biPair, h, setText } from "./dom.js";

// ---------------------------------------------------------------- state and changes

export let S = null;          // the STATE held
let everRendered = false;

function emptyDirty() {
  return {
    all: false, feed: false, market: false, structure: false, bulletins: false,
    quote: new Set(), depth: new Set(), status: new Set(), trades: new Set(),
    bulk: new Set(), bars: new Set(), auctions: new Set(),
  };
}
let dirty = emptyDirty();

function normalise(st) {
  const out = Object.assign({}, st);
  out.version = Number(st.version) || 0;
  out.feed = st.feed || { state: "connecting", text: "" };
  out.market = st.market || null;
  out.instruments = Array.isArray(st.instruments) ? st.instruments.slice() : [];
  for (const key of ["quotes", "depth", "status", "trades", "bulk", "bars", "bulletins"]) {
    out[key] = Object.assign({}, st[key] || {});
  }
  out.auctions = Array.isArray(st.auctions) ? st.auctions.slice() : [];
  out.auctions.sort((a, b) => a.auction_id - b.auction_id);
  for (const code of Object.keys(out.quotes)) {
    if (!out.instruments.includes(code)) out.instruments.push(code);
  }
  return out;
}

function ensureInstrument(code) {
  if (code && !S.instruments.includes(code)) {
    S.instruments.push(code);
    dirty.structure = true;
  }
}

const REPLACED_IN = { quote: "quotes", depth: "depth", status: "status" };

function applyChange(c) {
  switch (c.kind) {
    case "feed":
      S.feed = c.feed || { state: "connecting", text: "" };
      dirty.feed = true;
      break;
    case "market":
      S.market = c.market;
      dirty.market = true;
      break;
    case "quote":
    case "depth":
    case "status": {
      // Replace the instrument's value: c.quote in S.quotes, c.depth in S.depth, c.status in S.status.
      const value = c[c.kind];
      ensureInstrument(value.instrument);
      S[REPLACED_IN[c.kind]][value.instrument] = value;
      dirty[c.kind].add(value.instrument);
      break;
    }
    case "trade": {
      const list = S.trades[c.instrument] || (S.trades[c.instrument] = []);
      list.push(c.trade);
      if (list.length > MAX_TRADES) list.splice(0, list.length - MAX_TRADES);
      dirty.trades.add(c.instrument);
      break;
    }
    case "bulk": {
      const list = S.bulk[c.instrument] || (S.bulk[c.instrument] = []);
      list.push(c.bulk);
      dirty.bulk.add(c.instrument);
      break;
    }
    case "bar": {
      const list = S.bars[c.instrument] || (S.bars[c.instrument] = []);
      const t = c.bar[0];
      let i = list.length - 1;
      while (i >= 0 && list[i][0] > t) i--;
      if (i >= 0 && list[i][0] === t) list[i] = c.bar;
      else list.splice(i + 1, 0, c.bar);
      dirty.bars.add(c.instrument);
      break;
    }
    case "bars": {
      S.bars[c.instrument] = c.bars;
      dirty.bars.add(c.instrument);
      break;
    }
    case "bulletin": {
      S.bulletins[c.bulletin.instrument] = c.bulletin;
      dirty.bulletins = true;
      break;
    }
    case "auction": {
      const a = c.auction;
      const i = S.auctions.findIndex((x) => x.auction_id === a.auction_id);
      if (i >= 0) S.auctions[i] = a;
      else {
        S.auctions.push(a);
        S.auctions.sort((x, y) => x.auction_id - y.auction_id);
      }
      dirty.auctions.add(a.auction_id);
      break;
    }
    case "day": {
      for (const code of Object.keys(S.trades)) S.trades[code] = [];
      for (const code of Object.keys(S.bulk)) S.bulk[code] = [];
      for (const code of Object.keys(S.bars)) S.bars[code] = [];
      for (const code of S.instruments) {
        dirty.trades.add(code);
        dirty.bulk.add(code);
        dirty.bars.add(code);
      }
      break;
    }
    default:
      break; // a kind this page does not know: ignore
  }
}

function onState(st) {
  S = normalise(st);
  dirty = emptyDirty();
  dirty.all = true;
  scheduleFlush();
}

function onChanges(msg) {
  if (!S || !msg || !(Number(msg.v) > S.version)) return;
  for (const c of msg.changes || []) {
    try {
      applyChange(c);
    } catch (err) {
      console.warn("carbonx: change not applied", c, err);
    }
  }
  S.version = Number(msg.v);
  scheduleFlush();
}

// Apply at the next animation frame; a timer backs it up for a hidden tab, where frames stop.
let frameId = 0;
let timerId = 0;
function scheduleFlush() {
  if (frameId || timerId) return;
  frameId = requestAnimationFrame(flush);
  timerId = setTimeout(flush, 80);
}

function flush() {
  cancelAnimationFrame(frameId);
  clearTimeout(timerId);
  frameId = 0;
  timerId = 0;
  if (!S) return;
  const d = dirty;
  dirty = emptyDirty();
  if (d.all || d.feed) updateBanner();
  if (d.all || d.market) renderMarketState();
  if (view) {
    try {
      view.update(d);
    } catch (err) {
      console.error(err);
    }
  }
  if (d.all && !everRendered) {
    everRendered = true;
    document.body.dataset.ready = "1";
  }
}

// ---------------------------------------------------------------- the stream and the banner

let es = null;
let everOpen = false;
let reconnectTimer = 0;

export function connect() {
  clearTimeout(reconnectTimer);
  reconnectTimer = 0;
  es = new EventSource("/api/stream");
  es.onopen = () => {
    everOpen = true;
    updateBanner();
  };
  es.onerror = () => {
    updateBanner();
    // EventSource retries by itself unless the server answered with an error: then start again.
    if (es.readyState === EventSource.CLOSED && !reconnectTimer) {
      reconnectTimer = setTimeout(connect, 3000);
    }
  };
  es.addEventListener("state", (ev) => {
    updateBanner();
    onState(JSON.parse(ev.data));
  });
  es.addEventListener("changes", (ev) => {
    onChanges(JSON.parse(ev.data));
  });
  updateBanner();
}

function updateBanner() {
  const banner = document.getElementById("feed-banner");
  if (!banner) return;
  const open = es && es.readyState === EventSource.OPEN;
  let state;
  let text;
  if (!open) {
    state = "offline";
    text = everOpen || (es && es.readyState === EventSource.CLOSED) || S
      ? OFFLINE_TEXT
      : "正在连接网站 Connecting to the website…";
  } else if (!S) {
    state = "connecting";
    text = FEED_TEXT.connecting;
  } else {
    state = (S.feed && S.feed.state) || "connecting";
    text = (S.feed && S.feed.text) || FEED_TEXT[state] || state;
  }
  if (banner.dataset.state !== state) banner.dataset.state = state;
  setText(banner, text);
  banner.hidden = open && state === "live";
  document.body.classList.toggle("is-offline", !open);
}

// ---------------------------------------------------------------- the market state line

function renderMarketState() {
  const el = document.getElementById("market-state");
  if (!el) return;
  const m = S && S.market;
  el.replaceChildren();
  if (!m) {
    el.append(...bi("交易日", "Trading day"), " — · ", ...bi("暂无市场状态", "No market state yet"));
    el.dataset.session = "";
    return;
  }
  el.dataset.session = m.session || "";
  el.append(
    h("span", { class: "ms-day" }, bi("交易日", "Trading day"), " ", h("b", { class: "num" }, fmtDay(m.trading_day))),
    h("span", { class: "sep" }, " · "),
    h("span", { class: `ms-session session-${m.session}` }, h("span", { class: "dot" }), biPair(SESSIONS[m.session] || [m.session, m.session])),
  );
  if (m.halted) {
    el.append(h("span", { class: "sep" }, " · "),
      h("span", { class: "ms-halted" }, bi("全市场暂停", "Market halted"), m.reason ? `: ${m.reason}` : ""));
  }
  if (m.sessions_over) {
    el.append(h("span", { class: "sep" }, " · "), h("span", null, bi("今日交易结束", "Trading over for the day")));
  }
}


// ---------------------------------------------------------------- the page shown (the router, app.js, sets it)

let view = null;        // the mounted page: flush hands it what changed
let currentKey = null;  // its path, without trailing slashes

export function routeKey(path) {
  return path.replace(/\/+$/, "") || "/";
}

export function shownView() {
  return view;
}

export function isShown(path) {
  return view !== null && routeKey(path) === currentKey;
}

export function show(next, path) {
  view = next;
  currentKey = routeKey(path);
}

// A page that changed the URL itself (the bulletin's day): the router must not mount it again.
export function markRouted(path) {
  currentKey = routeKey(path);
}

// ---------------------------------------------------------------- the JSON API

export async function getJSON(url) {
  const res = await fetch(url, { headers: { Accept: "application/json" } });
  let body = null;
  try {
    body = await res.json();
  } catch (err) {
    body = null;
  }
  if (!res.ok) {
    const e = new Error((body && body.error) || `${res.status} ${res.statusText}`);
    e.status = res.status;
    throw e;
  }
  return body;
}
