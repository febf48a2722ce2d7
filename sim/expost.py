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
and never answers and keeps its own surplus off the market, `reneging` never pays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from agent.domain.decision import MIN_TRADE_WH
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


def amount_msat(energy_wh: int, price_msat_per_kwh: int, retail: int, feed_in: int,
               fee_msat: int) -> int | None:
    """What the seller invoices for an agreed trade: its price, but never so much that the
    buyer, who pays the routing fee on top, pays more than retail for the energy; None when
    the seller would then get less than feed-in (the trade is not worth its fee)."""
    amount = min((energy_wh * price_msat_per_kwh + 500) // 1000,
                 energy_wh * retail // 1000 - fee_msat)
    return amount if amount * 1000 >= energy_wh * feed_in else None


def trade(interval: int, grid_wh: Floats, price_msat_per_kwh: int, names: list[str],
          now_s: float, deadline_s: float, spec: MarketSpec, ledger: Ledger, bad: Bools,
          attack: Attack | None, rng: np.random.Generator, retail: int,
          feed_in: int) -> Traded:
    """Match and pay the interval's metered surplus against its metered deficit."""
    n = grid_wh.size
    sell, buy = positions(grid_wh, bad, attack, rng)
    s = np.flatnonzero(sell >= MIN_TRADE_WH)
    b = np.flatnonzero(buy >= MIN_TRADE_WH)
    price = np.full(max(s.size, b.size), price_msat_per_kwh, dtype=np.int64)
    silent = bad if attack == "withholding" else np.zeros(n, dtype=bool)
    out = clear(interval, Book(s, sell[s].astype(np.int64), price[:s.size], price[:s.size]),
                Book(b, buy[b].astype(np.int64), price[:b.size], price[:b.size]), names,
                now_s, deadline_s, spec, silent, rng)
    sold, bought = np.zeros(n), np.zeros(n)
    money, received = np.zeros(n), np.zeros(n)
    for si, bi, e, p in zip(out.seller, out.buyer, out.energy_wh, out.price_msat_per_kwh,
                            strict=True):
        amount = amount_msat(e, p, retail, feed_in,
                             ledger.fee_msat(names[si], (e * p + 500) // 1000))
        if amount is None:
            continue
        if attack == "reneging" and bad[bi]:
            ledger.renege()
            continue
        fee = ledger.pay(names[bi], names[si], amount)
        if fee is None:
            continue
        sold[si] += e
        bought[bi] += e
        money[si] -= amount
        money[bi] += amount + fee
        received[si] += amount
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
