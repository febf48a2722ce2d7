"""Settlement over lnsim's channel graph, in process: one channel per home to a routing
node (lnsim's `hub` topology, its default capacity and fee policy), HTLCs locked and
settled by `lnsim.graph.ChannelGraph` itself.

Route finding: in a hub every route is buyer → hub → seller, so `hub_route` builds that
route with the fee `ChannelGraph.find_route` would charge (a test checks they agree)
instead of running Dijkstra over 10,000 channels for every payment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lnsim.graph import ChannelGraph, Hop, InsufficientBalanceError, Route
from lnsim.network import LSP_NAME


@dataclass
class PayStats:
    attempted: int = 0
    succeeded: int = 0
    no_route: int = 0       # a channel without the liquidity
    reneged: int = 0        # the buyer never paid (Byzantine)
    fees_msat: int = 0


class Ledger:
    def __init__(self, names: list[str], channel_sat: int) -> None:
        self.graph = ChannelGraph()
        self._scid: dict[str, str] = {}
        for name in names:
            chan = self.graph.add_channel(name, LSP_NAME, channel_sat * 1000)
            self._scid[name] = chan.scid
        self._start = {n: self.graph.channels[s].balance_msat[n] for n, s in self._scid.items()}
        self.stats = PayStats()

    def hub_route(self, buyer: str, seller: str, amount_msat: int) -> Route | None:
        """buyer → hub → seller, with the hub's forwarding fee, if both hops can carry it."""
        if amount_msat <= 0 or buyer == seller:
            return None
        into = self.graph.channels[self._scid[seller]]
        fee = into.policy[LSP_NAME].fee_msat(amount_msat)
        out = self.graph.channels[self._scid[buyer]]
        if (out.spendable_msat(buyer) < amount_msat + fee
                or into.spendable_msat(LSP_NAME) < amount_msat):
            return None
        return Route((Hop(out.scid, buyer, LSP_NAME, amount_msat + fee),
                      Hop(into.scid, LSP_NAME, seller, amount_msat)))

    def fee_msat(self, seller: str, amount_msat: int) -> int:
        """The hub's forwarding fee for paying `amount_msat` into `seller`'s channel."""
        into = self.graph.channels[self._scid[seller]]
        return int(into.policy[LSP_NAME].fee_msat(amount_msat))

    def pay(self, buyer: str, seller: str, amount_msat: int) -> int | None:
        """Pay `amount_msat`; the fee paid, or None when no route can carry it."""
        self.stats.attempted += 1
        route = self.hub_route(buyer, seller, amount_msat)
        if route is None:
            self.stats.no_route += 1
            return None
        try:
            self.graph.lock(route)
        except InsufficientBalanceError:
            self.stats.no_route += 1
            return None
        self.graph.settle(route)
        self.stats.succeeded += 1
        self.stats.fees_msat += route.fee_msat
        return route.fee_msat

    def renege(self) -> None:
        self.stats.attempted += 1
        self.stats.reneged += 1

    def utilization(self) -> dict[str, float]:
        """How far each home's channel balance moved from its start, as a share of the
        channel's capacity (0 = untouched, 0.5 = one side emptied from half/half)."""
        moved = np.array([abs(self.graph.channels[s].balance_msat[n] - self._start[n])
                          / self.graph.channels[s].capacity_msat
                          for n, s in self._scid.items()])
        return {"mean": float(moved.mean()), "p95": float(np.percentile(moved, 95)),
                "max": float(moved.max())}
