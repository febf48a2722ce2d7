"""ClnNode (the agent's real adapter) against the stand-in, over real sockets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from lnsim_harness import IN_FLIGHT_S, Lnsim
from pyln.proto.invoice import Invoice as PylnInvoice

from agent.adapters.cln.node import ClnNode, decode_invoice
from agent.ports import NodeUnavailable, PaymentRefused
from lnsim.network import node_key


async def test_node_id_and_invoice_round_trip(ln: Lnsim) -> None:
    bob = ClnNode(ln.path("bob"))
    assert await bob.node_id() == ln.id("bob")
    inv = await bob.create_invoice("trade-7", 123_450, "1.2 kWh", 600)
    assert inv.amount_msat == 123_450
    assert inv.label == "trade-7"
    decoded = decode_invoice(inv.bolt11)
    assert decoded.payee == ln.id("bob")
    assert decoded.payment_hash == inv.payment_hash
    assert decoded.amount_msat == 123_450
    assert decoded.expires_at == inv.expires_at
    assert abs(decoded.expires_at - (time.time() + 600)) < 5


async def test_create_invoice_is_idempotent_on_label_clash(ln: Lnsim) -> None:
    bob = ClnNode(ln.path("bob"))
    first = await bob.create_invoice("same", 5000, "d", 600)
    assert await bob.create_invoice("same", 5000, "d", 600) == first
    with pytest.raises(PaymentRefused):
        await bob.create_invoice("same", 6000, "d", 600)


async def test_pay_then_status_queries(ln: Lnsim) -> None:
    alice, bob = ClnNode(ln.path("alice")), ClnNode(ln.path("bob"))
    inv = await bob.create_invoice("p", 50_000, "d", 600)
    assert await bob.invoice_status("p") == "unpaid"
    assert await alice.payment_status(inv.payment_hash) is None
    out = await alice.pay(inv.bolt11, max_fee_msat=5_000)
    assert out.status == "complete"
    assert out.preimage
    assert out.amount_sent_msat == 51_000
    assert await bob.invoice_status("p") == "paid"
    assert await bob.invoice_status("missing") is None
    assert await alice.payment_status(inv.payment_hash) == out


async def test_already_paid_219_reconciles_to_complete(ln: Lnsim) -> None:
    alice, bob = ClnNode(ln.path("alice")), ClnNode(ln.path("bob"))
    inv = await bob.create_invoice("twice", 10_000, "d", 600)
    first = await alice.pay(inv.bolt11, 5_000)
    second = await alice.pay(inv.bolt11, 5_000)  # xpay answers 219 underneath
    assert second.status == "complete"
    assert second.preimage == first.preimage


async def test_concurrent_pays_of_one_invoice_make_one_payment(ln: Lnsim) -> None:
    # In flight long enough that all five calls meet it under way, on any machine.
    ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": IN_FLIGHT_S})
    alice = ClnNode(ln.path("alice"))
    inv = await ClnNode(ln.path("bob")).create_invoice("race", 10_000, "d", 600)
    outcomes = await asyncio.gather(*(alice.pay(inv.bolt11, 5_000) for _ in range(5)))
    statuses = sorted(o.status for o in outcomes)
    assert statuses.count("complete") == 1
    assert statuses.count("pending") == 4
    assert len(ln.rpc("alice").listsendpays()["payments"]) == 1
    assert ln.rpc("bob").listinvoices("race")["invoices"][0]["amount_received_msat"] == 10_000
    assert (await alice.payment_status(inv.payment_hash)).status == "complete"  # type: ignore[union-attr]


async def test_slow_payment_reports_pending_then_completes(ln: Lnsim) -> None:
    ln.rpc("alice").call("dev-lnsim-delay-payments", {"delay_s": 1.0})
    alice = ClnNode(ln.path("alice"), pay_timeout_s=0.3)
    inv = await ClnNode(ln.path("bob")).create_invoice("slow", 10_000, "d", 600)
    out = await alice.pay(inv.bolt11, 5_000)
    assert out.status == "pending"
    async with asyncio.timeout(30):  # the node's delay is 1 s; this only fails a hung run
        while (done := await alice.payment_status(inv.payment_hash)) is not None \
                and done.status == "pending":  # noqa: ASYNC110 - polling the node
            await asyncio.sleep(0.05)
    assert done is not None
    assert done.status == "complete"


async def test_offline_node_is_unavailable_and_route_failure_is_failed(ln: Lnsim) -> None:
    alice, bob = ClnNode(ln.path("alice")), ClnNode(ln.path("bob"))
    inv = await bob.create_invoice("off", 10_000, "d", 600)
    ln.rpc("lsp").call("dev-lnsim-set-offline", {"node": "bob"})
    with pytest.raises(NodeUnavailable):
        await bob.node_id()
    with pytest.raises(NodeUnavailable):
        await bob.create_invoice("x", 1000, "d", 600)
    out = await alice.pay(inv.bolt11, 5_000)
    assert out.status == "failed"
    assert out.error_code == 205
    assert out.message
    ln.rpc("lsp").call("dev-lnsim-set-offline", {"node": "lsp"})
    # xpay (askrene's explanation, as lightningd v26.06 words it): 205
    down = await alice.pay(inv.bolt11, 5_000)
    assert down.error_code == 205
    assert "All 1 channels to the source are disabled." in down.message


async def test_missing_socket_is_unavailable(tmp_path: Any) -> None:
    with pytest.raises(NodeUnavailable):
        await ClnNode(tmp_path / "nowhere" / "lightning-rpc").node_id()


async def test_insufficient_liquidity_fails_with_code(ln: Lnsim) -> None:
    inv = await ClnNode(ln.path("bob")).create_invoice("big", 1_500_000_000, "d", 600)
    out = await ClnNode(ln.path("alice")).pay(inv.bolt11, 50_000_000)
    assert out.status == "failed"
    assert out.error_code == 205  # xpay: "Failed: We could not find a usable set of paths."
    assert out.retryable


async def test_final_failures_and_refusals(ln: Lnsim) -> None:
    alice, bob = ClnNode(ln.path("alice")), ClnNode(ln.path("bob"))
    old = await bob.create_invoice("old", 1000, "d", 1)
    await asyncio.sleep(1.1)
    expired = await alice.pay(old.bolt11, 5_000)  # 207: final, never retried
    assert (expired.status, expired.error_code, expired.retryable) == ("failed", 207, False)
    assert expired.message.startswith("expired")
    assert await bob.invoice_status("old") == "expired"
    with pytest.raises(PaymentRefused):
        await alice.pay("lnbcrt1notaninvoice", 5_000)
    paid_by_carol = await bob.create_invoice("carol-paid", 1000, "d", 600)
    await ClnNode(ln.path("carol")).pay(paid_by_carol.bolt11, 5_000)
    refused = await alice.pay(paid_by_carol.bolt11, 5_000)  # 203 at the destination
    assert (refused.status, refused.error_code, refused.retryable) == ("failed", 203, False)
    assert refused.message.startswith("destination")


async def test_fee_cap_is_a_failed_outcome(ln: Lnsim) -> None:
    inv = await ClnNode(ln.path("bob")).create_invoice("fee", 100_000, "d", 600)
    out = await ClnNode(ln.path("alice")).pay(inv.bolt11, max_fee_msat=10)
    assert out.status == "failed"
    assert out.error_code == 206  # xpay's router (askrene): no route within maxfee
    assert out.retryable
    assert out.message.startswith("fee")


def test_decode_invoice_amountless_and_garbage(ln: Lnsim) -> None:
    res = ln.rpc("bob").invoice("any", "anyamount", "d", expiry=60)
    dec = decode_invoice(res["bolt11"])
    assert dec.amount_msat is None
    assert dec.payment_hash == res["payment_hash"]
    assert decode_invoice(res["bolt11"].upper()) == dec
    b11 = res["bolt11"]
    tampered = b11[:-8] + ("q" if b11[-8] != "q" else "p") + b11[-7:]
    segwit_address = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
    for garbage in ["", "   ", "garbage", "lnbcrt1", tampered, segwit_address,
                    "lnbcrt1" + "q" * 200]:
        with pytest.raises(ValueError, match="invalid bolt11"):
            decode_invoice(garbage)


async def test_an_invoice_without_payment_secret_is_never_sent_to_the_node(ln: Lnsim) -> None:
    """Signed by the payee's own node key, but without `s` (what lnsim wrote before): the
    agent refuses it before asking its node, which would refuse it too (-32602)."""
    old = PylnInvoice(paymenthash=b"\x05" * 32, amount=None, currency="bcrt",
                      tags=[("d", "old"), ("x", 600)], date=int(time.time()))
    text = old.encode(node_key(0, "bob").secret.hex())
    with pytest.raises(PaymentRefused, match="no payment secret"):
        await ClnNode(ln.path("alice")).pay(text, 5_000)
    assert ln.rpc("alice").listsendpays()["payments"] == []
