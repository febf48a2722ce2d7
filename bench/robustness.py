"""How far lying agents move the published price path: robust estimates vs plain means.

Pure. Honest agents report synthetic homes; a fraction of the reports is replaced by lies:

- inflate: +`size` kW every step and SoC 100 %;
- deflate: −`size` kW every step and SoC 0 %;
- oscillate: ±`size` kW alternating step by step;
- collude: every liar reports, per step, the largest honest value — the edge that a
  trimmed mean keeps longest, the strongest lie that still looks honest.

The shift is max_t |p_attacked − p_clean| / mean_t p_clean, each estimator against its
own clean price path.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from bench.synthetic import homes, retail
from coordinator.game import GameConfig, Report, solve_reports
from meanfield.solver import Floats

ATTACKS = ("inflate", "deflate", "oscillate", "collude")


@dataclass(frozen=True)
class Shift:
    fraction: float
    attack: str
    price_shift_rel_robust: float
    price_shift_rel_mean: float


def honest_reports(n: int, steps: int, seed: int = 0) -> list[Report]:
    return [Report(100 * h.soc, 1000 * h.capacity_kwh, 1000 * h.power_kw, h.mean_kw, h.std_kw)
            for h in homes(n, steps, seed)]


def lie(reports: list[Report], fraction: float, attack: str, size_kw: float = 20.0,
        seed: int = 1) -> list[Report]:
    n = len(reports)
    liars = np.random.default_rng(seed).choice(n, size=round(fraction * n), replace=False)
    steps = reports[0].mean_kw.size
    edge = np.max(np.stack([r.mean_kw for r in reports]), axis=0)
    sign = np.where(np.arange(steps) % 2 == 0, 1.0, -1.0)
    out = list(reports)
    for i in liars:
        r = reports[i]
        if attack == "inflate":
            out[i] = replace(r, mean_kw=r.mean_kw + size_kw, soc_pct=100.0)
        elif attack == "deflate":
            out[i] = replace(r, mean_kw=r.mean_kw - size_kw, soc_pct=0.0)
        elif attack == "oscillate":
            out[i] = replace(r, mean_kw=sign * size_kw)
        elif attack == "collude":
            out[i] = replace(r, mean_kw=edge.copy())
        else:
            raise ValueError(f"unknown attack {attack!r}")
    return out


def _prices(reports: list[Report], cfg: GameConfig) -> Floats:
    steps = reports[0].mean_kw.size
    return solve_reports(reports, retail(steps, cfg.dt_h), 0.08, cfg).price


def shifts(n: int = 100, steps: int = 96, fractions: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3),
           attacks: tuple[str, ...] = ATTACKS, cfg: GameConfig | None = None) -> list[Shift]:
    cfg = cfg or GameConfig()
    clean = honest_reports(n, steps)
    robust_cfg, mean_cfg = replace(cfg, robust=True), replace(cfg, robust=False)
    base = {True: _prices(clean, robust_cfg), False: _prices(clean, mean_cfg)}
    out = []
    for fraction in fractions:
        for attack in attacks:
            attacked = lie(clean, fraction, attack)
            rel = {}
            for robust, c in ((True, robust_cfg), (False, mean_cfg)):
                p = _prices(attacked, c) if fraction > 0 else base[robust]
                rel[robust] = float(np.max(np.abs(p - base[robust])) / np.mean(base[robust]))
            out.append(Shift(fraction, attack, rel[True], rel[False]))
    return out
