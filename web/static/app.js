// carbonx public website: one page, routed on location.pathname, fed by Server-Sent Events.
// Prices are integer fen per tonne, quantities integer tonnes, money integer fen: every figure is
// formatted with integer (BigInt) and string arithmetic, never by rounding a float.
"use strict";

(() => {
  const TZ = "Asia/Shanghai";
  const UP = "#d81e06";
  const DOWN = "#0a8f3c";
  const ACCENT = "#1d4f91";
  const MAX_TRADES = 50;

  // ---------------------------------------------------------------- formatting

  function toBig(v) {
    if (typeof v === "bigint") return v;
    if (typeof v === "number" && Number.isFinite(v)) return BigInt(Math.trunc(v));
    if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
    return null;
  }

  function groupDigits(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  // 123456 fen -> "1,234.56"; also bp -> percent (1234 bp = "12.34").
  function fmtFen(v) {
    const b = toBig(v);
    if (b === null) return "—";
    const neg = b < 0n;
    const s = (neg ? -b : b).toString().padStart(3, "0");
    return (neg ? "-" : "") + groupDigits(s.slice(0, -2)) + "." + s.slice(-2);
  }

  // A price of 0 means "none" (nothing traded, an empty side).
  function fmtPrice(v) {
    const b = toBig(v);
    return b === null || b === 0n ? "—" : fmtFen(b);
  }

  function fmtSignedFen(v) {
    const b = toBig(v);
    if (b === null) return "—";
    return (b > 0n ? "+" : "") + fmtFen(b);
  }

  function fmtInt(v) {
    const b = toBig(v);
    if (b === null) return "—";
    const neg = b < 0n;
    return (neg ? "-" : "") + groupDigits((neg ? -b : b).toString());
  }

  function fmtTonnes(v) {
    return toBig(v) === null ? "—" : fmtInt(v) + " t";
  }

  function fmtMoney(v) {
    return fmtFen(v);
  }

  // Basis points as a percent with two decimals: 1234 -> "12.34%".
  function fmtBpPct(bp) {
    return toBig(bp) === null ? "—" : fmtFen(bp) + "%";
  }

  // Basis points as a multiple, half-up to hundredths: 15000 -> "1.50×".
  function fmtBpRatio(bp) {
    const b = toBig(bp);
    if (b === null) return "—";
    const hundredths = b >= 0n ? (b + 50n) / 100n : -((-b + 50n) / 100n);
    return fmtFen(hundredths) + "×";
  }

  function fenMul(price, quantity) {
    const p = toBig(price);
    const q = toBig(quantity);
    return p === null || q === null ? null : p * q;
  }

  function sign(v) {
    const b = toBig(v);
    return b === null || b === 0n ? 0 : b > 0n ? 1 : -1;
  }

  function dirClass(d) {
    return d > 0 ? "up" : d < 0 ? "down" : "flat";
  }

  const timeParts = new Intl.DateTimeFormat("en-GB", {
    timeZone: TZ, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  });

  function partsOf(ms) {
    const out = {};
    for (const p of timeParts.formatToParts(new Date(ms))) out[p.type] = p.value;
    if (out.hour === "24") out.hour = "00";
    return out;
  }

  function validMs(ms) {
    return typeof ms === "number" && Number.isFinite(ms) && ms > 0;
  }

  function fmtTime(ms) {
    if (!validMs(ms)) return "—";
    const p = partsOf(ms);
    return `${p.hour}:${p.minute}:${p.second}`;
  }

  function fmtHM(ms) {
    if (!validMs(ms)) return "—";
    const p = partsOf(ms);
    return `${p.hour}:${p.minute}`;
  }

  function fmtDateTime(ms) {
    if (!validMs(ms)) return "—";
    const p = partsOf(ms);
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
  }

  // 20261203 -> "2026-12-03"
  function fmtDay(day) {
    const s = String(day ?? "");
    return /^\d{8}$/.test(s) ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6)}` : "—";
  }

  function fmtDuration(ms) {
    const total = Math.max(0, Math.floor(ms / 1000));
    const d = Math.floor(total / 86400);
    const hh = String(Math.floor((total % 86400) / 3600)).padStart(2, "0");
    const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
    const ss = String(total % 60).padStart(2, "0");
    return (d > 0 ? `${d}天 ${d}d ` : "") + `${hh}:${mm}:${ss}`;
  }

  // ---------------------------------------------------------------- labels

  const SESSIONS = {
    closed: ["休市", "Closed"],
    morning: ["上午", "Morning"],
    lunch_break: ["午休", "Lunch break"],
    afternoon: ["下午", "Afternoon"],
  };
  const FEED_TEXT = {
    live: "行情正常 Market data live",
    stale: "行情延迟 Market data stale",
    down: "与交易系统的连接中断 Connection to the exchange lost",
    connecting: "正在连接交易系统 Connecting to the exchange",
  };
  const OFFLINE_TEXT = "与网站的连接中断 Connection to the website lost";
  const AUCTION_KINDS = {
    reserve_sale: ["配额拍卖", "Reserve sale"],
    buyback: ["回购", "Buyback"],
    one_way: ["单向竞价", "One-way bidding"],
  };
  const AUCTION_STATUS = {
    announced: ["已公告", "Announced"],
    open: ["竞价中", "Open"],
    closed: ["已截止", "Closed"],
    cleared: ["已出结果", "Cleared"],
    cancelled: ["已撤销", "Cancelled"],
  };
  const PURPOSES = {
    none: ["无", "None"],
    compliance: ["履约", "Compliance"],
    market_supply: ["市场供给", "Market supply"],
  };
  const PRICING = {
    uniform: ["统一价格", "Uniform price"],
    pay_as_bid: ["按报价成交", "Pay as bid"],
  };
  const TIE_BREAK = {
    time: ["时间优先", "Time priority"],
    pro_rata: ["按比例分配", "Pro rata"],
    random: ["随机抽签", "Random draw"],
  };
  const ACCOUNT_KINDS = {
    covered_entity: ["纳管企业", "Covered entity"],
    institution: ["机构", "Institution"],
    individual: ["个人", "Individual"],
  };
  const CANCEL_CAUSES = {
    none: ["无", "None"],
    undersubscribed: ["认购不足", "Undersubscribed"],
    below_reference: ["偏离参考价", "Beyond the reference price"],
  };

  function label(map, key) {
    const pair = map[String(key ?? "").toLowerCase()];
    return pair ? `${pair[0]} ${pair[1]}` : String(key ?? "—");
  }

  // ---------------------------------------------------------------- DOM helpers

  function h(tag, props, ...kids) {
    const el = document.createElement(tag);
    if (props) {
      for (const [k, v] of Object.entries(props)) {
        if (v == null || v === false) continue;
        if (k === "class") el.className = v;
        else if (k === "text") el.textContent = v;
        else if (k === "dataset") Object.assign(el.dataset, v);
        else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
        else if (v === true) el.setAttribute(k, "");
        else el.setAttribute(k, String(v));
      }
    }
    for (const kid of kids.flat(Infinity)) {
      if (kid == null || kid === false) continue;
      el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }

  // "最新价 Last": Chinese, then English in a lighter span.
  function bi(zh, en) {
    return [zh, " ", h("span", { class: "en" }, en)];
  }

  function biPair(pair) {
    return pair ? bi(pair[0], pair[1]) : ["—"];
  }

  // A quantity: "12,300 t" (the unit in a lighter span; the text stays "12,300 t").
  function tonnesNode(v) {
    if (toBig(v) === null) return document.createTextNode("—");
    return h("span", null, fmtInt(v), h("span", { class: "unit" }, " t"));
  }

  function setText(el, text) {
    if (el && el.textContent !== text) el.textContent = text;
  }

  function setDir(el, d) {
    el.classList.toggle("up", d > 0);
    el.classList.toggle("down", d < 0);
    el.classList.toggle("flat", d === 0);
  }

  function flash(el, d) {
    el.classList.remove("flash-up", "flash-down", "flash-flat");
    void el.offsetWidth; // restart the animation
    el.classList.add(d > 0 ? "flash-up" : d < 0 ? "flash-down" : "flash-flat");
  }

  function th(zh, en, cls) {
    return h("th", { class: cls, scope: "col" }, bi(zh, en));
  }

  function emptyRow(cols, zh, en) {
    return h("tr", { class: "empty" }, h("td", { colspan: cols }, bi(zh, en)));
  }

  function instrumentLink(code) {
    return h("a", { href: `/instrument/${encodeURIComponent(code)}`, class: "code" }, code);
  }

  function tableWrap(table) {
    return h("div", { class: "table-wrap" }, table);
  }

  function field(zh, en, value, props) {
    return h("div", Object.assign({ class: "field" }, props || {}),
      h("dt", null, bi(zh, en)),
      h("dd", null, value));
  }

  // ---------------------------------------------------------------- state and changes

  let S = null;          // the STATE held
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
      case "quote": {
        const code = c.quote.instrument;
        ensureInstrument(code);
        S.quotes[code] = c.quote;
        dirty.quote.add(code);
        break;
      }
      case "depth": {
        const code = c.depth.instrument;
        ensureInstrument(code);
        S.depth[code] = c.depth;
        dirty.depth.add(code);
        break;
      }
      case "status": {
        const code = c.status.instrument;
        ensureInstrument(code);
        S.status[code] = c.status;
        dirty.status.add(code);
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

  function connect() {
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

  // ---------------------------------------------------------------- charts

  const PRICE_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000];
  const COUNT_INCRS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 5e7, 1e8];
  const AXIS_STYLE = {
    stroke: "#5b6472",
    grid: { stroke: "#e8ebf0", width: 1 },
    ticks: { stroke: "#d5dae2", width: 1, size: 4 },
    font: "11px system-ui, -apple-system, 'Segoe UI', sans-serif",
  };

  function drawLine(u, opts) {
    const ctx = u.ctx;
    const px = uPlot.pxRatio;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.strokeStyle = opts.color;
    ctx.lineWidth = (opts.width || 1) * px;
    ctx.setLineDash((opts.dash || []).map((x) => x * px));
    ctx.beginPath();
    let lx;
    let ly;
    if (opts.y != null) {
      const y = Math.round(u.valToPos(opts.y, opts.scale, true)) + 0.5;
      if (y < top - 1 || y > top + height + 1) { ctx.restore(); return; }
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      const atLeft = opts.align === "left";
      lx = atLeft ? left + 6 * px : left + width - 4 * px;
      ly = opts.below ? y + 4 * px : y - 3 * px;
      ctx.textAlign = atLeft ? "left" : "right";
      ctx.textBaseline = opts.below ? "top" : "bottom";
    } else {
      const x = Math.round(u.valToPos(opts.x, "x", true)) + 0.5;
      if (x < left - 1 || x > left + width + 1) { ctx.restore(); return; }
      ctx.moveTo(x, top);
      ctx.lineTo(x, top + height);
      lx = x - 4 * px;
      ly = opts.bottom ? top + height - 4 * px : top + 4 * px;
      ctx.textAlign = "right";
      ctx.textBaseline = opts.bottom ? "bottom" : "top";
    }
    ctx.stroke();
    if (opts.label) {
      ctx.setLineDash([]);
      ctx.font = `${11 * px}px system-ui, -apple-system, 'Segoe UI', sans-serif`;
      const w = ctx.measureText(opts.label).width;
      ctx.fillStyle = "rgba(255,255,255,0.85)";
      const bx = ctx.textAlign === "right" ? lx - w - 2 * px : lx - 2 * px;
      const by = ctx.textBaseline === "bottom" ? ly - 14 * px : ly - 1 * px;
      ctx.fillRect(bx, by, w + 4 * px, 15 * px);
      ctx.fillStyle = opts.color;
      ctx.fillText(opts.label, lx, ly);
    }
    ctx.restore();
  }

  function chartWidth(el) {
    return Math.max(280, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 600));
  }

  // Intraday chart of one instrument: close-price line on the price scale, volume bars on their own.
  function intradayChart(el, code) {
    let barColors = [];
    const height = () => (window.innerWidth < 640 ? 240 : 320);

    function data() {
      const bars = S.bars[code] || [];
      const xs = [];
      const closes = [];
      const volumes = [];
      barColors = [];
      for (const b of bars) {
        xs.push(b[0] / 1000);
        closes.push(b[4]);
        volumes.push(b[5]);
        const d = sign(b[4] - b[1]);
        barColors.push(d > 0 ? "rgba(216,30,6,0.55)" : d < 0 ? "rgba(10,143,60,0.55)" : "rgba(110,120,135,0.5)");
      }
      return [xs, closes, volumes];
    }

    function reference() {
      const q = S.quotes[code];
      return q ? q.reference_price || 0 : 0;
    }

    const opts = {
      width: chartWidth(el),
      height: height(),
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), TZ),
      cursor: { drag: { x: false, y: false, setScale: false } },
      legend: { live: true },
      scales: {
        x: {
          time: true,
          // from the bars themselves: uPlot widens a single point to a whole day
          range: (u) => {
            const xs = u.data[0] || [];
            if (!xs.length) {
              const now = Date.now() / 1000;
              return [now - 3600, now];
            }
            const lo = xs[0];
            const hi = xs[xs.length - 1];
            if (hi - lo < 1800) return [lo - 300, Math.max(hi + 300, lo + 1800)];
            return [lo - 60, hi + 60];
          },
        },
        price: {
          range: (u, min, max) => {
            const ref = reference();
            let lo = Number.isFinite(min) ? min : ref || 100;
            let hi = Number.isFinite(max) ? max : ref || 100;
            if (ref) {
              lo = Math.min(lo, ref);
              hi = Math.max(hi, ref);
            }
            const span = hi - lo;
            const pad = Math.max(span * 0.1, hi * 0.003, 2);
            return [Math.max(0, Math.floor(lo - pad)), Math.ceil(hi + pad)];
          },
        },
        vol: { range: (u, min, max) => [0, Math.max(1, Number.isFinite(max) ? max : 1) * 3.2] },
      },
      series: [
        { label: "时间 Time", value: (u, v) => (v == null ? "—" : fmtHM(v * 1000)) },
        {
          label: "收盘价 Close", scale: "price", stroke: ACCENT, width: 1.6,
          points: { show: (u, si, i0, i1) => i1 - i0 < 2, size: 5 },
          value: (u, v) => (v == null ? "—" : fmtFen(Math.round(v))),
        },
        {
          label: "成交量 Volume", scale: "vol", width: 0,
          stroke: "rgba(110,120,135,0.8)", fill: "rgba(110,120,135,0.45)",
          paths: uPlot.paths.bars({
            size: [0.7, 12, 1], align: 0,
            disp: { fill: { unit: 3, values: () => barColors } },
          }),
          points: { show: false },
          value: (u, v) => (v == null ? "—" : fmtTonnes(v)),
        },
      ],
      axes: [
        Object.assign({}, AXIS_STYLE, {
          space: 60,
          values: (u, splits) => splits.map((v) => fmtHM(v * 1000)),
        }),
        Object.assign({}, AXIS_STYLE, {
          scale: "price", size: 64, incrs: PRICE_INCRS,
          values: (u, splits) => splits.map((v) => fmtFen(Math.round(v))),
        }),
        Object.assign({}, AXIS_STYLE, {
          scale: "vol", side: 1, size: 60, incrs: COUNT_INCRS, grid: { show: false },
          values: (u, splits) => splits.map((v) => fmtInt(Math.round(v))),
        }),
      ],
      hooks: {
        draw: [(u) => {
          const ref = reference();
          if (ref) drawLine(u, { y: ref, scale: "price", color: "#8a93a3", dash: [4, 4], label: `参考价 Ref. ${fmtFen(ref)}` });
        }],
      },
    };
    const plot = new uPlot(opts, data(), el);
    return {
      update() { plot.setData(data()); },
      redraw() { plot.redraw(false, true); },
      resize() { plot.setSize({ width: chartWidth(el), height: height() }); },
      destroy() { plot.destroy(); },
    };
  }

  // The anonymised demand (a sale) or supply (a buyback) curve: a step chart of price against cumulative tonnes.
  function curveChart(el, curve, results) {
    const steps = curve.steps || [];
    const xs = [];
    const ys = [];
    for (const s of steps) {
      xs.push(s.start);
      ys.push(s.price);
    }
    if (steps.length) {
      const last = steps[steps.length - 1];
      xs.push(last.start + last.quantity);
      ys.push(last.price);
    }
    const demand = curve.side !== "supply";
    const lineColor = demand ? ACCENT : "#7a3e9d";
    const volumeMark = curve.volume || (results && results.volume_sold) || 0;
    const xEnd = Math.max(xs.length ? xs[xs.length - 1] : 0, volumeMark, 1);
    const prices = ys.concat([curve.price_limit, curve.clearing_price].filter((p) => p > 0));
    const height = () => (window.innerWidth < 640 ? 260 : 340);

    const opts = {
      width: chartWidth(el),
      height: height(),
      cursor: { drag: { x: false, y: false, setScale: false } },
      legend: { show: false },
      scales: {
        x: { time: false, range: () => [0, xEnd * 1.05] },
        price: {
          range: () => {
            const lo = prices.length ? Math.min(...prices) : 0;
            const hi = prices.length ? Math.max(...prices) : 100;
            const pad = Math.max((hi - lo) * 0.12, hi * 0.01, 5);
            return [Math.max(0, Math.floor(lo - pad)), Math.ceil(hi + pad)];
          },
        },
      },
      series: [
        { label: "累计数量 Cumulative t" },
        {
          label: demand ? "需求曲线 Demand" : "供给曲线 Supply", scale: "price",
          stroke: lineColor, width: 2, paths: uPlot.paths.stepped({ align: 1 }), points: { show: false },
        },
      ],
      axes: [
        Object.assign({}, AXIS_STYLE, {
          incrs: COUNT_INCRS, space: 70,
          values: (u, splits) => splits.map((v) => fmtInt(Math.round(v))),
          label: "累计数量（吨）Cumulative quantity (t)", labelSize: 22, labelFont: "12px system-ui, sans-serif",
        }),
        Object.assign({}, AXIS_STYLE, {
          scale: "price", size: 64, incrs: PRICE_INCRS,
          values: (u, splits) => splits.map((v) => fmtFen(Math.round(v))),
          label: "价格（元/吨）Price (CNY/t)", labelSize: 22, labelFont: "12px system-ui, sans-serif",
        }),
      ],
      hooks: {
        // the allocated part of every step, under the curve
        drawAxes: [(u) => {
          const ctx = u.ctx;
          const { top, height: bh } = u.bbox;
          ctx.save();
          ctx.fillStyle = demand ? "rgba(29,79,145,0.16)" : "rgba(122,62,157,0.16)";
          for (const s of steps) {
            if (!(s.allocated > 0)) continue;
            const x0 = u.valToPos(s.start, "x", true);
            const x1 = u.valToPos(s.start + s.allocated, "x", true);
            const y = u.valToPos(s.price, "price", true);
            ctx.fillRect(x0, y, Math.max(1, x1 - x0), top + bh - y);
          }
          ctx.restore();
        }],
        draw: [(u) => {
          // labels at the left, each on the side of its line away from the other line
          const limitBelow = !(curve.clearing_price > 0) || curve.price_limit <= curve.clearing_price;
          if (curve.price_limit > 0) {
            drawLine(u, {
              y: curve.price_limit, scale: "price", color: "#6b7482", dash: [2, 3], align: "left", below: limitBelow,
              label: `${demand ? "底价 Floor" : "最高价 Ceiling"} ${fmtFen(curve.price_limit)}`,
            });
          }
          if (curve.clearing_price > 0) {
            drawLine(u, {
              y: curve.clearing_price, scale: "price", color: "#c2410c", width: 1.5, align: "left", below: !limitBelow,
              label: `出清价 Clearing ${fmtFen(curve.clearing_price)}`,
            });
          }
          if (volumeMark > 0) {
            drawLine(u, {
              x: volumeMark, color: "#334155", dash: [6, 4], width: 1.2, bottom: true,
              label: `${curve.volume ? (demand ? "发售量 Offered" : "回购量 Sought") : "成交量 Sold"} ${fmtInt(volumeMark)} t`,
            });
          }
        }],
      },
    };
    const plot = new uPlot(opts, [xs, ys], el);
    return {
      resize() { plot.setSize({ width: chartWidth(el), height: height() }); },
      destroy() { plot.destroy(); },
    };
  }

  // ---------------------------------------------------------------- views

  function loading(root) {
    root.replaceChildren(h("p", { class: "loading" }, bi("正在加载行情", "Loading market data…")));
  }

  function pageHead(zh, en, extra) {
    return h("div", { class: "page-head" }, h("h1", null, bi(zh, en)), extra || null);
  }

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

  function overviewView() {
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

  // ----- instrument

  function instrumentView(code) {
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

  // ----- bulk trades

  function bulkView() {
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

  // ----- daily bulletin

  let bulletinDays = null;            // from /api/bulletin/days
  const bulletinCache = new Map();    // day -> [BULLETIN]

  async function getJSON(url) {
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

  function bulletinView(dayParam) {
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
      currentKey = routeKey(location.pathname);
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

  // ----- auctions

  function priceLimitLabel(kind) {
    return kind === "buyback" ? ["最高价", "Ceiling"] : ["底价", "Floor"];
  }

  function auctionVolume(n) {
    if (n.volume > 0) return tonnesNode(n.volume);
    if (n.budget > 0) return h("span", null, bi("预算", "Budget"), " ", fmtMoney(n.budget), h("span", { class: "unit" }, " 元"));
    return "—";
  }

  function statusBadge(a) {
    const st = a.status;
    const pair = AUCTION_STATUS[st] || [st, st];
    const extra = st === "cleared" && a.results && a.results.cancelled ? h("span", { class: "badge st-cancelled" }, bi("流拍", "Cancelled by its rules")) : null;
    return [h("span", { class: `badge st-${st}` }, bi(pair[0], pair[1])), extra ? " " : null, extra];
  }

  function auctionsView() {
    let root;

    function build() {
      root.replaceChildren(
        pageHead("拍卖", "Auctions", h("p", { class: "sub" },
          bi("配额拍卖、回购与单向竞价：公告、实时状态与结果", "Reserve sales, buybacks and one-way bidding: notices, live state and results"))),
        tableWrap(h("table", { id: "auctions", class: "data auctions" },
          h("thead", null, h("tr", null,
            th("编号", "ID", "num"), th("名称", "Name", ""), th("类型", "Kind", ""), th("品种", "Instrument", ""),
            th("状态", "Status", ""), th("竞价时间", "Window opens – closes", ""), th("截止", "Cut-off", ""),
            th("数量", "Volume", "num"), th("价格限制", "Price limit", "num"))),
          h("tbody"))));
      fill();
    }

    function fill() {
      const list = S.auctions.slice().sort((a, b) => b.auction_id - a.auction_id);
      const rows = list.map((a) => {
        const n = a.notice || {};
        const [lz, le] = priceLimitLabel(n.kind);
        return h("tr", { dataset: { auctionId: String(a.auction_id), href: `/auctions/${a.auction_id}` }, class: `st-${a.status}` },
          h("td", { class: "num" }, h("a", { href: `/auctions/${a.auction_id}` }, String(a.auction_id))),
          h("td", null, h("a", { href: `/auctions/${a.auction_id}` }, n.name || `#${a.auction_id}`)),
          h("td", null, biPair(AUCTION_KINDS[n.kind] || [n.kind, n.kind])),
          h("td", null, n.instrument ? instrumentLink(n.instrument) : "—"),
          h("td", { class: "status" }, statusBadge(a)),
          h("td", { class: "num window" }, fmtDateTime(n.opens_at_ms), h("br"), "– ", fmtDateTime(n.closes_at_ms)),
          h("td", { class: "num" }, fmtDateTime(n.cutoff_at_ms)),
          h("td", { class: "num" }, auctionVolume(n)),
          h("td", { class: "num" }, fmtPrice(n.price_limit), " ", h("span", { class: "en" }, `${lz} ${le}`)));
      });
      if (!rows.length) rows.push(emptyRow(9, "暂无拍卖", "No auctions"));
      root.querySelector("#auctions tbody").replaceChildren(...rows);
    }

    return {
      title: "拍卖 Auctions",
      nav: "auctions",
      mount(el) {
        root = el;
        if (S) build(); else loading(root);
      },
      update(d) {
        if (d.all || !root.querySelector("#auctions")) return build();
        if (d.auctions.size) fill();
      },
      unmount() {},
    };
  }

  async function sha256Hex(hex) {
    if (!/^[0-9a-f]{64}$/.test(hex) || !(window.crypto && crypto.subtle)) return null;
    const bytes = new Uint8Array(32);
    for (let i = 0; i < 32; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    const digest = await crypto.subtle.digest("SHA-256", bytes);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function auctionView(idParam) {
    const id = Number(idParam);
    let root;
    let timer = 0;
    let chart = null;
    let resizeObs = null;
    let curve = null;           // CURVE once fetched
    let curveState = "none";    // none | pending (the website has not the bids yet) | loading | ok | error
    let curveError = "";
    let shownStatus = null;
    let alive = true;

    function auction() {
      return S.auctions.find((a) => a.auction_id === id) || null;
    }

    function build() {
      destroyChart();
      const a = auction();
      if (!a) {
        root.replaceChildren(
          pageHead("未知拍卖", "Unknown auction"),
          h("p", { class: "notice" }, bi("没有编号为", "There is no auction"), ` #${idParam}. `,
            h("a", { href: "/auctions" }, bi("全部拍卖", "All auctions"))));
        return;
      }
      root.replaceChildren(
        h("div", { class: "inst-head" },
          h("div", { class: "inst-title" },
            h("a", { href: "/auctions", class: "back" }, "← ", bi("拍卖", "Auctions")),
            h("h1", { id: "auction-title" }),
            h("span", { id: "auction-status" }))),
        h("section", { class: "card" }, h("h2", null, bi("实时状态", "Live state")), h("div", { id: "auction-live" })),
        h("section", { class: "card", id: "auction-results-card" }, h("h2", null, bi("拍卖结果", "Results")), h("div", { id: "auction-results" })),
        h("section", { class: "card", id: "auction-curve-card", hidden: true },
          h("h2", { id: "auction-curve-title" }),
          h("div", { id: "auction-curve-holder" }),
          h("div", { id: "auction-curve-key", class: "chart-key" })),
        h("section", { class: "card" }, h("h2", null, bi("拍卖公告", "Notice")), h("div", { id: "auction-terms" })),
        h("section", { class: "card" }, h("h2", null, bi("随机种子", "Seed")), h("div", { id: "auction-seed" })));
      shownStatus = null;
      fill();
    }

    function fill() {
      const a = auction();
      if (!a || !root.querySelector("#auction-status")) return build();
      const n = a.notice || {};
      const kind = AUCTION_KINDS[n.kind] || [n.kind, n.kind];
      setText(root.querySelector("#auction-title"), "");
      root.querySelector("#auction-title").append(`#${a.auction_id} `, n.name || "", " ", h("span", { class: "kind-tag" }, bi(kind[0], kind[1])));
      const statusEl = root.querySelector("#auction-status");
      statusEl.dataset.status = a.status;
      statusEl.replaceChildren(...statusBadge(a).filter(Boolean));
      document.title = `拍卖 Auction #${a.auction_id} ${n.name || ""} · carbonx`;
      fillLive(a);
      fillTerms(a);
      fillSeed(a);
      fillResults(a);
      if (a.status === "cleared") {
        // The website fetches a cleared auction's bid list once the results arrive: the auction's
        // "curve" says when it has them; until then the card says the curve is being prepared.
        if (!a.curve) showCurvePending(a);
        else if (curveState !== "ok" && curveState !== "loading") loadCurve();
      } else {
        destroyChart();
        curve = null;
        curveState = "none";
        root.querySelector("#auction-curve-card").hidden = true;
      }
      shownStatus = a.status;
      startTimer(a);
    }

    function fillLive(a) {
      const n = a.notice || {};
      const box = root.querySelector("#auction-live");
      box.replaceChildren(
        h("div", { class: `live-box st-${a.status}` },
          h("div", { class: "countdown-box" },
            h("div", { id: "auction-countdown-label", class: "k" }),
            h("div", { id: "auction-countdown", class: "countdown num" }, "—")),
          h("dl", { class: "stats live" },
            field("状态", "Status", h("span", null, statusBadge(a))),
            field("竞价开始", "Opens", h("span", { class: "num" }, fmtDateTime(n.opens_at_ms))),
            field("报价截止", "Cut-off", h("span", { class: "num" }, fmtDateTime(n.cutoff_at_ms))),
            field("竞价结束", "Closes", h("span", { class: "num" }, fmtDateTime(n.closes_at_ms))),
            a.state_reason ? field("说明", "Reason", a.state_reason) : null)),
        h("p", { class: "muted small" }, bi("报价为密封报价，结果公布前不公开任何报价。", "Bids are sealed: no bid is shown before the results.")));
      tick();
    }

    function tick() {
      const a = auction();
      const el = root && root.querySelector("#auction-countdown");
      if (!a || !el) return;
      const n = a.notice || {};
      const now = Date.now();
      let head = "";
      let text = "";
      if (a.status === "open") {
        if (validMs(n.cutoff_at_ms) && n.cutoff_at_ms > now) {
          head = "距报价截止 Time to cut-off";
          text = fmtDuration(n.cutoff_at_ms - now);
        } else {
          head = "报价已截止 Cut-off passed";
          text = `结束于 Closes at ${fmtTime(n.closes_at_ms)}`;
        }
      } else if (a.status === "announced") {
        head = "距竞价开始 Time to opening";
        text = validMs(n.opens_at_ms) && n.opens_at_ms > now ? fmtDuration(n.opens_at_ms - now) : "即将开始 Opening";
      } else if (a.status === "closed") {
        head = "报价已截止 Bidding over";
        text = "等待出清 Awaiting clearing";
      } else if (a.status === "cleared") {
        head = "已出结果 Results published";
        text = a.results && validMs(a.results.ts_ms) ? fmtDateTime(a.results.ts_ms) : "—";
      } else if (a.status === "cancelled") {
        head = "已撤销 Cancelled";
        text = a.state_reason || "—";
      }
      setText(root.querySelector("#auction-countdown-label"), head);
      setText(el, text);
    }

    function startTimer(a) {
      clearInterval(timer);
      timer = 0;
      if (a.status === "open" || a.status === "announced") timer = setInterval(tick, 1000);
    }

    function fillTerms(a) {
      const n = a.notice || {};
      const [lz, le] = priceLimitLabel(n.kind);
      const vwapRule = n.vwap_k_bp > 0 || n.vwap > 0;
      const num = (x) => h("span", { class: "num" }, x);
      const caps = (n.caps || []).map((c) => {
        const parts = [];
        if (c.max_t > 0) parts.push(`≤ ${fmtInt(c.max_t)} t`);
        if (c.max_bp > 0) parts.push(`≤ ${fmtBpPct(c.max_bp)} 数量 of the volume`);
        return h("div", null, label(ACCOUNT_KINDS, c.kind), ": ", num(parts.join(" · ") || "—"));
      });
      const eligible = (n.eligible_kinds || []).map((k) => label(ACCOUNT_KINDS, k)).join("、 ");
      const auctioneer = n.auctioneer || (n.kind === "one_way" ? "单向竞价卖方（不公开） One-way seller (not disclosed)" : "—");
      const below = n.cancel_below_reference_bp > 0
        ? (n.kind === "buyback"
          ? `出清价高于参考价超过 ${fmtBpPct(n.cancel_below_reference_bp)} 时取消 Cancelled if the clearing price is more than ${fmtBpPct(n.cancel_below_reference_bp)} above the reference price`
          : `出清价低于参考价超过 ${fmtBpPct(n.cancel_below_reference_bp)} 时取消 Cancelled if the clearing price is more than ${fmtBpPct(n.cancel_below_reference_bp)} below the reference price`)
        : "否 Off";
      root.querySelector("#auction-terms").replaceChildren(h("dl", { class: "stats terms" },
        field("名称", "Name", n.name || "—"),
        field("类型", "Kind", label(AUCTION_KINDS, n.kind)),
        n.kind === "reserve_sale" || (n.purpose && n.purpose !== "none") ? field("用途", "Purpose", label(PURPOSES, n.purpose)) : null,
        field("品种", "Instrument", n.instrument ? instrumentLink(n.instrument) : "—"),
        field("拍卖方", "Auctioneer", auctioneer),
        field(n.kind === "buyback" ? "回购数量" : "发售数量", n.kind === "buyback" ? "Volume sought" : "Volume offered", num(n.volume > 0 ? fmtTonnes(n.volume) : "—")),
        n.kind === "buyback" ? field("预算", "Budget (CNY)", num(n.budget > 0 ? fmtMoney(n.budget) : "—")) : null,
        field(lz, le, num(fmtPrice(n.price_limit))),
        field("定价规则", "Price rule", vwapRule
          ? `k × VWAP = ${fmtBpRatio(n.vwap_k_bp).replace("×", "")} × ${fmtPrice(n.vwap)}`
          : "固定价格 Fixed price"),
        vwapRule ? field("均价区间", "VWAP window", num(`${fmtDay(n.vwap_from)} – ${fmtDay(n.vwap_to)}`)) : null,
        vwapRule ? field("成交均价", "VWAP", num(fmtPrice(n.vwap))) : null,
        vwapRule || n.price_cap > 0 ? field("价格上限", "Price cap", num(fmtPrice(n.price_cap))) : null,
        n.kind === "one_way" || n.bid_ceiling > 0 ? field("报价上限", "Bid ceiling", num(fmtPrice(n.bid_ceiling))) : null,
        field("竞价开始", "Opens", num(fmtDateTime(n.opens_at_ms))),
        field("竞价结束", "Closes", num(fmtDateTime(n.closes_at_ms))),
        field("报价截止", "Cut-off", num(fmtDateTime(n.cutoff_at_ms))),
        field("报价单位", "Bid lot", num(fmtTonnes(n.bid_lot_t))),
        field("定价方式", "Pricing", label(PRICING, n.pricing)),
        field("同价处理", "Tie-break", label(TIE_BREAK, n.tie_break)),
        field("参与资格", "Eligible bidders", eligible || "—"),
        field("申报上限", "Caps", caps.length ? h("div", null, caps) : "无 None"),
        field("认购不足取消", "Cancel if undersubscribed", n.cancel_if_undersubscribed ? "是 Yes" : "否 No"),
        field("参考价取消规则", "Reference-price rule", below)));
    }

    function fillSeed(a) {
      const n = a.notice || {};
      const r = a.results;
      const commitment = (r && r.seed_commitment) || n.seed_commitment || "";
      const seed = (r && r.seed) || "";
      const needsSeed = n.tie_break === "pro_rata" || n.tie_break === "random";
      const check = h("span", { id: "seed-check", class: "muted small" });
      root.querySelector("#auction-seed").replaceChildren(
        h("dl", { class: "stats wide" },
          field("种子承诺", "Seed commitment (SHA-256)", h("code", { id: "seed-commitment", class: "mono" }, commitment || "—")),
          field("揭示的种子", "Revealed seed", h("code", { id: "seed", class: "mono" }, seed || "—"))),
        h("p", { class: "muted small" },
          !needsSeed && !commitment
            ? bi("时间优先的拍卖不需要随机种子。", "A time-priority auction needs no seed.")
            : seed
              ? [bi("公告时公布种子的 SHA-256 承诺，出清时揭示种子。", "The SHA-256 of the seed was published with the notice; the seed is revealed at clearing."), " ", check]
              : bi("种子在出清时揭示。", "The seed is revealed when the auction clears.")));
      if (seed && commitment) {
        sha256Hex(seed).then((digest) => {
          if (!alive || digest === null) return;
          const ok = digest === commitment;
          check.className = ok ? "ok small" : "bad small";
          check.textContent = ok ? "✓ 承诺相符 The seed matches its commitment" : "✗ 承诺不符 The seed does NOT match its commitment";
        }).catch(() => {});
      }
    }

    function fillResults(a) {
      const box = root.querySelector("#auction-results");
      const n = a.notice || {};
      const r = a.results;
      root.querySelector("#auction-results-card").hidden = a.status !== "cleared";
      if (a.status !== "cleared" || !r) {
        box.replaceChildren(h("p", { class: "muted" }, a.status === "cancelled"
          ? bi("拍卖已撤销，无结果。", "The auction was cancelled: no results.")
          : bi("结果将在出清后公布。", "Results are published when the auction clears.")));
        return;
      }
      const buy = n.kind === "buyback";
      const [lz, le] = priceLimitLabel(n.kind);
      const num = (x) => h("span", { class: "num" }, x);
      const outcome = r.cancelled
        ? h("span", { class: "bad" }, "流拍 Cancelled: ", label(CANCEL_CAUSES, r.cancel_cause))
        : h("span", { class: "ok" }, "成交 Cleared");
      box.replaceChildren(
        h("dl", { class: "stats results" },
          field("结果", "Outcome", outcome),
          field(buy ? "回购数量" : "发售数量", buy ? "Volume sought" : "Volume offered", num(r.volume_offered > 0 ? fmtTonnes(r.volume_offered) : "—")),
          buy ? field("预算", "Budget (CNY)", num(r.budget > 0 ? fmtMoney(r.budget) : "—")) : null,
          field(lz, le, num(fmtPrice(r.price_limit))),
          field("出清价", "Clearing price", h("span", { class: "num strong", id: "clearing-price" }, fmtPrice(r.clearing_price))),
          field(buy ? "回购成交量" : "成交数量", buy ? "Volume bought" : "Volume sold", h("span", { class: "num strong" }, fmtTonnes(r.volume_sold))),
          field(buy ? "回购金额" : "成交金额", buy ? "Spent (CNY)" : "Revenue (CNY)", num(fmtMoney(r.revenue))),
          field("有效报价量", "Bid volume", num(fmtTonnes(r.bid_volume))),
          field("报价笔数", "Bids", num(fmtInt(r.bid_count))),
          field("报价人数", "Bidders", num(fmtInt(r.bidders))),
          field("中标人数", "Successful bidders", num(fmtInt(r.successful_bidders))),
          field("认购倍数", "Bid-to-cover", num(r.volume_offered > 0 ? fmtBpRatio(r.bid_to_cover_bp) : "—")),
          field("最低报价", "Lowest bid", num(fmtPrice(r.min_bid))),
          field("报价中位数", "Median bid", num(fmtPrice(r.median_bid))),
          field("最高报价", "Highest bid", num(fmtPrice(r.max_bid))),
          field("纳管企业占比", "Won by covered entities", num(fmtBpPct(r.covered_share_bp))),
          field("集中度 HHI", "Concentration (HHI, 0–10,000)", num(fmtInt(r.hhi))),
          field("参考价", "Reference price", num(fmtPrice(r.reference_price))),
          field("参考价阈值", "Reference threshold", num(r.cancel_below_reference_bp > 0 ? fmtBpPct(r.cancel_below_reference_bp) : "—")),
          field("手续费", "Fees (CNY)", num(fmtMoney(r.fees))),
          field("公布时间", "Published", num(fmtDateTime(r.ts_ms)))),
        h("div", { class: "download" },
          a.curve
            ? h("a", { id: "results-file", class: "button", href: `/api/auctions/${a.auction_id}/results.json`, download: `auction-${a.auction_id}-results.json` },
              "⤓ ", bi("下载结果文件", "Download the results file"))
            : h("span", { class: "muted" }, bi("结果文件准备中", "The results file is being prepared…")),
          h("span", { class: "muted small" }, " ",
            bi("任何人都可以核验：", "Anyone can check it:"), " ",
            h("code", { class: "mono" }, "carbonx auction verify FILE"), " ",
            bi("根据文件重新计算每一笔分配和出清价。", "recomputes every allocation and the clearing price from the file alone."))));
    }

    function curveCard(a) {
      const demand = !a || (a.notice || {}).kind !== "buyback";
      root.querySelector("#auction-curve-card").hidden = false;
      root.querySelector("#auction-curve-title").replaceChildren(...(demand
        ? bi("需求曲线（匿名）", "Demand curve (anonymised)")
        : bi("供给曲线（匿名）", "Supply curve (anonymised)")));
    }

    function showCurvePending(a) {
      if (curveState === "pending") return;
      destroyChart();
      curve = null;
      curveState = "pending";
      curveCard(a);
      root.querySelector("#auction-curve-key").replaceChildren();
      root.querySelector("#auction-curve-holder").replaceChildren(h("p", { class: "muted" }, bi("曲线准备中", "Preparing the curve…")));
    }

    async function loadCurve() {
      curveState = "loading";
      curveCard(auction());
      root.querySelector("#auction-curve-holder").replaceChildren(h("p", { class: "muted" }, bi("加载中", "Loading…")));
      try {
        curve = await getJSON(`/api/auctions/${id}/curve`);
        if (!alive) return;
        curveState = "ok";
      } catch (err) {
        if (!alive) return;
        curve = null;
        curveState = "error"; // asked again with the auction's next change, or a reload
        curveError = err.message;
      }
      drawCurve();
    }

    function destroyChart() {
      if (resizeObs) { resizeObs.disconnect(); resizeObs = null; }
      if (chart) { chart.destroy(); chart = null; }
    }

    function drawCurve() {
      destroyChart();
      const holder = root.querySelector("#auction-curve-holder");
      const key = root.querySelector("#auction-curve-key");
      if (!holder) return;
      if (curveState !== "ok" || !curve) {
        holder.replaceChildren(h("p", { class: "muted" }, bi("无法加载曲线", `Could not load the curve: ${curveError}`)));
        key.replaceChildren();
        return;
      }
      const demand = curve.side !== "supply";
      const div = h("div", { id: "auction-curve", class: "chart" });
      holder.replaceChildren(div);
      if (!(curve.steps || []).length) {
        holder.append(h("p", { class: "muted small" }, bi("没有有效报价", "There were no live bids")));
      }
      const a = auction();
      chart = curveChart(div, curve, a && a.results);
      let lastWidth = div.clientWidth;
      resizeObs = new ResizeObserver(() => {
        if (chart && div.clientWidth !== lastWidth) {
          lastWidth = div.clientWidth;
          chart.resize();
        }
      });
      resizeObs.observe(div);
      key.replaceChildren(
        h("span", null, h("i", { class: `swatch line ${demand ? "demand" : "supply"}` }), bi(demand ? "需求曲线" : "供给曲线", demand ? "Demand curve" : "Supply curve")),
        h("span", null, h("i", { class: `swatch area ${demand ? "demand" : "supply"}` }), bi("已分配", "Allocated")),
        h("span", null, h("i", { class: "swatch line clearing" }), bi("出清价", "Clearing price"), " ", h("b", { class: "num" }, fmtPrice(curve.clearing_price))),
        h("span", null, h("i", { class: "swatch line volume" }), bi(demand ? "发售量" : "回购量", demand ? "Volume offered" : "Volume sought"), " ",
          h("b", { class: "num" }, curve.volume > 0 ? fmtTonnes(curve.volume) : "—")),
        h("span", null, h("i", { class: "swatch line limit" }), bi(demand ? "底价" : "最高价", demand ? "Floor" : "Ceiling"), " ", h("b", { class: "num" }, fmtPrice(curve.price_limit))),
        h("span", { class: "muted" }, bi("报价人匿名；按成交顺序累计", "Bidders anonymised; cumulative in fill order")));
    }

    return {
      title: `拍卖 Auction #${idParam}`,
      nav: "auctions",
      mount(el) {
        root = el;
        if (S) build(); else loading(root);
      },
      update(d) {
        if (d.all || !root.querySelector("#auction-status")) {
          build();
          return;
        }
        if (d.auctions.has(id)) fill();
      },
      unmount() {
        alive = false;
        clearInterval(timer);
        destroyChart();
      },
    };
  }

  function notFoundView() {
    return {
      title: "页面不存在 Not found",
      nav: "",
      mount(el) {
        el.replaceChildren(pageHead("页面不存在", "Page not found"),
          h("p", null, h("a", { href: "/" }, bi("返回行情", "Back to the market"))));
      },
      update() {},
      unmount() {},
    };
  }

  // ---------------------------------------------------------------- routing

  const ROUTES = [
    [/^\/$/, () => overviewView()],
    [/^\/instrument\/([^/]+)\/?$/, (m) => instrumentView(decodeURIComponent(m[1]))],
    [/^\/bulk\/?$/, () => bulkView()],
    [/^\/bulletin\/?$/, () => bulletinView(null)],
    [/^\/bulletin\/(\d{8})\/?$/, (m) => bulletinView(m[1])],
    [/^\/auctions\/?$/, () => auctionsView()],
    [/^\/auctions\/(\d+)\/?$/, (m) => auctionView(m[1])],
  ];

  let view = null;
  let currentKey = null;

  function routeKey(path) {
    return path.replace(/\/+$/, "") || "/";
  }

  function route() {
    const path = location.pathname;
    const key = routeKey(path);
    if (view && key === currentKey) return;
    if (view) view.unmount();
    let next = null;
    for (const [re, make] of ROUTES) {
      const m = path.match(re);
      if (m) { next = make(m); break; }
    }
    view = next || notFoundView();
    currentKey = key;
    document.title = `${view.title} · carbonx`;
    for (const a of document.querySelectorAll(".site-nav a")) {
      if (a.dataset.nav === view.nav) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    const root = document.getElementById("app");
    root.replaceChildren();
    view.mount(root);
  }

  function navigate(href) {
    const url = new URL(href, location.href);
    if (url.pathname === location.pathname && url.search === location.search) return;
    history.pushState(null, "", url.pathname + url.search + url.hash);
    route();
    window.scrollTo(0, 0);
  }

  function isPagePath(pathname) {
    return !pathname.startsWith("/api/") && !pathname.startsWith("/static/");
  }

  document.addEventListener("click", (ev) => {
    if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
    const a = ev.target.closest("a[href]");
    if (a) {
      if ((a.target && a.target !== "_self") || a.hasAttribute("download")) return;
      const url = new URL(a.href, location.href);
      if (url.origin !== location.origin || !isPagePath(url.pathname)) return;
      ev.preventDefault();
      navigate(url.href);
      return;
    }
    const tr = ev.target.closest("tr[data-href]");
    if (tr && !(window.getSelection && String(window.getSelection()))) navigate(tr.dataset.href);
  });

  window.addEventListener("popstate", () => route());

  // ---------------------------------------------------------------- start

  window.carbonx = { fmtFen, fmtPrice, fmtTonnes, fmtBpPct, fmtBpRatio, fmtTime, fmtDay, state: () => S };

  route();
  connect();
})();
