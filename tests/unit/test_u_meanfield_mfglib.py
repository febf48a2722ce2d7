"""Cross-check against MFGLib (the `crosscheck` extra): its exploitability of our policies
is ours, on a small version of the energy game expressed as an MFGLib environment."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the crosscheck extra (torch, mfglib) is not installed")
pytest.importorskip("mfglib", reason="the crosscheck extra (torch, mfglib) is not installed")

from bench.crosscheck import (
    exploitability,
    feasible_uniform,
    policy_to_mfglib,
    small_game,
    to_mfglib,
)
from meanfield.solver import SolverSettings, make_plan, solve
from meanfield.solver import exploitability as ours


def test_mfglib_scores_our_policies_as_we_do() -> None:
    game = small_game()
    env = to_mfglib(game)
    plan = make_plan(game.structure)
    sol = solve(game, SolverSettings(temperature=1e-2, tol=1e-6))
    rng = np.random.default_rng(0)
    noisy = feasible_uniform(game) * rng.random(sol.policy.shape)
    noisy /= noisy.sum(axis=2, keepdims=True)
    for policy in (sol.policy, feasible_uniform(game), noisy):
        want = ours(game, plan, policy).gain
        got = exploitability(env, policy_to_mfglib(policy))
        assert got == pytest.approx(want, rel=1e-4, abs=1e-6)
    # At our equilibrium both say: nothing much to gain.
    assert ours(game, plan, sol.policy).gain < 0.01 * ours(game, plan, feasible_uniform(game)).gain
