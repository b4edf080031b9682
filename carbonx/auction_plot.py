"""The anonymised demand curve of a cleared auction (a buyback's: the supply curve), as a PNG.

Cumulative tonnes against price, the bids in the order they fill (``engine.auction.clearing``:
the best price for the auctioneer first, then time rank): a sale's demand curve steps down, a
buyback's supply curve steps up. The volume offered (a budget-only buyback: the tonnes its budget
bought) is a vertical line, the clearing price a horizontal one, the price limit (floor or
ceiling) a dotted one, and the tonnes each bid won are shaded under its step.

matplotlib is imported here only, when a plot is asked for (``--plot``), with the Agg backend
(no display needed): every other command starts without it. Prices are integers to the last
step; only the axis labels show them in CNY.
"""

from __future__ import annotations

from pathlib import Path

from carbonx.auction_results import ResultsFile, cny, curve, name_of
from carbonx.errors import CarbonxError
from engine.messages import AuctionKind, Pricing

TITLES = {
    AuctionKind.RESERVE_SALE: "reserve sale: demand curve",
    AuctionKind.BUYBACK: "buyback: supply curve",
    AuctionKind.ONE_WAY: "one-way sale: demand curve",
}


def plot_curve(file: ResultsFile, path: Path) -> None:
    """Write the curve of ``file``'s bids to ``path`` (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    terms, results = file.terms, file.results
    steps = curve(file)
    figure = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shaded = False
    if steps:
        xs = [s.start for s in steps] + [steps[-1].start + steps[-1].quantity]
        ys = [s.price for s in steps] + [steps[-1].price]
        axes.step(xs, ys, where="post", color="tab:blue", linewidth=1.8, label="bids (cumulative)")
        for s in steps:
            if s.allocated:
                axes.fill_between(
                    [s.start, s.start + s.allocated],
                    0,
                    s.price,
                    step="post",
                    color="tab:blue",
                    alpha=0.18,
                    label="allocated" if not shaded else None,
                )
                shaded = True
    else:
        axes.text(0.5, 0.5, "no bids", transform=axes.transAxes, ha="center", va="center")
    lowest = min([s.price for s in steps] + [terms["price_limit"]])
    highest = max([s.price for s in steps] + [terms["price_limit"]])
    margin = max((highest - lowest) // 5, 100)
    axes.set_ylim(max(0, lowest - margin), highest + margin)
    if terms["volume"]:
        axes.axvline(terms["volume"], color="tab:red", linestyle="--", label=f"volume offered {terms['volume']:,} t")
    elif terms["budget"]:  # a budget-only buyback: the tonnes its budget bought mark where it stopped
        label = f"budget {cny(terms['budget'])} CNY: {results['volume_sold']:,} t"
        axes.axvline(results["volume_sold"], color="tab:red", linestyle="--", label=label)
    if results["clearing_price"]:
        price = results["clearing_price"]
        uniform = terms["pricing"] is Pricing.UNIFORM
        label = f"clearing price {cny(price)}" if uniform else f"marginal price {cny(price)} (pay-as-bid)"
        axes.axhline(price, color="tab:green", linestyle="--", label=label)
    limit_name = "ceiling" if terms["kind"] is AuctionKind.BUYBACK else "floor"
    axes.axhline(terms["price_limit"], color="grey", linestyle=":", label=f"{limit_name} {cny(terms['price_limit'])}")
    axes.yaxis.set_major_formatter(FuncFormatter(lambda fen, _: cny(round(fen))))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda t, _: f"{round(t):,}"))
    axes.set_xlim(left=0)
    axes.set_xlabel("cumulative quantity (t)")
    axes.set_ylabel("price (CNY/t)")
    state = f"cancelled ({name_of(results['cancel_cause'])})" if results["cancelled"] else "cleared"
    axes.set_title(
        f"auction {file.auction_id} {file.instrument}, {TITLES[terms['kind']]}\n"
        f"{results['bid_count']:,} bids of {results['bidders']:,} bidders; {results['volume_sold']:,} t "
        f"{'bought' if terms['kind'] is AuctionKind.BUYBACK else 'sold'}; {state}",
        fontsize=10,
    )
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize=8)
    figure.tight_layout()
    try:
        figure.savefig(path, format="png")
    except OSError as failed:
        raise CarbonxError(f"{path}: cannot write the plot: {failed.strerror or failed}") from None
