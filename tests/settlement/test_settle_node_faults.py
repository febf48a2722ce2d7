"""Known node behaviour the settlement survives, injected through lnsim's dev methods.

xpay reporting failure for a payment that completed or is still in flight, nodes without
xpay, HTLC failures on the way, a node restarting with a payment in flight. Plus the
error table (pure): which codes and messages mean what.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lnsim_harness import IN_FLIGHT_S, Lnsim, start_lnsim
from settle_helpers import agree, running, side, state_of, terms, until

from agent.adapters.cln import errors as cln_errors
from lnsim.network import NodeOptions


def _sends(ln: Lnsim, payment_hash: str) -> list[str]:
    return [str(p["status"]) for p in
            ln.rpc("alice").listsendpays(payment_hash=payment_hash)["payments"]]


@pytest.mark.parametrize("mode", ["after_complete", "while_pending"])
async def test_xpay_false_failure_is_reconciled_not_retried(ln: Lnsim, tmp_path: Path,
                                                            mode: str) -> None:
    # In flight for IN_FLIGHT_S: the adapter's check after the false failure finds it
    # pending on any machine that is not hung.
    ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": IN_FLIGHT_S})
    ln.rpc("alice").call("dev-lnsim-xpay-false-failure", {"count": 1, "mode": mode})
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite")
    t = terms(1)
    inv = await agree(seller, buyer, t)
    async with running(buyer, seller):
        await until(lambda: state_of(buyer, t.trade_id) == "paid"
                    and state_of(seller, t.trade_id) == "paid")
    assert _sends(ln, inv.payment_hash) == ["complete"]
    assert buyer.state.counters["payment_attempts"] == 1
    assert buyer.state.counters["payment_retries"] == 0
    if mode == "while_pending":
        assert buyer.state.counters["payments_pending"] == 1


async def test_node_without_xpay_pays_with_pay(tmp_path: Path) -> None:
    ln = start_lnsim(["alice", "bob"], options=NodeOptions(disabled=frozenset({"xpay"})))
    try:
        seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
        buyer = side(ln.path("alice"), tmp_path / "alice.sqlite")
        t = terms(2)
        inv = await agree(seller, buyer, t)
        async with running(buyer):
            await until(lambda: state_of(buyer, t.trade_id) == "paid")
        assert _sends(ln, inv.payment_hash) == ["complete"]
        assert buyer.state.counters["payment_attempts"] == 1
    finally:
        ln.stop()
        shutil.rmtree(ln.dir, ignore_errors=True)


async def test_htlc_failures_on_the_way_end_in_one_payment(ln: Lnsim, tmp_path: Path) -> None:
    ln.rpc("lsp").call("dev-lnsim-fail-htlcs", {"node": "lsp", "count": 3,
                                                 "failcode": "WIRE_TEMPORARY_CHANNEL_FAILURE"})
    seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
    buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", poll_s=0.05, max_attempts=20)
    t = terms(3)
    inv = await agree(seller, buyer, t)
    async with running(buyer):
        await until(lambda: state_of(buyer, t.trade_id) == "paid")
    statuses = _sends(ln, inv.payment_hash)
    assert statuses.count("complete") == 1
    assert statuses.count("failed") >= 1  # the node's own attempts that the HTLCs failed


async def test_node_restart_with_a_payment_in_flight(tmp_path: Path) -> None:
    ln = start_lnsim(["alice", "bob"])
    directory = ln.dir
    try:
        ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": 1.0})
        seller = side(ln.path("bob"), tmp_path / "bob.sqlite")
        buyer = side(ln.path("alice"), tmp_path / "alice.sqlite", pay_timeout_s=0.2)
        t = terms(4)
        inv = await agree(seller, buyer, t)
        async with running(buyer):
            await until(lambda: buyer.state.counters["payments_pending"] == 1)
        ln.stop()  # the node goes down with the HTLCs locked
        ln = start_lnsim(["alice", "bob"], directory=directory)
        restarted = side(ln.path("alice"), tmp_path / "alice.sqlite", pay_timeout_s=0.2)
        async with running(restarted):
            await until(lambda: state_of(restarted, t.trade_id) in ("paid", "failed"), 20.0)
        statuses = _sends(ln, inv.payment_hash)
        assert statuses.count("complete") <= 1
        assert (state_of(restarted, t.trade_id) == "paid") == (statuses.count("complete") == 1)
    finally:
        ln.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.mark.parametrize(("code", "message", "meaning"), [
    (200, "Payment already in progress", "in_progress"),
    (219, "Already paid this invoice", "already_paid"),
    (205, "Could not find a route", "route"),
    (215, "Insufficient funds", "route"),
    (209, "Failed after 4 attempts", "route"),
    (-1, "Something odd", "route"),
    (206, "Route wanted fee of 6000msat", "fee"),
    (205, "Fee exceeds our fee budget: 12msat > 10msat", "fee"),
    (207, "Invoice expired", "expired"),
    (203, "WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS", "destination"),
    (201, "Already paid with this hash using different amount", "destination"),
    (-1, "policy failed: policy-routing-balanced validate_payment_balance", "policy"),
    (209, "signer refused: policy-commitment-htlc-cltv-range", "policy"),
    (-32602, "bolt11: invalid", "invalid"),
    (None, "", "invalid"),
])
def test_error_meanings(code: int | None, message: str, meaning: str) -> None:
    assert cln_errors.meaning(code, message) == meaning
