"""The Byzantine sweep: the same community with a growing share of attackers.

Attackers are the first ⌈share × N⌉ homes of one fixed random order, so each share's
attackers include the smaller shares'. Per attack and share the peerwatt strategy runs
again; the honest homes' outcome is compared with the same homes in the clean run:

- honest_welfare_loss_pct = 100 × (W_clean − W_attacked) / W_clean over honest homes
  (W as in `sim.metrics`: includes the value of the load, so it moves little);
- honest_gain_loss_pct = 100 × (G_clean − G_attacked) / G_clean, G = the honest homes'
  saving against no trading: the share of peerwatt's benefit the attack takes away.

Attacks (`sim.engine`): false_bids (positions on a random side for three times
the energy, not backed by the forecast), withholding (offers taken, never answered; own
surplus kept off the market), reneging (agreed purchases never paid), lying (state
reports to the coordinator inflated by `lie_kw` on every step, SoC reported 100 %).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.cluster import Mapper, serial_map
from sim.engine import PEERWATT, RunResult, Simulation
from sim.scenario import Attack


def attackers(n: int, share: float, seed: int) -> npt.NDArray[np.bool_]:
    order = np.random.default_rng(seed + 99).permutation(n)
    bad = np.zeros(n, dtype=bool)
    bad[order[: int(np.ceil(share * n - 1e-9))]] = True
    return bad


def _point(sim: Simulation, point: tuple[Attack, float]) -> RunResult:
    """One attacked run: a pure function of the simulation and the point (`sim.cluster`)."""
    attack, share = point
    return sim.run(PEERWATT, attackers(sim.homes.n, share, sim.seed), attack)


def sweep(sim: Simulation, clean: RunResult, none: RunResult, attacks: tuple[Attack, ...],
          shares: tuple[float, ...], tick: Callable[[], None] | None = None,
          run_map: Mapper = serial_map) -> list[dict[str, Any]]:
    """Every (attack, share) point; the attacked runs go through `run_map` (independent,
    so a cluster may run them side by side); `tick` once per step of each finished run."""
    n = sim.homes.n
    gain_clean = clean.welfare_msat - none.welfare_msat
    grid = [(a, s) for a in attacks for s in shares]
    todo = [p for p in grid if attackers(n, p[1], sim.seed).any()]

    def done(_: int) -> None:
        if tick is not None:
            for _step in range(sim.homes.steps):
                tick()

    ran = dict(zip(todo, run_map(_point, todo, sim, done), strict=True))
    out = []
    for attack, share in grid:
        bad = attackers(n, share, sim.seed)
        run = ran.get((attack, share), clean)
        honest = ~bad
        w0 = float(clean.welfare_msat[honest].sum())
        w1 = float(run.welfare_msat[honest].sum())
        g0 = float(gain_clean[honest].sum())
        g1 = float((run.welfare_msat - none.welfare_msat)[honest].sum())
        out.append({
            "attack": attack, "share": share, "byzantine_homes": int(bad.sum()),
            "honest_welfare_loss_pct": round(100.0 * (w0 - w1) / w0, 3) if w0 else None,
            "honest_gain_loss_pct": round(100.0 * (g0 - g1) / g0, 3) if g0 else None,
            "honest_cost_per_home_eur": round(float(run.cost_msat[honest].mean())
                                              * sim.eur_per_msat, 4),
            "agreement_rate": (round(run.agreements / run.sessions, 4)
                               if run.sessions else None),
            "payment_success_rate": (round(run.payments["succeeded"] / run.agreements, 4)
                                     if run.agreements else None),
            "peak_import_kw": round(float(run.import_kw.max()), 2),
        })
    return out
