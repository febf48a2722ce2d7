"""`peerwatt coordinator bench --json FILE`: the solver's figures in one JSON file.

solve_s and iterations for K = 8 types, H = 96 steps, 101 SoC points (median of
`--repeat` runs, exploitability scoring timed apart), exploitability relative to the
turnover, its fall with iterations and temperature, the LQ closed-form error, the
finite-N deviation gain, the robustness table and the scaling in K, H and grid size;
with the `crosscheck` extra installed, MFGLib's exploitability of the same policies.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.finite_n import deviation_gain
from bench.lq import LQGame, LQParams
from bench.robustness import shifts
from bench.synthetic import community
from coordinator.game import SOLVER
from meanfield.energy import EnergyGame, GameSpec
from meanfield.solver import (
    Solution,
    SolverSettings,
    exploitability,
    forward,
    make_plan,
    solve,
)


def _timed(game: EnergyGame, settings: SolverSettings = SOLVER) -> tuple[float, Solution]:
    started = time.perf_counter()
    sol = solve(game, settings, score=False)
    return time.perf_counter() - started, sol


def headline(repeat: int) -> dict[str, Any]:
    game = EnergyGame(community(8, 96, 101))
    runs = [_timed(game) for _ in range(repeat)]
    times = sorted(t for t, _ in runs)
    sol = runs[0][1]
    plan = make_plan(game.structure)
    started = time.perf_counter()
    ex = exploitability(game, plan, sol.policy)
    scoring_s = time.perf_counter() - started
    turnover = game.turnover(ex.z)
    by_iter = []
    for n in (1, 2, 4, 8, 16, 32):
        s = solve(game, replace(SOLVER, max_iter=n, tol=0.0))
        by_iter.append({"iterations": n, "residual": s.residual,
                        "exploitability_rel": s.exploitability.gain / turnover})
    by_temp = []
    for temp in (1e-1, 3e-2, 1e-2, 3e-3):
        s = solve(game, replace(SOLVER, temperature=temp, tol=1e-5, max_iter=300))
        by_temp.append({"temperature": temp, "iterations": s.iterations,
                        "exploitability_rel": s.exploitability.gain / turnover})
    shape = game.structure.shape
    return {"solve_s": times[len(times) // 2], "solve_s_min": times[0],
            "exploitability_scoring_s": scoring_s, "iterations": sol.iterations,
            "residual": sol.residual, "exploitability_rel": ex.gain / turnover,
            "exploitability_per_home": ex.gain, "turnover_per_home": turnover,
            "game": {"types": shape[1], "steps": shape[0], "soc_points": shape[2],
                     "actions": shape[3], "noise_offsets": game.structure.kernel.shape[2]},
            "solver": asdict(SOLVER),
            "exploitability_by_iteration": by_iter,
            "exploitability_by_temperature": by_temp}


def lq() -> dict[str, Any]:
    game = LQGame(LQParams(), points=401, steps=100, action_step=0.1)
    sol = solve(game, SolverSettings(temperature=1e-3))
    states, _ = forward(make_plan(game.structure), game.structure, sol.policy)
    slope, var = game.compare(sol, states)
    return {"lq_max_rel_error": max(slope, var), "lq_slope_rel_error": slope,
            "lq_variance_rel_error": var, "lq_grid": {"points": 401, "steps": 100}}


def finite_n(replications: int) -> dict[str, Any]:
    rows = []
    for n in (10, 100, 1000, 10_000):
        game = EnergyGame(community(2, 96, 51, homes_n=float(n)), points=51)
        # A low temperature: the smoothing's own exploitability (the floor at N = ∞)
        # must sit well below the finite-N gain being measured.
        sol = solve(game, replace(SOLVER, tol=1e-5, temperature=1e-3, max_iter=400))
        r = deviation_gain(game, sol, n, replications)
        floor = sol.exploitability.gain / game.turnover(sol.exploitability.z)
        rows.append({"n": n, "deviation_gain_rel": r.gain_rel, "exploitability_rel_at_n": floor,
                     "deviation_gain_net_rel": max(r.gain_rel - floor, 1e-12),
                     "z_error_kw": r.z_error})
    logn = np.log([r["n"] for r in rows])

    def slope(key: str) -> float:
        return float(np.polyfit(logn, np.log([r[key] for r in rows]), 1)[0])

    # The raw gain includes the solved equilibrium's own exploitability (its smoothing and
    # tolerance), a floor that does not shrink with N; the net gain is the finite-N part.
    return {"finite_n": rows, "finite_n_slope": slope("deviation_gain_net_rel"),
            "finite_n_slope_raw": slope("deviation_gain_rel"),
            "finite_n_z_error_slope": slope("z_error_kw"),
            "finite_n_replications": replications}


def scaling() -> dict[str, Any]:
    def point(spec: GameSpec, points: int) -> dict[str, Any]:
        t, sol = _timed(EnergyGame(spec, points=points))
        return {"solve_s": t, "iterations": sol.iterations,
                "s_per_iteration": t / sol.iterations}

    return {"scaling": {
        "types": [{"k": k, **point(community(k, 96, 101), 101)} for k in (1, 2, 4, 8, 16)],
        "steps": [{"h": h, **point(community(8, h, 101), 101)} for h in (24, 48, 96, 192)],
        "soc_points": [{"m": m, **point(community(8, 96, m), m)} for m in (26, 51, 101, 201)],
    }}


CROSSCHECK_HINT = ("the MFGLib cross-check is skipped: it needs the crosscheck extra "
                   "(pip install torch==2.13.0 'peerwatt[crosscheck]')")


def mfglib_check() -> dict[str, Any]:
    if any(importlib.util.find_spec(m) is None for m in ("mfglib", "torch")):
        print(f"peerwatt coordinator bench: {CROSSCHECK_HINT}", file=sys.stderr)
        return {"mfglib": {"skipped": CROSSCHECK_HINT}}
    from bench.crosscheck import compare

    return {"mfglib": compare()}


def run(repeat: int = 3, replications: int = 8) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": {"python": sys.version.split()[0],
                                       "numpy": np.__version__}}
    for name, part in (("headline", lambda: headline(repeat)), ("lq", lq),
                       ("finite_n", lambda: finite_n(replications)),
                       ("robustness", lambda: {"robustness": [asdict(s) for s in shifts()]}),
                       ("scaling", scaling), ("mfglib", mfglib_check)):
        started = time.perf_counter()
        out.update(part())
        print(f"bench: {name} done in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="peerwatt coordinator bench", description=__doc__)
    parser.add_argument("--json", type=Path, required=True, help="where to write the results")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--replications", type=int, default=8)
    args = parser.parse_args(argv)
    results = run(args.repeat, args.replications)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2, default=_plain) + "\n")
    print(f"bench: wrote {args.json}: solve_s {results['solve_s']:.3f}, iterations "
          f"{results['iterations']}, exploitability_rel {results['exploitability_rel']:.2e}, "
          f"lq_max_rel_error {results['lq_max_rel_error']:.3f}")
    return 0


def _plain(x: object) -> object:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    raise TypeError(f"not JSON: {type(x).__name__}")
