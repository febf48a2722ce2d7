"""A discrete mean-field-type game on a 1-D state grid, solved to a fixed point.

Each of K types has its own value function and its own distribution over M grid points.
An action moves a home's state by a (possibly fractional) number of grid points; a
fractional move splits the mass between the two neighbouring points (the semi-Lagrangian
Markov-chain approximation, mean displacement exact). Then noise moves it by an integer
offset drawn from a per-type, per-step kernel; mass beyond the grid stays at its edge.

The population enters each home's cost only through a statistic path `z` (t = 0..H) —
for the energy game the aggregate net load per home, for the LQ test the population mean.
One iteration is

1. backward DP (discrete HJB) for every type at once, given `z`: a soft-min best response
   (temperature `tau`, cost units) so that the response is continuous in `z`;
2. forward Fokker–Planck of every type's distribution under that policy and the noise;
3. the statistic `z'` of the resulting flow; damped update ``z += theta (z' - z)``, with
   `theta` halved whenever the residual grows (a damped fixed point that falls back
   towards fictitious-play step sizes when the map is not contracting).

At the end the exploitability is exact: the value of the returned policy, against the
mean field that policy itself generates, minus the value of the hard best response to it.
Everything is vectorised over types, grid points and actions; Python loops run only over
the H time steps and the iterations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

BIG = 1e30  # cost of an infeasible action: never chosen, weight 0 in every policy


@dataclass(frozen=True)
class Structure:
    """What does not depend on the mean field. Shapes: K types, M points, A actions, H steps."""

    offsets: Floats            # (K, A) or (A,): displacement of each action, in grid points
    mask: Bools                # (K, M, A) feasible actions (before the grid-edge check)
    kernel: Floats             # (H, K, 2J+1) noise: probability of offset o - J
    weights: Floats            # (K,) population shares, sum 1
    mu0: Floats                # (K, M) initial distributions, each sums to 1
    risk: Floats               # (K,) weight of the variance of the continuation value
    target_cost: Floats | None = None  # (H, K, M) cost of landing at a point before noise

    @property
    def shape(self) -> tuple[int, int, int, int]:
        h, k, _ = self.kernel.shape
        return h, k, self.mu0.shape[1], self.offsets.shape[-1]


class StageCosts(Protocol):
    def __getitem__(self, t: int, /) -> Floats: ...


class Game(Protocol):
    @property
    def structure(self) -> Structure: ...

    def stage_costs(self, z: Floats) -> StageCosts:
        """Cost of each action at each step: item t broadcastable to (K, A, M)."""
        ...

    def terminal_cost(self, z: Floats) -> Floats:
        """(K, M)."""
        ...

    def statistic(self, states: Floats, actions: Floats) -> Floats:
        """The mean-field path z (H+1,) from state marginals (H+1, K, M) and action
        marginals (H, K, A)."""
        ...

    def initial_statistic(self) -> Floats: ...

    def scale(self) -> tuple[float, float]:
        """(typical size of z, typical cost of one grid step of action): residual and
        temperature are relative to these."""
        ...


@dataclass(frozen=True)
class Plan:
    """Index arrays for the gathers and scatters, computed once per structure. Arrays are laid
    out (K, A, M) so that reductions over actions run along contiguous rows."""

    lo: Ints          # (K, A, M) flat index into a (K, M+1) array; M = infeasible (BIG)
    hi: Ints          # (K, A, M) the upper neighbour of a fractional move
    frac: Floats      # (K, A, M) share of the mass that goes to `hi`
    integral: bool


def make_plan(s: Structure) -> Plan:
    _, k, m, _ = s.shape
    offsets = np.broadcast_to(s.offsets, (k, s.offsets.shape[-1]))
    pos = np.arange(m)[None, None, :] + offsets[:, :, None]                # (K, A, M)
    on_grid = (pos >= -1e-9) & (pos <= m - 1 + 1e-9)
    pos = np.clip(pos, 0, m - 1)
    lo = np.minimum(np.floor(pos + 1e-9).astype(np.int64), m - 1)
    hi = np.minimum(lo + 1, m - 1)
    frac = np.clip(pos - lo, 0.0, 1.0)
    ok = s.mask.transpose(0, 2, 1) & on_grid                                # (K, A, M)
    base = (np.arange(k) * (m + 1))[:, None, None]
    return Plan(np.where(ok, base + lo, base + m), np.where(ok, base + hi, base + m),
                frac, bool(np.all(frac < 1e-9)))


class _Window:
    """A (K, M + 2J) buffer and its (K, 2J+1, M) sliding-window view, made once: each step
    writes the values (edge-padded) and reduces over the view — no per-step gather or pad."""

    def __init__(self, k: int, m: int, j: int) -> None:
        self.j, self.m = j, m
        self.buf = np.empty((k, m + 2 * j))
        self.view = sliding_window_view(self.buf, m, axis=1)

    def load(self, v: Floats) -> Floats:
        j, m = self.j, self.m
        self.buf[:, j : j + m] = v
        self.buf[:, :j] = v[:, :1]
        self.buf[:, j + m :] = v[:, -1:]
        return self.view


def _expect(s: Structure, t: int, v: Floats, win: _Window, win2: _Window) -> Floats:
    """E[v(next)] (plus the risk term) for every landing point before the noise, padded
    with BIG for the infeasible slot: (K, M+1). The variance is E[v²] − E[v]²."""
    k, m = v.shape
    w = s.kernel[t]
    out = np.empty((k, m + 1))
    out[:, m] = BIG
    ev = out[:, :m]
    np.einsum("kjm,kj->km", win.load(v), w, out=ev)
    if np.any(s.risk > 0):
        second = np.einsum("kjm,kj->km", win2.load(v * v), w)
        ev += s.risk[:, None] * np.maximum(second - ev * ev, 0.0)
    if s.target_cost is not None:
        ev += s.target_cost[t]
    return out


def _q(plan: Plan, ev_padded: Floats, cost: Floats) -> Floats:
    ev = ev_padded.ravel()
    if plan.integral:
        w = np.take(ev, plan.lo)
    else:
        w = np.take(ev, plan.lo) * (1.0 - plan.frac) + np.take(ev, plan.hi) * plan.frac
    w += cost
    return w


def _soft(q: Floats, tau: float) -> npt.NDArray[np.floating[Any]]:
    """Soft-min over actions (axis 1); one-hot arg-min when tau = 0."""
    qmin = q.min(axis=1, keepdims=True)
    if tau <= 0:
        p = np.zeros_like(q)
        np.put_along_axis(p, q.argmin(axis=1)[:, None, :], 1.0, axis=1)
        return p
    e: npt.NDArray[np.float32] = ((qmin - q) * (1.0 / tau)).astype(np.float32)
    np.exp(e, out=e)  # float32 exp: 3x faster than float64, ample for a policy
    e /= e.sum(axis=1, keepdims=True)
    return e  # float32; stored into the float64 policy buffer


def backward(game: Game, plan: Plan, z: Floats, tau: float, policy: Floats | None = None,
             out: Floats | None = None) -> tuple[Floats, Floats]:
    """Values at t = 0 (K, M) and the policy (H, K, A, M): the soft best response to `z`
    (hard when tau = 0), or the evaluation of a given `policy`. `out` is reused for the
    policy when given (a fresh 16 MB array per iteration costs its page faults)."""
    h, k, m, a = game.structure.shape
    v = game.terminal_cost(z)
    cost = game.stage_costs(z)
    pis = policy if policy is not None else out if out is not None else np.empty((h, k, a, m))
    j = (game.structure.kernel.shape[2] - 1) // 2
    win, win2 = _Window(k, m, j), _Window(k, m, j)
    for t in range(h - 1, -1, -1):
        q = _q(plan, _expect(game.structure, t, v, win, win2), cost[t])
        if policy is None:
            if tau <= 0:
                pis[t] = _soft(q, 0.0)
                v = q.min(axis=1)
                continue
            pis[t] = _soft(q, tau)
        v = np.einsum("kam,kam->km", pis[t], q)
    return v, pis


def forward(plan: Plan, s: Structure, pi: Floats) -> tuple[Floats, Floats]:
    """State marginals (H+1, K, M) and action marginals (H, K, A) under `pi`."""
    h, k, m, a = s.shape
    states = np.empty((h + 1, k, m))
    actions = np.empty((h, k, a))
    states[0] = s.mu0
    size = k * (m + 1)
    lo, hi = plan.lo.ravel(), plan.hi.ravel()
    j = (s.kernel.shape[2] - 1) // 2
    flipped = s.kernel[:, :, ::-1]
    landed = np.zeros((k, m + 4 * j))
    windows = sliding_window_view(landed, m + 2 * j, axis=1)
    for t in range(h):
        flow = states[t][:, None, :] * pi[t]
        actions[t] = flow.sum(axis=2)
        if plan.integral:
            nu = np.bincount(lo, flow.ravel(), size)
        else:
            nu = (np.bincount(lo, (flow * (1.0 - plan.frac)).ravel(), size)
                  + np.bincount(hi, (flow * plan.frac).ravel(), size))
        # Noise: a full convolution of each type's landing mass with its kernel, then the
        # mass beyond either edge lumped onto the edge point.
        landed[:, 2 * j : 2 * j + m] = nu.reshape(k, m + 1)[:, :m]
        full = np.einsum("kjm,kj->km", windows, flipped[t])
        nxt = states[t + 1]
        nxt[:] = full[:, j : j + m]
        nxt[:, 0] += full[:, :j].sum(axis=1)
        nxt[:, -1] += full[:, j + m :].sum(axis=1)
    return states, actions


@dataclass(frozen=True)
class SolverSettings:
    max_iter: int = 200
    tol: float = 1e-5          # residual: max |z' - z| relative to the z scale (the float32
                               # soft-min leaves ~1e-6 of noise: do not ask for less)
    damping: float = 0.5
    min_damping: float = 0.02
    temperature: float = 1e-3  # soft-min temperature, relative to the cost of one grid step
    memory: int = 5            # Anderson acceleration: how many past iterates to combine


@dataclass(frozen=True)
class Exploitability:
    gain: float       # best single deviation's expected gain per home (cost units)
    value: float      # expected cost per home of the evaluated policy
    z: Floats         # the mean field the policy generates


@dataclass(frozen=True)
class Solution:
    z: Floats                  # the statistic path the policy answers
    policy: Floats             # (H, K, A, M)
    iterations: int
    residual: float
    exploitability: Exploitability  # NaN when solved with score=False
    residuals: list[float] = field(default_factory=list)


def exploitability(game: Game, plan: Plan, pi: Floats) -> Exploitability:
    s = game.structure
    states, actions = forward(plan, s, pi)
    z = game.statistic(states, actions)
    v_pi, _ = backward(game, plan, z, 0.0, policy=pi)
    v_best, _ = backward(game, plan, z, 0.0)
    per_type = ((v_pi - v_best) * s.mu0).sum(axis=1)
    value = float(s.weights @ (v_pi * s.mu0).sum(axis=1))
    return Exploitability(float(max(0.0, s.weights @ per_type)), value, z)


def _anderson(zs: list[Floats], rs: list[Floats], beta: float) -> Floats:
    """Anderson mixing over the last iterates: the combination whose residual is smallest
    (least squares), stepped by `beta` along its residual."""
    z, r = zs[-1], rs[-1]
    if len(zs) < 2:
        return z + beta * r
    dz = np.diff(np.asarray(zs), axis=0).T
    dr = np.diff(np.asarray(rs), axis=0).T
    gamma, *_ = np.linalg.lstsq(dr, r, rcond=None)
    out: Floats = z + beta * r - (dz + beta * dr) @ gamma
    return out


def solve(game: Game, settings: SolverSettings = SolverSettings(),
          plan: Plan | None = None, score: bool = True, start: Floats | None = None,
          ) -> Solution:
    """Iterate best response → Fokker–Planck → statistic until the statistic moves less
    than `tol` (relative). Steps are Anderson-accelerated on the residual, damped by
    `damping`; when the residual grows the history is dropped and the damping halved.
    `start` (a previous solution's statistic) warm-starts the iteration."""
    s = game.structure
    plan = plan or make_plan(s)
    z_scale, cost_scale = game.scale()
    tau = settings.temperature * cost_scale
    z = game.initial_statistic() if start is None else np.array(start, dtype=np.float64)
    beta, best = settings.damping, np.inf
    residuals: list[float] = []
    zs: list[Floats] = []
    rs: list[Floats] = []
    h, k, m, a = s.shape
    buffers = [np.empty((h, k, a, m)), np.empty((h, k, a, m))]
    pi = buffers[0]
    for n in range(settings.max_iter):
        _, pi = backward(game, plan, z, tau, out=buffers[n % 2])
        states, actions = forward(plan, s, pi)
        r = game.statistic(states, actions) - z
        residual = float(np.max(np.abs(r))) / z_scale
        residuals.append(residual)
        if residual <= settings.tol:
            break
        if residual > 2 * best:
            zs, rs = [], []
            beta = max(settings.min_damping, beta / 2)
        best = min(best, residual)
        zs, rs = [*zs[-settings.memory:], z], [*rs[-settings.memory:], r]
        z = _anderson(zs, rs, beta)
    scored = exploitability(game, plan, pi) if score else None
    return Solution(z, pi, iterations=len(residuals), residual=residuals[-1],
                    exploitability=scored or Exploitability(math.nan, math.nan, z),
                    residuals=residuals)
