"""The decision rules around the policy: the battery safety clamp and
the interval's order. Pure numpy.

Each function takes scalars (the daemon, one home) or arrays of homes (the fleet
simulator, `sim`) and computes the same numbers either way, so the simulator runs
the daemon's rules rather than a copy of them.

Sides are encoded as integers: `SELL` (-1), `NONE` (0), `BUY` (+1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

MIN_TRADE_WH = 20
SELL, NONE, BUY = -1, 0, 1

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def clamp_setpoint(wanted_w: npt.ArrayLike, soc_pct: npt.ArrayLike, capacity_wh: npt.ArrayLike,
                   min_soc_pct: npt.ArrayLike, max_soc_pct: npt.ArrayLike,
                   max_charge_w: npt.ArrayLike, max_discharge_w: npt.ArrayLike,
                   dt_h: float) -> Floats:
    """Safety limits outside the model: power and the SoC window over one interval."""
    soc = np.asarray(soc_pct, dtype=np.float64)
    cap = np.asarray(capacity_wh, dtype=np.float64)
    room_wh = np.maximum(0.0, (np.asarray(max_soc_pct) - soc) / 100.0 * cap)
    avail_wh = np.maximum(0.0, (soc - np.asarray(min_soc_pct)) / 100.0 * cap)
    hi = np.minimum(np.asarray(max_charge_w, dtype=np.float64), room_wh / dt_h)
    lo = -np.minimum(np.asarray(max_discharge_w, dtype=np.float64), avail_wh / dt_h)
    out: Floats = np.minimum(hi, np.maximum(lo, np.asarray(wanted_w, dtype=np.float64)))
    return out


@dataclass(frozen=True, slots=True)
class Orders:
    """Per home: side, energy (Wh), opening price and reservation price (msat/kWh);
    `fair` is the community price the prices were set around."""

    side: Ints
    energy_wh: Ints
    start: Ints
    reservation: Ints
    fair: Ints


def orders(expected_wh: npt.ArrayLike, margin_wh: npt.ArrayLike, price_msat_per_kwh: int,
              feed_in_msat_per_kwh: int, retail_msat_per_kwh: int) -> Orders:
    """The interval's offer from the expected net energy after the battery (+ import):
    a surplus beyond the forecast margin is offered for sale, a deficit is bid for. Prices
    start on the home's side of the community price and concede towards the grid's."""
    exp = np.atleast_1d(np.asarray(expected_wh, dtype=np.float64))
    margin = np.broadcast_to(np.asarray(margin_wh, dtype=np.float64), exp.shape)
    feed_in, retail = int(feed_in_msat_per_kwh), int(retail_msat_per_kwh)
    fair = min(max(int(price_msat_per_kwh), feed_in), retail)
    sell_wh = np.maximum(0.0, -exp - margin).astype(np.int64)
    buy_wh = np.where(exp > 0, exp, 0.0).astype(np.int64)
    energy = np.where(exp < 0, sell_wh, buy_wh)
    side = np.where(energy < MIN_TRADE_WH, NONE, np.where(exp < 0, SELL, BUY))
    energy = np.where(side == NONE, 0, energy)
    start = np.where(side == SELL, fair + (retail - fair) // 4, fair - (fair - feed_in) // 4)
    reservation = np.where(side == SELL, feed_in, retail)
    n = exp.shape
    return Orders(side.astype(np.int64), energy.astype(np.int64),
                     np.broadcast_to(start, n).astype(np.int64),
                     np.broadcast_to(reservation, n).astype(np.int64),
                     np.full(n, fair, dtype=np.int64))
