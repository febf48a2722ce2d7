"""The community energy game: homes with PV and batteries facing a price set by all of them.

State: a home's battery state of charge, on M points in [0, 1] of its capacity.
Control: the SoC it aims for at the end of the step, i.e. battery power within the charge
and discharge limits, with charge/discharge efficiency.
Noise: the home's net load (load − PV) is N(mean_t, std_t²) as its forecast reports; the
battery absorbs the deviation from the forecast around its set-point (self-consumption
correction), so the SoC diffuses with std ``std_t · dt / capacity``. What the battery
cannot absorb at 0 % or 100 % is settled with the grid: bought at retail, sold at feed-in.

Cost of one step for a home of type k drawing x = mean_t + b kW from the grid:

    price(Z_t) · x · dt            energy at the community price
    + price'(Z_t) / N · (x − Z_t) · x · dt   its own share of the aggregate (finite N)
    + wear_k · |b| · dt             battery wear per kWh throughput
    + loss_k · b² · dt              resistive loss and c-rate stress
    + risk_k · Var[V_{t+1}]         mean–variance on the forecast spread

with Z_t the aggregate net load per home (the mean field) and

    price(Z) = min(retail_t, feed_in + (retail_t − feed_in) · sigmoid((Z − z0) / s)
                              + peak · max(0, Z − z_peak)).

Energy left in the battery at the end is worth `terminal_value` per kWh.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meanfield.grid import gaussian_kernel
from meanfield.solver import Floats, Structure

Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class HomeType:
    """One class of homes; paths are per step over the horizon (kW)."""

    count: float                  # homes of this type
    capacity_kwh: float
    power_kw: float
    load_mean_kw: Floats          # (H,) net load forecast (load − PV), before the battery
    load_std_kw: Floats           # (H,)
    soc0: Floats                  # (M,) distribution of the state of charge now
    risk_aversion: float = 0.0    # per currency unit (mean–variance weight)
    wear_per_kwh: float = 0.0     # currency per kWh through the battery
    loss_per_kw2h: float = 0.01   # currency per kW² per hour: resistive loss and c-rate stress
    efficiency: float = 0.95      # one-way, charge and discharge


@dataclass(frozen=True)
class PriceLaw:
    retail: Floats                # (H,) per kWh
    feed_in: float
    midpoint_kw: float = 0.0      # aggregate net load per home at mid-band
    scale_kw: float = 1.0
    peak_kw: float = math.inf     # per home; above it the price climbs `peak_per_kw` per kW
    peak_per_kw: float = 0.0

    def price(self, z: Floats) -> tuple[Floats, Floats]:
        """Price and its derivative in z, per step."""
        u = (z - self.midpoint_kw) / self.scale_kw
        sig = 0.5 * (1.0 + np.tanh(0.5 * u))  # overflow-free logistic
        band = self.retail - self.feed_in
        over = np.maximum(0.0, z - self.peak_kw) if math.isfinite(self.peak_kw) else 0.0 * z
        raw = self.feed_in + band * sig + self.peak_per_kw * over
        slope = band * sig * (1.0 - sig) / self.scale_kw + self.peak_per_kw * (over > 0)
        capped = raw >= self.retail
        return np.where(capped, self.retail, raw), np.where(capped, 0.0, slope)


@dataclass(frozen=True)
class GameSpec:
    types: tuple[HomeType, ...]
    law: PriceLaw
    dt_h: float = 0.25
    homes: float = math.inf        # N for the own-impact term; inf = a continuum
    terminal_value: float | None = None   # per kWh left; default: mid-band × efficiency
    levels: int = 10               # charge (and discharge) levels per type


def _side(reach: int, n: int) -> tuple[Floats, Bools]:
    """n increasing positive offsets up to `reach` grid points: 1..reach when reach <= n
    (the rest masked), else `reach` spread over n distinct integers."""
    if reach <= n:
        return np.arange(1, n + 1, dtype=np.float64), np.arange(1, n + 1) <= reach
    return np.round(np.linspace(reach / n, reach, n)), np.ones(n, dtype=np.bool_)


def _offsets(spec: GameSpec, m: int) -> tuple[Floats, Floats, Bools]:
    """Per-type integer actions (grid points), their grid-side power and feasibility,
    each (K, A): idle, `n` charge levels and `n` discharge levels up to the power limit."""
    reach = []
    for ty in spec.types:
        step_kwh = ty.capacity_kwh / (m - 1)
        up = ty.power_kw * ty.efficiency * spec.dt_h / step_kwh
        down = ty.power_kw * spec.dt_h / (ty.efficiency * step_kwh)
        reach.append((math.floor(up + 1e-9), math.floor(down + 1e-9)))
    n = max(1, min(spec.levels, max(max(r) for r in reach)))
    k = len(spec.types)
    offsets = np.zeros((k, 2 * n + 1))
    ok = np.ones((k, 2 * n + 1), dtype=np.bool_)
    power = np.zeros_like(offsets)
    for i, (ty, (up, down)) in enumerate(zip(spec.types, reach, strict=True)):
        pos, pos_ok = _side(up, n)
        neg, neg_ok = _side(down, n)
        offsets[i] = np.concatenate([-neg[::-1], [0.0], pos])
        ok[i] = np.concatenate([neg_ok[::-1], [True], pos_ok])
        stored = offsets[i] * ty.capacity_kwh / (m - 1)
        power[i] = np.where(stored > 0, stored / ty.efficiency,
                            stored * ty.efficiency) / spec.dt_h
    return offsets, power, ok


class EnergyGame:
    """The `Game` the coordinator solves (see module docstring)."""

    def __init__(self, spec: GameSpec, points: int = 101) -> None:
        self.spec = spec
        self.points = m = points
        h = spec.law.retail.shape[0]
        types = spec.types
        counts = np.array([t.count for t in types], dtype=np.float64)
        self.weights = counts / counts.sum()
        self.mean = np.stack([t.load_mean_kw for t in types], axis=1)           # (H, K)
        std = np.stack([t.load_std_kw for t in types], axis=1)                  # (H, K)
        step_kwh = np.array([t.capacity_kwh / (m - 1) for t in types])
        offsets, self.power, ok = _offsets(spec, m)
        std_points = std * spec.dt_h / step_kwh[None, :]
        kernel = gaussian_kernel(std_points,
                                 min(m - 1, math.ceil(4.0 * float(std_points.max()))))
        mask = np.broadcast_to(ok[:, None, :], (len(types), m, offsets.shape[1])).copy()
        j = (kernel.shape[2] - 1) // 2
        # Expected energy the battery cannot absorb, per landing point (before noise).
        pos = np.arange(m)[:, None] + np.arange(-j, j + 1)[None, :]
        short = np.maximum(0, -pos)[None, None] * kernel[:, :, None, :]       # (H,K,M,2J+1)
        spill = np.maximum(0, pos - (m - 1))[None, None] * kernel[:, :, None, :]
        scale = step_kwh[None, :, None]
        eff = np.array([t.efficiency for t in types])[None, :, None]
        target = (spec.law.retail[:, None, None] * short.sum(-1) * scale / eff
                  - spec.law.feed_in * spill.sum(-1) * scale * eff)
        self.wear = (np.array([t.wear_per_kwh for t in types])[:, None] * np.abs(self.power)
                     + np.array([t.loss_per_kw2h for t in types])[:, None] * self.power**2)
        band_mid = float(np.mean(spec.law.retail) + spec.law.feed_in) / 2
        tv = spec.terminal_value if spec.terminal_value is not None else band_mid
        soc_kwh = np.arange(m)[None, :] * step_kwh[:, None]
        self._terminal: Floats = -tv * eff[0] * soc_kwh                         # (K, M)
        self._structure = Structure(
            offsets=offsets, mask=mask, kernel=kernel, weights=self.weights,
            mu0=np.stack([t.soc0 / t.soc0.sum() for t in types]),
            risk=np.array([t.risk_aversion for t in types], dtype=np.float64),
            target_cost=target)
        self._cost_unit = band_mid * float(step_kwh.mean())
        self._h = h

    @property
    def structure(self) -> Structure:
        return self._structure

    def prices(self, z: Floats) -> tuple[Floats, Floats]:
        return self.spec.law.price(z[: self._h])

    def stage_costs(self, z: Floats) -> Floats:
        """(H, K, A, 1)."""
        h = self._h
        p, dp = self.spec.law.price(z[:h])
        x = self.mean[:, :, None] + self.power[None]                            # (H, K, A)
        cost = p[:, None, None] * x + self.wear[None]
        if math.isfinite(self.spec.homes):
            cost += (dp / self.spec.homes)[:, None, None] * (x - z[:h, None, None]) * x
        out: Floats = (cost * self.spec.dt_h)[..., None]
        return out

    def terminal_cost(self, z: Floats) -> Floats:
        return self._terminal

    def statistic(self, states: Floats, actions: Floats) -> Floats:
        battery = np.einsum("tka,ka->tk", actions, self.power)
        z = np.zeros(self._h + 1)
        z[: self._h] = (self.mean + battery) @ self.weights
        return z

    def initial_statistic(self) -> Floats:
        z = np.zeros(self._h + 1)
        z[: self._h] = self.mean @ self.weights
        return z

    def scale(self) -> tuple[float, float]:
        z = float(np.mean(np.abs(self.mean @ self.weights))) + self.spec.law.scale_kw
        return z, self._cost_unit

    def turnover(self, z: Floats) -> float:
        """Expected money a home turns over at the community price (the cost scale)."""
        p, _ = self.prices(z)
        return float(np.sum(p * (np.abs(self.mean) @ self.weights)) * self.spec.dt_h)
