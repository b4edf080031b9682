// carbonx public website: one page, routed on location.pathname, fed by Server-Sent Events.
// This module is the router and the start; the others, by what they do:
//   format.js  figures and labels (integer fen, tonnes, Shanghai time; never a float's rounding)
//   dom.js     building elements, bilingual labels, the pages' shared pieces
//   store.js   the STATE and its changes (docs/WEB.md), the stream, the banner, the page shown
//   charts.js  the intraday chart and the auction curve (uPlot, vendored)
//   overview.js, instrument.js, bulk.js, bulletin.js, auctions.js: one per page

import { fmtBpPct, fmtBpRatio, fmtDay, fmtFen, fmtPrice, fmtTime, fmtTonnes } from "./format.js";
import { bi, h, pageHead } from "./dom.js";
import { S, connect, isShown, show, shownView } from "./store.js";
import { overviewView } from "./overview.js";
import { instrumentView } from "./instrument.js";
import { bulkView } from "./bulk.js";
import { bulletinView } from "./bulletin.js";
import { auctionView, auctionsView } from "./auctions.js";

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

function route() {
  const path = location.pathname;
  if (isShown(path)) return;
  const old = shownView();
  if (old) old.unmount();
  let next = null;
  for (const [re, make] of ROUTES) {
    const m = path.match(re);
    if (m) { next = make(m); break; }
  }
  const view = next || notFoundView();
  show(view, path);
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
