"""The home's own optimiser (`[battery] control = "mpc"`): the simulator's `--control mpc`.

Every hour the home plans its battery alone, as a price taker, over its forecast's horizon
(`meanfield.home.plan_receding`, the same call the simulator makes): its energy at the
coordinator's community price (the signal's prices, inside [feed-in, retail]), its own peak
import of each day at the capacity rate (`[market] capacity_eur_per_kw_year`) × the
signal's `capacity_share` (what one kW more of its own peak adds to its share of the
community's coincident charge), the energy left at the end at √η × the horizon's mean
retail (as the coordinator's plan values it), and battery wear. The peak rows are planned
at mean + `peak_z` × spread: a chance constraint on each hour's import. Between re-plans
the home runs the plan's hour; the daemon's tracking, the rationality guard and the safety
clamp apply as they do to the coordinator's plan (agent/services/decision.py).

The peak so far today comes from the journal's meter counters (each closed interval's
import less export; a missing interval counts nothing). The LP is HiGHS (`highspy`, the
`mpc` extra; the config check refuses "mpc" without it). A failed solve is
counted (`home_plan_failed`) and logged, and the decision falls back to the
coordinator's plan for that interval.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import structlog

from agent.adapters.journal import Journal
from agent.domain.market import IntervalClock
from agent.domain.units import MSAT_PER_BTC, Tariff
from agent.ports import Forecast
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.wire import Signal

if TYPE_CHECKING:
    from meanfield.home import HomePlan

log = structlog.get_logger("home_plan")
DAY_S = 86_400
Floats = npt.NDArray[np.float64]


class HomePlanner:
    """Re-plans every `Receding.every` intervals; `setpoint_w` is the plan's hour for k."""

    def __init__(self, settings: AgentSettings, state: AgentState, journal: Journal,
                 intervals: IntervalClock, tariff: Tariff) -> None:
        from meanfield.home import receding_for  # imports HiGHS: only with control "mpc"

        self._s = settings
        self._state = state
        self._journal = journal
        self._intervals = intervals
        self.tariff = tariff                # run-time setting (SIGHUP)
        self._r = receding_for(intervals.length_s)
        self._plan: HomePlan | None = None
        self._planned_at = 0

    def setpoint_w(self, k: int, soc_pct: float, fc: Forecast, sig: Signal) -> float | None:
        """Interval k's set-point (W, + charge), or None when the plan cannot be made."""
        stale = (self._plan is None or k < self._planned_at
                 or k - self._planned_at >= self._r.every)
        if stale:
            try:
                self._plan = self._solve(k, soc_pct, fc, sig)
            except Exception as exc:   # noqa: BLE001 - any solver failure: fall back, counted
                self._plan = None
                self._state.counters["home_plan_failed"] += 1
                log.warning("home_plan_failed", interval=k, error=str(exc) or type(exc).__name__)
                return None
            self._planned_at = k
            self._state.counters["home_plans"] += 1
            log.debug("home_planned", interval=k, capacity_share=sig.capacity_share,
                      first_kw=round(float(self._plan.power_kw[0, 0]), 3),
                      peak_kw=round(float(self._plan.peak_kw[0].max()), 3),
                      solve_s=round(self._plan.solve_s, 4))
        assert self._plan is not None
        j = (k - self._planned_at) // self._r.block
        if j >= self._plan.power_kw.shape[1]:
            return None
        return float(self._plan.power_kw[0, j]) * 1000.0

    def peak_today_kw(self, k: int) -> float:
        """The home's own peak import so far today (kW), from the meter counters."""
        per_day = DAY_S // self._intervals.length_s
        dt_h = self._intervals.length_s / 3600.0
        peak = 0.0
        for j in range(k - k % per_day, k):
            imported, exported = self._journal.imported_wh(j), self._journal.exported_wh(j)
            if imported is not None and exported is not None:
                peak = max(peak, (imported - exported) / 1000.0 / dt_h)
        return peak

    def _solve(self, k: int, soc_pct: float, fc: Forecast, sig: Signal) -> HomePlan:
        from meanfield.home import HomeBatteries, HomeInputs, plan_receding

        s, b, t = self._s, self._s.battery, self.tariff
        eur = s.market.eur_per_btc / MSAT_PER_BTC
        mean = np.asarray(fc.mean_kw, dtype=np.float64)[None, :]
        std = np.asarray(fc.std_kw, dtype=np.float64)[None, :]
        steps = mean.shape[1]
        retail = np.array([t.retail_at(self._intervals.start_s(k + i)) for i in range(steps)],
                          dtype=np.float64)
        path = np.asarray(sig.price_msat_per_kwh[max(0, k - sig.interval):], dtype=np.float64)
        if path.size == 0:
            path = retail
        path = np.concatenate([path, np.full(max(0, steps - path.size), path[-1])])[:steps]
        feed = float(t.feed_in_msat_per_kwh)
        day = np.array([(k + i) * self._intervals.length_s // DAY_S for i in range(steps)],
                       dtype=np.int64)
        rate = s.market.capacity_eur_per_kw_year / 365.0 * sig.capacity_share
        inputs = HomeInputs(
            mean_kw=mean, std_kw=std,
            price=np.clip(path, feed, retail) * eur, period=day,
            interval_h=self._intervals.length_s / 3600.0, capacity_per_kw=rate,
            peak_so_far_kw=np.array([self.peak_today_kw(k)]),
            terminal_per_kwh=math.sqrt(b.efficiency) * float(retail.mean()) * eur,
            wear_per_kwh=b.wear_eur_per_kwh)
        cap = b.capacity_wh / 1000.0
        power = min(b.max_charge_w, b.max_discharge_w) / 1000.0
        batteries = HomeBatteries(
            np.array([cap]), np.array([power]),
            np.array([cap * soc_pct / 100.0]),   # plan_homes clips it to the window
            np.array([cap * b.min_soc_pct / 100.0]), np.array([cap * b.max_soc_pct / 100.0]),
            b.efficiency)
        return plan_receding(inputs, batteries, self._r, self._r.peak_z)
