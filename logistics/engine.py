"""One logistics simulation: the city, the central optimum, first come first served and
the two markets (with and without the coordinator), each market on its own signed wire
and channel graph; the metrics of every strategy as one JSON-ready dict."""

from __future__ import annotations

import platform
import resource
import sys
import time
from importlib import metadata
from typing import Any

import numpy as np

from logistics.agents import City, build_city
from logistics.baselines import first_come, optimum
from logistics.market import MarketRun, run_market
from logistics.metrics import metrics, rounded, welfare_msat
from logistics.scenario import LogisticsScenario
from logistics.table import claims
from logistics.wire import SignedWire
from sim.settle import Ledger

COMMUNITY = "logistics"
MARKETS = (("peerwatt", True), ("no_signal", False))


def _say(quiet: bool, text: str, started: float) -> None:
    if not quiet:
        print(f"[{time.perf_counter() - started:7.1f} s] {text}", file=sys.stderr, flush=True)


def _market(city: City, seed: int, coordinated: bool) -> tuple[MarketRun, dict[str, Any]]:
    names = [*city.carriers, *city.shippers]
    wire = SignedWire(names, COMMUNITY, seed)
    ledger = Ledger(names, city.scenario.lightning.channel_sat)
    rng = np.random.default_rng([seed, 1 if coordinated else 2])
    run = run_market(city, wire, ledger, rng, coordinated)
    info = {"wire": dict(sorted(wire.counters.items())), "wire_bytes": wire.bytes_sent,
            "payments": {"attempted": ledger.stats.attempted,
                         "succeeded": ledger.stats.succeeded,
                         "no_route": ledger.stats.no_route},
            "channel": ledger.utilization()}
    return run, info


def simulate(sc: LogisticsScenario, agents: int, seed: int,
             quiet: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    city = build_city(sc, agents, seed)
    _say(quiet, f"{len(city.carriers)} carriers ({city.slots.size} slots), "
                f"{len(city.shippers)} shippers ({city.lots.size} lots, "
                f"{int(city.lots.parcels.sum())} parcels), {city.zones} zones", started)
    opt, assignment = optimum(city)
    _say(quiet, f"LP optimum (HiGHS): {assignment.solve_s:.2f} s", started)
    fcfs = first_come(city, np.random.default_rng([seed, 3]))
    lp_w, fcfs_w = welfare_msat(city, opt), welfare_msat(city, fcfs)
    runs: dict[str, MarketRun] = {}
    info: dict[str, dict[str, Any]] = {}
    for name, coordinated in MARKETS:
        runs[name], info[name] = _market(city, seed, coordinated)
        _say(quiet, f"{name}: {runs[name].sessions} negotiations", started)
    out: dict[str, Any] = metrics(city, runs["peerwatt"], lp_w, fcfs_w,
                                  info["peerwatt"]["channel"])
    out["wire"] = info["peerwatt"]["wire"]
    out["wire_bytes"] = info["peerwatt"]["wire_bytes"]
    out["payments"] = info["peerwatt"]["payments"]
    sigs = runs["peerwatt"].signals
    out["coordinator"] = {"signals": len(sigs), "types": [s.types for s in sigs],
                          "solve_s": rounded(sum(s.solve_s for s in sigs), 3)}
    out["baselines"] = {
        "no_signal": {**metrics(city, runs["no_signal"], lp_w, fcfs_w,
                                info["no_signal"]["channel"]),
                      "wire": info["no_signal"]["wire"],
                      "payments": info["no_signal"]["payments"]},
        "first_come": metrics(city, fcfs, lp_w, fcfs_w),
        "central_optimum": {**metrics(city, opt, lp_w, fcfs_w),
                            "lp": {"status": "Optimal", "solve_s": rounded(assignment.solve_s, 3),
                                   "lots": city.lots.size, "slots": city.slots.size}},
    }
    out["series"] = _series(city, {**runs, "first_come": fcfs, "central_optimum": opt})
    out["wall_s"] = rounded(time.perf_counter() - started, 1)
    out["peak_rss_mb"] = rounded(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
    out["claims"] = claims(out)
    out["run"] = {"domain": "logistics", "agents": agents, "seed": seed,
                  "scenario": sc.name, "carriers": len(city.carriers),
                  "shippers": len(city.shippers), "zones": city.zones,
                  "windows": [city.window_label(k) for k in range(city.windows)],
                  "slots": city.slots.size, "lots": city.lots.size,
                  "parcels": int(city.lots.parcels.sum()),
                  "capacity": int(city.slots.capacity.sum()),
                  "machine": {"python": platform.python_version(),
                              **{p: metadata.version(p) for p in ("numpy", "highspy",
                                                                   "cryptography")}}}
    return out


def _series(city: City, runs: dict[str, MarketRun]) -> dict[str, Any]:
    s, lots = city.slots, city.lots
    capacity = np.bincount(s.window, weights=s.capacity, minlength=city.windows)
    wanted = np.bincount(lots.due, weights=lots.parcels, minlength=city.windows)
    late = np.arange(city.windows)[None, :] - lots.due[:, None]
    return {
        "windows": [city.window_label(k) for k in range(city.windows)],
        "capacity": [int(x) for x in capacity],
        "wanted": [int(x) for x in wanted],
        "carried": {k: [int(x) for x in np.bincount(s.window, weights=r.used,
                                                    minlength=city.windows)]
                    for k, r in runs.items()},
        "lateness_windows": {k: [int(r.delivered[late == d].sum())
                                 for d in range(-city.windows + 1, city.windows)]
                             for k, r in runs.items()},
        # The simulated negotiation time's percentiles 0, 0.5, …, 100 (a CDF in 201 points).
        "latency_cdf_ms": {k: [rounded(x, 3) for x in np.percentile(r.simulated_ms,
                                                                     np.linspace(0, 100, 201))]
                           for k, r in runs.items() if r.simulated_ms},
        "signal_price_eur": [[rounded(float(np.nanmean(sig.price_msat[:, k])) * city.eur_per_msat,
                                 3) if np.isfinite(sig.price_msat[:, k]).any() else None
                              for k in range(city.windows)]
                             for sig in runs["peerwatt"].signals],
    }


