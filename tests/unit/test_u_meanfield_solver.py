"""The mean-field solver: noise kernels, mass conservation, best responses, convergence."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.synthetic import community
from meanfield.energy import EnergyGame, GameSpec, HomeType, PriceLaw
from meanfield.grid import gaussian_kernel
from meanfield.solver import (
    SolverSettings,
    backward,
    exploitability,
    forward,
    make_plan,
    solve,
)


def small(types: int = 2, steps: int = 24, points: int = 21, homes: float = 50.0,
          risk: float = 0.0) -> EnergyGame:
    """One day in `steps` steps (hourly by default): PV at noon, the evening peak."""
    return EnergyGame(community(types, steps, points, homes_n=homes, risk_aversion=risk,
                                dt_h=24 / steps), points=points)


# --- noise kernel -------------------------------------------------------------------------


@pytest.mark.parametrize("std", [0.3, 1.0, 2.5, 7.0])
def test_kernel_is_a_symmetric_distribution_with_the_asked_variance(std: float) -> None:
    w = gaussian_kernel(np.array([std]))[0]
    j = (w.size - 1) // 2
    offsets = np.arange(-j, j + 1)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w, w[::-1], atol=1e-15)
    assert offsets @ w == pytest.approx(0.0, abs=1e-12)
    # Sheppard's correction: the discrete variance matches the continuous one.
    assert (offsets**2) @ w == pytest.approx(std**2, rel=0.02 if std > 0.5 else 0.5)


def test_kernel_without_noise_stays_put() -> None:
    w = gaussian_kernel(np.zeros((3, 2)))
    assert w.shape == (3, 2, 1)
    assert np.all(w == 1.0)


# --- forward / backward -------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), types=st.integers(1, 3), steps=st.integers(1, 8),
       points=st.integers(5, 15))
def test_forward_conserves_mass_under_any_policy(seed: int, types: int, steps: int,
                                                 points: int) -> None:
    game = small(types, steps, points)
    s = game.structure
    plan = make_plan(s)
    h, k, m, a = s.shape
    rng = np.random.default_rng(seed)
    pi = rng.random((h, k, a, m)) * (plan.lo < (np.arange(k) * (m + 1) + m)[:, None, None])
    pi /= pi.sum(axis=2, keepdims=True)
    states, actions = forward(plan, s, pi)
    assert np.all(states >= -1e-15)
    np.testing.assert_allclose(states.sum(axis=2), 1.0, atol=1e-12)
    np.testing.assert_allclose(actions.sum(axis=2), 1.0, atol=1e-12)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), risk=st.sampled_from([0.0, 0.5]))
def test_best_response_is_no_worse_than_any_policy(seed: int, risk: float) -> None:
    game = small(2, 8, 11, risk=risk)
    s = game.structure
    plan = make_plan(s)
    h, k, m, a = s.shape
    rng = np.random.default_rng(seed)
    z = game.initial_statistic() + rng.normal(0, 0.5, h + 1)
    feasible = plan.lo < (np.arange(k) * (m + 1) + m)[:, None, None]
    pi = rng.random((h, k, a, m)) * feasible
    pi /= pi.sum(axis=2, keepdims=True)
    v_pi, _ = backward(game, plan, z, 0.0, policy=pi)
    v_best, best = backward(game, plan, z, 0.0)
    assert np.all(v_best <= v_pi + 1e-9)
    # The hard best response puts all its weight on feasible actions.
    assert np.all(best[~np.broadcast_to(feasible, best.shape)] == 0)
    assert exploitability(game, plan, pi).gain >= 0


# --- the energy game ----------------------------------------------------------------------


@settings(max_examples=200)
@given(z=st.lists(st.floats(-50, 50), min_size=1, max_size=24), feed=st.floats(0, 0.2),
       extra=st.floats(0.01, 0.5), scale=st.floats(0.1, 5))
def test_price_stays_in_band_and_rises_with_load(z: list[float], feed: float, extra: float,
                                                 scale: float) -> None:
    zz = np.sort(np.asarray(z))
    law = PriceLaw(np.full(zz.size, feed + extra), feed, 0.0, scale, 2.0, 0.1)
    p, dp = law.price(zz)
    assert np.all(p >= feed - 1e-12)
    assert np.all(p <= feed + extra + 1e-12)
    assert np.all(np.diff(p) >= -1e-12)
    assert np.all(dp >= 0)


@pytest.mark.parametrize(("capacity", "power", "points"), [
    (10.0, 5.0, 101), (5.0, 5.0, 101), (13.5, 3.0, 51), (4.0, 0.0, 21), (0.5, 10.0, 11),
])
def test_actions_respect_the_power_limit(capacity: float, power: float, points: int) -> None:
    steps = 4
    home = HomeType(1.0, capacity, power, np.zeros(steps), np.zeros(steps), np.ones(points))
    game = EnergyGame(GameSpec((home,), PriceLaw(np.full(steps, 0.3), 0.08)), points=points)
    ok = game.structure.mask[0, 0]
    assert np.all(np.abs(game.power[0][ok]) <= power + 1e-9)
    assert ok[game.structure.offsets.shape[-1] // 2]  # idle is always allowed
    if power == 0:
        assert ok.sum() == 1


def test_solver_converges_and_its_equilibrium_is_hardly_exploitable() -> None:
    game = small()
    sol = solve(game, SolverSettings(tol=1e-5, temperature=1e-2, memory=8))
    assert sol.residual <= 1e-5
    ex = sol.exploitability
    assert 0 <= ex.gain <= 2e-3 * game.turnover(ex.z)  # the temperature floor: ~6e-4
    # The policy's own mean field is the one it answers.
    np.testing.assert_allclose(ex.z, sol.z, atol=1e-4)


def test_exploitability_falls_with_iterations() -> None:
    game = small()
    base = SolverSettings(tol=0.0, temperature=1e-2, memory=8)
    gains = [solve(game, replace(base, max_iter=n)).exploitability.gain for n in (1, 3, 30)]
    assert gains[0] > gains[1] > gains[2]
    assert gains[2] < 0.01 * gains[0]


def test_exploitability_falls_with_temperature() -> None:
    game = small()
    gains = [solve(game, SolverSettings(tol=1e-5, temperature=t, max_iter=300)).exploitability
             .gain for t in (1e-1, 1e-2, 1e-3)]
    assert gains[0] > gains[1] > gains[2] >= 0


@pytest.mark.parametrize("risk", [0.5, 2.0, 5.0])
def test_risk_term_trades_expected_cost_for_spread(risk: float) -> None:
    """Against the same mean field, the risk-neutral policy has the lowest expected cost and
    the risk-averse one the lowest mean–variance cost; they differ."""
    spec = community(1, 24, 21, homes_n=50.0, dt_h=1.0)
    neutral = EnergyGame(spec, points=21)
    averse = EnergyGame(replace(spec, types=(replace(spec.types[0], risk_aversion=risk),)),
                        points=21)
    plan = make_plan(neutral.structure)
    z = neutral.initial_statistic()
    mu0 = neutral.structure.mu0[0]
    _, pi0 = backward(neutral, plan, z, 0.0)
    _, pi1 = backward(averse, plan, z, 0.0)
    value = {(g, p): float(backward(game, plan, z, 0.0, policy=pi)[0][0] @ mu0)
             for g, game in (("neutral", neutral), ("averse", averse))
             for p, pi in (("neutral", pi0), ("averse", pi1))}
    assert value["neutral", "neutral"] <= value["neutral", "averse"] + 1e-12
    assert value["averse", "averse"] <= value["averse", "neutral"] + 1e-12
    assert not np.array_equal(pi0, pi1)


def test_own_impact_shrinks_with_population() -> None:
    """Finite N: a home's own share of the aggregate makes it trade less aggressively; the
    equilibrium approaches the continuum's as N grows."""
    z = {n: solve(small(homes=n), SolverSettings(tol=1e-5)).z for n in (2.0, 1e6, math.inf)}
    gap_small = float(np.max(np.abs(z[2.0] - z[math.inf])))
    gap_large = float(np.max(np.abs(z[1e6] - z[math.inf])))
    assert gap_large < 1e-3 < gap_small
