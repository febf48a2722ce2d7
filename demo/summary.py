"""Read the agents' journals after a demo run and compare with the no-trading baseline.

Metered energy comes from each agent's own journal (the meter's import/export counters
at the first reading of each interval); trades and payments from the same journals; the
baseline is the same homes (same load/PV profiles and battery model) under plain
self-consumption control without trading, computed by `firmware_bridge.emulator.home`.

Energy and cost cover the measured day. Homes trade what their meters measured, after
each interval (agent/services/expost.py): each home's bill with its paid trades is set
against the same meter readings billed at the tariff alone (`homes_worse_off` counts the
homes whose bill with trades is higher: what the trades did). The stronger comparison,
`homes_worse_off_than_alone`, sets each home's whole day with peerwatt (its battery
following the plan, its trades) against the same home alone (the self-consumption
baseline, no trading), with the change of stored energy over the day valued as the
simulator values it (`sim.tariff.terminal_per_kwh`: √efficiency × the day's mean retail
price); `…_1pct` counts those worse off by more than 1 % of their bill alone.
`homes_worse_off_than_alone_since_start` makes the same comparison over the agent's whole
run, lead-in and day: that is what the rationality guard bounds (its shadow and margin run
from the agent's start, so a margin earned in the lead-in may be spent on the measured
day, and the measured day alone can then show a loss the run as a whole does not). The counts
cover every trade the journals hold, each once from both books, and the nodes' own
records of the same payments (`settled_on_nodes`); trades still unpaid when the run
ended are `pending_trades` and count in no bill.
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
from sim.tariff import terminal_per_kwh

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


def settlement_counts(rows: list[dict[str, Any]], first: int, n: int,
                      node_settled: set[str] | None = None) -> dict[str, Any]:
    """Every trade once (by id) from both books, whatever its delivery interval: settled
    when seller and buyer journaled it paid, failed when the buyer's payment failed,
    cancelled when a side cancelled it, pending otherwise (the run ended first)."""
    books: dict[str, dict[str, str]] = {}
    interval: dict[str, int] = {}
    hashes: dict[str, str] = {}
    for r in rows:
        books.setdefault(r["trade_id"], {})[r["role"]] = r["state"]
        interval[r["trade_id"]] = r["interval"]
        if r["payment_hash"]:
            hashes[r["trade_id"]] = r["payment_hash"]

    def outcome(states: dict[str, str]) -> str:
        if states.get("seller") == states.get("buyer") == "paid":
            return "settled"
        if states.get("buyer") == "failed":
            return "failed"
        return "cancelled" if "cancelled" in states.values() else "pending"

    outcomes = {t: outcome(s) for t, s in books.items()}
    settled = [t for t, o in outcomes.items() if o == "settled"]
    counts: dict[str, Any] = {
        "trades": len(books),
        "settled_payments": len(settled),
        "failed_payments": sum(o == "failed" for o in outcomes.values()),
        "cancelled_trades": sum(o == "cancelled" for o in outcomes.values()),
        "pending_trades": sum(o == "pending" for o in outcomes.values()),
        "settled_outside_day": {"before": sum(interval[t] < first for t in settled),
                                "after": sum(interval[t] >= first + n for t in settled)},
        "settled_on_nodes": None,
    }
    if node_settled is not None:
        counts["settled_on_nodes"] = len({hashes.get(t) for t in books} & node_settled)
    return counts


def settled_on_nodes(rpc_sockets: list[str]) -> set[str]:
    """Payment hashes the nodes say were paid: a complete payment on the payer's node and
    a paid invoice of ours (label `peerwatt-…`) on the payee's."""
    from pyln.client import LightningRpc

    complete: set[str] = set()
    paid: set[str] = set()
    for path in rpc_sockets:
        rpc = LightningRpc(path)
        complete |= {p["payment_hash"] for p in rpc.listsendpays()["payments"]
                     if p["status"] == "complete"}
        paid |= {i["payment_hash"] for i in rpc.listinvoices()["invoices"]
                 if i["status"] == "paid" and i["label"].startswith("peerwatt-")}
    return complete & paid


