"""The demo's counts (issue 19): a 56-interval run printed 26 settled payments while 29
were paid on both books, because trades for delivery after the run's end were left out.
Every trade counts once, from both real journals (SQLite, through the journal adapter),
and the outcomes add up to the trades agreed."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from agent.adapters.journal import Journal, TradeState
from agent.adapters.journal_reader import JournalReader
from agent.domain.market import Terms
from agent.domain.trade import Event
from agent.domain.units import tariff_from_eur
from demo.report import table
from demo.summary import HomeRun, settlement_counts, summarise
from firmware_bridge.emulator.home import HomeParams, self_consumption_baseline

FIRST, N = 1000, 56  # the measured day: intervals 1000..1055
START_S = (FIRST - 4) * 900.0  # the home tests' lead-in of 4 intervals
# The lifecycle event that leaves a trade of each role in each final state.
EVENT: dict[tuple[str, TradeState], Event] = {
    ("seller", "paid"): "invoice_paid", ("seller", "cancelled"): "declined",
    ("buyer", "paid"): "payment_complete", ("buyer", "paying"): "claimed",
    ("buyer", "failed"): "payment_failed"}


def _book(tmp_path: Path) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Seller A and buyer B; per trade: delivery interval, the seller's and the buyer's
    final state (None: the buyer never journaled it)."""
    plan: list[tuple[str, int, TradeState, TradeState | None]] = [
        ("in-day-1", FIRST, "paid", "paid"),
        ("in-day-2", FIRST + N - 1, "paid", "paid"),
        ("lead-in", FIRST - 1, "paid", "paid"),          # agreed before the day began
        ("after-1", FIRST + N, "paid", "paid"),          # delivery after the run's end
        ("after-2", FIRST + N + 1, "paid", "paid"),
        ("after-3", FIRST + N + 1, "paid", "paid"),
        ("seller-waits", FIRST + N, "agreed", "paid"),   # paid; the seller not told yet
        ("paying", FIRST + N + 1, "agreed", "paying"),   # the run ended mid-payment
        ("failed", FIRST + 3, "agreed", "failed"),
        ("rejected", FIRST + 4, "cancelled", None),      # the buyer had given up
    ]
    a, b = Journal(tmp_path / "a.sqlite"), Journal(tmp_path / "b.sqlite")
    hashes = {}
    for i, (tid, k, seller_state, buyer_state) in enumerate(plan):
        terms = Terms(tid, k, "a", "b", 100 + i, 200_000)
        hashes[tid] = f"{i:064x}"
        a.record_trade(terms, "seller", 1.0, bolt11="lnbc1", payment_hash=hashes[tid],
                       latency_ms=5.0)
        if seller_state != "agreed":
            a.advance(tid, EVENT["seller", seller_state], 2.0)
        if buyer_state is not None:
            b.record_trade(terms, "buyer", 1.0, bolt11="lnbc1", payment_hash=hashes[tid],
                           latency_ms=None)
            if buyer_state != "agreed":
                b.advance(tid, EVENT["buyer", buyer_state], 2.0)
    a.close()
    b.close()
    return (JournalReader(tmp_path / "a.sqlite").trades()
            + JournalReader(tmp_path / "b.sqlite").trades()), hashes


def test_every_trade_counts_once_from_both_books(tmp_path: Path) -> None:
    rows, _ = _book(tmp_path)
    counts = settlement_counts(rows, FIRST, N)
    assert counts == {
        "trades": 10, "settled_payments": 6, "failed_payments": 1, "cancelled_trades": 1,
        "pending_trades": 2, "settled_outside_day": {"before": 1, "after": 3},
        "settled_on_nodes": None}
    outcomes = ("settled_payments", "failed_payments", "cancelled_trades", "pending_trades")
    assert sum(counts[k] for k in outcomes) == counts["trades"]


def test_the_nodes_count_what_they_settled(tmp_path: Path) -> None:
    rows, hashes = _book(tmp_path)
    # The nodes settled the six settled trades and the one the seller was not told of yet;
    # a payment of someone else's (not journaled here) is not ours to count.
    on_nodes = {hashes[t] for t in ("in-day-1", "in-day-2", "lead-in", "after-1", "after-2",
                                     "after-3", "seller-waits")} | {"f" * 64}
    counts = settlement_counts(rows, FIRST, N, on_nodes)
    assert counts["settled_on_nodes"] == 7
    assert counts["settled_payments"] == 6


