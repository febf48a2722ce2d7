"""The community market of one interval, after it ran: trades on what the meters measured.

Homes whose meter exported energy in the interval offer it; homes whose meter imported
bid for it; both at one price, the coordinator's equilibrium price for the interval (the
band's midpoint when there is no signal). The offers go through the daemon's negotiation
state machines (`sim.market.clear`: the broker hands each offer to one buyer; with the
asking and the reservation price equal, an offer is accepted at once), and each agreed
trade is paid over the channel graph (`sim.settle.Ledger`). Only paid trades are netted.

Because every trade is backed by both meters and priced inside [feed-in, retail], no home
can end worse off than the tariff would leave it for the same meter readings: each kWh it
imported costs retail or less, each kWh it exported earns feed-in or more.

Attacks (`sim.scenario.Attack`) act here as in the daemon: `false_bids` claim a metered
surplus or deficit three times the real one (the liar's residual is billed at the tariff,
so the honest counterparty is made whole and the liar pays), `withholding` takes offers
and never answers and keeps its own surplus off the market, `reneging` never pays,
`colluding` trades only among the attackers (each side's energy kept from the honest
homes) while their reports to the coordinator lie together.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.domain.decision import MIN_TRADE_WH
from agent.domain.expost import amount_msat
from agent.domain.reputation import PeerRecord
from sim.market import Book, Cleared, clear
from sim.scenario import Attack, MarketSpec
from sim.settle import Ledger

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
FALSE_BID_WH = 500  # a false claim is at least this, three times over


@dataclass
class Traded:
    sold_wh: Floats          # (N,) paid trades, per home
    bought_wh: Floats
    money_msat: Floats       # (N,) paid (+) or received (−), fees included
    received_msat: Floats    # (N,) payments received for energy sold
    cleared: Cleared


def positions(grid_wh: Floats, bad: Bools, attack: Attack | None,
              rng: np.random.Generator) -> tuple[Floats, Floats]:
    """What each home offers and bids (Wh) from its metered exchange (+ import)."""
    sell = np.maximum(-grid_wh, 0.0)
    buy = np.maximum(grid_wh, 0.0)
    if attack == "false_bids" and bad.any():
        idx = np.flatnonzero(bad)
        claim = 3.0 * np.maximum(np.abs(grid_wh[idx]), FALSE_BID_WH)
        as_seller = rng.random(idx.size) < 0.5
        sell[idx] = np.where(as_seller, claim, 0.0)
        buy[idx] = np.where(as_seller, 0.0, claim)
    if attack == "withholding":
        sell[bad] = 0.0
    return sell, buy


def trade(interval: int, grid_wh: Floats, price_msat_per_kwh: int, names: list[str],
          now_s: float, deadline_s: float, spec: MarketSpec, ledger: Ledger, bad: Bools,
          attack: Attack | None, rng: np.random.Generator, retail: int,
          feed_in: int, refused: dict[int, dict[int, PeerRecord]] | None = None) -> Traded:
    """Match and pay the interval's metered surplus against its metered deficit. A trade is
    paid at agreement; one its buyer does not pay is not a trade (its seller offers the
    energy again, and sells no more to that buyer: `refused`)."""
    n = grid_wh.size
    sell, buy = positions(grid_wh, bad, attack, rng)
    s = np.flatnonzero(sell >= MIN_TRADE_WH)
    b = np.flatnonzero(buy >= MIN_TRADE_WH)
    silent = bad if attack == "withholding" else np.zeros(n, dtype=bool)
    sold, bought = np.zeros(n), np.zeros(n)
    money, received = np.zeros(n), np.zeros(n)

    def pay(si: int, bi: int, e: int, p: int) -> bool:
        amount = amount_msat(e, p, retail, feed_in, ledger.fee_msat(names[si], (e * p + 500)
                                                                     // 1000))
        if amount is None:
            return False
        if attack == "reneging" and bad[bi]:
            ledger.renege()
            return False
        fee = ledger.pay(names[bi], names[si], amount)
        if fee is None:
            return False
        sold[si] += e
        bought[bi] += e
        money[si] -= amount
        money[bi] += amount + fee
        received[si] += amount
        return True

    def book(homes: npt.NDArray[np.int64], wh: Floats) -> Book:
        p = np.full(homes.size, price_msat_per_kwh, dtype=np.int64)
        return Book(homes, wh[homes].astype(np.int64), p, p)

    if attack == "colluding" and bad.any():
        # Two markets: the attackers among themselves, the honest homes among themselves.
        inside = clear(interval, book(s[bad[s]], sell), book(b[bad[b]], buy), names, now_s,
                       deadline_s, spec, silent, rng, pay, refused)
        s, b = s[~bad[s]], b[~bad[b]]
    out = clear(interval, book(s, sell), book(b, buy), names, now_s, deadline_s, spec, silent,
                rng, pay, refused)
    if attack == "colluding" and bad.any():
        out.sessions += inside.sessions
    return Traded(sold, bought, money, received, out)


def pool(grid_wh: Floats, price_msat_per_kwh: float) -> tuple[Floats, Floats, Floats]:
    """The ideal settlement (no negotiation, no payments that fail): the interval's metered
    surplus and deficit shared pro rata at one price; (sold, bought, money) per home."""
    export = np.maximum(-grid_wh, 0.0)
    imp = np.maximum(grid_wh, 0.0)
    shared = min(float(export.sum()), float(imp.sum()))
    sold = export * (shared / export.sum()) if export.sum() > 0 else export * 0.0
    bought = imp * (shared / imp.sum()) if imp.sum() > 0 else imp * 0.0
    money = (bought - sold) * price_msat_per_kwh / 1000.0
    return sold, bought, money
