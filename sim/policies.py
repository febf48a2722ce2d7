"""Where each home's battery set-point comes from (`peerwatt simulate --control NAME`).

Every control runs in the same community, under the same coordinator signal (its prices
are the price of the metered trades) and the same market; only the battery's decision
differs. In each, the battery then absorbs the home's own forecast error around the
decided set-point (`agent.domain.follow.tracking_w`, the scenario's
`track_forecast_error`) and the daemon's safety clamp limits it.

- `equilibrium` (the default): the coordinator's plan for the home's unit, scaled to its
  battery (`agent.domain.follow`): the game's own policy.
- `mpc`: each home's own optimiser (EMHASS-style) on the same shipped forecast: an LP
  over the next 24 hours against the community price, the capacity charge on its own
  peak (× its share of the coincident charge) and the terminal value, re-planned every
  hour (receding horizon; `meanfield.home.plan_receding`, the daemon's
  `[battery] control = "mpc"` too). Probabilistic: the peak rows are planned
  against the home's net load at mean + `peak_z` × spread (a chance constraint on each
  step's import); means only: against the mean.
- `rule`: the daemon's shipped rule (`policy_rule_v2.onnx`) on the signal's prices.
- `rl`: a learned policy (ONNX, observation layout v2) on the signal's prices and mean
  field; `--rl-policy FILE` picks the file (default: the shipped `policy.onnx`).

Each exists in a means-only variant (the forecasts' spread set to 0 before anything sees
it: the coordinator's plan, the MPC's chance constraint, the policies' observation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt

from agent.domain import follow, policy_obs
from meanfield.home import (
    HomeBatteries,
    HomeInputs,
    HomePlan,
    Receding,
    capacity_share,
    plan_receding,
)
from sim.homes import EFFICIENCY, MAX_SOC_PCT, MIN_SOC_PCT

if TYPE_CHECKING:
    from agent.adapters.onnx import OnnxPolicy
    from coordinator.equilibrium import Equilibrium
    from sim.engine import Simulation

Floats = npt.NDArray[np.float64]
Control = Literal["equilibrium", "mpc", "rule", "rl"]
CONTROLS: tuple[Control, ...] = ("equilibrium", "mpc", "rule", "rl")


@dataclass(frozen=True)
class StepView:
    """What a home knows at the start of interval k (arrays over all homes)."""

    k: int                   # step in the data
    s: int                   # step of the run
    soc_pct: Floats          # (N,)
    mean_kw: Floats          # (N, H) forecast from k
    std_kw: Floats           # (N, H) (0 in the means-only variant)
    eq: Equilibrium          # the coordinator's latest signal
    eq_step: int             # k's step in that signal's horizon
    own_peak_kw: Floats      # (N,) each home's own peak import so far today


class Controller(Protocol):
    def setpoint_w(self, v: StepView) -> Floats: ...

    def settled(self, s: int, cost_msat: Floats) -> None: ...


class _Quiet:
    def settled(self, s: int, cost_msat: Floats) -> None:
        return None


class EquilibriumControl(_Quiet):
    def __init__(self, sim: Simulation) -> None:
        self.h = sim.homes

    def setpoint_w(self, v: StepView) -> Floats:
        return follow.setpoint_w(v.eq.power_per_kwh, v.eq.crate_edges, v.eq_step,
                                 self.h.capacity_wh, self.h.max_power_w)


class PolicyControl(_Quiet):
    """An ONNX policy (layout v2) on the coordinator's prices and mean field."""

    def __init__(self, sim: Simulation, policy: OnnxPolicy) -> None:
        self.sim, self.policy = sim, policy

    def observation(self, v: StepView) -> npt.NDArray[np.float32]:
        return signal_observation(self.sim, v)

    def setpoint_w(self, v: StepView) -> Floats:
        out: Floats = self.policy.act_many(self.observation(v))[:, 0].astype(np.float64)
        return np.where(self.sim.homes.capacity_wh > 0, out, 0.0)


