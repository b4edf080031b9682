"""The help of ``carbonx auction`` and each of its subcommands: enough on its own to use it."""

from __future__ import annotations

from carbonx.cli.commands import help_of

HELP = help_of("auction")
DESCRIPTION = """\
Sealed-bid auctions on a running node (carbonx serve): single-round, one auctioneer account on one
side, bidders on the other (RULES.md §3-§5; docs/AUCTIONS.md).

  reserve_sale  the regulator's RESERVE account sells (储备配额有偿竞价发放), revenue to the TREASURY
  buyback       the TREASURY buys back up to a volume (or a budget) at or below a ceiling (配额回购)
  one_way       a member sells 100,000 t or more by one-way bidding (单向竞价): it applies, the
                regulator approves

The regulator (member REGULATOR):
  announce FILE.toml   announce a reserve sale or a buyback from a file (examples/auctions/); a
                       pro_rata or random tie-break makes a seed, keeps it in a file only the
                       regulator reads, and publishes its SHA-256 (the commitment)
  approve ID           approve a member's one-way application (same seed handling)
  open ID / close ID   open or close bidding by hand (the node's scheduler does it at the announced
                       times in calendar mode); a time tie-break clears at the close
  clear ID             clear a closed pro_rata or random auction, revealing the seed
  cancel ID            withdraw an auction before it clears
  load-figures FILE    load past days' listing figures for the VWAP price rules
Members:
  bid ID / amend BID_ID / withdraw BID_ID   sealed bids until the cut-off; a bid freezes its
                       price x quantity (a buyback offer: its tonnes); only the bidder, the
                       regulator and surveillance ever see it
  bids [ID]            your bids of auctions not yet cleared; of a cleared one: your outcome
  apply FILE.toml      apply for a one-way sale of your tonnes (frozen from the application)
Anybody:
  list, status ID      the auctions announced (public), one auction's terms and state
  results ID           the public results and the anonymised bid list: a table, --format json
                       (the results file) or csv, and --plot PNG (the demand or supply curve)
  verify RESULTS.json  recompute every allocation and the clearing price from a results file alone

Prices are CNY per tonne (at most 2 decimals), quantities tonnes; inside the system, integers.
"""
EPILOG = """\
the demo (make run; then, in another terminal; examples/auctions/README.md has all three):
  carbonx registry allocate examples/auctions/fund_reserve.csv   the RESERVE's tonnes (once)
  carbonx auction announce examples/auctions/reserve_sale.toml   as REGULATOR; prints the auction id
  carbonx auction open 1
  carbonx auction bid --member M001 1 --price 48.50 --quantity 3000
  carbonx auction bid --member M002 1 --price 48.00 --quantity 2000
  carbonx auction bid --member M101 --account A101 1 --price 49.00 --quantity 1500
  carbonx auction close 1                                        clears at once: a time tie-break
  carbonx auction results 1 --format json --output results-1.json --plot curve-1.png
  carbonx auction verify results-1.json

A refused request prints the engine's reject on one line (e.g. `rejected 5018: BID_BELOW_FLOOR:
...`) and exits with status 1. Reject codes: docs/REJECT_CODES.md.
"""

FILE_KEYS = """\
The file (TOML; every key explained in examples/auctions/*.toml):
  kind            reserve_sale, buyback or one_way
  purpose         a reserve sale's: compliance or market_supply (their caps, eligibility and k
                  come from config/auctions.toml when the file leaves them out)
  instrument      e.g. SHEA2025
  auctioneer      RESERVE (reserve sale), TREASURY (buyback), the seller's account (one-way)
  volume          tonnes; a buyback may give budget = "CNY" instead
  price           the floor (a sale) or ceiling (a buyback), CNY as text: "48.00"; or the VWAP
                  rule: vwap_from, vwap_to (dates), vwap_k_bp (12000 = 1.2), price_cap ("CNY")
  date            YYYY-MM-DD or "next_trading_day" (config/calendar.toml, from today there)
  opens, closes   "HH:MM" local times (default: the morning session, 09:30-11:30); cutoff
  pricing         uniform (default) or pay_as_bid
  tie_break       time (default), pro_rata or random
  optional        name, bid_lot_t, eligible_kinds, caps = [{ kind, max_t, max_bp }],
                  cancel_if_undersubscribed, cancel_below_reference_bp
A mistake is one line naming the file and the key; --check reads the file and sends nothing.
"""

