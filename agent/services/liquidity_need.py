"""The channel capacity the forecast horizon needs (for the liquidity service).

From the next interval on: the home's net-load forecast (mean and spread), priced by the
coordinator's signal where it covers the interval and by the retail tariff beyond it (the
dearest case), turned into outbound and inbound needs by
`agent.domain.liquidity.need_from_forecast`.
"""

from __future__ import annotations

from collections.abc import Sequence

from agent.clock import Clock
from agent.domain.liquidity import Need, need_from_forecast
from agent.domain.market import IntervalClock
from agent.ports import Forecaster
from agent.services.state import AgentState


def horizon_prices(signal_interval: int | None, signal_prices: Sequence[int], k: int,
                   steps: int, fallback_msat_per_kwh: int) -> list[int]:
    """The price of each of `steps` intervals from k: the coordinator's path where it
    covers them, `fallback_msat_per_kwh` (the retail tariff: the dearest case) beyond."""
    out = []
    for i in range(k, k + steps):
        j = -1 if signal_interval is None else i - signal_interval
        out.append(signal_prices[j] if 0 <= j < len(signal_prices) else fallback_msat_per_kwh)
    return out


class HorizonNeed:
    """Called by the liquidity service: the need now, or None without a forecast."""

    def __init__(self, forecaster: Forecaster, state: AgentState, clock: Clock,
                 intervals: IntervalClock, retail_msat_per_kwh: int, z: float) -> None:
        self._forecaster = forecaster
        self._state = state
        self._clock = clock
        self._intervals = intervals
        self._retail = retail_msat_per_kwh
        self._z = z

    def __call__(self) -> Need | None:
        k = self._intervals.index(self._clock.now_s()) + 1
        try:
            fc = self._forecaster.forecast(self._state.history(), self._intervals.start_s(k))
        except ValueError:
            return None
        sig = self._state.signal
        prices = horizon_prices(None if sig is None else sig.interval,
                                [] if sig is None else sig.price_msat_per_kwh, k,
                                len(fc.mean_kw), self._retail)
        return need_from_forecast([float(x) for x in fc.mean_kw],
                                  [float(x) for x in fc.std_kw], self._intervals.length_s,
                                  prices, self._z)
