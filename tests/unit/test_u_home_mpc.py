"""The per-home MPC (`meanfield.home`) and the simulator's control hook (`sim.policies`)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from agent.adapters.onnx import DEFAULT_POLICY, OnnxForecaster, OnnxPolicy, shipped
from coordinator.equilibrium import EquilibriumConfig
from meanfield.community import Batteries, Horizon, best_response, value_at
from meanfield.home import (
    CHUNK,
    HomeBatteries,
    HomeHorizon,
    HomePlan,
    coincidence,
    plan_homes,
)
from sim.data import load_slice
from sim.engine import PEERWATT, Simulation
from sim.homes import build_homes
from sim.policies import CONTROLS
from sim.scenario import load_scenario

H = 24


def _evening(rng: np.random.Generator, n: int) -> np.ndarray:
    base = np.concatenate([np.full(8, 0.4), np.full(8, -1.5), np.full(8, 2.5)])
    return base[None, :] + rng.uniform(-0.3, 0.3, (n, H))


def _bats(n: int) -> HomeBatteries:
    cap = np.linspace(5.0, 12.0, n)
    return HomeBatteries(cap, np.full(n, 2.5), cap * 0.5, cap * 0.05, cap, 0.9)


def _horizon(mean: np.ndarray, peak: np.ndarray, rate: float = 0.134) -> HomeHorizon:
    price = np.where(np.arange(H) >= 17, 0.40, 0.30)
    return HomeHorizon(mean, peak, price, 1.0, rate, np.zeros(H, np.int64),
                       np.zeros(mean.shape[0]), 0.28, 0.002)


def test_each_home_gets_its_own_best_response() -> None:
    """One LP for many homes gives each home what it would plan alone
    (`meanfield.community.best_response` on the home basis, the same prices)."""
    rng = np.random.default_rng(1)
    mean = _evening(rng, 4)
    b = _bats(4)
    h = _horizon(mean, mean)
    together = plan_homes(h, b)
    for i in range(4):
        unit = Batteries(b.capacity_kwh[i:i + 1], b.power_kw[i:i + 1], b.stored_kwh[i:i + 1],
                         b.min_kwh[i:i + 1], b.max_kwh[i:i + 1], 0.9, mean[i:i + 1],
                         np.zeros(1))
        hz = Horizon(mean[i], h.price, h.price, 1.0, h.capacity_per_kw, 0.0, 0.28, 0.002,
                     None, None, "home")
        alone = best_response(h.price, unit, hz)
        mine = value_at(h.price, together.power_kw[i], float(together.stored_kwh[i, -1]), hz,
                        mean[i])
        best = value_at(h.price, alone.power_kw[0], float(alone.stored_kwh[0, -1]), hz,
                        mean[i])
        assert mine == pytest.approx(best, abs=1e-6)


def test_the_chance_constraint_holds_energy_for_the_tail() -> None:
    """Planning the peak against mean + z·spread keeps each home's quantile import under
    its planned peak, and holds at least as much energy for the evening as the means-only
    plan does."""
    rng = np.random.default_rng(2)
    mean = _evening(rng, 6)
    std = np.full_like(mean, 0.4)
    b = _bats(6)
    q = mean + 1.28 * std
    prob = plan_homes(_horizon(mean, q), b)
    det = plan_homes(_horizon(mean, mean), b)
    assert np.all(q + prob.power_kw <= prob.peak_kw[:, :1] + 1e-6)
    assert np.all(prob.peak_kw >= det.peak_kw - 1e-6)
    assert prob.stored_kwh[:, 16].sum() >= det.stored_kwh[:, 16].sum() - 1e-6
    assert np.all(prob.stored_kwh >= b.min_kwh[:, None] - 1e-6)
    assert np.all(np.abs(prob.power_kw) <= b.power_kw[:, None] + 1e-6)


def test_coincidence_is_a_share() -> None:
    a = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert coincidence(a) == pytest.approx(0.5)
    assert coincidence(np.ones((3, 4))) == pytest.approx(1.0)
    assert coincidence(-np.ones((2, 4))) == 1.0


@pytest.fixture(scope="module")
def sim() -> Simulation:
    sc = load_scenario("capacity")
    homes = build_homes(sc, load_slice(), 24, 1, 3)
    return Simulation(sc, homes, OnnxForecaster(shipped("forecast.onnx")),
                      OnnxPolicy(shipped(DEFAULT_POLICY)), 3,
                      EquilibriumConfig(types=2, min_type_size=3), signal_every=8,
                      rl_policy=OnnxPolicy(shipped("policy.onnx")))


@pytest.mark.parametrize("control", CONTROLS)
def test_every_control_runs_a_day_in_the_market(sim: Simulation, control: str) -> None:
    r = sim.run(replace(PEERWATT, control=control))  # type: ignore[arg-type]
    assert np.all(np.isfinite(r.cost_msat))
    assert r.agreements > 0
    assert r.import_kw.size == sim.homes.steps


def test_controls_decide_differently(sim: Simulation) -> None:
    """The hook reaches the batteries: the MPC's meters differ from the equilibrium's,
    and homes without a battery read the same under both."""
    eq = sim.run(PEERWATT)
    mpc = sim.run(replace(PEERWATT, control="mpc"))
    none = sim.homes.capacity_wh <= 0
    assert not np.allclose(eq.grid_kw[~none], mpc.grid_kw[~none])
    assert np.allclose(eq.grid_kw[none], mpc.grid_kw[none])


def test_the_rl_policy_travels_with_the_simulation(sim: Simulation) -> None:
    """`sim.cluster` pickles the Simulation: the RL policy goes as its path and reopens."""
    import pickle

    assert sim.rl_policy is not None
    back = pickle.loads(pickle.dumps(sim))
    assert back.rl_policy is not None
    assert back.rl_policy.path == sim.rl_policy.path


def _tariff_cost(net: np.ndarray, power: np.ndarray, buy: np.ndarray, sell: float,
                 stored_end: float, terminal: float) -> float:
    flow = net + power
    return float((buy * np.maximum(flow, 0.0)).sum() - sell * np.maximum(-flow, 0.0).sum()
                 - terminal * stored_end)


def test_a_home_on_a_tariff_with_no_feed_in_plans_for_its_own_load() -> None:
    """`export_price`: a home alone on a tariff that pays nothing for export (CityLearn's)
    plans no worse than self-consumption, the schedule every such home can follow, and
    better on that tariff than a plan that counts its exports at the import price."""
    rng = np.random.default_rng(3)
    mean = _evening(rng, 3)
    b = _bats(3)
    price = np.where(np.arange(H) >= 17, 0.40, 0.30)
    h = HomeHorizon(mean, mean, price, 1.0, 0.0, np.zeros(H, np.int64), np.zeros(3), 0.28,
                    0.0, export_price=np.zeros(H))
    plan = plan_homes(h, b)
    both_ways = plan_homes(replace(h, export_price=None), b)
    eta = np.sqrt(0.9)
    for i in range(3):
        s, sc = float(b.stored_kwh[i]), np.zeros(H)
        for t in range(H):                             # greedy self-consumption
            want = -mean[i, t]
            room = (b.max_kwh[i] - s) / eta if want > 0 else (s - b.min_kwh[i]) * eta
            sc[t] = float(np.clip(want, -min(b.power_kw[i], room), min(b.power_kw[i], room)))
            s += sc[t] * eta if sc[t] > 0 else sc[t] / eta
        mpc = _tariff_cost(mean[i], plan.power_kw[i], price, 0.0,
                           float(plan.stored_kwh[i, -1]), 0.28)
        alone = _tariff_cost(mean[i], sc, price, 0.0, s, 0.28)
        naive = _tariff_cost(mean[i], both_ways.power_kw[i], price, 0.0,
                             float(both_ways.stored_kwh[i, -1]), 0.28)
        assert mpc <= alone + 1e-6
        assert mpc < naive - 0.05                      # the evening export is worth 0 here


def test_homes_planned_in_chunks_each_get_their_own_optimum() -> None:
    """More homes than one HiGHS call takes (`CHUNK`): every home, on either side of a
    chunk's edge, gets the value it gets planned alone."""
    rng = np.random.default_rng(5)
    n = 2 * CHUNK + 7
    mean = _evening(rng, n)
    b = HomeBatteries(np.linspace(5.0, 12.0, n), np.full(n, 2.5), np.linspace(1.0, 6.0, n),
                      np.full(n, 0.25), np.linspace(5.0, 12.0, n), 0.9)
    h = _horizon(mean, mean + 0.2)
    together = plan_homes(h, b)
    assert together.power_kw.shape == (n, H)
    assert together.peak_kw.shape == (n, 1)
    energy = Horizon(mean[0], h.price, h.price, 1.0, 0.0, 0.0, 0.28, 0.002)  # no peak term

    def objective(p: HomePlan, k: int, i: int) -> float:    # the LP's own: energy + peak
        return value_at(h.price, p.power_kw[k], float(p.stored_kwh[k, -1]), energy,
                        mean[i]) + h.capacity_per_kw * float(p.peak_kw[k, 0])

    for i in (0, CHUNK - 1, CHUNK, n - 1):
        one = slice(i, i + 1)
        alone = plan_homes(replace(h, mean_kw=mean[one], peak_kw=h.peak_kw[one],
                                   peak_so_far_kw=np.zeros(1)),
                           HomeBatteries(b.capacity_kwh[one], b.power_kw[one],
                                         b.stored_kwh[one], b.min_kwh[one], b.max_kwh[one],
                                         0.9))
        assert objective(together, i, i) == pytest.approx(objective(alone, 0, i), abs=1e-6)
