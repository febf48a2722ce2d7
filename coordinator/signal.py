"""The first mean-field signal: a community price path from the aggregate net-load forecast.

Pure numpy. Each admitted agent reports its net-load forecast (mean and spread per step)
for the horizon. The aggregate mean path is the sum of the means; its spread is the root
sum of squares of the spreads (independent homes). The price of each step rises with the
aggregate's standardised level and stays inside the band every home has anyway:
``feed_in <= price_t <= retail_t`` with

    price_t = feed_in + (retail_t - feed_in) * sigmoid(slope * z_t),
    z_t = (A_t - mean(A)) / std(A).

High community load → dear, surplus → cheap. The agents' own response to the price is
not fed back here (no fixed point); the mean-field game solver replaces this (issue 5),
and `residual` is reported as 0 for a signal computed in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Aggregate:
    mean_kw: Floats
    std_kw: Floats
    agents: int


@dataclass(frozen=True, slots=True)
class Forecasts:
    means_kw: Sequence[Sequence[float]]
    stds_kw: Sequence[Sequence[float]]


def aggregate(forecasts: Forecasts, horizon: int) -> Aggregate:
    """Sum the agents' forecasts over `horizon` steps; short reports count as 0 beyond
    their end (an agent that knows nothing there adds nothing)."""
    n = len(forecasts.means_kw)
    means = np.zeros((n, horizon))
    variances = np.zeros((n, horizon))
    for i, (m, s) in enumerate(zip(forecasts.means_kw, forecasts.stds_kw, strict=True)):
        m_arr = np.asarray(m[:horizon], dtype=np.float64)
        s_arr = np.asarray(s[:horizon], dtype=np.float64)
        means[i, : len(m_arr)] = m_arr
        variances[i, : len(s_arr)] = s_arr**2
    return Aggregate(means.sum(axis=0), np.sqrt(variances.sum(axis=0)), n)


def price_path(agg: Aggregate, retail_msat_per_kwh: Floats, feed_in_msat_per_kwh: int,
               slope: float = 1.0) -> npt.NDArray[np.int64]:
    level = agg.mean_kw
    spread = float(level.std())
    z = np.zeros_like(level) if spread < 1e-9 else (level - level.mean()) / spread
    share = 1.0 / (1.0 + np.exp(-slope * z))
    price = feed_in_msat_per_kwh + (retail_msat_per_kwh - feed_in_msat_per_kwh) * share
    clipped = np.clip(np.rint(price), feed_in_msat_per_kwh, retail_msat_per_kwh)
    return np.asarray(clipped, dtype=np.int64)