def signal_observation(sim: Simulation, v: StepView) -> npt.NDArray[np.float32]:
    """Layout v2 for every home, on the signal's prices (msat) and mean field."""
    h = sim.homes
    eur = sim.eur_per_msat
    prices = np.asarray(v.eq.price[v.eq_step:], dtype=np.float64) / eur
    field = np.asarray(v.eq.net_load_kw[v.eq_step:], dtype=np.float64) / h.n
    hour = ((h.first_step_s + v.k * 900) % 86400) / 3600.0
    return policy_obs.observation(v.soc_pct, h.capacity_wh, h.max_power_w, h.risk_aversion,
                                  hour, v.mean_kw, v.std_kw, prices,
                                  float(sim.tariff.feed_in_msat_per_kwh),
                                  float(sim.retail_msat[v.k]), field, on_signal=True)


class MpcControl(_Quiet):
    """Each battery home's own receding-horizon LP (`meanfield.home.plan_receding`)."""

    def __init__(self, sim: Simulation, probabilistic: bool,
                 cfg: Receding | None = None) -> None:
        cfg = cfg or Receding()
        self.sim, self.cfg = sim, cfg
        self.z = cfg.peak_z if probabilistic else 0.0
        h = sim.homes
        self.bat = np.flatnonzero(h.capacity_wh > 0)
        self.plan: HomePlan | None = None
        self.planned_at = 0
        self.solve_s: list[float] = []

    def setpoint_w(self, v: StepView) -> Floats:
        h, cfg = self.sim.homes, self.cfg
        if self.plan is None or v.s - self.planned_at >= cfg.every:
            self.plan, self.planned_at = self._solve(v), v.s
            self.solve_s.append(self.plan.solve_s)
        j = (v.s - self.planned_at) // cfg.block
        out = np.zeros(h.n)
        if self.bat.size and j < self.plan.power_kw.shape[1]:
            out[self.bat] = self.plan.power_kw[:, j] * 1000.0
        return out

    def _solve(self, v: StepView) -> HomePlan:
        sim, bat = self.sim, self.bat
        h, eur = sim.homes, sim.eur_per_msat
        steps = v.mean_kw.shape[1]
        path = np.asarray(v.eq.price, dtype=np.float64)[v.eq_step:]
        path = np.concatenate([path, np.full(max(0, steps - path.size), path[-1])])[:steps]
        feed = sim.tariff.feed_in_msat_per_kwh * eur
        retail = sim.retail_msat[v.k:v.k + steps] * eur
        basis = sim.scenario.tariff.capacity_basis
        share = 1.0 if basis == "home" else capacity_share(v.mean_kw, self.cfg.block)
        cap = h.capacity_wh[bat] / 1000.0
        soc = v.soc_pct[bat] / 100.0
        inputs = HomeInputs(
            mean_kw=v.mean_kw[bat], std_kw=v.std_kw[bat],
            price=np.clip(path, feed, retail), period=sim.period[v.k:v.k + steps],
            interval_h=0.25, capacity_per_kw=sim.capacity_msat_per_kw * eur * share,
            peak_so_far_kw=v.own_peak_kw[bat], terminal_per_kwh=sim.terminal_msat * eur,
            wear_per_kwh=sim.scenario.coordinator.wear_eur_per_kwh)
        batteries = HomeBatteries(cap, h.max_power_w[bat] / 1000.0, cap * soc,
                                  cap * MIN_SOC_PCT / 100.0, cap * MAX_SOC_PCT / 100.0,
                                  EFFICIENCY)
        return plan_receding(inputs, batteries, self.cfg, self.z)


def controller(sim: Simulation, control: Control, probabilistic: bool,
               rl_policy: OnnxPolicy | None = None) -> Controller:
    if control == "equilibrium":
        return EquilibriumControl(sim)
    if control == "mpc":
        return MpcControl(sim, probabilistic)
    if control == "rule":
        return PolicyControl(sim, sim.policy)
    if rl_policy is None:
        raise ValueError("control 'rl' needs a policy file")
    return PolicyControl(sim, rl_policy)
