"""The terminal table of a logistics run, and where it stands against the issue's targets."""

from __future__ import annotations

from typing import Any


def _get(m: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(m, dict) or key not in m:
            return None
        m = m[key]
    return m


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.3f}" if abs(v) < 100 else f"{v:,.1f}"
    return f"{v:,}" if isinstance(v, int) else str(v)

COLUMNS = (("peerwatt", "peerwatt"), ("no_signal", "no signal"),
           ("first_come", "first come"), ("central_optimum", "LP optimum"))

ROWS = (("efficiency vs optimum", ("efficiency_vs_optimum",)),
        ("gain captured vs first come", ("gain_captured_vs_fcfs",)),
        ("welfare €", ("welfare_eur",)),
        ("parcels on time %", ("on_time_pct",)),
        ("late deliveries %", ("late_deliveries_pct",)),
        ("undelivered %", ("undelivered_pct",)),
        ("carrier utilisation", ("carrier_utilisation", "overall")),
        ("… median carrier", ("carrier_utilisation", "carriers_median")),
        ("Jain fairness (on-time share)", ("jain_fairness",)),
        ("Jain fairness (surplus)", ("jain_surplus",)),
        ("price € per parcel (mean)", ("price_eur_per_parcel", "mean")),
        ("negotiations", ("sessions",)),
        ("agreement rate", ("agreement_rate",)),
        ("payment success rate", ("payment_success_rate",)),
        ("latency p50 ms (code)", ("negotiation_latency_ms", "p50")),
        ("latency p95 ms (code)", ("negotiation_latency_ms", "p95")),
        ("negotiation p95 ms (simulated)", ("negotiation_time_simulated_ms", "p95")),
        ("negotiations within 100 ms %", ("negotiations_within_100ms_pct",)))


def rows(out: dict[str, Any]) -> list[list[str]]:
    cols = [out if key == "peerwatt" else out["baselines"].get(key, {}) for key, _ in COLUMNS]
    return [[label, *(_fmt(_get(c, *path)) for c in cols)] for label, path in ROWS]


def claims(out: dict[str, Any]) -> list[dict[str, Any]]:
    eff = out.get("efficiency_vs_optimum")
    within = out.get("negotiations_within_100ms_pct")
    return [
        {"claim": "welfare ≥ 90 % of the LP optimum", "measured": eff,
         "met": None if eff is None else eff >= 0.90},
        {"claim": "95 % of negotiations within 100 ms", "measured": within,
         "met": None if within is None else within >= 95.0,
         "note": "simulated time: hops at hop_ms plus the measured wall clock of the "
                 "negotiation code, signatures included"},
    ]


def table(out: dict[str, Any]) -> str:
    body = [["metric", *(label for _, label in COLUMNS)], *rows(out)]
    widths = [max(len(r[i]) for r in body) for i in range(len(body[0]))]
    line = "─" * (sum(widths) + 3 * len(widths))
    text = [line]
    for i, r in enumerate(body):
        text.append(" " + "   ".join(c.ljust(w) if j == 0 else c.rjust(w)
                                      for j, (c, w) in enumerate(zip(r, widths, strict=True))))
        if i == 0:
            text.append(line)
    text.append(line)
    run = out.get("run", {})
    text.append(f" {run.get('carriers')} carriers + {run.get('shippers')} shippers, "
                f"{run.get('parcels')} parcels for {run.get('capacity')} slot places in "
                f"{run.get('zones')} zones, scenario {run.get('scenario')}: wall "
                f"{out.get('wall_s')} s, peak RSS {out.get('peak_rss_mb')} MB")
    for c in out.get("claims", []):
        verdict = {True: "met", False: "NOT met", None: "not measured"}[c["met"]]
        note = f" ({c['note']})" if c.get("note") else ""
        text.append(f" target {c['claim']}: {_fmt(c['measured'])} → {verdict}{note}")
    return "\n".join(text)
