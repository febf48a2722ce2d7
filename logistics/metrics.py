"""The metrics of one strategy's run (docs/logistics.md has them in prose).

- welfare (€) = Σ parcels delivered × their value in the window delivered − Σ parcels
  carried × the carrier's cost − routing fees; prices are transfers and cancel out.
  efficiency_vs_optimum = welfare / the LP's; gain_captured_vs_fcfs = (welfare − first
  come first served's) / (LP's − first come first served's).
- on_time_pct, late_deliveries_pct, undelivered_pct: of all parcels (late: delivered
  after the wanted window).
- carrier_utilisation: parcels carried / capacity, overall, per window and over carriers.
- jain_fairness: Jain's index (Σx)² / (n·Σx²) over shippers of x = the share of their
  parcels delivered on time (fair access to slots); jain_surplus the same over every
  agent's surplus (value − payments for a shipper, payments − cost for a carrier;
  losses as 0).
- negotiation_latency_ms: wall clock around each session's code (state machines,
  signing, encoding, decoding, verifying); negotiation_time_simulated_ms: its hops at
  `hop_ms` plus that; negotiations_within_100ms_pct uses the simulated time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from logistics.agents import City
from logistics.market import MarketRun

Floats = npt.NDArray[np.float64]


def rounded(x: float, digits: int = 4) -> float:
    return round(float(x), digits)


def jain(x: Floats) -> float | None:
    s2 = float(np.sum(x**2))
    return None if s2 == 0 else rounded(float(np.sum(x)) ** 2 / (x.size * s2))


def pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "p99": None}
    q = np.percentile(np.asarray(values), [50, 95, 99])
    return {"p50": rounded(q[0], 3), "p95": rounded(q[1], 3), "p99": rounded(q[2], 3)}


def welfare_msat(city: City, run: MarketRun) -> float:
    value = np.maximum(city.value, 0)
    return float(np.sum(run.delivered * value) - np.sum(run.used * city.slots.cost_msat)
                 - run.fees_msat)


def _parcels(city: City, run: MarketRun) -> dict[str, Any]:
    lots = city.lots
    total = float(lots.parcels.sum())
    late_mask = np.arange(city.windows)[None, :] > lots.due[:, None]
    delivered = float(run.delivered.sum())
    late = float(run.delivered[late_mask].sum())
    on_time_lot = run.delivered.sum(axis=1) - (run.delivered * late_mask).sum(axis=1)
    on_time = np.bincount(lots.shipper, weights=on_time_lot, minlength=len(city.shippers))
    wanted = np.bincount(lots.shipper, weights=lots.parcels, minlength=len(city.shippers))
    return {"parcels": int(total), "delivered": int(delivered),
            "on_time_pct": rounded(100.0 * (delivered - late) / total, 2),
            "late_deliveries_pct": rounded(100.0 * late / total, 2),
            "late_of_delivered_pct": rounded(100.0 * late / delivered, 2) if delivered else None,
            "undelivered_pct": rounded(100.0 * (total - delivered) / total, 2),
            "jain_fairness": jain(on_time / np.maximum(wanted, 1))}


def _utilisation(city: City, run: MarketRun) -> dict[str, Any]:
    s = city.slots
    per_carrier = (np.bincount(s.carrier, weights=run.used, minlength=len(city.carriers))
                   / np.bincount(s.carrier, weights=s.capacity, minlength=len(city.carriers)))
    per_window = (np.bincount(s.window, weights=run.used, minlength=city.windows)
                  / np.bincount(s.window, weights=s.capacity, minlength=city.windows))
    return {"overall": rounded(run.used.sum() / s.capacity.sum()),
            "per_window": [rounded(x) for x in per_window],
            "carriers_p5": rounded(np.percentile(per_carrier, 5)),
            "carriers_median": rounded(np.median(per_carrier)),
            "carriers_p95": rounded(np.percentile(per_carrier, 95))}


def _surplus(city: City, run: MarketRun) -> Floats:
    lots, s = city.lots, city.slots
    nc = len(city.carriers)
    value = np.sum(run.delivered * np.maximum(city.value, 0), axis=1)
    gain = np.zeros(nc + len(city.shippers))
    np.add.at(gain, nc + lots.shipper, value)
    np.add.at(gain, s.carrier, -run.used * s.cost_msat.astype(np.float64))
    return gain - run.paid_msat + run.received_msat


def metrics(city: City, run: MarketRun, lp_msat: float, fcfs_msat: float,
            channel: dict[str, float] | None = None) -> dict[str, Any]:
    eur = city.eur_per_msat
    w = welfare_msat(city, run)
    lat = np.asarray(run.simulated_ms)
    decided = run.agreements + run.cancelled
    prices = np.asarray(run.trade_price_msat, dtype=np.float64) * eur
    windows = np.asarray(run.trade_window, dtype=np.int64)
    return {
        "welfare_eur": rounded(w * eur, 2),
        "efficiency_vs_optimum": rounded(w / lp_msat) if lp_msat else None,
        "gain_captured_vs_fcfs": (rounded((w - fcfs_msat) / (lp_msat - fcfs_msat))
                                  if lp_msat != fcfs_msat else None),
        **_parcels(city, run),
        "carrier_utilisation": _utilisation(city, run),
        "jain_surplus": jain(np.maximum(_surplus(city, run), 0.0)),
        "price_eur_per_parcel": {
            "mean": rounded(prices.mean(), 3) if prices.size else None,
            "per_window": [rounded(prices[windows == k].mean(), 3) if (windows == k).any()
                           else None for k in range(city.windows)]},
        "negotiation_latency_ms": pct(run.latency_ms),
        "negotiation_time_simulated_ms": pct(run.simulated_ms),
        "negotiations_within_100ms_pct": (rounded(100.0 * float(np.mean(lat <= 100.0)), 2)
                                          if lat.size else None),
        "sessions": run.sessions,
        "agreements": run.agreements,
        "agreement_rate": rounded(decided / run.sessions) if run.sessions else None,
        "payment_success_rate": rounded(run.agreements / decided) if decided else None,
        "fees_eur": rounded(run.fees_msat * eur, 4),
        "channel_utilization": ({k: rounded(v) for k, v in channel.items()}
                                if channel is not None else None),
    }
