// Building elements: h(), bilingual labels, table pieces, and what every page shares.

import { fmtInt, toBig } from "./format.js";

// ---------------------------------------------------------------- DOM helpers

export function h(tag, props, ...kids) {
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
export function bi(zh, en) {
  return [zh, " ", h("span", { class: "en" }, en)];
}

export function biPair(pair) {
  return pair ? bi(pair[0], pair[1]) : ["—"];
}

// A quantity: "12,300 t" (the unit in a lighter span; the text stays "12,300 t").
export function tonnesNode(v) {
  if (toBig(v) === null) return document.createTextNode("—");
  return h("span", null, fmtInt(v), h("span", { class: "unit" }, " t"));
}

export function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

export function setDir(el, d) {
  el.classList.toggle("up", d > 0);
  el.classList.toggle("down", d < 0);
  el.classList.toggle("flat", d === 0);
}

export function flash(el, d) {
  el.classList.remove("flash-up", "flash-down", "flash-flat");
  void el.offsetWidth; // restart the animation
  el.classList.add(d > 0 ? "flash-up" : d < 0 ? "flash-down" : "flash-flat");
}

export function th(zh, en, cls) {
  return h("th", { class: cls, scope: "col" }, bi(zh, en));
}

export function emptyRow(cols, zh, en) {
  return h("tr", { class: "empty" }, h("td", { colspan: cols }, bi(zh, en)));
}

export function instrumentLink(code) {
  return h("a", { href: `/instrument/${encodeURIComponent(code)}`, class: "code" }, code);
}

export function tableWrap(table) {
  return h("div", { class: "table-wrap" }, table);
}

export function field(zh, en, value, props) {
  return h("div", Object.assign({ class: "field" }, props || {}),
    h("dt", null, bi(zh, en)),
    h("dd", null, value));
}


// ---------------------------------------------------------------- views

export function loading(root) {
  root.replaceChildren(h("p", { class: "loading" }, bi("正在加载行情", "Loading market data…")));
}

export function pageHead(zh, en, extra) {
  return h("div", { class: "page-head" }, h("h1", null, bi(zh, en)), extra || null);
}