@dataclass(frozen=True, slots=True)
class Span:
    """One home over intervals k0..k0+m-1: its bill with trades, the same meters on the
    tariff alone, and both it and its alone self (the self-consumption baseline) less the
    change of stored energy, valued (msat)."""

    bill: float
    same_meters: float
    alone_bill: float
    net: float
    net_alone: float
    grid_wh: Floats        # metered import − export, holes filled from the baseline
    alone_grid_wh: Floats
    gaps: int
    rows: list[dict[str, Any]]


def span(h: HomeRun, b: dict[str, Floats], journaled: list[dict[str, Any]], *, k0: int,
         lo: int, m: int, interval_s: int, tariff: Tariff) -> Span:
    """`b` is the baseline from the agent's start; `lo` is k0's index in it."""
    retail = np.asarray([tariff.retail_at((k0 + i) * interval_s) for i in range(m)],
                        dtype=np.float64) / 1000.0  # msat per Wh
    feed = tariff.feed_in_msat_per_kwh / 1000.0
    bi, be = b["import_wh"][lo:lo + m], b["export_wh"][lo:lo + m]
    imp, exp = metered(h.journal, k0, m)
    gaps = np.isnan(imp)
    imp, exp = np.where(gaps, bi, imp), np.where(gaps, be, exp)  # fill holes with baseline
    rows = [r for r in journaled if k0 <= r["interval"] < k0 + m]
    sold, bought = np.zeros(m), np.zeros(m)
    money = 0.0
    for r in rows:
        if r["state"] != "paid":
            continue
        i = r["interval"] - k0
        if r["role"] == "seller":
            sold[i] += r["energy_wh"]
            money -= r["amount_msat"]
        else:
            bought[i] += r["energy_wh"]
            money += r["amount_msat"]
    residual = imp - exp + sold - bought
    bill = float(np.sum(retail * np.maximum(residual, 0)
                        - feed * np.maximum(-residual, 0))) + money
    # Stored energy valued as the simulator values it (msat per Wh).
    value = terminal_per_kwh(float(retail.mean()), h.params.efficiency)
    cap_wh = h.params.battery_kwh * 1000.0
    base_soc = b["soc_pct"]
    stored_alone = (base_soc[lo + m - 1] - (base_soc[lo - 1] if lo else
                                            h.params.initial_soc_pct)) * cap_wh / 100.0
    soc = JournalReader(h.journal).first_soc(k0, k0 + m)
    start = soc.get(k0, h.params.initial_soc_pct if lo == 0 else None)
    stored = ((soc[k0 + m] - start) * cap_wh / 100.0
              if start is not None and k0 + m in soc else stored_alone)
    alone = float(np.sum(retail * bi - feed * be))
    return Span(bill, float(np.sum(retail * imp - feed * exp)), alone, bill - value * stored,
                alone - value * stored_alone,
                imp - exp, bi - be, int(gaps.sum()), rows)


