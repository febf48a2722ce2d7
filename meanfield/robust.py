"""Byzantine-robust location estimates of the agents' reports, per step.

A report is one row; a liar can put anything in it. Each agent's weight is capped at a
share of the total (no single report can stand for many homes), then the trimmed mean
drops the `trim` lowest and highest weight of every column before averaging what is
left — so as long as liars hold less than `trim` of the weight, each estimate stays
inside the range of honest values. `trim = 0.5` is the weighted median.
"""

from __future__ import annotations

import numpy as np

from meanfield.solver import Floats


def capped_weights(weights: Floats, cap: float) -> Floats:
    """Normalised weights, none above `cap`: the capped ones hold `cap`, the rest share
    what is left in proportion to their weights (equally when theirs are all 0 or too
    small to divide), again until nothing exceeds the cap; a cap below 1/n is raised to
    1/n. Each round caps at least one more weight, so n rounds settle it."""
    w = np.asarray(weights, dtype=np.float64)
    if w.size == 0:
        return w
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite and non-negative")
    cap = max(cap, 1.0 / w.size)
    capped = np.zeros(w.size, dtype=bool)
    out = np.full(w.size, 1.0 / w.size)
    for _ in range(w.size):
        free = ~capped
        base = w[free]
        total = float(base.sum())
        share = base / total if total > 0 else np.full(base.size, 1.0 / base.size)
        if not np.isclose(float(share.sum()), 1.0):   # subnormal weights: share equally
            share = np.full(base.size, 1.0 / base.size)
        out = np.where(capped, cap, 0.0)
        out[free] = (1.0 - cap * int(capped.sum())) * share
        over = free & (out > cap + 1e-15)
        if not over.any():
            break
        capped |= over
    result: Floats = out
    return result


def trimmed_mean(values: Floats, trim: float, weights: Floats | None = None,
                 cap: float = 1.0) -> Floats:
    """Column-wise weighted trimmed mean of `values` (n, H): (H,). `trim` in [0, 0.5]."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    n, h = v.shape
    if n == 0:
        return np.zeros(h)
    if not 0.0 <= trim <= 0.5:
        raise ValueError(f"trim must be in [0, 0.5], got {trim}")
    w = capped_weights(np.ones(n) if weights is None else weights, cap)
    order = np.argsort(v, axis=0, kind="stable")
    sv = np.take_along_axis(v, order, axis=0)
    sw = w[order]                                        # (n, H)
    upper = np.cumsum(sw, axis=0)
    lower = upper - sw
    if trim >= 0.5:  # weighted median: the point where the cumulative weight crosses 1/2
        mid = np.argmax(upper >= 0.5 - 1e-12, axis=0)
        out: Floats = sv[mid, np.arange(h)]
        return out
    # The part of each row's weight that lies inside [trim, 1 - trim] of the cumulative.
    kept = np.clip(np.minimum(upper, 1.0 - trim) - np.maximum(lower, trim), 0.0, None)
    mean: Floats = (kept * sv).sum(axis=0) / kept.sum(axis=0)
    return mean


def plain_mean(values: Floats) -> Floats:
    v = np.asarray(values, dtype=np.float64)
    out: Floats = v.mean(axis=0) if v.shape[0] else np.zeros(v.shape[1])
    return out
