"""The learned policy's observation (layout v2) and its price position. Pure numpy.

One function builds the vector for the daemon (scalars, one home) and for the training
environment (`models.policy.env`, arrays of homes), so both feed `agent/modelfiles/policy.onnx` the
same numbers. Layout v2 (`OBS_VERSION`), 24 float32 values, documented in
models/policy.md:

    0     state of charge, fraction of capacity
    1     battery capacity, kWh / 10
    2     battery power limit, kW (the exported graph scales its power output by it)
    3     risk aversion, per €
    4, 5  sin and cos of the hour of day of the decided interval (local time)
    6-9   forecast mean net load kW, block means over steps [0], [1,4), [4,16), [16,96)
    10-13 forecast standard deviation kW, same blocks
    14-17 community price, position in the band [feed-in, retail of the decided
          interval] (0 = feed-in, 1 = retail), same blocks
    18    the first step's price standardised within the path (layout v1's `z`)
    19-22 the mean field: equilibrium net load per home kW, same blocks
    23    1 when the prices come from the coordinator's signal, 0 on the tariff fallback

A path shorter than a block (the signal's horizon runs out) uses its last value.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from agent.domain.decision import SELL

OBS_VERSION = 2
OBS_SIZE = 24
BLOCKS = ((0, 1), (1, 4), (4, 16), (16, 96))

F32 = npt.NDArray[np.float32]
Floats = npt.NDArray[np.float64]


def block_means(path: npt.ArrayLike) -> Floats:
    """Means of `path` (…, L) over `BLOCKS` → (…, 4)."""
    p = np.asarray(path, dtype=np.float64)
    n = p.shape[-1]
    if n == 0:
        raise ValueError("empty path")
    cols = [p[..., a:b].mean(axis=-1) if a < n else p[..., n - 1] for a, b in BLOCKS]
    return np.stack(cols, axis=-1)


def price_features(prices: npt.ArrayLike, feed_in: float, retail: float) -> Floats:
    """Block positions of the price path in the band, then its z (5 values)."""
    p = np.asarray(prices, dtype=np.float64)
    band = max(1.0, float(retail) - float(feed_in))
    spread = float(np.std(p))
    z = 0.0 if spread < 1e-6 else float((p[0] - np.mean(p)) / spread)
    return np.concatenate([(block_means(p) - float(feed_in)) / band, [z]])


def time_features(hour_of_day: npt.ArrayLike) -> tuple[Floats, Floats]:
    angle = 2.0 * math.pi * np.asarray(hour_of_day, dtype=np.float64) / 24.0
    return np.sin(angle), np.cos(angle)


def observation(soc_pct: npt.ArrayLike, capacity_wh: npt.ArrayLike,
                max_power_w: npt.ArrayLike, risk_aversion: npt.ArrayLike,
                hour_of_day: npt.ArrayLike, mean_kw: npt.ArrayLike, std_kw: npt.ArrayLike,
                prices: npt.ArrayLike, feed_in: float, retail: float,
                meanfield_kw: npt.ArrayLike, on_signal: bool) -> F32:
    """Layout v2: (24,) for one home, (N, 24) when the per-home arguments are (N,) and the
    forecasts (N, H). Prices and the mean field are the community's, shared by all."""
    shared = shared_features(prices, feed_in, retail, meanfield_kw, on_signal)
    return from_blocks(soc_pct, capacity_wh, max_power_w, risk_aversion, hour_of_day,
                       block_means(mean_kw), block_means(std_kw), shared)


def shared_features(prices: npt.ArrayLike, feed_in: float, retail: float,
                    meanfield_kw: npt.ArrayLike, on_signal: bool) -> Floats:
    """Values 14-23, the same for every home of the community (10 values)."""
    return np.concatenate([price_features(prices, feed_in, retail),
                           block_means(meanfield_kw), [1.0 if on_signal else 0.0]])


def from_blocks(soc_pct: npt.ArrayLike, capacity_wh: npt.ArrayLike,
                max_power_w: npt.ArrayLike, risk_aversion: npt.ArrayLike,
                hour_of_day: npt.ArrayLike, mean_blocks: npt.ArrayLike,
                std_blocks: npt.ArrayLike, shared: npt.ArrayLike) -> F32:
    """`observation` from forecast block means (…, 4) and `shared_features` (10,)."""
    mean = np.asarray(mean_blocks, dtype=np.float64)
    std = np.asarray(std_blocks, dtype=np.float64)
    common = np.asarray(shared, dtype=np.float64)
    lead = mean.shape[:-1]
    sin, cos = time_features(hour_of_day)
    scalars = [np.asarray(soc_pct, dtype=np.float64) / 100.0,
               np.asarray(capacity_wh, dtype=np.float64) / 10_000.0,
               np.asarray(max_power_w, dtype=np.float64) / 1000.0,
               np.asarray(risk_aversion, dtype=np.float64), sin, cos]
    head = np.stack([np.broadcast_to(x, lead) for x in scalars], axis=-1)
    out = np.concatenate([head, mean, std, np.broadcast_to(common, (*lead, common.size))],
                         axis=-1)
    return out.astype(np.float32)


def start_price(side: npt.ArrayLike, position: npt.ArrayLike, feed_in: int,
                retail: int) -> npt.NDArray[np.int64]:
    """Opening price (msat/kWh) at `position` ∈ [0, 1] of the band, counted from the
    home's reservation price: a seller's 0 is feed-in, a buyer's 0 is retail. Any input,
    even non-finite, yields a price inside [feed_in, retail]."""
    pos = np.clip(np.nan_to_num(np.asarray(position, dtype=np.float64), nan=0.5), 0.0, 1.0)
    band = float(retail - feed_in)
    sell = np.asarray(side) == SELL
    price = np.where(sell, feed_in + pos * band, retail - pos * band)
    out: npt.NDArray[np.int64] = np.clip(np.rint(price), feed_in, retail).astype(np.int64)
    return out
