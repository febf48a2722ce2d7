"""The linear-quadratic mean-field game of Carmona, Fouque & Sun, "Mean Field Games and
Systemic Risk" (Comm. Math. Sci. 13(4), 2015), without common noise, as a test of the
solver against a closed form.

    dX = [a (m − X) + α] dt + σ dW,   X_0 ~ N(m0, s0²)
    cost  E ∫_0^T [½ α² − q α (m − X) + ε/2 (m − X)²] dt + c/2 (m − X_T)²,   q² ≤ ε

Equilibrium: α*(t, x) = (q + η_t)(m − x) with η' = 2(a+q) η + η² − (ε − q²), η_T = c;
the population stays Gaussian with mean m0 and variance v' = −2(a + q + η) v + σ².

On the grid the action is the displacement u per step (in grid points, fractional), so
α = u·dx/dt − a (m − x); the statistic z_t is the population mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from meanfield.grid import gaussian_kernel
from meanfield.solver import Floats, Solution, Structure


@dataclass(frozen=True)
class LQParams:
    a: float = 1.0
    q: float = 0.5
    eps: float = 1.0
    c: float = 0.5
    sigma: float = 0.4
    horizon: float = 1.0
    m0: float = 0.0
    s0: float = 0.3


def riccati(p: LQParams, steps: int, sub: int = 50) -> tuple[Floats, Floats]:
    """η_t and the variance v_t at t = 0, T/steps, ..., T (RK4, `sub` substeps per step)."""
    n = steps * sub
    dt = p.horizon / n

    def f(e: float) -> float:
        return 2 * (p.a + p.q) * e + e * e - (p.eps - p.q * p.q)

    eta = np.empty(n + 1)
    eta[n] = p.c
    for i in range(n, 0, -1):  # backward in time
        e = eta[i]
        k1 = f(e)
        k2 = f(e - 0.5 * dt * k1)
        k3 = f(e - 0.5 * dt * k2)
        k4 = f(e - dt * k3)
        eta[i - 1] = e - dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    var = np.empty(n + 1)
    var[0] = p.s0**2
    for i in range(n):
        rate = [p.a + p.q + eta[i], p.a + p.q + 0.5 * (eta[i] + eta[i + 1]),
                p.a + p.q + eta[i + 1]]
        v = var[i]
        k1 = -2 * rate[0] * v + p.sigma**2
        k2 = -2 * rate[1] * (v + 0.5 * dt * k1) + p.sigma**2
        k3 = -2 * rate[1] * (v + 0.5 * dt * k2) + p.sigma**2
        k4 = -2 * rate[2] * (v + dt * k3) + p.sigma**2
        var[i + 1] = v + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6
    return eta[::sub], var[::sub]


class _Costs:
    def __init__(self, game: LQGame, z: Floats) -> None:
        self._g, self._z = game, z

    def __getitem__(self, t: int) -> Floats:
        g, p = self._g, self._g.p
        gap = self._z[t] - g.x                                          # (M,)
        alpha = g.u[:, None] * (g.dx / g.dt) - p.a * gap[None, :]       # (A, M)
        cost = (0.5 * alpha**2 - p.q * alpha * gap + 0.5 * p.eps * gap**2) * g.dt
        out: Floats = cost[None]
        return out


class LQGame:
    """The LQ game on a grid of `points` over m0 ± `half_width`, `steps` steps, actions
    every `action_step` grid points up to what the closed form needs on the grid."""

    def __init__(self, p: LQParams, points: int = 401, steps: int = 100,
                 half_width: float = 2.5, action_step: float = 0.1) -> None:
        self.p = p
        self.x = np.linspace(p.m0 - half_width, p.m0 + half_width, points)
        self.dx = float(self.x[1] - self.x[0])
        self.dt = p.horizon / steps
        eta, _ = riccati(p, steps)
        reach = (p.a + p.q + float(eta.max())) * half_width * self.dt / self.dx
        d = int(np.ceil(1.2 * reach / action_step))
        self.u: Floats = np.arange(-d, d + 1, dtype=np.float64) * action_step
        mu0 = np.exp(-0.5 * ((self.x - p.m0) / p.s0) ** 2)
        kernel = gaussian_kernel(np.full((steps, 1), p.sigma * np.sqrt(self.dt) / self.dx))
        self._s = Structure(offsets=self.u, mask=np.ones((1, points, self.u.size), np.bool_),
                            kernel=kernel, weights=np.ones(1), mu0=(mu0 / mu0.sum())[None],
                            risk=np.zeros(1))
        self._h = steps

    @property
    def structure(self) -> Structure:
        return self._s

    def stage_costs(self, z: Floats) -> _Costs:
        return _Costs(self, z)

    def terminal_cost(self, z: Floats) -> Floats:
        out: Floats = (0.5 * self.p.c * (z[-1] - self.x) ** 2)[None]
        return out

    def statistic(self, states: Floats, actions: Floats) -> Floats:
        out: Floats = states[:, 0, :] @ self.x
        return out

    def initial_statistic(self) -> Floats:
        return np.full(self._h + 1, self.p.m0)

    def scale(self) -> tuple[float, float]:
        return self.p.s0 + self.p.sigma, 0.5 * (self.dx / self.dt) ** 2 * self.dt

    def compare(self, sol: Solution, states: Floats, band: float = 2.0) -> tuple[float, float]:
        """Max relative error over t of (feedback slope, variance) against the closed form.
        The slope is fitted by least squares on |x − m| ≤ band·std of the population."""
        p = self.p
        eta, var = riccati(p, self._h)
        mean_u = np.einsum("tam,a->tm", sol.policy[:, 0], self.u)
        slope_err = 0.0
        for t in range(self._h):
            m = float(states[t, 0] @ self.x)
            gap = m - self.x
            sel = np.abs(gap) <= band * np.sqrt(var[t])
            alpha = mean_u[t] * self.dx / self.dt - p.a * gap
            fitted = float(alpha[sel] @ gap[sel] / (gap[sel] @ gap[sel]))
            slope_err = max(slope_err, abs(fitted / (p.q + eta[t]) - 1))
        got = np.einsum("tm,m->t", states[:, 0], self.x**2) - (states[:, 0] @ self.x) ** 2
        var_err = float(np.max(np.abs(got / var - 1)))
        return slope_err, var_err
