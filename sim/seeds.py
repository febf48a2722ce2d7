"""Several seeds of one simulation, and what they say together: each metric's mean with its
95 % interval over the seeds (Student's t, scipy.stats), and paired differences between
strategies on the same seeds (the same homes and data), which is how a claim such as "the
signal adds 0.1 of the achievable gain" is tested.

`peerwatt simulate --seeds 0-4` runs the seeds side by side on a Dask cluster (`--cluster`,
`sim.cluster`: a LocalCluster of `--workers` processes by default); each seed builds its own
community (homes, batteries, loads) from the scenario, so the interval covers who the homes
are as well as the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from sim.cluster import Mapper, serial_map

STRATEGY_KEYS = ("peerwatt", "peerwatt_deterministic", "naive_trading", "no_trading",
                 "central_mpc", "central_optimum")
# The scalar metrics summarised over seeds (each strategy that has them).
METRICS = ("gain_captured", "gain_captured_vs_mpc", "efficiency_vs_optimum",
           "homes_worse_off_pct", "homes_worse_off_1pct_pct", "worst_home_loss_pct_of_bill",
           "peak_reduction_pct", "peak_bound_reduction_pct", "peak_import_kw", "welfare_eur",
           "community_cost_eur", "capacity_charge_eur", "jain_fairness", "price_volatility",
           "agreement_rate", "payment_success_rate", "exploitability_eur_per_kwh")
T = TypeVar("T")
PAIRS = (("peerwatt", "naive_trading"), ("peerwatt", "peerwatt_deterministic"),
         ("peerwatt", "central_mpc"))


def parse_seeds(spec: str) -> list[int]:
    """`0-4`, `0,2,5` or `3` → the seeds; a one-line ValueError otherwise."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if sep else (int(part), int(part))
        except ValueError:
            raise ValueError(f"--seeds {spec!r}: use a range like 0-4 or a list like 0,1,2"
                             ) from None
        if last < first:
            raise ValueError(f"--seeds {spec!r}: range {part} runs backwards")
        out.extend(range(first, last + 1))
    if len(set(out)) != len(out):
        raise ValueError(f"--seeds {spec!r}: a seed appears twice")
    return out


def interval(values: list[float]) -> dict[str, float | int | None]:
    """Mean and the 95 % Student-t interval of the mean (None with fewer than 2 values)."""
    from scipy import stats  # the `sim` extra

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if v.size == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    mean = float(v.mean())
    if v.size < 2:
        return {"mean": round(mean, 4), "low": None, "high": None, "n": 1}
    half = float(stats.t.ppf(0.975, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size))
    return {"mean": round(mean, 4), "low": round(mean - half, 4), "high": round(mean + half, 4),
            "n": int(v.size)}


def _of(out: dict[str, Any], key: str) -> dict[str, Any]:
    return out if key == "peerwatt" else dict(out.get("baselines", {}).get(key, {}))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """`ci95` per strategy and metric, and `paired` differences, over the seeds' outputs."""
    ci: dict[str, dict[str, Any]] = {}
    for key in STRATEGY_KEYS:
        per = {m: [_of(r, key).get(m) for r in runs] for m in METRICS}
        ci[key] = {m: interval([x for x in v if isinstance(x, int | float)])
                   for m, v in per.items() if any(isinstance(x, int | float) for x in v)}
    paired: dict[str, dict[str, Any]] = {}
    for a, b in PAIRS:
        diffs: dict[str, Any] = {}
        for m in ("gain_captured", "peak_reduction_pct", "homes_worse_off_pct",
                  "community_cost_eur"):
            d = [float(_of(r, a)[m]) - float(_of(r, b)[m]) for r in runs
                 if isinstance(_of(r, a).get(m), int | float)
                 and isinstance(_of(r, b).get(m), int | float)]
            diffs[m] = interval(d)
        paired[f"{a}_minus_{b}"] = diffs
    return {"ci95": ci, "paired": paired}


def _apply(one: Callable[[int], T], seed: int) -> T:
    return one(seed)


def run_seeds(seeds: list[int], one: Callable[[int], T], run_map: Mapper = serial_map) -> list[T]:
    """`one(seed)` for every seed through `run_map` (`sim.cluster`), in order."""
    return run_map(_apply, seeds, one)


def summarise_sweep(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Byzantine sweep over seeds: per attack and share, the honest homes' loss of gain
    as the seeds' mean, with its 95 % interval and each seed's value."""
    points: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in runs:
        for e in r.get("byzantine", {}).get("sweep", []):
            points.setdefault((e["attack"], float(e["share"])), []).append(e)
    out = []
    for (attack, share), es in points.items():
        losses = [e["honest_gain_loss_pct"] for e in es if e["honest_gain_loss_pct"] is not None]
        ci = interval(losses)
        out.append({"attack": attack, "share": share,
                    "honest_gain_loss_pct": ci["mean"], "ci95": ci,
                    "seeds_honest_gain_loss_pct": losses,
                    "byzantine_homes": es[0]["byzantine_homes"]})
    return out
