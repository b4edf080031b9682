// The instrument's intraday chart and an auction's demand or supply curve (uPlot, a global from vendor/).

import { ACCENT, TZ, fmtFen, fmtHM, fmtInt, fmtTonnes, label, sign } from "./format.js";
import { S } from "./store.js";

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
export function intradayChart(el, code) {
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
export function curveChart(el, curve, results) {
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