# name -> (help, description, examples)
TEXTS: dict[str, tuple[str, str, str]] = {
    "announce": (
        "announce a reserve sale or a buyback from a TOML file (regulator)",
        "Announce a reserve sale or a buyback. The auctioneer's side is frozen at once (the RESERVE's\n"
        "tonnes; the TREASURY's volume x ceiling, or its budget). With a pro_rata or random tie-break,\n"
        "a 32-byte seed is made (secrets), written as 64 hex characters to a seed file of mode 0600\n"
        "before anything is sent (--seed-file, never overwritten; default: var/auction-seeds/,\n"
        "auction-ID.seed), and its SHA-256 is announced: the commitment the clearing must match.\n"
        "Prints the auction id and the commitment.\n\n" + FILE_KEYS,
        "  carbonx auction announce examples/auctions/reserve_sale.toml\n"
        "  carbonx auction announce examples/auctions/buyback.toml --seed-file buyback.seed\n"
        "  carbonx auction announce examples/auctions/reserve_sale.toml --check     check only",
    ),
    "apply": (
        "apply for a one-way sale of your tonnes from a TOML file (member)",
        "Apply to sell 100,000 t or more by one-way bidding (单向竞价). The tonnes are frozen from the\n"
        "application; the floor must be at least the previous close - 10%, and bids may go up to the\n"
        "previous close + 10%. Nobody but you and the regulator sees the application until the\n"
        "regulator approves it (carbonx auction approve ID); you may withdraw it until then\n"
        "(carbonx auction cancel ID --account A).\n\n" + FILE_KEYS,
        "  carbonx auction apply --member M002 examples/auctions/one_way.toml\n"
        "  carbonx auction cancel --member M002 --account A002 3          withdraw the application",
    ),
    "approve": (
        "approve a one-way application (regulator)",
        "Approve a member's one-way application: it is announced on market data. A pro_rata or\n"
        "random tie-break gets a seed and its commitment here, as announce makes them.",
        "  carbonx auction approve 3",
    ),
    "open": (
        "open bidding by hand (regulator)",
        "Open an announced auction for bids now (the scheduler of a node in calendar mode opens it at\n"
        "its announced time by itself).",
        "  carbonx auction open 1",
    ),
    "close": (
        "close bidding by hand (regulator); a time tie-break clears at once",
        "Close bidding now. An auction with a time tie-break clears and settles at once (every bidder\n"
        "gets its BidAllocated report; the results are public); a pro_rata or random one waits for\n"
        "carbonx auction clear ID, which reveals the seed.",
        "  carbonx auction close 1",
    ),
    "clear": (
        "clear a closed pro_rata or random auction, revealing the seed (regulator)",
        "Clear a closed auction. The seed is read from --seed-file, or found in the seed directory\n"
        "(the file whose SHA-256 is the auction's commitment); a seed that does not match is refused\n"
        "before anything is sent. A time tie-break needs no seed (it cleared at the close).",
        "  carbonx auction clear 2\n  carbonx auction clear 2 --seed-file buyback.seed",
    ),
    "cancel": (
        "withdraw an auction before it clears (regulator; an applicant its application)",
        "Withdraw an auction that has not cleared: every bid and the auctioneer's freeze are released.\n"
        "The regulator may cancel any; an applicant (--member and --account) its own application\n"
        "until it is approved.",
        '  carbonx auction cancel 1 --reason "IT incident"\n  carbonx auction cancel --member M002 --account A002 3',
    ),
    "load-figures": (
        "load past days' listing figures for VWAP price rules (regulator)",
        "Load the listing figures (volume, turnover, close) of days before go-live, per instrument,\n"
        "for the k x VWAP price rules (the node records each later day itself at the end of day).\n"
        "CSV header: instrument,trading_day,volume,turnover,close (volume tonnes; turnover and close\n"
        "CNY, e.g. 80.00); or TOML with one [[day]] table per row and the same keys.",
        "  carbonx auction load-figures examples/auctions/figures.csv",
    ),
    "list": (
        "the auctions you may see (announced ones are public)",
        "The auctions announced (public), and for the regulator and an applicant the one-way\n"
        "applications waiting for approval: status, kind, instrument, volume, price limit, window.",
        "  carbonx auction list\n  carbonx auction list --member M001",
    ),
    "status": (
        "one auction's terms and state",
        "One auction: its terms as resolved (defaults filled in, the price limit computed), its state,\n"
        "the seed commitment, and its results once cleared. The regulator also sees how many bids it holds.",
        "  carbonx auction status 1",
    ),
    "results": (
        "an auction's public results and anonymised bids; json, csv, --plot",
        "The public results of a cleared auction (volume offered and sold, clearing price, revenue,\n"
        "bids received, bid-to-cover, min/median/max bid, covered entities' share, HHI, cancellation,\n"
        "the seed and its commitment) and its anonymised bid list, assembled page by page.\n"
        "--format json is the results file carbonx auction verify checks (integers only: fen/t, t,\n"
        "fen); csv is the bid list; --output writes it to a file (its suffix .json or .csv chooses the\n"
        "format). --plot draws the demand curve (a buyback's: the supply curve), cumulative tonnes\n"
        "against price, with the volume offered and the clearing price marked.",
        "  carbonx auction results 1\n"
        "  carbonx auction results 1 --format json --output results-1.json --plot curve-1.png\n"
        "  carbonx auction results 1 --format csv --output bids-1.csv",
    ),
    "verify": (
        "recompute every allocation and the clearing price from a results file",
        "Check a results file (carbonx auction results ID --format json) from the file alone: the\n"
        "seed's SHA-256 against the commitment, then the exchange's clearing rule and seeded order\n"
        "(docs/AUCTIONS.md) over the anonymised bids, compared with every published allocation, the\n"
        "clearing price and the figures. Exit status 0: everything matches; 1: the first mismatch\n"
        "(which bid, recomputed against published); 2: not a results file. No node is needed.",
        "  carbonx auction verify results-1.json",
    ),
    "bid": (
        "enter a sealed bid (a buyback: an offer) while bidding is open",
        "Enter a sealed bid: --price in CNY per tonne, --quantity in tonnes (whole lots). It is\n"
        "checked at once against the price limit, tick, lot, eligibility, your cap over your live bids\n"
        "and your funds; the full price x quantity (plus the maximum fee) is frozen, or, in a buyback,\n"
        "the tonnes offered. The answer names the bid id.",
        "  carbonx auction bid --member M001 1 --price 48.50 --quantity 3000\n"
        "  carbonx auction bid --member M101 --account A101 1 --price 49.00 --quantity 1500",
    ),
    "amend": (
        "change a live bid until the cut-off",
        "Change a live bid's price and quantity: a lower quantity at the same price keeps its time\n"
        "rank, anything else takes a new one. The freeze follows.",
        "  carbonx auction amend --member M001 1 --price 48.60 --quantity 3000",
    ),
    "withdraw": (
        "withdraw a live bid until the cut-off",
        "Withdraw a live bid: its freeze is released.",
        "  carbonx auction withdraw --member M001 1",
    ),
    "bids": (
        "your bids of auctions not yet cleared (the regulator: everybody's)",
        "The bids of auctions not yet cleared, live and withdrawn, with what each holds frozen: your\n"
        "accounts' (the regulator and surveillance: every bidder's). For a cleared auction (bids ID),\n"
        "your bids' private outcome: what each won, at what price, its value and fee, and whether the\n"
        "tie-break cut it (as your BidAllocated reports told it).",
        "  carbonx auction bids --member M001\n"
        "  carbonx auction bids --member M001 1       after the clearing: your outcome",
    ),
}
