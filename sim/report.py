"""`--report DIR`: PNG plots and one index.html with the table (matplotlib, Agg)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.table import COLUMNS, rows

LABELS = dict(COLUMNS)
COLOURS = {"no_trading": "#888888", "naive_trading": "#ff7f0e",
           "peerwatt_deterministic": "#2ca02c", "peerwatt": "#1f77b4",
           "central_optimum": "#000000"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_net_load(out: dict[str, Any], path: Path) -> None:
    plt = _plt()
    series = out["series"]["import_kw"]
    fig, ax = plt.subplots(figsize=(9, 4), dpi=110)
    for key in ("no_trading", "naive_trading", "peerwatt_deterministic", "peerwatt",
                "central_optimum"):
        y = series[key]
        ax.plot(np.arange(len(y)) * 0.25, y, label=LABELS[key], color=COLOURS[key],
                linewidth=1.6 if key == "peerwatt" else 1.0,
                linestyle="--" if key == "central_optimum" else "-")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("hour of the simulated period")
    ax.set_ylabel("community net import, kW")
    ax.set_title(f"{out['run']['agents']} homes: community net load by strategy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_prices(out: dict[str, Any], path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(9, 3.5), dpi=110)
    for key, y in out["series"]["price_eur_per_kwh"].items():
        ax.step(np.arange(len(y)) * 0.25, y, where="post", label=LABELS.get(key, key),
                color=COLOURS.get(key, "#555555"))
    ax.set_xlabel("hour of the simulated period")
    ax.set_ylabel("community price, €/kWh")
    ax.set_title("price each home decided on (signal, or the tariff without one)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_costs(per_home: dict[str, npt.NDArray[np.float64]], path: Path) -> None:
    plt = _plt()
    keys = [k for k in ("no_trading", "naive_trading", "peerwatt_deterministic", "peerwatt")
            if k in per_home]
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=110)
    ax.boxplot([per_home[k] for k in keys], showfliers=False)
    ax.set_xticks(range(1, len(keys) + 1), [LABELS[k] for k in keys])
    ax.set_ylabel("cost per home for the period, €")
    ax.set_title("per-home cost distribution (boxes: quartiles; whiskers: 1.5 IQR)")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def plot_byzantine(out: dict[str, Any], path: Path) -> None:
    plt = _plt()
    entries = out["byzantine"]["sweep"]
    fig, ax = plt.subplots(figsize=(9, 3.8), dpi=110)
    for attack in dict.fromkeys(e["attack"] for e in entries):
        pts = [(e["share"] * 100, e["honest_gain_loss_pct"]) for e in entries
               if e["attack"] == attack and e["honest_gain_loss_pct"] is not None]
        ax.plot(*zip(*pts, strict=True), marker="o", label=attack)
    ax.axhline(5, color="red", linewidth=0.8, linestyle=":", label="claim: 5 % at 20 %")
    ax.set_xlabel("Byzantine homes, %")
    ax.set_ylabel("honest homes' gain lost, %")
    ax.set_title(f"Byzantine sweep ({out['byzantine']['agents']} homes)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_report(out: dict[str, Any], per_home: dict[str, npt.NDArray[np.float64]],
                 folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    plots = [("net_load.png", "Community net load by strategy"),
             ("prices.png", "Price path"), ("costs.png", "Per-home cost distribution")]
    plot_net_load(out, folder / "net_load.png")
    plot_prices(out, folder / "prices.png")
    plot_costs(per_home, folder / "costs.png")
    if "byzantine" in out:
        plot_byzantine(out, folder / "byzantine.png")
        plots.append(("byzantine.png", "Byzantine sweep"))
    head = "".join(f"<th>{html.escape(label)}</th>" for label in
                   ("metric", *(label for _, label in COLUMNS)))
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>"
                   for r in rows(out))
    claims = "".join(f"<li>{html.escape(c['claim'])}: {html.escape(str(c['measured']))} — "
                     f"{'met' if c['met'] else 'not met' if c['met'] is False else 'n/a'}</li>"
                     for c in out["claims"])
    run = out["run"]
    imgs = "".join(f"<h2>{html.escape(t)}</h2><img src='{f}' alt='{html.escape(t)}'>"
                   for f, t in plots)
    folder.joinpath("index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>peerwatt simulate</title>"
        "<style>body{font-family:sans-serif;max-width:1000px;margin:auto}"
        "td,th{padding:2px 8px;text-align:right}td:first-child{text-align:left}"
        "img{max-width:100%}</style>"
        f"<h1>peerwatt simulate: {run['agents']} homes × {run['days']} day(s), "
        f"scenario {html.escape(run['scenario'])}</h1>"
        f"<p>wall {out['wall_s']} s, peak RSS {out['peak_rss_mb']} MB, seed {run['seed']}</p>"
        f"<table><tr>{head}</tr>{body}</table><h2>Against the design's claims</h2>"
        f"<ul>{claims}</ul>{imgs}\n")
