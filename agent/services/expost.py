"""Trading on the meters: after each interval, the home offers its metered export (or bids
for its metered import) of THAT interval at the signal's price for it.

The decision step tells this service the price of each interval as it starts (the
coordinator's community price, or the band's midpoint without a signal). Once the meter's
counters close the interval (the first reading of the next one is journaled), the home's
position (`agent.domain.expost.position`) goes to negotiation as an order whose opening
and reservation price are that one price, open until the window's deadline in the next
interval: the seller's ask is the buyer's reservation, so one offer meets one accept. A
seller never offers more than its meter exported, a buyer never takes more than it
imported. An interval whose meter never closes before its window ends is not traded
(`expost_unmetered`).
"""

from __future__ import annotations

import structlog

from agent.adapters.journal import Journal
from agent.clock import Clock
from agent.domain import expost
from agent.domain.market import IntervalClock
from agent.domain.units import Tariff
from agent.services.books import Order
from agent.services.negotiation import Negotiation
from agent.services.state import AgentState

log = structlog.get_logger("negotiation")


class MeteredTrading:
    def __init__(self, negotiation: Negotiation, journal: Journal, state: AgentState,
                 clock: Clock, intervals: IntervalClock, tariff: Tariff,
                 fee_msat: int) -> None:
        self._negotiation = negotiation
        self._journal = journal
        self._state = state
        self._clock = clock
        self._intervals = intervals
        self.tariff = tariff  # run-time setting (SIGHUP)
        self.fee_msat = fee_msat  # the routing fee the amount rule allows for
        self._prices: dict[int, tuple[int, str]] = {}  # interval -> (price, source)

    def priced(self, k: int, price_msat_per_kwh: int | None) -> None:
        """Interval `k` starts; the signal's price for it (None: no signal covers it)."""
        retail = self.tariff.retail_at(self._intervals.start_s(k))
        feed_in = self.tariff.feed_in_msat_per_kwh
        if price_msat_per_kwh is None:
            self._prices[k] = (expost.midpoint(feed_in, retail), "midpoint")
        else:
            self._prices[k] = (min(max(price_msat_per_kwh, feed_in), retail), "signal")

    async def tick(self) -> None:
        """Open an order for every priced interval whose meter has closed."""
        now = self._clock.now_s()
        current = self._intervals.index(now)
        for k in sorted(self._prices):
            if k >= current:
                continue
            deadline = expost.window_deadline_s(self._intervals, k)
            if now >= deadline:
                del self._prices[k]
                self._state.counters["expost_unmetered"] += 1
                log.warning("expost_unmetered", interval=k, reason="meter not closed in time")
                continue
            imported, exported = self._journal.imported_wh(k), self._journal.exported_wh(k)
            if imported is None or exported is None:
                continue
            price, source = self._prices.pop(k)
            pos = expost.position(imported, exported)
            log.debug("metered", interval=k, imported_wh=round(imported, 1),
                      exported_wh=round(exported, 1), side=pos.side, energy_wh=pos.energy_wh,
                      price=price, price_source=source)
            if pos.side == "none":
                continue
            retail = self.tariff.retail_at(self._intervals.start_s(k))
            least = expost.min_trade_wh(retail, self.tariff.feed_in_msat_per_kwh, self.fee_msat)
            if pos.energy_wh < least:
                self._state.counters["expost_too_small"] += 1
                continue
            self._state.counters[f"expost_{pos.side}_orders"] += 1
            await self._negotiation.open(Order(k, pos.side, pos.energy_wh, start=price,
                                               reservation=price, deadline_s=deadline,
                                               min_wh=least))
