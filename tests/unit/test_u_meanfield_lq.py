"""The solver against the closed form of Carmona, Fouque & Sun (2015), no common noise."""

from __future__ import annotations

import numpy as np
import pytest

from bench.lq import LQGame, LQParams, riccati
from meanfield.solver import SolverSettings, forward, make_plan, solve

# Stated tolerances on a 401-point grid with 100 steps: the feedback slope within 2 %,
# the population variance within 4 % (the grid's interpolation adds a little diffusion).
SLOPE_TOL = 0.02
VARIANCE_TOL = 0.04


@pytest.mark.parametrize(("a", "q", "eps", "c"), [(1.0, 0.5, 1.0, 0.5), (0.0, 0.0, 1.0, 0.0),
                                                   (2.0, 1.0, 1.5, 2.0)])
def test_riccati_solves_its_ode(a: float, q: float, eps: float, c: float) -> None:
    p = LQParams(a=a, q=q, eps=eps, c=c)
    eta, var = riccati(p, 200)
    dt = p.horizon / 200
    assert eta[-1] == pytest.approx(c)
    mid = 0.5 * (eta[1:] + eta[:-1])
    np.testing.assert_allclose(np.diff(eta) / dt, 2 * (a + q) * mid + mid**2 - (eps - q**2),
                               rtol=1e-3, atol=1e-3)
    assert var[0] == pytest.approx(p.s0**2)


def test_steady_state_riccati_is_constant() -> None:
    p = LQParams(a=1.0, q=0.5, eps=1.0)
    root = -(p.a + p.q) + np.sqrt((p.a + p.q) ** 2 + p.eps - p.q**2)
    eta, _ = riccati(LQParams(a=1.0, q=0.5, eps=1.0, c=float(root)), 50)
    np.testing.assert_allclose(eta, root, rtol=1e-9)


def test_solver_matches_the_closed_form() -> None:
    game = LQGame(LQParams(), points=401, steps=100, action_step=0.1)
    sol = solve(game, SolverSettings(temperature=1e-3))
    states, _ = forward(make_plan(game.structure), game.structure, sol.policy)
    slope_err, var_err = game.compare(sol, states)
    assert slope_err < SLOPE_TOL
    assert var_err < VARIANCE_TOL
    # The population mean stays at m0, as in the closed form.
    np.testing.assert_allclose(states[:, 0] @ game.x, game.p.m0, atol=1e-6)
    assert sol.exploitability.gain < 0.01 * sol.exploitability.value