def summarise(homes: list[HomeRun], *, first: int, n: int, interval_s: int, lead: int,
              start_sim_s: float, tariff: Tariff, eur_per_btc: float,
              node_settled: set[str] | None = None) -> dict[str, Any]:
    hours = interval_s / 3600.0
    base_net = np.zeros(n)
    pw_net = np.zeros(n)
    cost_base_msat = cost_pw_msat = cost_alone_msat = 0.0
    net_base_msat = net_pw_msat = 0.0  # less the stored energy's change, valued
    worse: list[str] = []
    worse_alone: dict[str, list[str]] = {"day": [], "since_start": []}
    worse_1pct = {"day": 0, "since_start": 0}
    missing = 0
    seller_rows: list[dict[str, Any]] = []
    every_row: list[dict[str, Any]] = []
    for h in homes:
        b = self_consumption_baseline(h.params, h.seed, start_sim_s, lead + n, interval_s)
        journaled = JournalReader(h.journal).trades()
        every_row += journaled
        day = span(h, b, journaled, k0=first, lo=lead, m=n, interval_s=interval_s,
                   tariff=tariff)
        life = day if lead == 0 else span(h, b, journaled, k0=first - lead, lo=0,
                                          m=lead + n, interval_s=interval_s, tariff=tariff)
        base_net += day.alone_grid_wh
        pw_net += day.grid_wh
        missing += day.gaps
        cost_base_msat += day.alone_bill
        cost_pw_msat += day.bill
        cost_alone_msat += day.same_meters
        if day.bill > day.same_meters + 1.0:  # msat: the invoices' rounding
            worse.append(h.name)
        net_base_msat += day.net_alone
        net_pw_msat += day.net
        for key, sp in (("day", day), ("since_start", life)):
            if sp.net > sp.net_alone + 1.0:
                worse_alone[key].append(h.name)
                worse_1pct[key] += sp.net - sp.net_alone > 0.01 * max(abs(sp.net_alone), 1.0)
        seller_rows += [r for r in day.rows if r["role"] == "seller"]
    lat = np.asarray([r["latency_ms"] for r in seller_rows if r["latency_ms"] is not None])
    paid_sold = [r for r in seller_rows if r["state"] == "paid"]
    base_kw, pw_kw = base_net / 1000.0 / hours, pw_net / 1000.0 / hours
    peak_base, peak_pw = float(max(0.0, base_kw.max())), float(max(0.0, pw_kw.max()))

    def pct(q: float) -> float | None:
        return round(float(np.percentile(lat, q)), 2) if len(lat) else None

    return {
        "homes": len(homes),
        "intervals": n,
        **settlement_counts(every_row, first, n, node_settled),
        "energy_traded_kwh": round(sum(r["energy_wh"] for r in paid_sold) / 1000.0, 3),
        "negotiation_latency_ms": {"p50": pct(50), "p95": pct(95), "p99": pct(99)},
        "peak_import_kw": {"baseline": round(peak_base, 3), "peerwatt": round(peak_pw, 3)},
        "peak_reduction_pct": round(100.0 * (1 - peak_pw / peak_base), 2) if peak_base else None,
        "cost_eur": {"baseline": round(msat_to_eur(round(cost_base_msat), eur_per_btc), 3),
                     "without_trades": round(msat_to_eur(round(cost_alone_msat),
                                                         eur_per_btc), 3),
                     "peerwatt": round(msat_to_eur(round(cost_pw_msat), eur_per_btc), 3)},
        # The same less the change of stored energy over the day, valued: what the
        # simulator calls cost (a battery left full is worth something tomorrow).
        "cost_net_of_stored_eur": {
            "baseline": round(msat_to_eur(round(net_base_msat), eur_per_btc), 3),
            "peerwatt": round(msat_to_eur(round(net_pw_msat), eur_per_btc), 3)},
        "homes_worse_off": len(worse),
        "homes_worse_off_names": worse,
        "homes_worse_off_than_alone": len(worse_alone["day"]),
        "homes_worse_off_than_alone_1pct": int(worse_1pct["day"]),
        "homes_worse_off_than_alone_names": worse_alone["day"],
        # Lead-in and day: the agent's whole run, what the rationality guard bounds.
        "homes_worse_off_than_alone_since_start": len(worse_alone["since_start"]),
        "homes_worse_off_than_alone_since_start_1pct": int(worse_1pct["since_start"]),
        "homes_worse_off_than_alone_since_start_names": worse_alone["since_start"],
        "missing_metered_intervals": missing,
        "net_load_kw": {"baseline": [round(float(x), 3) for x in base_kw],
                        "peerwatt": [round(float(x), 3) for x in pw_kw]},
    }
