"""The demo's terminal table and its PNG plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def table(s: dict[str, Any]) -> str:
    lat = s["negotiation_latency_ms"]
    outside = s["settled_outside_day"]
    nodes = s["settled_on_nodes"]
    rows = [
        ("homes", s["homes"]),
        ("intervals (15 min)", s["intervals"]),
        ("trades agreed (on the meters)", s["trades"]),
        ("settled / failed / cancelled / pending",
         f"{s['settled_payments']} / {s['failed_payments']} / {s['cancelled_trades']} / "
         f"{s['pending_trades']}"),
        ("settled for delivery outside the day",
         f"{outside['before'] + outside['after']} ({outside['before']} before, "
         f"{outside['after']} after)"),
        ("settled per the nodes", "not read" if nodes is None else nodes),
        ("energy traded in the day (paid)", f"{s['energy_traded_kwh']:.2f} kWh"),
        ("negotiation latency p50/p95/p99", f"{lat['p50']} / {lat['p95']} / {lat['p99']} ms"),
        ("peak import baseline → peerwatt",
         f"{s['peak_import_kw']['baseline']:.2f} → {s['peak_import_kw']['peerwatt']:.2f} kW"),
        ("peak reduction", f"{s['peak_reduction_pct']} %"),
        ("community cost baseline → peerwatt",
         f"€{s['cost_eur']['baseline']:.2f} → €{s['cost_eur']['peerwatt']:.2f}"),
        ("… less the stored energy's change, valued",
         f"€{s['cost_net_of_stored_eur']['baseline']:.2f} → "
         f"€{s['cost_net_of_stored_eur']['peerwatt']:.2f}"),
        ("same meters without trades → with",
         f"€{s['cost_eur']['without_trades']:.2f} → €{s['cost_eur']['peerwatt']:.2f}"),
        ("homes worse off than on the tariff (trades)", s["homes_worse_off"]),
        ("homes worse off than alone (whole day)",
         f"{s['homes_worse_off_than_alone']} ({s['homes_worse_off_than_alone_1pct']} by "
         f"more than 1 % of the bill)"),
        ("homes worse off than alone since the agent started",
         f"{s['homes_worse_off_than_alone_since_start']} "
         f"({s['homes_worse_off_than_alone_since_start_1pct']} by more than 1 %)"),
        ("wall time", f"{s.get('wall_s', '?')} s"),
    ]
    width = max(len(k) for k, _ in rows)
    line = "─" * (width + 28)
    body = "\n".join(f" {k:<{width}}  {v}" for k, v in rows)
    return f"{line}\n peerwatt demo\n{line}\n{body}\n{line}"


def plot(s: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    base = s["net_load_kw"]["baseline"]
    pw = s["net_load_kw"]["peerwatt"]
    hours = [i * 0.25 for i in range(len(base))]
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    ax.plot(hours, base, label="self-consumption, no trading (baseline)", color="#888888")
    ax.plot(hours, pw, label="peerwatt (signal-driven batteries + trading)", color="#1f77b4")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("hour of the simulated day (UTC)")
    ax.set_ylabel("community net load, kW (+ import)")
    ax.set_title(f"{s['homes']} homes, one day: peak import {s['peak_import_kw']['baseline']:.1f}"
                 f" → {s['peak_import_kw']['peerwatt']:.1f} kW")
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
