"""Build a buyer or seller settlement over the stand-in: ClnNode + Journal file + services."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

from agent.adapters.cln.node import ClnNode
from agent.adapters.journal import Journal
from agent.clock import Clock, WallClock
from agent.domain.market import IntervalClock, Terms
from agent.ports import Invoice
from agent.services.invoicing import InvoiceConfig, Invoicing
from agent.services.settlement import PayConfig, Settlement
from agent.services.spend import SpendPolicy
from agent.services.state import AgentState
from agent.settings import LimitsSettings

INTERVALS = IntervalClock(900)
BUYER, SELLER = "home-alice", "home-bob"


@dataclass
class Side:
    node: ClnNode
    journal: Journal
    state: AgentState
    spend: SpendPolicy
    settlement: Settlement
    invoicing: Invoicing


def side(rpc: str, journal_path: Path, *, worker: str = "w", limits: LimitsSettings | None = None,
         clock: Clock | None = None, pay_timeout_s: float = 10.0, lease_s: float = 30.0,
         max_fee_msat: int = 5_000, poll_s: float = 0.05, max_attempts: int = 5,
         hold: bool = False, net_credits: bool = False) -> Side:
    clock = clock or WallClock()
    node = ClnNode(rpc, timeout_s=5.0, pay_timeout_s=pay_timeout_s)
    journal = Journal(journal_path)
    state = AgentState(worker)
    spend = SpendPolicy(limits or LimitsSettings(), journal, max_fee_msat=max_fee_msat,
                        interval_s=INTERVALS.length_s)
    settlement = Settlement(node, journal, clock, state, PayConfig(
        max_fee_msat=max_fee_msat, poll_s=poll_s, worker=worker, lease_s=lease_s,
        max_attempts=max_attempts), spend=spend)
    invoicing = Invoicing(node, journal, clock, state, InvoiceConfig(
        expiry_s=3600, intervals=INTERVALS, net_credits=net_credits),
        hold=node if hold else None)  # as the daemon wires hold_invoices = "auto"
    return Side(node, journal, state, spend, settlement, invoicing)


def terms(n: int, amount_msat: int = 50_000, *, interval: int | None = None,
          seller: str = SELLER) -> Terms:
    """1 000 Wh at `amount_msat` msat/kWh: costs exactly `amount_msat`."""
    k = INTERVALS.index(time.time()) + 1 if interval is None else interval
    return Terms(f"{n:032x}", k, seller, BUYER, 1_000, amount_msat)


async def agree(seller: Side, buyer: Side, t: Terms) -> Invoice:
    """What negotiation does on agreement: invoice, seller journal, buyer journal."""
    inv = await seller.invoicing.invoice_for(t)
    seller.journal.record_trade(t, "seller", time.time(), bolt11=inv.bolt11,
                                payment_hash=inv.payment_hash, latency_ms=None)
    buyer.journal.record_trade(t, "buyer", time.time(), bolt11=inv.bolt11,
                               payment_hash=inv.payment_hash, latency_ms=None)
    return inv


@contextlib.asynccontextmanager
async def running(*sides: Side) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(s.settlement.run()) for s in sides]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def until(cond: Callable[[], bool], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not cond():  # noqa: ASYNC110 - polling a journal file
            await asyncio.sleep(0.02)


def state_of(s: Side, trade_id: str) -> str:
    rec = s.journal.trade(trade_id)
    assert rec is not None
    return rec.state
