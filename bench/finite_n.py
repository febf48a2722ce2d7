"""The finite-population check: N homes play the equilibrium policy with sampled noise;
how much could one of them gain by deviating?

Each replication samples N homes (type by share, SoC from the type's distribution), lets
each draw its action from the policy and its forecast error from the noise kernel, step
by step, and records the realised aggregate net load per home z^N. A home that knew z^N
in advance could best-respond to it (its own 1/N share is in the cost already); its gain
over following the policy, averaged over homes and replications, is an upper bound of
what a unilateral deviation can earn in the N-player game — the ε of an ε-Nash
equilibrium, which should shrink like 1/sqrt(N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meanfield.energy import EnergyGame
from meanfield.solver import Floats, Solution, backward, make_plan


@dataclass(frozen=True)
class FiniteN:
    homes: int
    gain: float          # per home, currency
    gain_rel: float      # relative to the turnover at the community price
    z_error: float       # mean over steps of |z^N − z|, kW per home


def _sample(rng: np.random.Generator, probs: Floats) -> Floats:
    """One draw per row of `probs` (n, c)."""
    u = rng.random((probs.shape[0], 1))
    idx = (np.cumsum(probs, axis=1) < u * probs.sum(axis=1, keepdims=True)).sum(axis=1)
    out: Floats = np.minimum(idx, probs.shape[1] - 1)
    return out


def simulate(game: EnergyGame, sol: Solution, homes: int, rng: np.random.Generator) -> Floats:
    """The realised aggregate net load per home z^N, (H+1,), of `homes` homes on `sol`."""
    s = game.structure
    h, k, m, _ = s.shape
    j = (s.kernel.shape[2] - 1) // 2
    plan = make_plan(s)
    kind = rng.choice(k, size=homes, p=s.weights)
    point = _sample(rng, s.mu0[kind]).astype(np.int64)
    z = np.zeros(h + 1)
    for t in range(h):
        action = _sample(rng, sol.policy[t][kind, :, point]).astype(np.int64)
        z[t] = float(np.mean(game.mean[t, kind] + game.power[kind, action]))
        landing = plan.lo[kind, action, point] - kind * (m + 1)
        landing = np.where(landing >= m, point, landing)  # infeasible never drawn; be safe
        noise = _sample(rng, s.kernel[t][kind]).astype(np.int64) - j
        point = np.clip(landing + noise, 0, m - 1)
    return z


def deviation_gain(game: EnergyGame, sol: Solution, homes: int, replications: int,
                   seed: int = 0) -> FiniteN:
    rng = np.random.default_rng(seed)
    s = game.structure
    plan = make_plan(s)
    gains, errors, turnover = [], [], 0.0
    for _ in range(replications):
        z = simulate(game, sol, homes, rng)
        v_pi, _ = backward(game, plan, z, 0.0, policy=sol.policy)
        v_best, _ = backward(game, plan, z, 0.0)
        gains.append(float(s.weights @ ((v_pi - v_best) * s.mu0).sum(axis=1)))
        errors.append(float(np.mean(np.abs(z[:-1] - sol.exploitability.z[:-1]))))
        turnover += game.turnover(z) / replications
    gain = float(np.mean(gains))
    return FiniteN(homes, gain, gain / turnover, float(np.mean(errors)))
