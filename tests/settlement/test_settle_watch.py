"""The seller's watch loop with nothing to watch sleeps until its journal commits a write
(or `IDLE_POLLS` polls, for writes by another connection), and misses neither."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lnsim_harness import Lnsim
from settle_helpers import Side, running, side, state_of, terms, until

from agent.adapters.journal import Journal
from agent.domain.market import Terms
from agent.services import settlement


async def _idle(s: Side) -> None:
    """Past the loop's first look at an empty journal: from then on it is idle."""
    await until(lambda: "settlement" in s.state.heartbeats)


async def _sold(s: Side, t: Terms, journal: Journal) -> str:
    inv = await s.invoicing.invoice_for(t)
    journal.record_trade(t, "seller", time.time(), bolt11=inv.bolt11,
                         payment_hash=inv.payment_hash, latency_ms=None)
    return inv.bolt11


async def test_a_write_wakes_the_idle_loop(ln: Lnsim, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # Without the wake-up the loop would sleep a million polls: only the commit wakes it.
    monkeypatch.setattr(settlement, "IDLE_POLLS", 1_000_000)
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite", worker="bob")
    t = terms(1, 80_000)
    async with running(seller):
        await _idle(seller)
        bolt11 = await _sold(seller, t, seller.journal)
        ln.rpc("alice").pay(bolt11)
        await until(lambda: state_of(seller, t.trade_id) == "paid")
    assert seller.state.counters["invoices_paid"] == 1


async def test_another_connections_write_is_seen_within_the_idle_polls(
        ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite", worker="bob")
    t = terms(2, 80_000)
    other = Journal(seller.journal.path)  # a tool's or another process's connection
    try:
        async with running(seller):
            await _idle(seller)
            bolt11 = await _sold(seller, t, other)  # commits call nothing in `seller`
            ln.rpc("alice").pay(bolt11)
            await until(lambda: state_of(seller, t.trade_id) == "paid")
    finally:
        other.close()
    assert seller.state.counters["invoices_paid"] == 1
