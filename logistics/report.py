"""`--report DIR` for logistics: PNG plots and one index.html with the table (matplotlib,
Agg), as the energy report (`sim/report.py`)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from logistics.table import COLUMNS, rows

LABELS = dict(COLUMNS)
COLOURS = {"peerwatt": "#1f77b4", "no_signal": "#ff7f0e", "first_come": "#888888",
           "central_optimum": "#000000"}
KEYS = tuple(k for k, _ in COLUMNS)


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    _plt().close(fig)


def plot_slots(out: dict[str, Any], path: Path) -> None:
    plt = _plt()
    s = out["series"]
    x = np.arange(len(s["windows"]))
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    width = 0.8 / len(KEYS)
    for i, key in enumerate(KEYS):
        ax.bar(x + (i - (len(KEYS) - 1) / 2) * width, s["carried"][key], width,
               label=LABELS[key], color=COLOURS[key])
    ax.plot(x, s["capacity"], "k--", linewidth=1, label="capacity")
    ax.plot(x, s["wanted"], "r:", linewidth=1.2, label="wanted (customers' window)")
    ax.set_xticks(x, s["windows"])
    ax.set_xlabel("delivery window")
    ax.set_ylabel("parcels")
    ax.set_title(f"{out['run']['agents']} agents: parcels carried per window by strategy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    _save(fig, path)


def plot_outcomes(out: dict[str, Any], path: Path) -> None:
    plt = _plt()
    cols = [out if k == "peerwatt" else out["baselines"][k] for k in KEYS]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8), dpi=110)
    eff = [c["efficiency_vs_optimum"] for c in cols]
    a.bar([LABELS[k] for k in KEYS], eff, color=[COLOURS[k] for k in KEYS])
    a.axhline(0.9, color="red", linewidth=0.8, linestyle=":", label="target 90 %")
    a.set_ylim(min(0.5, min(eff) - 0.05), 1.02)
    a.set_ylabel("welfare / LP optimum")
    a.legend(fontsize=8)
    a.grid(alpha=0.3, axis="y")
    bottom = np.zeros(len(cols))
    for key, label, colour in (("on_time_pct", "on time", "#2ca02c"),
                               ("late_deliveries_pct", "late", "#ff7f0e"),
                               ("undelivered_pct", "undelivered", "#d62728")):
        v = np.array([c[key] for c in cols])
        b.bar([LABELS[k] for k in KEYS], v, bottom=bottom, label=label, color=colour)
        bottom += v
    b.set_ylabel("% of parcels")
    b.legend(fontsize=8, loc="lower right")
    fig.suptitle("welfare and deliveries by strategy")
    _save(fig, path)


def plot_latency(out: dict[str, Any], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=110)
    for key, values in out["series"]["latency_cdf_ms"].items():
        ax.plot(values, np.linspace(0, 1, len(values)), label=LABELS.get(key, key),
                color=COLOURS.get(key, "#555555"))
    ax.axvline(100, color="red", linewidth=0.8, linestyle=":", label="100 ms")
    ax.set_xscale("log")
    ax.set_xlabel("negotiation time, ms (simulated: hops + measured code time)")
    ax.set_ylabel("share of negotiations")
    ax.set_title("negotiation time, cumulative")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def plot_prices(out: dict[str, Any], path: Path) -> None:
    plt = _plt()
    s = out["series"]
    x = np.arange(len(s["windows"]))
    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=110)
    for r, prices in enumerate(s["signal_price_eur"]):
        ax.plot(x, [np.nan if p is None else p for p in prices], linestyle="--",
                marker=".", alpha=0.5 + 0.5 * r / max(1, len(s["signal_price_eur"]) - 1),
                color="#9467bd", label="signal (mean over zones), round by round"
                if r == 0 else None)
    for key in KEYS:
        col = out if key == "peerwatt" else out["baselines"][key]
        y = [np.nan if p is None else p for p in col["price_eur_per_parcel"]["per_window"]]
        ax.plot(x, y, marker="o", label=f"{LABELS[key]}: mean trade price",
                color=COLOURS[key])
    ax.set_xticks(x, s["windows"])
    ax.set_ylabel("€ per parcel")
    ax.set_title("slot prices per window")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _save(fig, path)


def write_report(out: dict[str, Any], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    plots = [("slots.png", "Parcels carried per window", plot_slots),
             ("outcomes.png", "Welfare and deliveries", plot_outcomes),
             ("prices.png", "Slot prices", plot_prices),
             ("latency.png", "Negotiation time", plot_latency)]
    for name, _, draw in plots:
        draw(out, folder / name)
    head = "".join(f"<th>{html.escape(label)}</th>" for label in
                   ("metric", *(label for _, label in COLUMNS)))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows(out))
    claims = "".join(f"<li>{html.escape(c['claim'])}: {html.escape(str(c['measured']))} — "
                     f"{'met' if c['met'] else 'not met' if c['met'] is False else 'n/a'}</li>"
                     for c in out["claims"])
    run = out["run"]
    imgs = "".join(f"<h2>{html.escape(t)}</h2><img src='{f}' alt='{html.escape(t)}'>"
                   for f, t, _ in plots)
    folder.joinpath("index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>peerwatt simulate: logistics</title>"
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
        "td,th{padding:2px 8px;text-align:right}td:first-child{text-align:left}"
        "img{max-width:100%}</style>"
        f"<h1>peerwatt simulate --domain logistics: {run['carriers']} carriers, "
        f"{run['shippers']} shippers, scenario {html.escape(run['scenario'])}</h1>"
        f"<p>{run['parcels']} parcels, {run['capacity']} slot places in {run['zones']} "
        f"zones × {len(run['windows'])} windows; wall {out['wall_s']} s, peak RSS "
        f"{out['peak_rss_mb']} MB, seed {run['seed']}</p>"
        f"<table><tr>{head}</tr>{body}</table><h2>Against the issue's targets</h2>"
        f"<ul>{claims}</ul>{imgs}\n")
