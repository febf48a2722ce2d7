"""Read the agents' journals after a demo run and compare with the no-trading baseline.

Metered energy comes from each agent's own journal (the meter's import/export counters
at the first reading of each interval); trades and payments from the same journals; the
baseline is the same homes (same load/PV profiles and battery model) under plain
self-consumption control without trading, computed by `firmware_bridge.emulator.home`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agent.adapters.journal_reader import JournalReader
from agent.domain.units import Tariff, msat_to_eur
from firmware_bridge.emulator.home import HomeParams, self_consumption_baseline

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class HomeRun:
    name: str
    journal: Path
    params: HomeParams
    seed: int


def metered(journal: Path, first: int, n: int) -> tuple[Floats, Floats]:
    """Import and export Wh in each of intervals first..first+n-1 from the counters."""
    rows = JournalReader(journal).first_counters(first, first + n)
    imp = {k: i for k, i, _ in rows if i is not None}
    exp = {k: e for k, _, e in rows if e is not None}
    imports, exports = np.full(n, np.nan), np.full(n, np.nan)
    for i in range(n):
        k = first + i
        if k in imp and k + 1 in imp:
            imports[i] = imp[k + 1] - imp[k]
            exports[i] = exp[k + 1] - exp[k]
    return imports, exports


def trades(journal: Path, first: int, n: int) -> list[dict[str, Any]]:
    return JournalReader(journal).trades_between(first, first + n - 1)


def summarise(homes: list[HomeRun], *, first: int, n: int, interval_s: int, lead: int,
              start_sim_s: float, tariff: Tariff, eur_per_btc: float) -> dict[str, Any]:
    hours = interval_s / 3600.0
    retail = np.asarray([tariff.retail_at((first + i) * interval_s) for i in range(n)],
                        dtype=np.float64) / 1000.0  # msat per Wh
    feed = tariff.feed_in_msat_per_kwh / 1000.0
    base_net = np.zeros(n)
    pw_net = np.zeros(n)
    cost_base_msat = cost_pw_msat = 0.0
    missing = 0
    seller_rows: list[dict[str, Any]] = []
    buyer_rows: list[dict[str, Any]] = []
    for h in homes:
        b = self_consumption_baseline(h.params, h.seed, start_sim_s, lead + n, interval_s)
        bi, be = b["import_wh"][lead:], b["export_wh"][lead:]
        base_net += bi - be
        cost_base_msat += float(np.sum(retail * bi - feed * be))
        imp, exp = metered(h.journal, first, n)
        gaps = np.isnan(imp)
        missing += int(gaps.sum())
        imp, exp = np.where(gaps, bi, imp), np.where(gaps, be, exp)  # fill holes with baseline
        pw_net += imp - exp
        rows = trades(h.journal, first, n)
        sold = np.zeros(n)
        bought = np.zeros(n)
        money = 0.0
        for r in rows:
            if r["state"] != "paid":
                continue
            i = r["interval"] - first
            if r["role"] == "seller":
                sold[i] += r["energy_wh"]
                money -= r["amount_msat"]
            else:
                bought[i] += r["energy_wh"]
                money += r["amount_msat"]
        residual = imp - exp + sold - bought
        cost_pw_msat += float(np.sum(retail * np.maximum(residual, 0)
                                     - feed * np.maximum(-residual, 0))) + money
        seller_rows += [r for r in rows if r["role"] == "seller"]
        buyer_rows += [r for r in rows if r["role"] == "buyer"]
    lat = np.asarray([r["latency_ms"] for r in seller_rows if r["latency_ms"] is not None])
    paid_sold = [r for r in seller_rows if r["state"] == "paid"]
    base_kw, pw_kw = base_net / 1000.0 / hours, pw_net / 1000.0 / hours
    peak_base, peak_pw = float(max(0.0, base_kw.max())), float(max(0.0, pw_kw.max()))

    def pct(q: float) -> float | None:
        return round(float(np.percentile(lat, q)), 2) if len(lat) else None

    return {
        "homes": len(homes),
        "intervals": n,
        "trades": len(seller_rows),
        "energy_traded_kwh": round(sum(r["energy_wh"] for r in paid_sold) / 1000.0, 3),
        "settled_payments": sum(1 for r in buyer_rows if r["state"] == "paid"),
        "failed_payments": sum(1 for r in buyer_rows if r["state"] == "failed"),
        "unsettled_trades": sum(1 for r in seller_rows if r["state"] != "paid"),
        "negotiation_latency_ms": {"p50": pct(50), "p95": pct(95), "p99": pct(99)},
        "peak_import_kw": {"baseline": round(peak_base, 3), "peerwatt": round(peak_pw, 3)},
        "peak_reduction_pct": round(100.0 * (1 - peak_pw / peak_base), 2) if peak_base else None,
        "cost_eur": {"baseline": round(msat_to_eur(round(cost_base_msat), eur_per_btc), 3),
                     "peerwatt": round(msat_to_eur(round(cost_pw_msat), eur_per_btc), 3)},
        "missing_metered_intervals": missing,
        "net_load_kw": {"baseline": [round(float(x), 3) for x in base_kw],
                        "peerwatt": [round(float(x), 3) for x in pw_kw]},
    }
