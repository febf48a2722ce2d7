"""The terminal table of a simulate run, and where it stands against the design's claims."""

from __future__ import annotations

from typing import Any

COLUMNS = (("peerwatt", "peerwatt"), ("peerwatt_deterministic", "means only"),
           ("naive_trading", "no signal"), ("no_trading", "no trading"),
           ("central_mpc", "central MPC"), ("central_optimum", "LP optimum"))


def _get(m: dict[str, Any], *path: str) -> Any:
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
    return str(v)


ROWS = (("efficiency vs optimum", ("efficiency_vs_optimum",)),
        ("gain captured (vs no trading)", ("gain_captured",)),
        ("gain captured vs central MPC", ("gain_captured_vs_mpc",)),
        ("welfare €", ("welfare_eur",)),
        ("peak import kW", ("peak_import_kw",)),
        ("peak reduction %", ("peak_reduction_pct",)),
        ("lowest peak the batteries allow: reduction %", ("peak_bound_reduction_pct",)),
        ("capacity charge €", ("capacity_charge_eur",)),
        ("homes worse off than alone %", ("homes_worse_off_pct",)),
        ("… by more than 1 % of their bill %", ("homes_worse_off_1pct_pct",)),
        ("cost per home € (mean)", ("cost_per_home_eur", "mean")),
        ("revenue per home € (mean)", ("revenue_per_home_eur", "mean")),
        ("price volatility (CV)", ("price_volatility",)),
        ("Jain fairness of savings", ("jain_fairness",)),
        ("latency p50 ms", ("negotiation_latency_ms", "p50")),
        ("latency p95 ms", ("negotiation_latency_ms", "p95")),
        ("latency p99 ms", ("negotiation_latency_ms", "p99")),
        ("agreement rate", ("agreement_rate",)),
        ("payment success rate", ("payment_success_rate",)),
        ("channel utilisation (mean)", ("channel_utilization", "mean")))


def rows(out: dict[str, Any]) -> list[list[str]]:
    cols = [out if key == "peerwatt" else out["baselines"].get(key, {}) for key, _ in COLUMNS]
    return [[label, *(_fmt(_get(c, *path)) for c in cols)] for label, path in ROWS]


def claims(out: dict[str, Any]) -> list[dict[str, Any]]:
    byz = [e for e in out.get("byzantine", {}).get("sweep", []) if abs(e["share"] - 0.2) < 1e-9]
    worst = max((e["honest_gain_loss_pct"] for e in byz
                 if e["honest_gain_loss_pct"] is not None), default=None)
    eff, peak = out.get("efficiency_vs_optimum"), out.get("peak_reduction_pct")
    lp = out.get("baselines", {}).get("central_optimum", {})
    within = out.get("negotiations_within_100ms_pct")
    return [
        {"claim": "90–95 % of the optimum", "measured": eff,
         "met": None if eff is None else eff >= 0.90},
        {"claim": "40–45 % peak reduction", "measured": peak,
         "met": None if peak is None else peak >= 40.0,
         "note": f"the cost optimum's own: {lp.get('peak_reduction_pct')} %; the lowest peak "
                 f"the batteries allow: {lp.get('peak_bound_reduction_pct')} %"},
        {"claim": "95 % of negotiations within 100 ms", "measured": within,
         "met": None if within is None else within >= 95.0,
         "note": "wall clock of the in-memory negotiation code; MQTT hops not included"},
        {"claim": "< 5 % degradation at 20 % Byzantine (worst attack, honest homes' gain)",
         "measured": worst, "met": None if worst is None else worst < 5.0},
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
    text.append(f" {run.get('agents')} homes × {run.get('days')} day(s), scenario "
                f"{run.get('scenario')}: wall {out.get('wall_s')} s, peak RSS "
                f"{out.get('peak_rss_mb')} MB")
    for c in out.get("claims", []):
        verdict = {True: "met", False: "NOT met", None: "not measured"}[c["met"]]
        note = f" ({c['note']})" if c.get("note") else ""
        text.append(f" claim {c['claim']}: {_fmt(c['measured'])} → {verdict}{note}")
    return "\n".join(text)
