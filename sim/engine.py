"""One strategy over the simulated period, interval by interval, for every home at once:
forecast → report → equilibrium → battery → meter → trades on the meters → bills.

At the start of interval k each home forecasts its net load for k, k+1, … with the shipped
ONNX forecaster (k from the forecast issued at k−1, the rest from the one issued at k, as
the forecaster's one-step gap requires) and reports it with its state of charge. The
coordinator solves the community's equilibrium over the next 96 intervals
(`coordinator.equilibrium.solve`: robust aggregation, the tariff with its capacity charge,
prices and each battery unit's plan). Each home runs its unit's plan, scaled to its own
battery, and lets the battery absorb its own forecast's error (`agent.domain.follow`);
the daemon's safety clamp limits it. Interval k runs on the measured data; then the homes
trade what their meters measured at the equilibrium price for k (`sim.expost`), and each
home's bill is the tariff on its residual, plus payments, plus its share of the day's
capacity charge (`sim.tariff`).

Strategies: `peerwatt` as above; `peerwatt_deterministic` with the forecasts' means only;
`naive_trading` without a coordinator (the daemon's policy on the tariff, trades at the
band's midpoint); `no_trading` (each home alone, battery in self-consumption); and
`central_mpc`, one planner with the same forecasts that re-plans every interval with
finer battery units and dispatches every battery directly, settled pro rata.
`Community.physics` runs one interval for all homes (the RL environment of issue 9).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from agent.adapters.onnx import FORECAST_HISTORY, OnnxForecaster, OnnxPolicy
from agent.domain import decision as rules
from agent.domain import follow, policy_obs, rational
from agent.domain.reputation import PeerRecord
from agent.domain.units import MSAT_PER_BTC, Tariff
from agent.ports import Forecast
from coordinator.equilibrium import Equilibrium, EquilibriumConfig, Reports, solve
from coordinator.equilibrium import Tariff as GridTariff
from sim import expost
from sim.homes import EFFICIENCY, MAX_SOC_PCT, MIN_SOC_PCT, Homes
from sim.physics import Batteries, grid_cost_msat, self_consumption_setpoint
from sim.policies import Control, Controller, StepView
from sim.policies import controller as make_controller
from sim.scenario import Attack, Scenario
from sim.settle import Ledger
from sim.tariff import capacity_charges, periods, terminal_per_kwh

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
HORIZON = 96


@dataclass(frozen=True)
class Strategy:
    name: str
    market: bool = True          # homes trade their metered surplus and deficit
    signal: bool = True          # the coordinator's equilibrium (else: the tariff)
    probabilistic: bool = True   # the forecasts' spread reaches the plan
    central: bool = False        # one planner dispatches every battery, settled pro rata
    control: Control = "equilibrium"   # where battery set-points come from (sim.policies)


PEERWATT = Strategy("peerwatt")
DETERMINISTIC = Strategy("peerwatt_deterministic", probabilistic=False)
NAIVE = Strategy("naive_trading", signal=False)
NO_TRADING = Strategy("no_trading", market=False, signal=False)
CENTRAL_MPC = Strategy("central_mpc", central=True)


@dataclass
class RunResult:
    strategy: str
    cost_msat: Floats            # (N,) bill + payments made + fees − received + capacity
    revenue_msat: Floats         # (N,) payments received for energy sold
    load_value_msat: Floats      # (N,) the load at the retail tariff
    terminal_msat: Floats        # (N,) change of stored energy at the terminal value
    import_kw: Floats            # (steps,) community net import (+) after batteries
    capacity_msat: Floats = field(default_factory=lambda: np.zeros(0))   # (N,) its share
    peaks_kw: Floats = field(default_factory=lambda: np.zeros(0))        # per billing day
    grid_kw: Floats = field(default_factory=lambda: np.zeros((0, 0)))    # (N, steps) meters
    price_msat: list[float] = field(default_factory=list)       # community price per step
    trade_price_msat: list[float] = field(default_factory=list)  # volume-weighted, per step
    latency_ms: list[float] = field(default_factory=list)
    simulated_ms: list[float] = field(default_factory=list)
    sessions: int = 0
    agreements: int = 0
    offered_wh: int = 0
    agreed_wh: int = 0
    payments: dict[str, int] = field(default_factory=dict)
    channel_utilization: dict[str, float] = field(default_factory=dict)
    solve_s: list[float] = field(default_factory=list)
    exploitability: list[float] = field(default_factory=list)   # € per kWh of capacity
    guard_bounded: int = 0       # set-points the rationality guard moved (agent.domain.rational)

    @property
    def welfare_msat(self) -> Floats:
        out: Floats = self.load_value_msat - self.cost_msat + self.terminal_msat
        return out


class Community:
    """The homes' physical state; `physics` runs one interval for all of them."""

    def __init__(self, homes: Homes, tariff: Tariff, interval_s: int) -> None:
        self.homes = homes
        self.tariff = tariff
        self.interval_s = interval_s
        self.batteries = Batteries.of(homes)

    def retail(self, step: int) -> int:
        return self.tariff.retail_at(self.homes.first_step_s + step * self.interval_s)

    def physics(self, step: int, setpoint_w: Floats, sold_wh: Floats,
                bought_wh: Floats) -> tuple[Floats, Floats]:
        """Interval `step`: the batteries follow `setpoint_w`; returns (grid Wh per home,
        + import, and each home's grid bill in msat on its residual after the trades)."""
        dt_h = self.interval_s / 3600.0
        power_w = self.batteries.step(setpoint_w, self.interval_s)
        grid_wh: Floats = (self.homes.net_kw[:, step] * 1000.0 + power_w) * dt_h
        residual = grid_wh + sold_wh - bought_wh
        bill = grid_cost_msat(residual, self.retail(step), self.tariff.feed_in_msat_per_kwh)
        return grid_wh, bill


