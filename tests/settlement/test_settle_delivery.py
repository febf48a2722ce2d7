"""Payment tied to metered delivery: hold invoices settled or cancelled after the meter
speaks, shortfall credits netted into the next invoice; and the pure rule behind it."""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lnsim_harness import Lnsim, start_lnsim
from settle_helpers import BUYER, INTERVALS, Side, running, side, state_of, until

from agent.domain.delivery import allocate, judge, netted
from agent.domain.market import Terms
from agent.services.delivery import Delivery, DeliveryConfig
from lnsim.network import NodeOptions

K = INTERVALS.index(time.time()) + 1  # the delivery interval of these trades


@dataclass
class ManualClock:
    """Simulated time the test moves by hand (the delivery interval ends when it says)."""

    t: float

    def now_s(self) -> float:
        return self.t

    async def sleep_until(self, t_s: float) -> None:
        self.t = max(self.t, t_s)

    def real_duration_s(self, sim_duration_s: float) -> float:
        return sim_duration_s


def _terms(n: int, energy_wh: int = 1_000, price: int = 100_000) -> Terms:
    return Terms(f"{n:032x}", K, "home-bob", BUYER, energy_wh, price)


def _meter(s: Side, exported_wh: float) -> None:
    """The seller's meter: export counter at the start of K and of K + 1."""
    s.journal.record_reading(INTERVALS.start_s(K) + 1, K, {"export_energy_wh": 5_000.0})
    s.journal.record_reading(INTERVALS.start_s(K + 1) + 1, K + 1,
                             {"export_energy_wh": 5_000.0 + exported_wh})


async def _agree(seller: Side, buyer: Side, t: Terms) -> str:
    inv = await seller.invoicing.invoice_for(t)
    seller.journal.record_trade(t, "seller", 0.0, bolt11=inv.bolt11,
                                payment_hash=inv.payment_hash, latency_ms=None)
    buyer.journal.record_trade(t, "buyer", 0.0, bolt11=inv.bolt11,
                               payment_hash=inv.payment_hash, latency_ms=None)
    return inv.payment_hash


def _seller(ln: Lnsim, tmp: Path, clock: ManualClock) -> tuple[Side, Delivery]:
    s = side(ln.path("bob"), tmp / "bob.sqlite", worker="bob", clock=clock, hold=True,
             net_credits=True)
    d = Delivery(s.node, s.journal, clock, s.state, s.spend,
                 DeliveryConfig(INTERVALS, min_share=0.5, meter_margin_s=60.0, poll_s=0.05))
    return s, d


@pytest.mark.parametrize(("exported_wh", "buyer_state", "credit"), [
    (1_000, "paid", 0),          # delivered in full: settled
    (700, "paid", 30_000),       # 70 %: settled, 30 % of 100 000 msat credited
    (400, "failed", 0),          # under half: cancelled, the buyer's money goes back
])
async def test_hold_invoice_settles_after_the_meter(ln: Lnsim, tmp_path: Path, exported_wh: int,
                                                    buyer_state: str, credit: int) -> None:
    clock = ManualClock(INTERVALS.start_s(K) - 300)
    seller, delivery = _seller(ln, tmp_path, clock)
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", pay_timeout_s=0.3)
    t = _terms(1)
    payment_hash = await _agree(seller, buyer, t)
    assert ln.rpc("bob").call("holdinvoicelookup", {"payment_hash": payment_hash})[
        "state"] == "OPEN"
    async with running(buyer, seller):
        await until(lambda: ln.rpc("bob").call("holdinvoicelookup", {
            "payment_hash": payment_hash})["state"] == "ACCEPTED")
        assert state_of(buyer, t.trade_id) == "paying"  # locked, not settled
        _meter(seller, exported_wh)
        await delivery.step()  # the interval has not ended yet: nothing happens
        assert seller.journal.delivery(t.trade_id) is None
        clock.t = INTERVALS.start_s(K + 1) + 61
        await delivery.step()
        await until(lambda: state_of(buyer, t.trade_id) == buyer_state
                    and state_of(seller, t.trade_id) == buyer_state)
    assert seller.journal.outstanding_credit(BUYER) == credit
    assert seller.journal.delivery(t.trade_id) == (
        "cancel" if buyer_state == "failed" else "settle", exported_wh, credit, True)
    pays = ln.rpc("alice").listsendpays(payment_hash=payment_hash)["payments"]
    assert sum(p["status"] == "complete" for p in pays) == (buyer_state == "paid")


async def test_credit_is_netted_into_the_next_invoice_once(ln: Lnsim, tmp_path: Path) -> None:
    clock = ManualClock(INTERVALS.start_s(K) - 300)
    seller, _ = _seller(ln, tmp_path, clock)
    seller.journal.record_delivery("earlier", BUYER, 0, "settle", 12_345, 0.0)
    t = _terms(2)
    inv = await seller.invoicing.invoice_for(t)
    assert inv.amount_msat == t.amount_msat - 12_345
    again = await seller.invoicing.invoice_for(t)  # after a crash: same invoice, same netting
    assert again == inv
    assert seller.journal.outstanding_credit(BUYER) == 0
    seller.journal.record_trade(t, "seller", 0.0, bolt11=inv.bolt11,
                                payment_hash=inv.payment_hash, latency_ms=None)
    seller.journal.advance(t.trade_id, "invoice_lapsed", 1.0, "invoice expired")
    assert seller.journal.outstanding_credit(BUYER) == 12_345  # owed again
    big = seller.journal.apply_credit(BUYER, "small-trade", 5_000, 2.0)
    assert big == 4_999  # an invoice keeps at least 1 msat
    assert seller.journal.outstanding_credit(BUYER) == 12_345 - 4_999
    assert seller.journal.drop_orphan_credits() == 1  # "small-trade" was never journaled
    assert seller.journal.outstanding_credit(BUYER) == 12_345


