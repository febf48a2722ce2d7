"""One strategy over the simulated period: forecast → signal → decide → negotiate → settle
→ physics, interval by interval, for every home at once.

At the start of interval k each home (as `agent.services.decision.DecisionStep` does)
forecasts its net load from the 96 completed intervals before k with the shipped ONNX
forecaster, reads the community price for k+1 from the last signal (the tariff when there
is none), asks the ONNX policy for a battery power, clamps it, and opens a position for
k+1 (`agent.domain.decision`). Negotiations for k+1 run during k (`sim.market`),
agreed trades are paid at once over the channel graph (`sim.settle`), the homes
report to the coordinator, which solves the mean-field game for k+1 onwards
(`coordinator.game.solve_reports`, its robust aggregation and settings). Then
interval k runs: the set-point decided at k−1 drives the battery, the meter measures, and
the trades delivered in k are netted against it (paid trades only, as the demo's
accounting). `Community.physics` is that last part on its own, for the RL env of issue 9.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from agent.adapters.onnx import FORECAST_HISTORY, OnnxForecaster, OnnxPolicy
from agent.domain import decision as rules
from agent.domain import policy_obs
from agent.domain.adaptation import PricePositionAdapter
from agent.domain.units import MSAT_PER_BTC, Tariff
from coordinator.game import GameConfig, Report, solve_reports
from sim.homes import Homes
from sim.market import Book, clear
from sim.physics import Batteries, grid_cost_msat, self_consumption_setpoint
from sim.scenario import Attack, Scenario
from sim.settle import Ledger

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
FALSE_BID_WH = 500  # a false bid asks for at least this, three times over


@dataclass(frozen=True)
class Strategy:
    name: str
    trading: bool = True
    signal: bool = True          # False: decide on the tariff (the daemon without a signal)
    probabilistic: bool = True   # False: forecast means only (spread 0)


PEERWATT = Strategy("peerwatt")
DETERMINISTIC = Strategy("peerwatt_deterministic", probabilistic=False)
NAIVE = Strategy("naive_trading", signal=False)
NO_TRADING = Strategy("no_trading", trading=False, signal=False)


@dataclass
class RunResult:
    strategy: str
    cost_msat: Floats            # (N,) grid bill + payments made + fees − payments received
    revenue_msat: Floats         # (N,) payments received for energy sold
    load_value_msat: Floats      # (N,) the load at the retail tariff
    terminal_msat: Floats        # (N,) change of stored energy at the feed-in price
    import_kw: Floats            # (steps,) community import (+) after batteries
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

    @property
    def welfare_msat(self) -> Floats:
        out: Floats = self.load_value_msat - self.cost_msat + self.terminal_msat
        return out


@dataclass(frozen=True)
class Signal:
    first: int               # the first interval it covers
    prices: Floats           # msat/kWh per step
    meanfield_kw: Floats     # reported net load per home per step


def _learn(adapters: list[PricePositionAdapter], pos: rules.Orders, agreed_wh: Floats,
           value: Floats) -> None:
    """Each home's price-position adapter sees its offer's fill and price, as
    `DecisionStep._learn` feeds it from the journal."""
    for i in np.flatnonzero(pos.side != rules.NONE):
        price = value[i] / agreed_wh[i] if agreed_wh[i] > 0 else None
        adapters[i].observe(int(pos.side[i]), float(pos.energy_wh[i]), float(agreed_wh[i]),
                            float(pos.start[i]), price, float(pos.reservation[i]))


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
                 policy: OnnxPolicy, seed: int, game: GameConfig | None = None,
                 signal_every: int = 1) -> None:
        self.scenario = scenario
        self.homes = homes
        t = scenario.tariff
        self.eur_per_msat = t.eur_per_btc / MSAT_PER_BTC
        self.tariff = Tariff(round(t.retail_eur_per_kwh / self.eur_per_msat),
                             round(t.peak_retail_eur_per_kwh / self.eur_per_msat),
                             round(t.feed_in_eur_per_kwh / self.eur_per_msat), t.peak_hours)
        self.forecaster = forecaster
        self.policy = policy
        self.seed = seed
        # The coordinator's defaults (agent.settings.CoordinatorSettings); tests pass a
        # coarser grid to stay fast.
        self.game = game or GameConfig(dt_h=scenario.market.interval_s / 3600.0)
        # The coordinator publishes every interval; > 1 re-solves every that many intervals
        # and the homes trade on the last signal in between (the daemon's behaviour when
        # the coordinator is silent), for quick runs.
        self.signal_every = signal_every

    def run(self, strategy: Strategy, byzantine: Bools | None = None,
            attack: Attack | None = None, tick: Callable[[], None] | None = None) -> RunResult:
        h, m = self.homes, self.scenario.market
        n, lead, steps, length = h.n, h.lead_steps, h.steps, m.interval_s
        bad = byzantine if byzantine is not None and attack is not None else np.zeros(n, bool)
        rng = np.random.default_rng(self.seed + 17)
        com = Community(h, self.tariff, length)
        ledger = Ledger(h.names, self.scenario.lightning.channel_sat)
        feed = self.tariff.feed_in_msat_per_kwh
        dt_h = length / 3600.0
        res = RunResult(strategy.name, np.zeros(n), np.zeros(n), np.zeros(n),
                        np.zeros(n), np.zeros(steps))
        stored0 = com.batteries.stored_wh.copy()
        planned: dict[int, Floats] = {}
        trades: dict[int, tuple[Floats, Floats, Floats]] = {}  # sold, bought, money per home
        signal: Signal | None = None
        warm: tuple[int, Floats] | None = None
        adapters = [PricePositionAdapter() for _ in range(n)]
        offers: dict[int, tuple[rules.Orders, Floats, Floats]] = {}
        for k in range(lead - 2, lead + steps):
            now_s = h.first_step_s + k * length + 0.01 * length
            d = k + 1
            soc = com.batteries.soc_pct
            mean = std = np.zeros((n, 1))
            if strategy.trading or strategy.signal:
                # The history ends with interval k−1, the last completed one at k's start.
                hist = h.net_kw[:, k - FORECAST_HISTORY: k].astype(np.float32)
                fc = self.forecaster.forecast_many(hist, h.first_step_s + d * length)
                mean = fc.mean_kw.astype(np.float64)
                std = fc.std_kw.astype(np.float64) if strategy.probabilistic else 0 * mean
            if lead <= d < lead + steps and not strategy.trading:
                planned[d] = np.zeros(n)  # self-consumption: set from the actual net below
            elif lead <= d < lead + steps:
                if k in offers:  # interval k's gate has closed: the daemon's `_learn`
                    _learn(adapters, *offers.pop(k))
                path = self._path(signal, d, mean.shape[1]) if strategy.signal else None
                retail = com.retail(d)
                prices, field_kw = path if path is not None else (np.array(
                    [com.retail(d + i) for i in range(mean.shape[1])], dtype=np.float64),
                    np.zeros(1))
                res.price_msat.append(float(min(max(prices[0], feed), retail)))
                hour = ((h.first_step_s + d * length) % 86400) / 3600.0
                obs = policy_obs.observation(soc, h.capacity_wh, h.max_power_w,
                                             h.risk_aversion, hour, mean, std, prices, feed,
                                             retail, field_kw, on_signal=path is not None)
                act = self.policy.act_many(obs)
                setpoint = rules.clamp_setpoint(
                    act[:, 0], soc, h.capacity_wh, com.batteries.min_soc_pct,
                    com.batteries.max_soc_pct, h.max_power_w, h.max_power_w, dt_h)
                planned[d] = setpoint
                expected = (mean[:, 0] * 1000.0 + setpoint) * dt_h
                pos = rules.orders(expected, 0.5 * std[:, 0] * 1000.0 * dt_h,
                                      int(prices[0]), feed, retail)
                # Open at the policy's price position, corrected by each home's adapter.
                adapted = np.array([adapters[i].position(int(pos.side[i]), float(act[i, 1]))
                                    if pos.side[i] != rules.NONE else 0.5 for i in range(n)])
                pos = replace(pos, start=policy_obs.start_price(pos.side, adapted, feed, retail))
                *trades_d, agreed_wh, value = self._negotiate(d, pos, retail, now_s, bad, attack,
                                                              ledger, res, rng)
                trades[d] = (trades_d[0], trades_d[1], trades_d[2])
                offers[d] = (pos, agreed_wh, value)
            if (strategy.signal and lead - 1 <= d < lead + steps
                    and (d - lead + 1) % self.signal_every == 0):
                signal, warm = self._coordinate(d, soc, mean, std, bad, attack, com, warm, res)
            if k >= lead:
                self._physics(k, com, planned.pop(k), trades.pop(k, None), res, strategy)
                if tick is not None:
                    tick()
        res.terminal_msat = feed * (com.batteries.stored_wh - stored0) / 1000.0
        res.load_value_msat = np.sum(
            h.load_kw[:, lead:lead + steps] * 1000.0 * dt_h
            * np.array([com.retail(s) for s in range(lead, lead + steps)]), axis=1) / 1000.0
        res.payments = dict(vars(ledger.stats))
        res.channel_utilization = ledger.utilization()
        return res

    @staticmethod
    def _path(signal: Signal | None, d: int, horizon: int) -> tuple[Floats, Floats] | None:
        """The signal's prices and mean field (net load per home) from `d`, or None."""
        if signal is None or not signal.first <= d < signal.first + len(signal.prices):
            return None
        i = d - signal.first
        return signal.prices[i:][:horizon], signal.meanfield_kw[i:][:horizon]

    def _negotiate(self, d: int, pos: rules.Orders, retail: int, now_s: float, bad: Bools,
                   attack: Attack | None, ledger: Ledger, res: RunResult,
                   rng: np.random.Generator) -> tuple[Floats, Floats, Floats, Floats, Floats]:
        h, m = self.homes, self.scenario.market
        side, energy = pos.side.copy(), pos.energy_wh.copy()
        start, reservation = pos.start.copy(), pos.reservation.copy()
        if attack == "false_bids" and bad.any():
            # Orders not backed by the forecast: a random side, three times the energy.
            idx = np.flatnonzero(bad)
            side[idx] = np.where(rng.random(idx.size) < 0.5, rules.SELL, rules.BUY)
            energy[idx] = 3 * np.maximum(energy[idx], FALSE_BID_WH)
            feed = self.tariff.feed_in_msat_per_kwh
            start[idx] = policy_obs.start_price(side[idx], 0.5, feed, retail)
            reservation[idx] = np.where(side[idx] == rules.SELL, feed, retail)
        sell = side == rules.SELL
        if attack == "withholding":
            sell &= ~bad
        s, b = np.flatnonzero(sell), np.flatnonzero(side == rules.BUY)
        silent = bad if attack == "withholding" else np.zeros(h.n, bool)
        deadline = h.first_step_s + d * m.interval_s - m.gate_margin * m.interval_s
        out = clear(d, Book(s, energy[s], start[s], reservation[s]),
                    Book(b, energy[b], start[b], reservation[b]), h.names, now_s, deadline,
                    m, silent, rng)
        res.sessions += out.sessions
        res.agreements += len(out.energy_wh)
        res.offered_wh += out.offered_wh
        res.latency_ms += out.latency_ms
        res.simulated_ms += out.simulated_ms
        sold, bought, money = np.zeros(h.n), np.zeros(h.n), np.zeros(h.n)
        agreed, value = np.zeros(h.n), np.zeros(h.n)
        for si, bi, e, p in zip(out.seller, out.buyer, out.energy_wh,
                                out.price_msat_per_kwh, strict=True):
            res.agreed_wh += e
            agreed[[si, bi]] += e
            value[[si, bi]] += e * p
            amount = (e * p + 500) // 1000
            if attack == "reneging" and bad[bi]:
                ledger.renege()
                continue
            fee = ledger.pay(h.names[bi], h.names[si], amount)
            if fee is None:
                continue
            sold[si] += e
            bought[bi] += e
            money[si] -= amount
            money[bi] += amount + fee
            res.revenue_msat[si] += amount
        return sold, bought, money, agreed, value

    def _coordinate(self, d: int, soc: Floats, mean: Floats, std: Floats, bad: Bools,
                    attack: Attack | None, com: Community, warm: tuple[int, Floats] | None,
                    res: RunResult) -> tuple[Signal, tuple[int, Floats]]:
        h = self.homes
        horizon = mean.shape[1]
        lie = attack == "lying"
        lie_kw = self.scenario.byzantine.lie_kw
        reported = mean + lie_kw * bad[:, None] if lie else mean
        reports = [Report(100.0 if lie and bad[i] else float(soc[i]), float(h.capacity_wh[i]),
                          float(h.max_power_w[i]), reported[i], std[i],
                          float(h.risk_aversion[i]), float(h.pv_kwp[i]))
                   for i in range(h.n)]
        retail = np.array([com.retail(d + i) for i in range(horizon)], dtype=np.float64)
        start = None
        if warm is not None and 0 <= d - warm[0] < horizon:  # as the coordinator service
            shift, z = d - warm[0], warm[1]
            start = np.concatenate([z[shift:horizon], np.full(shift, z[horizon - 1]), [0.0]])
        began = time.perf_counter()
        outcome = solve_reports(reports, retail * self.eur_per_msat,
                                self.tariff.feed_in_msat_per_kwh * self.eur_per_msat,
                                self.game, start)
        res.solve_s.append(time.perf_counter() - began)
        prices = np.clip(np.rint(outcome.price / self.eur_per_msat),
                         self.tariff.feed_in_msat_per_kwh, retail)
        # The signal's net_load_kw is the sum of the reported means (signal.aggregate);
        # the daemon divides it by the number of agents.
        return Signal(d, prices, reported.mean(axis=0)), (d, outcome.per_home_kw)

    def _physics(self, k: int, com: Community, setpoint: Floats,
                 traded: tuple[Floats, Floats, Floats] | None, res: RunResult,
                 strategy: Strategy) -> None:
        h = self.homes
        if not strategy.trading:
            setpoint = self_consumption_setpoint(h.net_kw[:, k])
        zero = np.zeros(h.n)
        sold, bought, money = traded if traded is not None else (zero, zero, zero)
        grid_wh, bill = com.physics(k, setpoint, sold, bought)
        res.cost_msat += bill + money
        res.import_kw[k - h.lead_steps] = grid_wh.sum() / 1000.0 / (com.interval_s / 3600.0)
        if traded is not None and sold.sum() > 0:
            paid = -money[money < 0].sum()
            res.trade_price_msat.append(float(paid / sold.sum() * 1000.0))
