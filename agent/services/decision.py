"""Once per interval: forecast → policy → battery set-point and the interval's offer.

At the start of interval k the step applies the set-point decided for k, then decides
for k+1: it forecasts net load, reads the mean-field price for k+1 (or, when the
coordinator is silent past the signal's horizon, the grid tariff), asks the policy for
a battery power and a price position (observation layout v2, agent/domain/policy_obs.py),
clamps the power to what the battery can safely do, and hands the expected surplus or
deficit to the negotiation service, opening at the position corrected online from past
fills (agent/domain/adaptation.py). Stale device data means no offer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import structlog

from agent.adapters.journal import Journal, Role
from agent.clock import Clock
from agent.domain import decision as rules
from agent.domain import policy_obs
from agent.domain.adaptation import PricePositionAdapter
from agent.domain.market import IntervalClock
from agent.ports import (
    BatteryControl,
    FloatArray,
    Forecast,
    Forecaster,
    Policy,
)
from agent.services.negotiation import Negotiation, Order
from agent.services.reports import StateReports
from agent.services.state import AgentState
from agent.settings import AgentSettings
from agent.tariff import make_tariff
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable

log = structlog.get_logger("decision")

MIN_TRADE_WH = rules.MIN_TRADE_WH


@dataclass(frozen=True, slots=True)
class PricePath:
    prices: FloatArray  # msat/kWh for steps k+1, k+2, ...
    source: str         # "signal" or "tariff"
    seq: int | None
    meanfield_kw: FloatArray  # the signal's equilibrium net load per home (0 on the tariff)


@dataclass(frozen=True, slots=True)
class Models:
    forecaster: Forecaster
    policy: Policy


@dataclass(frozen=True, slots=True)
class DecisionOutputs:
    orders: Negotiation     # the interval's order to sell or buy
    reports: StateReports   # the state report for the coordinator


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
        self._negotiation = outputs.orders
        self._reports = outputs.reports
        self._planned: dict[int, float] = {}
        self._battery_writable = True
        self._on_tariff = False
        # The policy's price position, corrected online from the realised fills and prices
        # (agent/domain/adaptation.py); `_offers` remembers each interval's opening offer.
        self._adapter = PricePositionAdapter()
        self._offers: dict[int, tuple[int, int, int, int]] = {}  # side, Wh, start, reservation

    def update(self, settings: AgentSettings) -> None:
        """New run-time settings (SIGHUP, agent/reload.py): used from the next decision."""
        self._s = settings
        self._tariff = make_tariff(settings.market)

    async def run(self) -> None:
        while True:
            now = self._clock.now_s()
            k = self._intervals.index(now)
            # Act just after each boundary (1% in), so the metering has a fresh sample.
            await self._clock.sleep_until(self._intervals.start_s(k + 1)
                                          + 0.01 * self._intervals.length_s)
            await self.step(k + 1)
            self._state.heartbeats["decision"] = time.monotonic()

    async def step(self, k: int) -> None:
        await self._apply(k)
        self._learn(k)
        now = self._clock.now_s()
        max_age = self._s.device.max_age_s
        soc = self._state.fresh("battery_soc_pct", now, max_age)
        if soc is None or self._state.fresh("grid_power_w", now, max_age) is None:
            self._state.counters["decision_skipped_stale"] += 1
            log.warning("decision_skipped", interval=k + 1, reason="no fresh device reading",
                        max_age_s=max_age)
            return
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
        setpoint_w, price_position = self._decide_battery(soc, fc, path, k + 1)
        self._planned[k + 1] = setpoint_w
        await self._offer(k + 1, fc, setpoint_w, path, price_position)
        await self._reports.publish(k + 1, soc, fc)

    async def _apply(self, k: int) -> None:
        setpoint = self._planned.pop(k, None)
        if setpoint is None or not self._battery_writable:
            return
        try:
            applied = await self._battery.set_battery_power(setpoint)
        except DeviceUnavailable as exc:
            self._state.counters["setpoint_failed"] += 1
            log.warning("setpoint_failed", interval=k, setpoint_w=setpoint, error=str(exc))
            return
        except DeviceConfigError as exc:
            # Permanent (read-only profile, a device that refuses the control): stop asking,
            # keep reading and trading on what the battery does by itself.
            self._battery_writable = False
            self._state.counters["setpoint_refused"] += 1
            log.error("battery_not_controllable", interval=k, error=str(exc))  # noqa: TRY400
            return
        self._journal.record_applied(k, applied)

    def _price_path(self, k: int, horizon: int) -> PricePath:
        sig = self._state.signal
        if sig is not None and sig.interval <= k < sig.interval + len(sig.price_msat_per_kwh):
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
                        covered_until=None if sig is None
                        else sig.interval + len(sig.price_msat_per_kwh) - 1)
        self._state.counters["decisions_on_tariff"] += 1
        steps = [self._tariff.retail_at(self._intervals.start_s(k + i)) for i in range(horizon)]
        return PricePath(np.asarray(steps, dtype=np.float32), "tariff", None,
                         np.zeros(1, dtype=np.float32))

    def _decide_battery(self, soc_pct: float, fc: Forecast, path: PricePath,
                        k: int) -> tuple[float, float]:
        """(clamped set-point W, the policy's price position) for interval `k`."""
        b, m = self._s.battery, self._s.models
        local = datetime.fromtimestamp(self._intervals.start_s(k), UTC).astimezone(
            ZoneInfo(m.timezone))
        obs = policy_obs.observation(
            soc_pct, b.capacity_wh, b.max_charge_w, m.risk_aversion_per_eur,
            local.hour + local.minute / 60.0, fc.mean_kw, fc.std_kw, path.prices,
            self._tariff.feed_in_msat_per_kwh, self._tariff.retail_at(self._intervals.start_s(k)),
            path.meanfield_kw, on_signal=path.source == "signal")
        decision = self._policy.decide(obs)
        # Safety limits live here, outside the model: power and the SoC window.
        return float(rules.clamp_setpoint(decision.battery_power_w, soc_pct, b.capacity_wh,
                                          b.min_soc_pct, b.max_soc_pct, b.max_charge_w,
                                          b.max_discharge_w, self._intervals.length_s / 3600.0)
                     ), decision.price_position

    def _learn(self, k: int) -> None:
        """Interval `k`'s gate has closed: feed its fill and prices to the adapter."""
        offer = self._offers.pop(k, None)
        for old in [i for i in self._offers if i < k]:
            del self._offers[old]
        if offer is None:
            return
        side, energy_wh, start, reservation = offer
        role: Role = "seller" if side == rules.SELL else "buyer"
        done = [t.terms for t in self._journal.trades(role=role) if t.terms.interval == k]
        agreed_wh = sum(t.energy_wh for t in done)
        price = (sum(t.energy_wh * t.price_msat_per_kwh for t in done) / agreed_wh
                 if agreed_wh > 0 else None)
        self._adapter.observe(side, energy_wh, agreed_wh, start, price, reservation)
        log.debug("price_position_adapted", interval=k, side=role, offered_wh=energy_wh,
                  agreed_wh=agreed_wh, offset=round(self._adapter.offset(side), 4))

    async def _offer(self, k: int, fc: Forecast, setpoint_w: float, path: PricePath,
                     price_position: float) -> None:
        dt_h = self._intervals.length_s / 3600.0
        expected_wh = (float(fc.mean_kw[0]) * 1000.0 + setpoint_w) * dt_h
        margin_wh = 0.5 * float(fc.std_kw[0]) * 1000.0 * dt_h
        feed_in = self._tariff.feed_in_msat_per_kwh
        retail = self._tariff.retail_at(self._intervals.start_s(k))
        order = rules.orders(expected_wh, margin_wh, int(path.prices[0]), feed_in, retail)
        fair, energy = int(order.fair[0]), int(order.energy_wh[0])
        side = {rules.SELL: "sell", rules.BUY: "buy"}.get(int(order.side[0]), "none")
        # The opening price sits at the (adapted) price_position in [feed-in, retail], on the
        # home's side of its reservation price; concessions go towards the reservation.
        start = int(policy_obs.start_price(order.side[0], self._adapter.position(
            int(order.side[0]), price_position), feed_in, retail))
        self._journal.record_decision(
            k, self._clock.now_s(), forecast_kw=float(fc.mean_kw[0]),
            forecast_std_kw=float(fc.std_kw[0]), setpoint_w=setpoint_w, side=side,
            energy_wh=energy if side != "none" else 0, price_msat_per_kwh=fair,
            signal_seq=path.seq)
        log.debug("decided", interval=k, side=side, energy_wh=energy, setpoint_w=setpoint_w,
                  price=fair, price_source=path.source)
        if side == "none":
            return
        # Open at the policy's price, concede towards the grid alternative.
        self._offers[k] = (int(order.side[0]), energy, start, int(order.reservation[0]))
        await self._negotiation.open(Order(k, "sell" if side == "sell" else "buy", energy,
                                           start=start,
                                           reservation=int(order.reservation[0])))
