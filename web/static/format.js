// Figures and labels. Prices are integer fen per tonne, quantities integer tonnes, money integer
// fen: every figure is formatted with integer (BigInt) and string arithmetic, never by rounding a float.

export const TZ = "Asia/Shanghai";
export const ACCENT = "#1d4f91";
export const MAX_TRADES = 50;

// ---------------------------------------------------------------- formatting

export function toBig(v) {
  if (typeof v === "bigint") return v;
  if (typeof v === "number" && Number.isFinite(v)) return BigInt(Math.trunc(v));
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  return null;
}

function groupDigits(digits) {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// 123456 fen -> "1,234.56"; also bp -> percent (1234 bp = "12.34").
export function fmtFen(v) {
  const b = toBig(v);
  if (b === null) return "—";
  const neg = b < 0n;
  const s = (neg ? -b : b).toString().padStart(3, "0");
  return (neg ? "-" : "") + groupDigits(s.slice(0, -2)) + "." + s.slice(-2);
}

// A price of 0 means "none" (nothing traded, an empty side).
export function fmtPrice(v) {
  const b = toBig(v);
  return b === null || b === 0n ? "—" : fmtFen(b);
}

export function fmtSignedFen(v) {
  const b = toBig(v);
  if (b === null) return "—";
  return (b > 0n ? "+" : "") + fmtFen(b);
}

export function fmtInt(v) {
  const b = toBig(v);
  if (b === null) return "—";
  const neg = b < 0n;
  return (neg ? "-" : "") + groupDigits((neg ? -b : b).toString());
}

export function fmtTonnes(v) {
  return toBig(v) === null ? "—" : fmtInt(v) + " t";
}

export function fmtMoney(v) {
  return fmtFen(v);
}

// Basis points as a percent with two decimals: 1234 -> "12.34%".
export function fmtBpPct(bp) {
  return toBig(bp) === null ? "—" : fmtFen(bp) + "%";
}

// Basis points as a multiple, half-up to hundredths: 15000 -> "1.50×".
export function fmtBpRatio(bp) {
  const b = toBig(bp);
  if (b === null) return "—";
  const hundredths = b >= 0n ? (b + 50n) / 100n : -((-b + 50n) / 100n);
  return fmtFen(hundredths) + "×";
}

export function fenMul(price, quantity) {
  const p = toBig(price);
  const q = toBig(quantity);
  return p === null || q === null ? null : p * q;
}

export function sign(v) {
  const b = toBig(v);
  return b === null || b === 0n ? 0 : b > 0n ? 1 : -1;
}

export function dirClass(d) {
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

export function validMs(ms) {
  return typeof ms === "number" && Number.isFinite(ms) && ms > 0;
}

export function fmtTime(ms) {
  if (!validMs(ms)) return "—";
  const p = partsOf(ms);
  return `${p.hour}:${p.minute}:${p.second}`;
}

export function fmtHM(ms) {
  if (!validMs(ms)) return "—";
  const p = partsOf(ms);
  return `${p.hour}:${p.minute}`;
}

export function fmtDateTime(ms) {
  if (!validMs(ms)) return "—";
  const p = partsOf(ms);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

// 20261203 -> "2026-12-03"
export function fmtDay(day) {
  const s = String(day ?? "");
  return /^\d{8}$/.test(s) ? `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6)}` : "—";
}

export function fmtDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const hh = String(Math.floor((total % 86400) / 3600)).padStart(2, "0");
  const mm = String(Math.floor((total % 3600) / 60)).padStart(2, "0");
  const ss = String(total % 60).padStart(2, "0");
  return (d > 0 ? `${d}天 ${d}d ` : "") + `${hh}:${mm}:${ss}`;
}

// ---------------------------------------------------------------- labels

export const SESSIONS = {
  closed: ["休市", "Closed"],
  morning: ["上午", "Morning"],
  lunch_break: ["午休", "Lunch break"],
  afternoon: ["下午", "Afternoon"],
};
export const FEED_TEXT = {
  live: "行情正常 Market data live",
  stale: "行情延迟 Market data stale",
  down: "与交易系统的连接中断 Connection to the exchange lost",
  connecting: "正在连接交易系统 Connecting to the exchange",
};
export const OFFLINE_TEXT = "与网站的连接中断 Connection to the website lost";
export const AUCTION_KINDS = {
  reserve_sale: ["配额拍卖", "Reserve sale"],
  buyback: ["回购", "Buyback"],
  one_way: ["单向竞价", "One-way bidding"],
};
export const AUCTION_STATUS = {
  announced: ["已公告", "Announced"],
  open: ["竞价中", "Open"],
  closed: ["已截止", "Closed"],
  cleared: ["已出结果", "Cleared"],
  cancelled: ["已撤销", "Cancelled"],
};
export const PURPOSES = {
  none: ["无", "None"],
  compliance: ["履约", "Compliance"],
  market_supply: ["市场供给", "Market supply"],
};
export const PRICING = {
  uniform: ["统一价格", "Uniform price"],
  pay_as_bid: ["按报价成交", "Pay as bid"],
};
export const TIE_BREAK = {
  time: ["时间优先", "Time priority"],
  pro_rata: ["按比例分配", "Pro rata"],
  random: ["随机抽签", "Random draw"],
};
export const ACCOUNT_KINDS = {
  covered_entity: ["纳管企业", "Covered entity"],
  institution: ["机构", "Institution"],
  individual: ["个人", "Individual"],
};
export const CANCEL_CAUSES = {
  none: ["无", "None"],
  undersubscribed: ["认购不足", "Undersubscribed"],
  below_reference: ["偏离参考价", "Beyond the reference price"],
};

export function label(map, key) {
  const pair = map[String(key ?? "").toLowerCase()];
  return pair ? `${pair[0]} ${pair[1]}` : String(key ?? "—");
}
