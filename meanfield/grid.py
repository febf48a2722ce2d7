"""Discretised Gaussian noise on an integer grid."""

from __future__ import annotations

import math

import numpy as np

from meanfield.solver import Floats

_erf = np.frompyfunc(math.erf, 1, 1)


def gaussian_kernel(std_points: Floats, width: int | None = None) -> Floats:
    """P(offset = o) for o in -J..J, for every std in `std_points` (any shape S): (*S, 2J+1).

    Cell probabilities of N(0, s²); from s = 1 point up, with Sheppard's correction (the
    discretisation adds 1/12 of a point² of variance, so the continuous variance is reduced
    by it; below one point the correction does not hold). The tails beyond ±J are lumped
    into the end cells. J = ceil(4 max std) unless `width` is given."""
    s_max = float(np.max(std_points, initial=0.0))
    j = width if width is not None else int(min(1000, math.ceil(4.0 * s_max)))
    edges = np.arange(-j, j + 2, dtype=np.float64) - 0.5
    var = np.asarray(std_points, dtype=np.float64) ** 2
    s = np.sqrt(np.maximum(np.where(var >= 1.0, var - 1.0 / 12.0, var), 1e-24))
    cdf = 0.5 * (1.0 + np.asarray(_erf(edges / (s[..., None] * math.sqrt(2.0))),
                                  dtype=np.float64))
    cdf[..., 0], cdf[..., -1] = 0.0, 1.0
    w: Floats = np.diff(cdf, axis=-1)
    return w