class Simulation:
    def __init__(self, scenario: Scenario, homes: Homes, forecaster: OnnxForecaster,
                 policy: OnnxPolicy, seed: int, cfg: EquilibriumConfig | None = None,
                 signal_every: int = 1, rl_policy: OnnxPolicy | None = None) -> None:
        self.scenario = scenario
        self.rl_policy = rl_policy
        self.homes = homes
        t = scenario.tariff
        self.eur_per_msat = t.eur_per_btc / MSAT_PER_BTC
        self.tariff = Tariff(round(t.retail_eur_per_kwh / self.eur_per_msat),
                             round(t.peak_retail_eur_per_kwh / self.eur_per_msat),
                             round(t.feed_in_eur_per_kwh / self.eur_per_msat), t.peak_hours)
        self.forecaster = forecaster
        self.policy = policy
        self.seed = seed
        c = scenario.coordinator
        self.cfg = cfg or EquilibriumConfig(
            types=c.types, min_type_size=c.min_type_size, trim=c.trim,
            quantile_z=c.quantile_z, wear_per_kwh=c.wear_eur_per_kwh, efficiency=EFFICIENCY,
            min_soc=MIN_SOC_PCT / 100.0, max_soc=MAX_SOC_PCT / 100.0)
        # The central planner: finer units, nothing to trim (it sees the true forecasts).
        self.central_cfg = replace(self.cfg, types=64, min_type_size=5, trim=0.0)
        self.signal_every = signal_every
        total = homes.net_kw.shape[1]
        self.retail_msat = np.array([self.tariff.retail_at(homes.first_step_s + s * 900)
                                     for s in range(total)], dtype=np.float64)
        self.period = periods(homes.first_step_s, total, 900)
        lo, hi = homes.lead_steps, homes.lead_steps + homes.steps
        self.capacity_msat_per_kw = t.capacity_eur_per_kw_year / 365.0 / self.eur_per_msat
        self.terminal_msat = terminal_per_kwh(float(self.retail_msat[lo:hi].mean()), EFFICIENCY)

    def __getstate__(self) -> dict[str, object]:
        """Picklable for `sim.cluster` (a run on another process or machine): the ONNX
        sessions travel as their files' paths and are opened again on arrival."""
        state = dict(self.__dict__)
        state["forecaster"] = (self.forecaster.path, self.forecaster.timezone)
        state["policy"] = self.policy.path
        state["rl_policy"] = None if self.rl_policy is None else self.rl_policy.path
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        path, zone = cast(tuple[Path, str], state["forecaster"])
        state["forecaster"] = OnnxForecaster(path, zone)
        state["policy"] = OnnxPolicy(cast(Path, state["policy"]))
        rl = state.get("rl_policy")
        state["rl_policy"] = None if rl is None else OnnxPolicy(cast(Path, rl))
        self.__dict__.update(state)

    def _forecast(self, k: int) -> Forecast:
        """The forecast issued at the start of k (history through k−1) for k+1 …"""
        h = self.homes
        hist = h.net_kw[:, k - FORECAST_HISTORY: k].astype(np.float32)
        return self.forecaster.forecast_many(hist, h.first_step_s + (k + 1) * 900)

    def run(self, strategy: Strategy, byzantine: Bools | None = None,
            attack: Attack | None = None, tick: Callable[[], None] | None = None,
            controller: Controller | None = None) -> RunResult:
        """`controller` overrides the strategy's control (the RL training env's hook)."""
        h, m = self.homes, self.scenario.market
        ctl = controller
        if ctl is None and strategy.control != "equilibrium":
            ctl = make_controller(self, strategy.control, strategy.probabilistic,
                                  self.rl_policy)
        n, lead, steps = h.n, h.lead_steps, h.steps
        bad = byzantine if byzantine is not None and attack is not None else np.zeros(n, bool)
        rng = np.random.default_rng(self.seed + 17)
        com = Community(h, self.tariff, m.interval_s)
        ledger = Ledger(h.names, self.scenario.lightning.channel_sat)
        refused: dict[int, dict[int, PeerRecord]] = {}   # each seller's record of its buyers
        feed = self.tariff.feed_in_msat_per_kwh
        dt_h = m.interval_s / 3600.0
        res = RunResult(strategy.name, np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n),
                        np.zeros(steps))
        stored0 = com.batteries.stored_wh.copy()
        grid_kw = np.zeros((n, steps))
        alone = Batteries.of(h)          # each home alone: the capacity charge's reference
        alone_kw = np.zeros((n, steps))
        prev = self._forecast(lead - 1)
        eq: Equilibrium | None = None
        eq_first = lead
        peak_today = 0.0
        own_peak = np.zeros(n)          # each home's own peak import today (kW)
        track = self.scenario.coordinator.track_forecast_error
        guard = (self._guard(com) if strategy.market and not strategy.central
                 and m.rational_guard else None)
        for s in range(steps):
            k = lead + s
            raw = self._forecast(k)
            mean = np.concatenate([prev.mean_kw[:, :1], raw.mean_kw[:, :HORIZON - 1]], axis=1)
            std = np.concatenate([prev.std_kw[:, :1], raw.std_kw[:, :HORIZON - 1]], axis=1)
            mean, std = mean.astype(np.float64), std.astype(np.float64)
            if not strategy.probabilistic:
                std = 0.0 * std
            prev = raw
            if s > 0 and self.period[k] != self.period[k - 1]:
                peak_today = 0.0
                own_peak = np.zeros(n)
                if guard is not None:
                    guard.close_period(self._guard_tariff(k - 1))
            actual = h.net_kw[:, k]
            if strategy.signal and (eq is None or strategy.central or s % self.signal_every == 0):
                eq, eq_first = self._coordinate(k, com, mean, std, bad, attack, peak_today,
                                                own_peak, strategy, res), k
            if eq is not None:
                if ctl is None:
                    setpoint = follow.setpoint_w(eq.power_per_kwh, eq.crate_edges,
                                                 k - eq_first, h.capacity_wh, h.max_power_w)
                else:
                    setpoint = ctl.setpoint_w(StepView(k, s, com.batteries.soc_pct, mean, std,
                                                       eq, k - eq_first, own_peak))
                if track:
                    setpoint = setpoint + follow.tracking_w(mean[:, 0], actual, h.capacity_wh)
                price = float(eq.price[min(k - eq_first, eq.price.size - 1)]) / self.eur_per_msat
            elif strategy.market:
                setpoint = self._tariff_policy(k, com, mean, std)
                price = (feed + self.retail_msat[k]) / 2.0
            else:
                setpoint = self_consumption_setpoint(actual)
                price = float(self.retail_msat[k])
            gt = self._guard_tariff(k)
            if guard is not None:
                setpoint = guard.bound_w(setpoint, actual * 1000.0, com.batteries.soc_wh, gt,
                                         dt_h)
            setpoint = rules.clamp_setpoint(
                setpoint, com.batteries.soc_pct, h.capacity_wh, com.batteries.min_soc_pct,
                com.batteries.max_soc_pct, h.max_power_w, h.max_power_w, dt_h)
            before_wh = com.batteries.soc_wh
            power_w = com.batteries.step(setpoint, m.interval_s)
            grid_wh = (actual * 1000.0 + power_w) * dt_h
            sold = bought = money = np.zeros(n)
            price = min(max(price, feed), float(self.retail_msat[k]))
            if strategy.central:
                sold, bought, money = expost.pool(grid_wh, price)
            elif strategy.market:
                sold, bought, money = self._trade(k, grid_wh, round(price), ledger, bad,
                                                  attack, rng, res, refused)
            step_cost = grid_cost_msat(grid_wh + sold - bought, self.retail_msat[k],
                                       feed) + money
            res.cost_msat += step_cost
            if guard is not None:
                shadow_before = guard.shadow_wh
                shadow_grid = guard.shadow_step(actual * 1000.0, dt_h)
                guard.settle(step_cost, shadow_grid, grid_wh, before_wh, com.batteries.soc_wh,
                             shadow_before, gt, dt_h)
            if ctl is not None:
                ctl.settled(s, step_cost)
            grid_kw[:, s] = grid_wh / 1000.0 / dt_h
            alone_kw[:, s] = actual + alone.step(self_consumption_setpoint(actual),
                                                 m.interval_s) / 1000.0
            res.import_kw[s] = float(grid_kw[:, s].sum())
            peak_today = max(peak_today, res.import_kw[s])
            own_peak = np.maximum(own_peak, grid_kw[:, s])
            if strategy.signal or strategy.market:
                res.price_msat.append(price)
            if sold.sum() > 0:
                res.trade_price_msat.append(float(-money[money < 0].sum() / sold.sum() * 1000.0))
            if tick is not None:
                tick()
        charges, res.peaks_kw = capacity_charges(grid_kw, self.period[lead:lead + steps],
                                                 self.capacity_msat_per_kw,
                                                 self.scenario.tariff.capacity_basis,
                                                 alone_kw)
        res.capacity_msat = charges
        res.grid_kw = grid_kw
        res.cost_msat += charges
        res.terminal_msat = self.terminal_msat * (com.batteries.stored_wh - stored0) / 1000.0
        res.load_value_msat = np.sum(h.load_kw[:, lead:lead + steps] * 1000.0 * dt_h
                                     * self.retail_msat[lead:lead + steps], axis=1) / 1000.0
        res.payments = dict(vars(ledger.stats))
        res.guard_bounded = 0 if guard is None else guard.bounded
        res.channel_utilization = ledger.utilization()
        return res

    def _guard(self, com: Community) -> rational.Guard:
        b = com.batteries
        return rational.Guard(b.capacity_wh, b.max_power_w, b.soc_wh, b.min_soc_pct,
                              b.max_soc_pct, b.efficiency)

    def _guard_tariff(self, k: int) -> rational.Tariff:
        day = self.period == self.period[k]
        return rational.Tariff(float(self.retail_msat[k]), float(self.retail_msat[day].max()),
                               float(self.tariff.feed_in_msat_per_kwh), self.terminal_msat,
                               self.capacity_msat_per_kw)

    def _coordinate(self, k: int, com: Community, mean: Floats, std: Floats, bad: Bools,
                    attack: Attack | None, peak_today_kw: float, own_peak_kw: Floats,
                    strategy: Strategy, res: RunResult) -> Equilibrium:
        """The coordinator's equilibrium from every home's report at the start of k."""
        h = self.homes
        soc = com.batteries.soc_pct
        if attack in ("lying", "colluding") and not strategy.central:
            mean = mean + self.scenario.byzantine.lie_kw * bad[:, None]
            soc = np.where(bad, 100.0, soc)
        eur = self.eur_per_msat
        factor = self.scenario.coordinator.peak_price_factor
        tariff = GridTariff(self.retail_msat[k:k + HORIZON] * eur, self.tariff.feed_in_msat_per_kwh
                            * eur, self.capacity_msat_per_kw * eur * factor,
                            self.period[k:k + HORIZON], peak_today_kw, self.terminal_msat * eur,
                            self.scenario.tariff.capacity_basis)
        began = time.perf_counter()
        eq = solve(Reports(soc, h.capacity_wh, h.max_power_w, h.pv_kwp, mean, std, own_peak_kw),
                   tariff,
                   self.central_cfg if strategy.central else self.cfg,
                   dt_h=self.scenario.market.interval_s / 3600.0,
                   exploit=not strategy.central)
        res.solve_s.append(time.perf_counter() - began)
        res.exploitability.append(eq.exploitability)
        return eq

    def _tariff_policy(self, k: int, com: Community, mean: Floats, std: Floats) -> Floats:
        """The daemon without a coordinator: its policy on the tariff's price path."""
        h = self.homes
        retail = float(self.retail_msat[k])
        feed = float(self.tariff.feed_in_msat_per_kwh)
        hour = ((h.first_step_s + k * 900) % 86400) / 3600.0
        obs = policy_obs.observation(com.batteries.soc_pct, h.capacity_wh, h.max_power_w,
                                     h.risk_aversion, hour, mean, std,
                                     self.retail_msat[k:k + HORIZON], feed, retail,
                                     np.zeros(1), on_signal=False)
        out: Floats = self.policy.act_many(obs)[:, 0].astype(np.float64)
        return out

    def _trade(self, k: int, grid_wh: Floats, price: int, ledger: Ledger, bad: Bools,
               attack: Attack | None, rng: np.random.Generator, res: RunResult,
               refused: dict[int, dict[int, PeerRecord]]) -> tuple[Floats, Floats, Floats]:
        h, m = self.homes, self.scenario.market
        end_s = h.first_step_s + (k + 1) * m.interval_s
        deadline = end_s + (1.0 - m.gate_margin) * m.interval_s
        out = expost.trade(k, grid_wh, price, h.names, end_s + 0.01 * m.interval_s, deadline,
                           m, ledger, bad, attack, rng, int(self.retail_msat[k]),
                           self.tariff.feed_in_msat_per_kwh, refused)
        c = out.cleared
        res.sessions += c.sessions
        res.agreements += len(c.energy_wh) + c.unpaid
        res.offered_wh += c.offered_wh
        res.agreed_wh += int(sum(c.energy_wh))
        res.latency_ms += c.latency_ms
        res.simulated_ms += c.simulated_ms
        res.revenue_msat += out.received_msat
        return out.sold_wh, out.bought_wh, out.money_msat
