"""Once per interval: forecast → the battery's set-point; within it, follow; after it, trade.

At the start of interval k the step applies the set-point decided for k and tells the
metered trading (agent/services/expost.py) k's price; then it decides for k+1. When the
coordinator's signal covers k+1 and carries the community plan, the battery runs its
planning unit's plan (`agent.domain.follow.setpoint_w`), and during k+1 it absorbs the
home's own forecast error around it (`follow.tracking_w`, re-applied every tenth of the
interval from the latest pre-battery net load), so the home's exchange with the grid stays
what the plan expected. With `[battery] control = "mpc"` the home's own hourly LP
(agent/services/home_plan.py) decides instead of the unit's plan, on the signal's prices,
and is followed the same way; when it cannot plan, the unit's plan decides. A device that
holds a grid exchange target itself (its profile has a writable `grid_setpoint_w`) is
given that target instead, once an interval, and tracks at its own pace: the daemon's
tenth-of-an-interval corrections follow a reading one poll old, and every mismatch is an
import at retail and an export at feed-in. Without a plan (no signal, or a signal without
one: solver "mftg" or "v0") the policy decides on the signal's or the tariff's price path
as before (observation layout v2, agent/domain/policy_obs.py); said once at WARNING
(`plan_missing`), counted every time (`decisions_without_plan`). The daemon's safety clamp
limits every set-point. Stale device data means no decision.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import structlog

from agent.adapters.journal import Journal
from agent.clock import Clock
from agent.domain import decision as rules
from agent.domain import follow, policy_obs
from agent.domain.market import IntervalClock
from agent.ports import (
    BatteryControl,
    FloatArray,
    Forecast,
    Forecaster,
    Policy,
)
from agent.services.expost import MeteredTrading
from agent.services.home_plan import HomePlanner
from agent.services.rational import RationalGuard
from agent.services.reports import StateReports
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.tariff import make_tariff
from agent.wire import Signal
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable

log = structlog.get_logger("decision")

MIN_TRADE_WH = rules.MIN_TRADE_WH
TRACK_TICKS = 10      # set-point updates per interval while following the plan
TRACK_STEP_W = 20.0   # smaller corrections are not written to the device


@dataclass(frozen=True, slots=True)
class PricePath:
    prices: FloatArray  # msat/kWh for steps k+1, k+2, ...
    source: str         # "signal" or "tariff"
    seq: int | None
    meanfield_kw: FloatArray  # the signal's equilibrium net load per home (0 on the tariff)


@dataclass(frozen=True, slots=True)
class Planned:
    setpoint_w: float    # the plan's (or the policy's) set-point for the interval
    forecast_kw: float   # the net load (before the battery) it was planned against
    follows: bool        # a plan (the unit's or the home's own): absorb the forecast error
    own: bool = False    # the home's own LP ([battery] control = "mpc") decided


@dataclass(frozen=True, slots=True)
class Models:
    forecaster: Forecaster
    policy: Policy


@dataclass(frozen=True, slots=True)
class DecisionOutputs:
    trading: MeteredTrading  # each interval's price, for trading on its meter readings
    reports: StateReports    # the state report for the coordinator
    guard: RationalGuard | None = None  # no worse off than alone ([market] rational_guard)


class DecisionStep:
    def __init__(self, settings: AgentSettings, state: AgentState, clock: Clock,
                 models: Models, battery: BatteryControl, journal: Journal,
                 outputs: DecisionOutputs) -> None:
        self._s = settings
        self._state = state
        self._clock = clock
        self._intervals = IntervalClock(settings.market.interval_s, settings.market.gate_margin)
        self._tariff = make_tariff(settings.market)
        self._forecaster = models.forecaster
        self._policy = models.policy
        self._battery = battery
        self._journal = journal
        self._trading = outputs.trading
        self._reports = outputs.reports
        self._guard = outputs.guard
        self._planned: dict[int, Planned] = {}
        self._running: tuple[int, Planned] | None = None  # the interval being followed
        self._written_w: float | None = None
        self._battery_writable = True
        self._grid_target: tuple[int, float] | None = None  # (interval, W) the device holds
        self._on_tariff = False
        self._without_plan = False
        self._home_plan = self._planner(settings)

    def update(self, settings: AgentSettings) -> None:
        """New run-time settings (SIGHUP, agent/reload.py): used from the next decision."""
        self._s = settings
        self._tariff = make_tariff(settings.market)
        if self._home_plan is not None:   # [battery] control itself needs a restart
            self._home_plan.tariff = self._tariff
        self._trading.tariff = self._tariff
        if self._guard is not None:
            self._guard.tariff = self._tariff

    def _planner(self, settings: AgentSettings) -> HomePlanner | None:
        if settings.battery.control != "mpc":
            return None
        return HomePlanner(settings, self._state, self._journal, self._intervals, self._tariff)

    async def run(self) -> None:
        while True:
            now = self._clock.now_s()
            k = self._intervals.index(now)
            # Act just after each boundary (1% in), so the metering has a fresh sample;
            # until then follow the plan and trade what the meter has closed.
            boundary = self._intervals.start_s(k + 1) + 0.01 * self._intervals.length_s
            tick = self._intervals.length_s / TRACK_TICKS
            while (t := self._clock.now_s()) < boundary - 0.5 * tick:
                await self._clock.sleep_until(min(boundary, t + tick))
                await self._track()
                await self._trading.tick()
                self._state.heartbeats["decision"] = time.monotonic()
            await self._clock.sleep_until(boundary)
            await self.step(k + 1)
            self._state.heartbeats["decision"] = time.monotonic()

    async def step(self, k: int) -> None:
        self._trading.priced(k, self._signal_price(k))
        await self._apply(k)
        now = self._clock.now_s()
        max_age = self._s.device.max_age_s
        soc = self._state.fresh("battery_soc_pct", now, max_age)
        if soc is None or self._state.fresh("grid_power_w", now, max_age) is None:
            self._state.counters["decision_skipped_stale"] += 1
            log.warning("decision_skipped", interval=k + 1, reason="no fresh device reading",
                        max_age_s=max_age)
            return
        if self._guard is not None:
            self._guard.settle_due(now, soc)
        done = self._state.last_completed
        if done is not None:  # lets the forecaster recalibrate its spread on this home
            self._forecaster.observe(self._intervals.start_s(done[0]), done[1])
        try:
            fc = self._forecaster.forecast(self._state.history(),
                                           self._intervals.start_s(k + 1))
        except ValueError as exc:
            self._state.counters["forecast_failed"] += 1
            log.warning("forecast_failed", interval=k + 1, error=str(exc))
            return
        path = self._price_path(k + 1, len(fc.mean_kw))
        planned = self._decide_battery(soc, fc, path, k + 1)
        self._planned[k + 1] = planned
        self._journal.record_decision(
            k + 1, self._clock.now_s(), forecast_kw=float(fc.mean_kw[0]),
            forecast_std_kw=float(fc.std_kw[0]), setpoint_w=planned.setpoint_w,
            side="none", energy_wh=0, price_msat_per_kwh=int(path.prices[0]),
            signal_seq=path.seq)
        log.debug("decided", interval=k + 1, setpoint_w=round(planned.setpoint_w, 1),
                  follows_plan=planned.follows, own_plan=planned.own,
                  price=int(path.prices[0]),
                  price_source=path.source)
        await self._reports.publish(k + 1, soc, fc)

    def _covering(self, k: int) -> Signal | None:
        sig = self._state.signal
        if sig is not None and sig.interval <= k < sig.interval + len(sig.price_msat_per_kwh):
            return sig
        return None

    def _signal_price(self, k: int) -> int | None:
        sig = self._covering(k)
        return None if sig is None else sig.price_msat_per_kwh[k - sig.interval]

    async def _apply(self, k: int) -> None:
        planned = self._planned.pop(k, None)
        for old in [i for i in self._planned if i < k]:
            del self._planned[old]
        self._running = None if planned is None else (k, planned)
        if planned is None:
            return
        soc = self._state.fresh("battery_soc_pct", self._clock.now_s(), self._s.device.max_age_s)
        self._grid_target = None
        if planned.follows and self._battery_writable and self._battery.controls_grid:
            await self._hold_grid(k, planned, soc)
            return
        setpoint = planned.setpoint_w
        if self._guard is not None and soc is not None:
            net_w = self._state.last_net_w
            setpoint = self._clamp(self._guard.bound_w(
                setpoint, 1000.0 * planned.forecast_kw if net_w is None else net_w, soc, k),
                soc)
        applied = await self._write(setpoint, k)
        if applied is not None:
            self._journal.record_applied(k, applied)

    async def _hold_grid(self, k: int, planned: Planned, soc: float | None) -> None:
        """Following the plan on a device with a grid set-point: it holds the exchange the
        plan expects (the planned battery power on the forecast net load), absorbing the
        forecast error itself at its own pace. The target's distance from 0 is the battery's
        distance from self-consumption: the guard bounds that, the battery's power limits
        clamp it, and a spent margin leaves the target at 0, the inverter's own
        self-consumption."""
        forecast_w = 1000.0 * planned.forecast_kw
        away_w = wanted_w = planned.setpoint_w + forecast_w
        if self._guard is not None and soc is not None:
            away_w = self._guard.bound_w(away_w - forecast_w, forecast_w, soc, k) + forecast_w
        b = self._s.battery
        target = min(b.max_charge_w, max(-b.max_discharge_w, away_w))
        self._grid_target = (k, target)
        self._state.counters["intervals_on_grid_target"] += 1
        log.debug("grid_target", interval=k, grid_setpoint_w=round(target, 1),
                  planned_w=round(wanted_w, 1))
        accepted = await self._write_grid(target, k)
        if accepted is not None:
            self._journal.record_applied(k, accepted - forecast_w)

    async def _write_grid(self, target_w: float, k: int) -> float | None:
        accepted = await self._device_write(self._battery.set_grid_power, target_w, k,
                                            "grid_setpoint_failed", "grid_setpoint_w")
        if accepted is not None:
            self._written_w = None  # a battery set-point written next is always written
        return accepted

    async def _track(self) -> None:
        """Within the interval: the plan's set-point plus the forecast's error now."""
        if self._running is None:
            return
        k, planned = self._running
        if self._grid_target is not None:  # the device tracks; keep its target refreshed
            if self._grid_target[0] == k == self._intervals.index(self._clock.now_s()):
                await self._write_grid(self._grid_target[1], k)
            return
        net_w = self._state.last_net_w
        soc = self._state.fresh("battery_soc_pct", self._clock.now_s(), self._s.device.max_age_s)
        if (not planned.follows or net_w is None or soc is None
                or self._intervals.index(self._clock.now_s()) != k):
            return
        wanted = planned.setpoint_w + float(follow.tracking_w(planned.forecast_kw,
                                                              net_w / 1000.0, 1.0))
        if self._guard is not None:
            wanted = self._guard.bound_w(wanted, net_w, soc, k)
        target = self._clamp(wanted, soc)
        if self._written_w is None or abs(target - self._written_w) >= TRACK_STEP_W:
            await self._write(target, k)

    async def _write(self, setpoint_w: float, k: int) -> float | None:
        applied = await self._device_write(self._battery.set_battery_power, setpoint_w, k,
                                           "setpoint_failed", "setpoint_w")
        if applied is not None:
            self._written_w = setpoint_w
        return applied

    async def _device_write(self, write: Callable[[float], Awaitable[float]], value_w: float,
                            k: int, failed_event: str, key: str) -> float | None:
        """One write of a battery or grid set-point; a failure is logged and counted."""
        if not self._battery_writable:
            return None
        try:
            return await write(value_w)
        except DeviceUnavailable as exc:
            self._state.counters["setpoint_failed"] += 1
            log.warning(failed_event, interval=k, error=str(exc), **{key: value_w})
            return None
        except DeviceConfigError as exc:
            # Permanent (read-only profile, a device that refuses the control): stop asking,
            # keep reading and trading on what the battery does by itself.
            self._battery_writable = False
            self._state.counters["setpoint_refused"] += 1
            log.error("battery_not_controllable", interval=k, error=str(exc))  # noqa: TRY400
            return None

    def _price_path(self, k: int, horizon: int) -> PricePath:
        sig = self._covering(k)
        if sig is not None:
            if self._on_tariff:
                self._on_tariff = False
                log.info("price_signal_resumed", interval=k, seq=sig.seq)
            prices = np.asarray(sig.price_msat_per_kwh[k - sig.interval:], dtype=np.float32)
            field = np.asarray(sig.net_load_kw[k - sig.interval:], dtype=np.float32)
            return PricePath(prices, "signal", sig.seq,
                             (field / max(1, sig.agents)).astype(np.float32))
        # No signal covers k (the coordinator is down or silent): decide on the local
        # forecast and the grid tariff. Said once at WARNING, counted every time.
        if not self._on_tariff:
            self._on_tariff = True
            log.warning("price_signal_missing", interval=k, fallback="tariff",
                        last_seq=None if sig is None else sig.seq,
                        covered_until=None if self._state.signal is None
                        else self._state.signal.interval
                        + len(self._state.signal.price_msat_per_kwh) - 1)
        self._state.counters["decisions_on_tariff"] += 1
        steps = [self._tariff.retail_at(self._intervals.start_s(k + i)) for i in range(horizon)]
        return PricePath(np.asarray(steps, dtype=np.float32), "tariff", None,
                         np.zeros(1, dtype=np.float32))

    def _clamp(self, wanted_w: float, soc_pct: float) -> float:
        b = self._s.battery
        return float(rules.clamp_setpoint(wanted_w, soc_pct, b.capacity_wh, b.min_soc_pct,
                                          b.max_soc_pct, b.max_charge_w, b.max_discharge_w,
                                          self._intervals.length_s / 3600.0))

    def _decide_battery(self, soc_pct: float, fc: Forecast, path: PricePath,
                        k: int) -> Planned:
        """The set-point for interval `k`: the unit's plan when the signal has one."""
        b = self._s.battery
        sig = self._covering(k)
        forecast_kw = float(fc.mean_kw[0])
        if sig is not None and self._home_plan is not None and b.capacity_wh > 0:
            own = self._home_plan.setpoint_w(k, soc_pct, fc, sig)
            if own is not None:
                return Planned(self._clamp(own, soc_pct), forecast_kw, True, own=True)
        if sig is not None and sig.has_plan:
            if self._without_plan:
                self._without_plan = False
                log.info("plan_resumed", interval=k, seq=sig.seq)
            edges = [0.0, *sig.plan_crate_edges, np.inf]
            wanted = float(follow.setpoint_w(sig.plan_power_per_kwh, edges, k - sig.interval,
                                             b.capacity_wh, b.max_charge_w))
            return Planned(self._clamp(wanted, soc_pct), forecast_kw, b.capacity_wh > 0)
        if not self._without_plan:
            self._without_plan = True
            log.warning("plan_missing", interval=k, fallback="policy",
                        reason="no signal" if sig is None else f"solver {sig.solver}")
        self._state.counters["decisions_without_plan"] += 1
        m = self._s.models
        local = datetime.fromtimestamp(self._intervals.start_s(k), UTC).astimezone(
            ZoneInfo(m.timezone))
        obs = policy_obs.observation(
            soc_pct, b.capacity_wh, b.max_charge_w, m.risk_aversion_per_eur,
            local.hour + local.minute / 60.0, fc.mean_kw, fc.std_kw, path.prices,
            self._tariff.feed_in_msat_per_kwh, self._tariff.retail_at(self._intervals.start_s(k)),
            path.meanfield_kw, on_signal=path.source == "signal")
        decision = self._policy.decide(obs)
        # Safety limits live here, outside the model: power and the SoC window.
        return Planned(self._clamp(decision.battery_power_w, soc_pct), forecast_kw, False)
