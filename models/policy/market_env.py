"""The policy's training environment is the simulator's market itself (`sim.engine`).

One episode = one simulated day of a community (`sim.engine.Simulation.run`): the shipped
forecaster, the coordinator's equilibrium solved every interval from every home's report
(so a community of learning homes moves its own signal: their states of charge are in
the reports), the capacity charge on the community's peak, the trades on the meters
through the negotiation state machines, payment over the channel graph. Every battery
home of the community is a learning home and one slot of this stable-baselines3 `VecEnv`
(one shared network: parameter sharing); homes on the held-out buildings are left out
of the training communities.

The simulator drives the loop; the env inverts it: the day runs in a worker thread whose
controller (`sim.policies.Controller`) hands each interval's observations (layout v2,
`sim.policies.signal_observation`, the same function the evaluation uses) to
`step_wait` and waits for the actions of `step_async`. Action: Box [-1, 1]², as the
exported graph reads it: battery power = a₀ × the power limit − the forecast mean of the
interval (residual to self-consumption); a₁ (the price position) is unused in the
metered market. The battery then absorbs the home's forecast error, as in every control.

Reward per home and interval (€ × `reward_scale`): −(its cost − the bill it would have
paid without a battery), cost = grid bill on its residual + payments − receipts; the last
interval adds −(its share of the day's capacity charge) + the change of its stored energy
at the terminal value, as `sim` counts them. The passive bill does not depend on the
action (only lowers the variance).

Signal outages: in a share of the episodes (`outage_share`, drawn per episode from the
env's seed) the learning homes see what the daemon sees without a signal: the tariff's
price path, no mean field, flag 0 (`tariff_observation`). Without them every training
observation had flag 1, and a policy run without a coordinator (CityLearn's outside
check, a home whose signal lapsed) was out of its training distribution and barely moved
the battery. The market itself runs as usual: only what the learners observe changes.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from agent.domain import policy_obs
from models.policy.env import ACT_SPACE, OBS_SPACE
from models.policy.vec import SingleTaskVecEnv
from sim.data import Dataset
from sim.engine import PEERWATT, RunResult, Simulation
from sim.homes import Homes, build_homes
from sim.physics import grid_cost_msat
from sim.policies import StepView, signal_observation
from sim.scenario import Scenario

Floats = npt.NDArray[np.float64]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MarketEnvConfig:
    homes: int = 100                 # per training community (before held-out removal)
    reward_scale: float = 10.0
    probabilistic: bool = True       # spreads in the observation and the plan
    outage_share: float = 0.3        # episodes whose learners see no signal (flag 0)


class _Stop(Exception):
    """The env closed (or reset) while a day was running: end that day's thread."""


@dataclass
class _Msg:
    obs: F32 | None
    reward: Floats | None
    done: bool


class _Bridge:
    """The controller inside the simulator's thread."""

    def __init__(self, sim: Simulation, out: queue.Queue[_Msg],
                 act: queue.Queue[Floats | None],
                 scale: float, outage: bool = False) -> None:
        self.sim, self.out, self.act, self.scale = sim, out, act, scale
        self.outage = outage
        h = sim.homes
        self.bat = np.flatnonzero(h.capacity_wh > 0)
        self.pending: Floats | None = None

    def setpoint_w(self, v: StepView) -> Floats:
        obs = (tariff_observation(self.sim, v) if self.outage
               else signal_observation(self.sim, v))[self.bat]
        self.out.put(_Msg(obs, self.pending, False))
        got = self.act.get()
        if got is None:
            raise _Stop
        a = np.clip(np.nan_to_num(got), -1.0, 1.0)
        limit = self.sim.homes.max_power_w[self.bat] / 1000.0
        kw = np.clip(a[:, 0] * limit - v.mean_kw[self.bat, 0], -limit, limit)
        out = np.zeros(self.sim.homes.n)
        out[self.bat] = kw * 1000.0
        return out

    def settled(self, s: int, cost_msat: Floats) -> None:
        sim = self.sim
        k = sim.homes.lead_steps + s
        passive = grid_cost_msat(sim.homes.net_kw[self.bat, k] * 1000.0 * 0.25,
                                 sim.retail_msat[k], sim.tariff.feed_in_msat_per_kwh)
        self.pending = -(cost_msat[self.bat] - passive) * sim.eur_per_msat * self.scale

    def finish(self, res: RunResult) -> None:
        assert self.pending is not None
        end = (res.terminal_msat[self.bat] - res.capacity_msat[self.bat]) * self.sim.eur_per_msat
        self.out.put(_Msg(None, self.pending + end * self.scale, True))


