"""Trading on the meters: what a home offers or bids after an interval, and what it costs.

After interval k closes, a home whose meter exported net energy in k offers it, a home
that imported net energy bids for it, both at one price: the coordinator's community
price for k (the band's midpoint without a signal). The seller's ask is the buyer's
reservation, so an offer that reaches a buyer is accepted at once. The trading window
runs in interval k+1; what is not sold in it stays with the grid at the tariff.

`amount_msat` is the one rule for what a trade is paid (the daemon's invoice and the
fleet simulator's ledger both use it): no home ends worse off than the tariff would leave
it for the same meter readings. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from agent.domain.decision import MIN_TRADE_WH
from agent.domain.market import IntervalClock


@dataclass(frozen=True, slots=True)
class Position:
    side: Literal["sell", "buy", "none"]
    energy_wh: int


def position(imported_wh: float, exported_wh: float) -> Position:
    """What the meter's interval lets a home trade: its net export to sell or its net
    import to buy (never more than the meter measured)."""
    net = imported_wh - exported_wh
    if net <= -MIN_TRADE_WH:
        return Position("sell", int(-net))
    if net >= MIN_TRADE_WH:
        return Position("buy", int(net))
    return Position("none", 0)


def window_deadline_s(intervals: IntervalClock, metered: int) -> float:
    """Negotiations for the metered interval end in the next one, before its gate margin."""
    return intervals.start_s(metered + 2) - intervals.gate_margin * intervals.length_s


def midpoint(feed_in: int, retail: int) -> int:
    """The price without a signal: the middle of the band."""
    return (feed_in + retail) // 2


def min_trade_wh(retail: int, feed_in: int, fee_msat: int) -> int:
    """The smallest trade `amount_msat` pays (its fee fits between retail and feed-in)."""
    band = max(1, retail - feed_in)
    return max(MIN_TRADE_WH, -(-fee_msat * 1000 // band) + 1)


def amount_msat(energy_wh: int, price_msat_per_kwh: int, retail: int, feed_in: int,
                fee_msat: int) -> int | None:
    """What the seller invoices for an agreed trade: its price, but never so much that the
    buyer, who pays the routing fee on top, pays more than retail for the energy; None when
    the seller would then get less than feed-in (the trade is not worth its fee)."""
    amount = min((energy_wh * price_msat_per_kwh + 500) // 1000,
                 energy_wh * retail // 1000 - fee_msat)
    return amount if amount * 1000 >= energy_wh * feed_in else None
