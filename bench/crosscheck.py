"""Express a small `EnergyGame` as an MFGLib environment (needs the `crosscheck` extra).

MFGLib (https://github.com/radar-research-lab/MFGLib) maximises rewards over t = 0..T
with the mean field as the joint state–action distribution L_t. Our game maps onto it
with one type, T = H, reward = −cost, and the terminal cost as an action-free reward at
T. The mean field enters our cost only through the aggregate net load per home
z_t = Σ L_t(s, a) (mean_t + power_a), which MFGLib's reward function recomputes from L_t.
The risk term is not expressible (MFGLib's Q is risk-neutral): cross-check with risk 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from meanfield.energy import EnergyGame
from meanfield.solver import make_plan

INFEASIBLE_REWARD = -1e6


def to_mfglib(game: EnergyGame) -> Any:
    import torch
    from mfglib.env import Environment

    s = game.structure
    h, k, m, a = s.shape
    if k != 1 or np.any(s.risk > 0):
        raise ValueError("MFGLib has one population and a risk-neutral Q: K = 1, risk = 0")
    plan = make_plan(s)
    j = (s.kernel.shape[2] - 1) // 2
    lo = plan.lo[0].T                                     # (M, A) flat into (M+1), M = no
    feasible = lo < m
    offsets = np.broadcast_to(s.offsets, (1, a))[0]
    target = np.where(feasible, lo, np.clip(np.arange(m)[:, None] + offsets[None, :], 0,
                                            m - 1)).astype(np.int64)
    trans = np.zeros((h, m, m, a))                        # (t, dst, src, action)
    for t in range(h):
        for o in range(2 * j + 1):
            dst = np.clip(target + o - j, 0, m - 1)
            np.add.at(trans[t], (dst, np.arange(m)[:, None], np.arange(a)[None, :]),
                      s.kernel[t, 0, o])
    power = game.power[0]
    terminal = game.terminal_cost(np.zeros(h + 1))[0]
    spill = s.target_cost[:, 0] if s.target_cost is not None else np.zeros((h, m))

    def reward(env: Any, t: int, lt: Any) -> Any:
        if t >= h:
            return torch.tensor(-np.repeat(terminal[:, None], a, axis=1), dtype=torch.float32)
        joint = lt.detach().double().numpy()
        z = np.zeros(h + 1)
        z[t] = float((joint.sum(axis=0) * (game.mean[t, 0] + power)).sum())
        stage = game.stage_costs(z)[t][0, :, 0]           # (A,)
        cost = stage[None, :] + spill[t][np.minimum(target, m - 1)]
        return torch.tensor(np.where(feasible, -cost, INFEASIBLE_REWARD), dtype=torch.float32)

    def transition(env: Any, t: int, lt: Any) -> Any:
        return torch.tensor(trans[min(t, h - 1)], dtype=torch.float32)

    mu0 = torch.tensor(s.mu0[0], dtype=torch.float32)
    return Environment(T=h, S=(m,), A=(a,), mu0=mu0 / mu0.sum(), r_max=1e6,
                       reward_fn=reward, transition_fn=transition)


def policy_to_mfglib(policy: np.ndarray) -> Any:
    """Our policy (H, 1, A, M) as MFGLib's (T+1, M, A); uniform at T (no action there)."""
    import torch

    h, _, a, m = policy.shape
    out = np.full((h + 1, m, a), 1.0 / a)
    out[:h] = policy[:, 0].transpose(0, 2, 1)
    return torch.tensor(out, dtype=torch.float32)


def exploitability(env: Any, pi: Any) -> float:
    import mfglib.alg  # noqa: F401  (mfglib.scoring alone hits a circular import)
    from mfglib.scoring import exploitability_score

    return float(exploitability_score(env, pi))


def small_game(points: int = 21, homes: float = 20.0) -> EnergyGame:
    """One type, 6 steps, `points` SoC points: small enough for MFGLib's dense tensors."""
    from meanfield.energy import GameSpec, HomeType, PriceLaw

    steps = 6
    home = HomeType(count=1.0, capacity_kwh=4.0, power_kw=3.0,
                    load_mean_kw=np.array([0.5, -1.0, -1.5, 0.2, 1.2, 1.0]),
                    load_std_kw=np.full(steps, 0.8), soc0=np.ones(points), wear_per_kwh=0.01)
    law = PriceLaw(np.full(steps, 0.30), 0.08, 0.0, 1.0)
    return EnergyGame(GameSpec((home,), law, homes=homes), points=points)


def feasible_uniform(game: EnergyGame) -> np.ndarray:
    """Every feasible action equally likely: a policy far from equilibrium."""
    plan = make_plan(game.structure)
    m = game.structure.shape[2]
    ok = np.where(plan.lo < m, 1.0, 0.0)[None].repeat(game.structure.shape[0], axis=0)
    out: np.ndarray = ok / ok.sum(axis=2, keepdims=True)
    return out


def medium_game() -> EnergyGame:
    """One type, a day in 24 hourly steps, 51 SoC points."""
    from bench.synthetic import community

    return EnergyGame(community(1, 24, 51, homes_n=20.0, risk_aversion=0.0, dt_h=1.0),
                      points=51)


def _compare(game: EnergyGame, omd_iterations: int) -> dict[str, Any]:
    import time

    from mfglib.alg import OnlineMirrorDescent

    from meanfield.solver import SolverSettings, solve
    from meanfield.solver import exploitability as ours

    plan = make_plan(game.structure)
    started = time.perf_counter()
    sol = solve(game, SolverSettings(temperature=1e-2, tol=1e-5))
    ours_s = time.perf_counter() - started
    env = to_mfglib(game)
    uniform = feasible_uniform(game)
    started = time.perf_counter()
    _, expls, _ = OnlineMirrorDescent().solve(env, max_iter=omd_iterations, verbose=False)
    omd_s = time.perf_counter() - started
    h, _, m, a = game.structure.shape
    return {
        "game": {"steps": h, "soc_points": m, "actions": a},
        "equilibrium_ours": sol.exploitability.gain,
        "equilibrium_mfglib": exploitability(env, policy_to_mfglib(sol.policy)),
        "uniform_ours": ours(game, plan, uniform).gain,
        "uniform_mfglib": exploitability(env, policy_to_mfglib(uniform)),
        "ours_solve_s": ours_s, "ours_iterations": sol.iterations,
        "mfglib_omd_iterations": omd_iterations,
        # MFGLib's solve scores the exploitability at every iteration: included here.
        "mfglib_omd_s_per_iteration": omd_s / omd_iterations,
        "mfglib_omd_s": omd_s,
        "mfglib_omd_exploitability_after": float(expls[-1]),
    }


def compare() -> dict[str, Any]:
    """Our exploitability and MFGLib's on the same policies (equilibrium and uniform), and
    our solve against MFGLib's online mirror descent on the same games."""
    return {"small": _compare(small_game(), 50), "medium": _compare(medium_game(), 20)}