def tariff_observation(sim: Simulation, v: StepView) -> F32:
    """Layout v2 as the daemon builds it without a signal: the tariff's retail price path
    over the forecast's horizon, no mean field, flag 0."""
    h = sim.homes
    horizon = v.mean_kw.shape[1]
    steps = np.minimum(np.arange(v.k, v.k + horizon), sim.retail_msat.size - 1)
    hour = ((h.first_step_s + v.k * 900) % 86400) / 3600.0
    return policy_obs.observation(v.soc_pct, h.capacity_wh, h.max_power_w, h.risk_aversion,
                                  hour, v.mean_kw, v.std_kw, sim.retail_msat[steps],
                                  float(sim.tariff.feed_in_msat_per_kwh),
                                  float(sim.retail_msat[v.k]), np.zeros(1), on_signal=False)


def training_homes(scenario: Scenario, data: Dataset, n: int, seed: int,
                   held_out: Sequence[str]) -> Homes:
    homes = build_homes(scenario, data, n, 1, seed)
    keep = np.array([i for i, b in enumerate(homes.building) if b not in held_out])
    return homes.subset(keep)


class MarketVecEnv(SingleTaskVecEnv):
    """Slots = the battery homes of one training community; each episode a day drawn
    from `days` (the same homes, that day's data)."""

    def __init__(self, scenario: Scenario, data: Dataset, days: Sequence[date],
                 cfg: MarketEnvConfig, seed: int, held_out: Sequence[str]) -> None:
        self.scenario, self.data, self.days, self.cfg = scenario, data, list(days), cfg
        self.base_seed, self.held_out = seed, tuple(held_out)
        self.rng = np.random.default_rng(seed)
        self.fc = OnnxForecaster(shipped("forecast.onnx"))
        self.rule = OnnxPolicy(shipped(DEFAULT_POLICY))
        probe = training_homes(scenario, data, cfg.homes, seed, self.held_out)
        slots = int((probe.capacity_wh > 0).sum())
        if slots == 0:
            raise ValueError("the training community has no battery home")
        self.render_mode = None
        super().__init__(slots, OBS_SPACE, ACT_SPACE)
        self._out: queue.Queue[_Msg] = queue.Queue()
        self._act: queue.Queue[Floats | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._actions = np.zeros((slots, 2))
        self.episodes = 0
        self.outages = 0                   # episodes whose learners saw no signal
        self.day_costs: list[float] = []   # mean cost per learning home of each episode

    def _start(self) -> F32:
        day = self.days[int(self.rng.integers(len(self.days)))]
        sc = self.scenario.model_copy(update={"start_day": day})
        homes = training_homes(sc, self.data, self.cfg.homes, self.base_seed, self.held_out)
        sim = Simulation(sc, homes, self.fc, self.rule, self.base_seed + self.episodes)
        outage = bool(self.rng.random() < self.cfg.outage_share)
        self.outages += outage
        bridge = _Bridge(sim, self._out, self._act, self.cfg.reward_scale, outage)
        strategy = replace(PEERWATT, probabilistic=self.cfg.probabilistic)

        def work() -> None:
            try:
                res = sim.run(strategy, controller=bridge)
            except _Stop:
                return
            cost = (res.cost_msat - res.terminal_msat)[bridge.bat].mean() * sim.eur_per_msat
            self.day_costs.append(float(cost))
            bridge.finish(res)

        self._thread = threading.Thread(target=work, name=f"market-day-{day}", daemon=True)
        self._thread.start()
        msg = self._out.get()
        assert msg.obs is not None
        self.episodes += 1
        return msg.obs

    def reset(self) -> F32:
        self._stop()
        return self._start()

    def _stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._act.put(None)
            self._thread.join()
        self._thread = None
        self._out = queue.Queue()
        self._act = queue.Queue()

    def step_async(self, actions: npt.NDArray[Any]) -> None:
        self._actions = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, 2)
        self._act.put(self._actions)

    def step_wait(self) -> tuple[F32, npt.NDArray[np.float32], npt.NDArray[np.bool_],
                                 list[dict[str, Any]]]:
        msg = self._out.get()
        assert msg.reward is not None
        reward = msg.reward.astype(np.float32)
        if not msg.done:
            assert msg.obs is not None
            return msg.obs, reward, np.zeros(self.num_envs, bool), [
                {} for _ in range(self.num_envs)]
        if self._thread is not None:
            self._thread.join()
        obs = self._start()
        infos = [{"terminal_observation": obs[i], "TimeLimit.truncated": False}
                 for i in range(self.num_envs)]
        return obs, reward, np.ones(self.num_envs, bool), infos

    def close(self) -> None:
        self._stop()
