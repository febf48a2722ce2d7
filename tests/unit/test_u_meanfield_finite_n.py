"""Finite N: the gain from deviating shrinks as the community grows."""

from __future__ import annotations

import numpy as np

from bench.finite_n import deviation_gain, simulate
from bench.synthetic import community
from meanfield.energy import EnergyGame
from meanfield.solver import SolverSettings, solve


def game(n: int) -> EnergyGame:
    return EnergyGame(community(1, 24, 21, homes_n=float(n), dt_h=1.0), points=21)


def test_simulated_aggregate_converges_to_the_mean_field() -> None:
    g = game(1000)
    sol = solve(g, SolverSettings(temperature=1e-3, max_iter=300))
    rng = np.random.default_rng(3)
    err = {n: np.mean([np.abs(simulate(g, sol, n, rng) - sol.exploitability.z)[:-1].mean()
                       for _ in range(4)]) for n in (10, 1000)}
    assert err[1000] < err[10] / 3  # ~ sqrt(100) = 10 in expectation


def test_deviation_gain_shrinks_with_n() -> None:
    gains = []
    for n in (10, 100, 1000):
        g = game(n)
        sol = solve(g, SolverSettings(temperature=1e-3, max_iter=300))
        gains.append(deviation_gain(g, sol, n, replications=4, seed=7).gain_rel)
    assert gains[0] > gains[1] > gains[2] >= 0
