"""Crash tests: SIGKILL a real settlement worker process at random moments, 100+ times.

The worker (crash_worker.work) agrees trades (seller invoice by label, both journals) and
pays them through lnsim with pyln-client; each payment is held 30 ms in the network so
many kills land while one is in flight. After the kills a last run finishes the plan.
Then: no payment hash paid twice and no trade paid under two hashes (lnsim's
listsendpays and listinvoices), no trade record lost, every trade final on both sides,
both journals pass `PRAGMA integrity_check`.

Workers fork from a forkserver that preloaded the imports (a cold start costs ~0.8 s of
imports; a fork costs milliseconds), so the kills fit in well under a minute.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import random
import sqlite3
import time
from collections import Counter
from contextlib import closing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from crash_worker import INTERVALS, Plan, make_invoicing, plan_terms, work
from lnsim_harness import Lnsim

from agent.adapters.journal import Journal

CTX = mp.get_context("forkserver")
# Python 3.11's forkserver preloads with its own sys.path (not ours): name what it can find.
CTX.set_forkserver_preload(["agent.services.settlement", "agent.adapters.cln.node",
                            "agent.settings", "pyln.client", "structlog"])
KILLS = 110
TRADES = 600
SEED = int(os.environ.get("PEERWATT_CRASH_SEED", "7"))


def _rows(db: str) -> dict[str, tuple[Any, ...]]:
    if not Path(db).exists():
        return {}  # killed before it opened its journal
    with closing(sqlite3.connect(db)) as c:
        if not c.execute("SELECT 1 FROM sqlite_master WHERE name='trades'").fetchone():
            return {}
        rows = c.execute("SELECT trade_id, state, payment_hash, amount_msat, error FROM trades")
        return {r[0]: r for r in rows}


def _integrity(db: str) -> str:
    with closing(sqlite3.connect(db)) as c:
        return str(c.execute("PRAGMA integrity_check").fetchone()[0])


def _run(plan: Plan, timeout_s: float) -> int | None:
    p = CTX.Process(target=work, args=(plan,), name="settle-worker")
    p.start()
    p.join(timeout_s)
    if p.is_alive():
        p.kill()  # SIGKILL
        p.join()
        if p.exitcode == 0:  # it finished between the liveness check and the kill
            return 0
        assert p.exitcode == -9
        return None
    return p.exitcode


def _check_books(ln: Lnsim, plan: Plan, trades: int) -> dict[str, int]:
    """The invariants after the last run; returns figures for the report."""
    buyer, seller = _rows(plan.buyer_db), _rows(plan.seller_db)
    ids = {plan_terms(n, 0).trade_id for n in range(trades)}
    assert set(buyer) == ids, "a trade record is missing from the buyer's journal"
    assert set(seller) == ids, "a trade record is missing from the seller's journal"
    for tid in ids:
        assert buyer[tid][1] in ("paid", "failed", "cancelled"), buyer[tid]
        assert seller[tid][1] == buyer[tid][1], (seller[tid], buyer[tid])
        assert seller[tid][2] == buyer[tid][2], "buyer and seller hold different hashes"
    sends = ln.rpc("alice").listsendpays()["payments"]
    complete = Counter(p["payment_hash"] for p in sends if p["status"] == "complete")
    assert all(n == 1 for n in complete.values()), f"paid twice: {complete.most_common(3)}"
    invoices = ln.rpc("bob").listinvoices()["invoices"]
    labels = Counter(i["label"] for i in invoices)
    assert len(invoices) == len(ids), "the seller's node holds an invoice too many"
    assert all(n == 1 for n in labels.values())
    hash_of = {tid: buyer[tid][2] for tid in ids}
    assert set(complete) == {h for tid, h in hash_of.items() if buyer[tid][1] == "paid"}
    received = sum(i.get("amount_received_msat", 0) for i in invoices if i["status"] == "paid")
    assert received == sum(buyer[t][3] for t in ids if buyer[t][1] == "paid")
    assert _integrity(plan.buyer_db) == "ok"
    assert _integrity(plan.seller_db) == "ok"
    return {"paid": sum(buyer[t][1] == "paid" for t in ids), "double_payments":
            sum(n - 1 for n in complete.values()), "sendpays": len(sends)}


def test_sigkill_at_random_points_never_pays_twice_nor_loses_a_trade(
        ln: Lnsim, tmp_path: Path) -> None:
    ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": 0.03})
    plan = Plan(ln.path("alice"), ln.path("bob"), str(tmp_path / "buyer.sqlite"),
                str(tmp_path / "seller.sqlite"), trades=TRADES)
    rng = random.Random(SEED)
    kills = in_flight = 0
    while kills < KILLS:
        exit_code = _run(plan, rng.uniform(0.0, 0.3))
        if exit_code is not None:  # it ended before the kill: it must have finished
            states = Counter(r[1] for r in _rows(plan.buyer_db).values())
            assert exit_code == 0, f"worker exited {exit_code}"
            assert states["paid"] + states["failed"] == plan.trades, (
                f"worker quit early: {states}")
            # A fast machine finishes the plan before the kills are done: feed it more
            # trades, so the number of kills never depends on the machine's speed.
            plan = replace(plan, trades=plan.trades + TRADES // 2)
            continue
        kills += 1
        in_flight += any(r[1] == "paying" for r in _rows(plan.buyer_db).values())
    before = Counter(r[1] for r in _rows(plan.buyer_db).values())
    print(f"\nafter the kills: {dict(before)}")
    assert _run(plan, 120.0) == 0, "the last run did not finish the plan"
    figures = _check_books(ln, plan, plan.trades)
    print(f"\ncrash test: {kills} SIGKILLs ({in_flight} with a trade in `paying`), "
          f"{figures['paid']}/{plan.trades} trades paid, {figures['double_payments']} double "
          f"payments, {figures['sendpays']} sendpays")


@pytest.mark.parametrize("same_worker_id", [False, True],
                         ids=["two-worker-ids", "one-worker-id"])
def test_two_workers_racing_on_the_same_trades_pay_each_once(
        ln: Lnsim, tmp_path: Path, same_worker_id: bool) -> None:
    """Two processes settle the same journal from the same moment. With two worker ids the
    journal claim lets exactly one of them ask the node per trade; with one id (two copies
    of one agent) both may ask, and the node refuses the second (in progress, paid)."""
    ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": 0.05})
    base = Plan(ln.path("alice"), ln.path("bob"), str(tmp_path / "buyer.sqlite"),
                str(tmp_path / "seller.sqlite"), trades=12, create=False)
    asyncio.run(_agree_all(base))
    start = time.time() + 1.0  # both forked and waiting before either pays
    plans = [replace(base, worker="buyer" if same_worker_id else w, start_at=start,
                     report=str(tmp_path / f"{w}.json")) for w in ("w1", "w2")]
    procs = [CTX.Process(target=work, args=(p,)) for p in plans]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    figures = _check_books(ln, base, base.trades)
    assert figures["paid"] == base.trades
    attempts = [json.loads(Path(p.report).read_text()).get("payment_attempts", 0)
                for p in plans]
    print(f"\nrace ({'one id' if same_worker_id else 'two ids'}): payment attempts per "
          f"worker {attempts}")
    if not same_worker_id:
        assert sum(attempts) == base.trades, f"both workers asked the node to pay: {attempts}"


async def _agree_all(plan: Plan) -> None:
    """Agree the plan's trades in both journals, as negotiation would, without paying."""
    bj, sj = Journal(Path(plan.buyer_db)), Journal(Path(plan.seller_db))
    seller = make_invoicing(plan.seller_rpc, sj)
    interval = INTERVALS.index(time.time()) + 2
    for n in range(plan.trades):
        t = plan_terms(n, interval)
        inv = await seller.invoice_for(t)
        for j, role in ((sj, "seller"), (bj, "buyer")):
            j.record_trade(t, role, time.time(), bolt11=inv.bolt11,
                           payment_hash=inv.payment_hash, latency_ms=None)
    bj.close()
    sj.close()
