"""Settlement paths against the stand-in through pyln-client, with real journal files."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

import pytest
from lnsim_harness import IN_FLIGHT_S, Lnsim
from settle_helpers import BUYER, SELLER, agree, running, side, state_of, terms, until

from agent.clock import AcceleratedClock
from agent.ports import PaymentRefused
from agent.settings import LimitsSettings
from agent.wire import Roster, RosterEntry, roster_digest


def _sendpays(ln: Lnsim, payment_hash: str) -> list[dict[str, object]]:
    return list(ln.rpc("alice").listsendpays(payment_hash=payment_hash)["payments"])


async def test_trade_paid_once_and_seller_sees_it(ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite", worker="bob")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", worker="alice")
    t = terms(1, 123_000)
    inv = await agree(seller, buyer, t)
    listed = ln.rpc("bob").listinvoices(f"peerwatt-{t.trade_id}")["invoices"]
    assert [i["payment_hash"] for i in listed] == [inv.payment_hash]
    assert listed[0]["amount_msat"] == 123_000
    async with running(seller, buyer):
        await until(lambda: state_of(buyer, t.trade_id) == "paid"
                    and state_of(seller, t.trade_id) == "paid")
    pays = _sendpays(ln, inv.payment_hash)
    assert [p["status"] for p in pays] == ["complete"]
    preimage = str(pays[0]["payment_preimage"])
    assert hashlib.sha256(bytes.fromhex(preimage)).hexdigest() == inv.payment_hash
    assert buyer.state.counters["payments_settled"] == 1
    assert buyer.state.counters["routing_fees_msat"] == int(str(pays[0]["amount_sent_msat"])) \
        - 123_000


async def test_invoice_asked_again_after_a_crash_is_the_same(ln: Lnsim, tmp_path: Path) -> None:
    t = terms(2)
    first = await side(ln.path("bob"), tmp_path / "a.sqlite").invoicing.invoice_for(t)
    again = await side(ln.path("bob"), tmp_path / "b.sqlite").invoicing.invoice_for(t)
    assert again == first  # label clash (900) -> listinvoices, never a second invoice
    assert len(ln.rpc("bob").listinvoices()["invoices"]) == 1


async def test_invoice_expires_before_the_settlement_deadline(ln: Lnsim, tmp_path: Path) -> None:
    # Simulated time 100 s before the end of delivery interval 11 (900 s intervals).
    clock = AcceleratedClock(time.time(), 12 * 900 - 100.0, 1.0)
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite", clock=clock)
    inv = await seller.invoicing.invoice_for(terms(3, interval=11))
    assert inv.expires_at - time.time() <= 100
    assert inv.expires_at - time.time() >= 95
    late = AcceleratedClock(time.time(), 12 * 900 + 1.0, 1.0)
    late_seller = side(ln.path("bob"), tmp_path / "late.sqlite", clock=late)
    with pytest.raises(PaymentRefused, match="settlement deadline passed"):
        await late_seller.invoicing.invoice_for(terms(4, interval=11))
    assert len(ln.rpc("bob").listinvoices()["invoices"]) == 1


async def test_restart_reconciles_a_payment_made_before_the_crash(ln: Lnsim,
                                                                   tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", worker="alice")
    t = terms(5)
    inv = await agree(seller, buyer, t)
    # The worker had claimed and paid, then died before journaling the outcome.
    assert buyer.journal.claim(t.trade_id, "alice", time.time(), 30.0)
    ln.rpc("alice").call("xpay", {"invstring": inv.bolt11})
    buyer.journal.close()
    restarted = side(ln.path("alice"), tmp_path / "alice.sqlite", worker="alice")
    await restarted.settlement.reconcile()
    assert state_of(restarted, t.trade_id) == "paid"
    assert len(_sendpays(ln, inv.payment_hash)) == 1


async def test_pending_payment_is_watched_not_repaid(ln: Lnsim, tmp_path: Path) -> None:
    # In flight for IN_FLIGHT_S: the check that it is `paying` falls inside that on any
    # machine that is not hung.
    ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": IN_FLIGHT_S})
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", pay_timeout_s=0.2)
    t = terms(6)
    inv = await agree(seller, buyer, t)
    async with running(buyer):
        await until(lambda: buyer.state.counters["payments_pending"] >= 1)
        assert state_of(buyer, t.trade_id) == "paying"
        await until(lambda: state_of(buyer, t.trade_id) == "paid")
    assert [p["status"] for p in _sendpays(ln, inv.payment_hash)] == ["complete"]


async def test_route_failure_retries_the_same_bolt11(ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", poll_s=0.2, max_attempts=50)
    t = terms(7)
    inv = await agree(seller, buyer, t)
    ln.rpc("alice").call("dev-lnsim-set-offline", {"node": "lsp"})
    async with running(buyer):
        await until(lambda: buyer.state.counters["payment_retries"] >= 2)
        assert state_of(buyer, t.trade_id) == "paying"
        ln.rpc("alice").call("dev-lnsim-set-offline", {"node": "lsp", "offline": False})
        await until(lambda: state_of(buyer, t.trade_id) == "paid")
    hashes = {p["payment_hash"] for p in ln.rpc("alice").listsendpays()["payments"]}
    assert hashes == {inv.payment_hash}
    assert sum(p["status"] == "complete" for p in _sendpays(ln, inv.payment_hash)) == 1


async def test_expired_invoice_fails_for_good(ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite")
    t = terms(8)
    inv = await seller.node.create_invoice(f"peerwatt-{t.trade_id}", t.amount_msat, "d", 1)
    buyer.journal.record_trade(t, "buyer", time.time(), bolt11=inv.bolt11,
                               payment_hash=inv.payment_hash, latency_ms=None)
    await asyncio.sleep(1.1)
    async with running(buyer):
        await until(lambda: state_of(buyer, t.trade_id) == "failed")
        async with asyncio.timeout(10):  # idle: a retry would still be queued or under way
            await buyer.settlement.drain()
    rec = buyer.journal.trade(t.trade_id)
    assert rec is not None
    assert rec.error is not None
    assert rec.error.startswith("code 207: expired")
    assert buyer.state.counters["payment_retries"] == 0
    assert _sendpays(ln, inv.payment_hash) == []


async def test_policy_refusal_is_permanent_and_alerts(ln: Lnsim, tmp_path: Path) -> None:
    limits = LimitsSettings(max_trade_msat=100_000)
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", limits=limits)
    t = terms(9, 99_000)  # 99 000 + 5 000 fee cap > 100 000
    inv = await agree(seller, buyer, t)
    async with running(buyer):
        await until(lambda: state_of(buyer, t.trade_id) == "failed")
    rec = buyer.journal.trade(t.trade_id)
    assert rec is not None
    assert rec.error == ("refused: policy: trade 99000+5000 fee msat exceeds per-trade cap "
                         "100000 msat")
    assert buyer.state.counters["payments_refused_policy"] == 1
    buyer.journal.close()
    again = side(ln.path("alice"), tmp_path / "alice.sqlite", limits=LimitsSettings())
    async with running(again):  # a restart with looser caps does not retry a refusal
        async with asyncio.timeout(10):
            await again.settlement.reconciled.wait()
            await again.settlement.drain()
    assert state_of(again, t.trade_id) == "failed"
    assert _sendpays(ln, inv.payment_hash) == []


async def test_off_roster_seller_is_refused_before_paying(ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite",
                 limits=LimitsSettings(require_roster=True))
    t = terms(10)
    inv = await agree(seller, buyer, t)
    async with running(buyer):
        await until(lambda: state_of(buyer, t.trade_id) == "failed")
    rec = buyer.journal.trade(t.trade_id)
    assert rec is not None
    assert rec.error == f"refused: policy: no roster known yet: seller {SELLER} cannot be checked"
    assert _sendpays(ln, inv.payment_hash) == []
    assert BUYER  # the buyer's own id never needs to be on its roster


async def test_unpaid_invoice_puts_the_buyer_on_the_default_list(ln: Lnsim,
                                                                 tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite",
                  limits=LimitsSettings(default_after_failures=2))
    for n in (11, 12):
        t = terms(n)
        inv = await seller.node.create_invoice(f"peerwatt-{t.trade_id}", t.amount_msat, "d", 1)
        seller.journal.record_trade(t, "seller", time.time(), bolt11=inv.bolt11,
                                    payment_hash=inv.payment_hash, latency_ms=None)
    assert seller.spend.defaulted(BUYER, time.time()) == ""
    await asyncio.sleep(1.1)
    await seller.settlement.reconcile()
    assert [state_of(seller, terms(n).trade_id) for n in (11, 12)] == ["failed", "failed"]
    assert "on the default list" in seller.spend.defaulted(BUYER, time.time())


async def test_node_away_while_checking_an_earlier_attempt(ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", worker="alice")
    t = terms(14)
    inv = await agree(seller, buyer, t)
    assert buyer.journal.claim(t.trade_id, "alice", time.time(), 30.0)  # an attempt may be out
    ln.rpc("lsp").call("dev-lnsim-set-offline", {"node": "alice"})  # alice's socket goes away
    await buyer.settlement._pay_one(t.trade_id)  # asks the node first: unavailable, no crash
    assert buyer.state.counters["node_unavailable"] == 1
    assert buyer.state.counters["payment_attempts"] == 0
    ln.rpc("lsp").call("dev-lnsim-set-offline", {"node": "alice", "offline": False})
    async with running(buyer):
        await until(lambda: state_of(buyer, t.trade_id) == "paid")
    assert _sendpays(ln, inv.payment_hash)[0]["status"] == "complete"


async def test_start_waits_for_the_node_before_anything_else(ln: Lnsim, tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", worker="alice")
    t = terms(15)
    await agree(seller, buyer, t)
    ln.rpc("lsp").call("dev-lnsim-set-offline", {"node": "alice"})
    async with running(buyer):
        # Reconciliation tried twice and cannot reach the node: nothing is paid.
        await until(lambda: buyer.state.counters["reconcile_waits"] >= 2)
        assert not buyer.settlement.reconciled.is_set()
        assert state_of(buyer, t.trade_id) == "agreed"
        ln.rpc("lsp").call("dev-lnsim-set-offline", {"node": "alice", "offline": False})
        await until(lambda: state_of(buyer, t.trade_id) == "paid")


def _roster(roster: dict[str, str]) -> Roster:
    entries = [RosterEntry(agent_id=a, node_id=n) for a, n in roster.items()]
    return Roster(seq=1, digest=roster_digest(entries), entries=entries, issued_s=0.0)


async def test_pays_only_the_node_the_roster_lists_for_the_seller(ln: Lnsim,
                                                                  tmp_path: Path) -> None:
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite")
    wrong, right = terms(16), terms(17)
    bad = await agree(seller, buyer, wrong)
    buyer.state.roster_msg = _roster({SELLER: ln.id("carol")})  # the roster says: carol's node
    async with running(buyer):
        await until(lambda: state_of(buyer, wrong.trade_id) == "failed")
        buyer.state.roster_msg = _roster({SELLER: ln.id("bob")})
        await agree(seller, buyer, right)
        buyer.settlement.submit(right.trade_id)
        await until(lambda: state_of(buyer, right.trade_id) == "paid")
    rec = buyer.journal.trade(wrong.trade_id)
    assert rec is not None
    assert rec.error is not None
    assert rec.error.startswith("refused: policy: invoice payee ")
    assert rec.error.endswith(f"is not the roster's node for {SELLER}")
    assert _sendpays(ln, bad.payment_hash) == []