def test_table_shows_the_outcomes_and_the_nodes(tmp_path: Path) -> None:
    rows, hashes = _book(tmp_path)
    summary = {
        "homes": 2, "intervals": N, **settlement_counts(rows, FIRST, N, set(hashes.values())),
        "energy_traded_kwh": 0.2, "wall_s": 1.0,
        "negotiation_latency_ms": {"p50": 1.0, "p95": 2.0, "p99": 3.0},
        "peak_import_kw": {"baseline": 2.0, "peerwatt": 1.0}, "peak_reduction_pct": 50.0,
        "cost_eur": {"baseline": 1.0, "without_trades": 0.7, "peerwatt": 0.5},
        "cost_net_of_stored_eur": {"baseline": 0.9, "peerwatt": 0.4},
        "homes_worse_off": 0, "homes_worse_off_than_alone": 1,
        "homes_worse_off_than_alone_1pct": 0, "homes_worse_off_than_alone_since_start": 0,
        "homes_worse_off_than_alone_since_start_1pct": 0}
    lines = [" ".join(line.split()) for line in table(summary).splitlines()]
    assert "trades agreed (on the meters) 10" in lines
    assert "same meters without trades → with €0.70 → €0.50" in lines
    assert "… less the stored energy's change, valued €0.90 → €0.40" in lines
    assert "homes worse off than on the tariff (trades) 0" in lines
    assert ("homes worse off than alone (whole day) 1 (0 by more than 1 % of the bill)"
            in lines)
    assert ("homes worse off than alone since the agent started 0 (0 by more than 1 %)"
            in lines)
    assert "settled / failed / cancelled / pending 6 / 1 / 1 / 2" in lines
    assert "settled for delivery outside the day 4 (1 before, 3 after)" in lines
    assert "settled per the nodes 10" in lines


def _home_journal(path: Path, params: HomeParams, seed: int, soc_drop_pct: float,
                  soc_at_day_start_pct: float = 0.0) -> None:
    """Readings that replay the home's own self-consumption baseline on its meters, with
    the battery's SoC lowered by `soc_drop_pct` at the day's end (and raised by
    `soc_at_day_start_pct` at its start)."""
    lead, n = 4, 8
    b = self_consumption_baseline(params, seed, START_S, lead + n, 900)
    imp = np.concatenate([[0.0], np.cumsum(b["import_wh"])])
    exp = np.concatenate([[0.0], np.cumsum(b["export_wh"])])
    j = Journal(path)
    for i in range(lead + n + 1):
        k = FIRST - lead + i
        soc = float(b["soc_pct"][i - 1]) if i else params.initial_soc_pct
        if k == FIRST + n:
            soc -= soc_drop_pct
        if k == FIRST:
            soc += soc_at_day_start_pct
        j.record_reading(START_S + i * 900.0, k, {"import_energy_wh": float(imp[i]),
                                                  "export_energy_wh": float(exp[i]),
                                                  "battery_soc_pct": soc})
    j.close()


def test_a_home_that_gave_up_stored_energy_is_worse_off_than_alone(tmp_path: Path) -> None:
    """The whole day against the same home alone: the same meters with a battery emptied
    for nothing is a loss (stored energy valued as the simulator values it)."""
    params = replace(HomeParams(), battery_kwh=10.0)
    homes = []
    for name, drop in (("same", 0.0), ("emptied", 30.0)):
        _home_journal(tmp_path / f"{name}.sqlite", params, 7, drop)
        homes.append(HomeRun(name, tmp_path / f"{name}.sqlite", params, 7))
    s = summarise(homes, first=FIRST, n=8, interval_s=900, lead=4, start_sim_s=START_S,
                  tariff=tariff_from_eur(0.30, 0.40, 0.08, 60_000.0), eur_per_btc=60_000.0)
    assert s["missing_metered_intervals"] == 0
    assert s["homes_worse_off"] == 0  # no trades: the same bill on the tariff
    assert s["homes_worse_off_than_alone_names"] == ["emptied"]
    assert s["homes_worse_off_than_alone_1pct"] == 1
    # Same bills; the emptied battery's 3 kWh at √0.9 × the mean retail price.
    lost = s["cost_net_of_stored_eur"]["peerwatt"] - s["cost_net_of_stored_eur"]["baseline"]
    assert s["cost_eur"]["peerwatt"] == s["cost_eur"]["baseline"]
    assert lost > 0


def test_since_the_agent_started_counts_the_lead_in_too(tmp_path: Path) -> None:
    """A home that reached the day with 20 % more stored than alone and ended it level with
    its alone self lost those 20 % on the day, not over its run; one that emptied its
    battery on the day lost on both counts."""
    params = replace(HomeParams(), battery_kwh=10.0)
    homes = []
    for name, drop, ahead in (("level", 0.0, 20.0), ("emptied", 30.0, 0.0)):
        _home_journal(tmp_path / f"{name}.sqlite", params, 7, drop, ahead)
        homes.append(HomeRun(name, tmp_path / f"{name}.sqlite", params, 7))
    s = summarise(homes, first=FIRST, n=8, interval_s=900, lead=4, start_sim_s=START_S,
                  tariff=tariff_from_eur(0.30, 0.40, 0.08, 60_000.0), eur_per_btc=60_000.0)
    assert s["homes_worse_off_than_alone_names"] == ["level", "emptied"]
    assert s["homes_worse_off_than_alone_since_start_names"] == ["emptied"]
    assert s["homes_worse_off_than_alone_since_start_1pct"] == 1