async def test_without_the_plugin_pay_on_agreement_and_credit(tmp_path: Path) -> None:
    plugin = {"holdinvoice", "holdinvoicesettle", "holdinvoicecancel", "holdinvoicelookup"}
    ln = start_lnsim(["alice", "bob"], options=NodeOptions(disabled=frozenset(plugin)))
    try:
        clock = ManualClock(INTERVALS.start_s(K) - 300)
        seller, delivery = _seller(ln, tmp_path, clock)
        buyer = side(ln.path("alice"), tmp_path / "alice.sqlite")
        t = _terms(3)
        await _agree(seller, buyer, t)
        async with running(buyer, seller):
            await until(lambda: state_of(seller, t.trade_id) == "paid")
        _meter(seller, 250)  # a quarter delivered: too late to cancel, all but that is owed
        clock.t = INTERVALS.start_s(K + 1) + 61
        await delivery.step()
        assert seller.journal.delivery(t.trade_id) == ("settle", 250, 75_000, True)
        nxt = await seller.invoicing.invoice_for(Terms("4" * 32, K + 2, "home-bob", BUYER,
                                                        1_000, 100_000))
        assert nxt.amount_msat == 100_000 - 75_000
    finally:
        ln.stop()
        shutil.rmtree(ln.dir, ignore_errors=True)


async def test_a_journaled_verdict_is_carried_out_after_a_restart(ln: Lnsim,
                                                                  tmp_path: Path) -> None:
    clock = ManualClock(INTERVALS.start_s(K) - 300)
    seller, _ = _seller(ln, tmp_path, clock)
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", pay_timeout_s=0.3)
    t = _terms(5)
    payment_hash = await _agree(seller, buyer, t)
    async with running(buyer):
        await until(lambda: ln.rpc("bob").call("holdinvoicelookup", {
            "payment_hash": payment_hash})["state"] == "ACCEPTED")
        # The seller journaled its verdict, then died before telling the node.
        seller.journal.record_delivery(t.trade_id, BUYER, 1_000, "settle", 0, clock.t)
        seller.journal.close()
        clock.t = INTERVALS.start_s(K + 1) + 61
        again, delivery = _seller(ln, tmp_path, clock)
        _meter(again, 0)  # whatever the meter says now, the journaled verdict stands
        await delivery.step()
        await until(lambda: state_of(buyer, t.trade_id) == "paid")
    assert again.journal.delivery(t.trade_id) == ("settle", 1_000, 0, True)


@given(exported=st.floats(0, 5_000), sales=st.dictionaries(
    st.text("abc", min_size=1, max_size=3), st.integers(1, 2_000), max_size=6))
def test_allocation_never_exceeds_export_or_sales(exported: float,
                                                  sales: dict[str, int]) -> None:
    shares = allocate(exported, sales)
    assert set(shares) == set(sales)
    assert sum(shares.values()) == min(int(exported), sum(sales.values()))
    assert all(0 <= shares[t] <= sales[t] for t in sales)


@given(energy=st.integers(1, 10_000), delivered=st.integers(-5, 12_000),
       amount=st.integers(1, 10**9), share=st.floats(0, 1))
def test_verdict_conserves_money(energy: int, delivered: int, amount: int, share: float) -> None:
    v = judge(energy, delivered, amount, share)
    assert 0 <= v.delivered_wh <= energy
    assert 0 <= v.credit_msat <= amount
    if v.action == "settle":  # what the seller keeps is at most the delivered part's value
        assert (amount - v.credit_msat) * energy <= amount * v.delivered_wh + energy
    else:
        assert v.credit_msat == 0
        assert v.delivered_wh < share * energy


def test_netting_leaves_an_invoice_amount() -> None:
    assert [netted(o, 100) for o in (0, 50, 99, 100, 10**6)] == [0, 50, 99, 99, 99]
    assert netted(5, 1) == 0


async def test_daemon_wires_hold_invoices_and_the_delivery_child(ln: Lnsim,
                                                                 tmp_path: Path) -> None:
    from agent.daemon import Agent
    from agent.settings import AgentSettings

    settings = AgentSettings.model_validate({
        "agent_id": "bob", "lightning": {"rpc_socket": ln.path("bob")},
        "paths": {"state_dir": str(tmp_path)},
        "settlement": {"hold_invoices": "auto", "net_shortfall": True}})
    agent = Agent(settings)
    try:
        assert "delivery" in [c.name for c in agent.extra_children]
        inv = await agent.invoicing.invoice_for(_terms(9))
        assert ln.rpc("bob").call("holdinvoicelookup", {"payment_hash": inv.payment_hash})[
            "state"] == "OPEN"
        await agent.delivery.step()  # nothing delivered yet to judge: no error, no verdict
        assert agent.journal.delivery(_terms(9).trade_id) is None
    finally:
        agent.journal.close()
