"""A settlement worker process for the crash and race tests.

`work()` runs in a child process (forked from a forkserver that preloaded the imports, so
a hundred starts take seconds, not minutes). It drives the real services: the seller's
`Invoicing.invoice_for` (label from the trade id), the buyer's and the seller's SQLite
journals, and the buyer's `Settlement` paying through lnsim with pyln-client, exactly as
the daemon does: agree (invoice, seller journal, buyer journal), submit, pay, reconcile on
start. It keeps at most `window` trades unfinished, like a home with a few trades per
interval, and returns when every trade of the plan is final on both sides.
The test SIGKILLs it at random moments and starts it again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import structlog

from agent.adapters.cln.node import ClnNode
from agent.adapters.journal import FINAL_STATES, Journal
from agent.clock import WallClock
from agent.domain.market import IntervalClock, Terms
from agent.services.invoicing import InvoiceConfig, Invoicing
from agent.services.settlement import PayConfig, Settlement
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState
from agent.settings import LimitsSettings

INTERVALS = IntervalClock(900)
BUYER, SELLER = "home-alice", "home-bob"


@dataclass(frozen=True)
class Plan:
    buyer_rpc: str
    seller_rpc: str
    buyer_db: str
    seller_db: str
    trades: int
    window: int = 4
    worker: str = "buyer"      # the buyer's settlement worker id (claims in its journal)
    report: str = ""           # a JSON file for this run's counters, written at the end
    lease_s: float = 2.0
    create: bool = True        # False: only settle what the journals already hold
    start_at: float = 0.0      # wall time to start paying at (line racing workers up)


def plan_terms(n: int, interval: int) -> Terms:
    """Trade n of a plan: 200..1 199 Wh at 50 msat/kWh... priced so amounts differ."""
    return Terms(f"{n:032x}", interval, SELLER, BUYER, 200 + (n * 37) % 1000, 50_000)


def make_settlement(rpc: str, journal: Journal, worker: str, lease_s: float) -> Settlement:
    clock = WallClock()
    spend = SpendPolicy(LimitsSettings(max_exposure_msat=10**12, max_day_msat=10**12,
                                       max_interval_msat=10**12), journal, max_fee_msat=5_000)
    return Settlement(ClnNode(rpc, timeout_s=5.0, pay_timeout_s=5.0), journal, clock,
                      AgentState(worker), PayConfig(max_fee_msat=5_000, poll_s=0.02,
                                                    worker=worker, lease_s=lease_s),
                      spend=spend)


def make_invoicing(rpc: str, journal: Journal) -> Invoicing:
    """The seller's invoices, as negotiation asks for them on agreement."""
    return Invoicing(ClnNode(rpc, timeout_s=5.0), journal, WallClock(), AgentState("seller"),
                     InvoiceConfig(expiry_s=3600, intervals=INTERVALS))


def _unfinished(journal: Journal) -> int:
    return sum(r.state not in FINAL_STATES for r in journal.trades())


async def _drive(plan: Plan) -> dict[str, int]:
    interval = INTERVALS.index(time.time()) + 2
    buyer_j, seller_j = Journal(Path(plan.buyer_db)), Journal(Path(plan.seller_db))
    buyer = make_settlement(plan.buyer_rpc, buyer_j, plan.worker, plan.lease_s)
    seller = make_settlement(plan.seller_rpc, seller_j, "seller", plan.lease_s)
    invoicing = make_invoicing(plan.seller_rpc, seller_j)
    if plan.start_at:
        await asyncio.sleep(max(0.0, plan.start_at - time.time()))
    tasks = [asyncio.create_task(buyer.run()), asyncio.create_task(seller.run())]
    try:
        for n in range(plan.trades if plan.create else 0):
            t = plan_terms(n, interval)
            if buyer_j.trade(t.trade_id) is not None:
                continue
            while _unfinished(buyer_j) >= plan.window:  # noqa: ASYNC110 - journal polling
                await asyncio.sleep(0.005)
            inv = await invoicing.invoice_for(t)
            seller_j.record_trade(t, "seller", time.time(), bolt11=inv.bolt11,
                                  payment_hash=inv.payment_hash, latency_ms=None)
            if buyer_j.record_trade(t, "buyer", time.time(), bolt11=inv.bolt11,
                                    payment_hash=inv.payment_hash, latency_ms=None):
                buyer.submit(t.trade_id)
        while _unfinished(buyer_j) or _unfinished(seller_j):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return dict(buyer._state.counters)


def work(plan: Plan) -> None:
    """The child process's entry point (quiet: warnings and errors only)."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    counters = asyncio.run(_drive(plan))
    if plan.report:
        Path(plan.report).write_text(json.dumps(counters))
