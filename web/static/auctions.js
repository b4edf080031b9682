// Auctions: the list, and each auction's notice, live state, results, curve, seed and results file.

import { ACCOUNT_KINDS, AUCTION_KINDS, AUCTION_STATUS, CANCEL_CAUSES, PRICING, PURPOSES, TIE_BREAK, fmtBpPct, fmtBpRatio, fmtDateTime, fmtDay, fmtDuration, fmtInt, fmtMoney, fmtPrice, fmtTime, fmtTonnes, label, validMs } from "./format.js";
import { bi, biPair, emptyRow, field, h, instrumentLink, loading, pageHead, setText, tableWrap, th, tonnesNode } from "./dom.js";
import { S, getJSON } from "./store.js";
import { curveChart } from "./charts.js";

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

export function auctionsView() {
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

export function auctionView(idParam) {
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
