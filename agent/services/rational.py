"""The daemon's side of the rationality guard (`agent.domain.rational`, the simulator's
rule): the home's alone shadow and its margin, settled on what the journal holds.

Every decision step settles each interval whose trading window has closed: its meter
counters (import, export), the battery's SoC at its start and at the next one's, its mean
pre-battery net load, and its paid trades (a sale earns its amount over feed-in, a purchase
saves retail less its amount and the routing fee allowance). A payment that arrives after
its interval was settled is not counted: the margin errs low, never high. The state is
journaled after each settlement, so a restart resumes it; an interval whose readings are
missing (the agent was down) is skipped and the shadow takes the home's own SoC again
(`guard_resynced`). Every set-point, the plan's and each tracking correction, passes
`bound_w`; the guard's changes are counted (`plan_setpoints_bounded`). Because an
interval is settled only after its trading window, the worst-case cost each bounded
interval commits is held back from the budget until it is settled, so the coming
interval and the ones still unsettled never spend the same margin twice (journaled, so a
restart keeps what the unsettled intervals committed).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import structlog

from agent.adapters.journal import GuardState, Journal, Metered
from agent.domain import expost, rational
from agent.domain.market import IntervalClock
from agent.domain.units import Tariff, eur_to_msat
from agent.services.state import AgentState
from agent.settings import AgentSettings

log = structlog.get_logger("rational")
DAY_S = 86400


class RationalGuard:
    def __init__(self, settings: AgentSettings, journal: Journal, state: AgentState,
                 intervals: IntervalClock, tariff: Tariff, fee_msat: int) -> None:
        self._s = settings
        self._journal = journal
        self._state = state
        self._intervals = intervals
        self.tariff = tariff     # run-time setting (SIGHUP)
        self._fee_msat = fee_msat
        self._guard: rational.Guard | None = None
        self._settled: int | None = None
        self._day = -1
        # Worst-case cost each bounded, not yet settled interval has committed: the next
        # set-point may only spend what is left, so two intervals never spend one margin.
        self._committed: dict[int, float] = {}
        saved = journal.load_guard()
        if saved is not None:
            self._restore(saved)
            self._committed = {j: v for j, v in journal.guard_committed().items()
                               if j > saved.settled}

    @property
    def margin_msat(self) -> float | None:
        return None if self._guard is None else float(self._guard.margin_msat[0])

    def _new(self, soc_wh: float) -> rational.Guard:
        b = self._s.battery
        return rational.Guard([b.capacity_wh], [b.max_charge_w], [soc_wh], b.min_soc_pct,
                              b.max_soc_pct, b.efficiency)

    def _restore(self, g: GuardState) -> None:
        guard = self._new(g.shadow_wh)
        guard.margin_msat = np.array([g.margin_msat])
        guard.own_peak_kw = np.array([g.own_peak_kw])
        guard.shadow_peak_kw = np.array([g.shadow_peak_kw])
        self._guard, self._settled, self._day = guard, g.settled, g.day

    def _day_of(self, k: int) -> int:
        return int(self._intervals.start_s(k) // DAY_S)

    def prices(self, k: int) -> rational.Tariff:
        """Interval k's prices for the guard (msat/kWh; the capacity rate per kW a day)."""
        day0 = self._day_of(k) * DAY_S
        n = DAY_S // self._intervals.length_s
        day = [self.tariff.retail_at(day0 + i * self._intervals.length_s) for i in range(n)]
        m = self._s.market
        return rational.Tariff(
            float(self.tariff.retail_at(self._intervals.start_s(k))), float(max(day)),
            float(self.tariff.feed_in_msat_per_kwh),
            math.sqrt(self._s.battery.efficiency) * float(np.mean(day)),
            float(eur_to_msat(m.capacity_eur_per_kw_year / 365.0, m.eur_per_btc)))

    def bound_w(self, wanted_w: float, net_w: float, soc_pct: float, k: int) -> float:
        """The set-point for interval k, bounded by the margin over the alone shadow."""
        if self._guard is None or self._s.battery.capacity_wh <= 0:
            return wanted_w
        soc_wh = soc_pct / 100.0 * self._s.battery.capacity_wh
        before = self._guard.bounded
        reserved = sum(v for j, v in self._committed.items() if j != k)
        out = float(self._guard.bound_w(np.array([wanted_w]), np.array([net_w]),
                                        np.array([soc_wh]), self.prices(k),
                                        self._intervals.length_s / 3600.0,
                                        np.array([reserved]))[0])
        cost = float(self._guard.last_cost_msat[0])
        if cost > self._committed.get(k, 0.0):
            self._committed[k] = cost
            self._journal.commit_guard(k, cost)
        if self._guard.bounded > before:
            self._state.counters["plan_setpoints_bounded"] += 1
        return out

    def settle_due(self, now_s: float, soc_pct: float) -> None:
        """Settle every interval whose trading window closed by `now_s`."""
        current = self._intervals.index(now_s)
        cap = self._s.battery.capacity_wh
        if self._guard is None:
            self._guard = self._new(soc_pct / 100.0 * cap)
            self._settled, self._day = current - 1, self._day_of(current)
            self._save()
            return
        assert self._settled is not None
        changed = False
        while expost.window_deadline_s(self._intervals, self._settled + 1) <= now_s:
            j = self._settled + 1
            m = self._journal.metered(j)
            if m is None:
                self._state.counters["guard_resynced"] += 1
                self._guard.shadow_wh = np.array([soc_pct / 100.0 * cap])
            else:
                self._settle(j, m)
            self._settled, changed = j, True
            self._committed = {i: v for i, v in self._committed.items() if i > j}
        if changed:
            self._save()

    def _settle(self, j: int, m: Metered) -> None:
        g = self._guard
        assert g is not None
        t = self.prices(j)
        if self._day_of(j) != self._day:
            g.close_period(t)
            self._day = self._day_of(j)
        dt_h = self._intervals.length_s / 3600.0
        grid_wh = m.imported_wh - m.exported_wh
        cost = (t.retail * m.imported_wh - t.feed_in * m.exported_wh) / 1000.0
        for role, energy_wh, _price, amount in self._journal.paid_trades(j):
            if role == "seller":
                cost -= amount - t.feed_in * energy_wh / 1000.0
            else:
                cost -= t.retail * energy_wh / 1000.0 - amount - self._fee_msat
        cap = self._s.battery.capacity_wh
        shadow_before = g.shadow_wh
        shadow_grid = g.shadow_step(np.array([m.net_w]), dt_h)
        g.settle(np.array([cost]), shadow_grid, np.array([grid_wh]),
                 np.array([m.soc_start_pct / 100.0 * cap]),
                 np.array([m.soc_end_pct / 100.0 * cap]), shadow_before, t, dt_h)
        log.debug("guard_settled", interval=j, margin_msat=round(float(g.margin_msat[0])),
                  shadow_wh=round(float(g.shadow_wh[0]), 1),
                  at=datetime.fromtimestamp(self._intervals.start_s(j), UTC).isoformat())

    def _save(self) -> None:
        g = self._guard
        assert g is not None
        assert self._settled is not None
        self._journal.save_guard(GuardState(
            self._settled, self._day, float(g.margin_msat[0]), float(g.shadow_wh[0]),
            float(g.own_peak_kw[0]), float(g.shadow_peak_kw[0])))
