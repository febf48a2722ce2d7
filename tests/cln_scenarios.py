"""Payment scenarios written against Core Lightning's JSON-RPC only, run twice: against lnsim
(tests/lnsim/test_lnsim_scenarios.py) and against real lightningd nodes (tests/realnode/),
so the stand-in and the real node are held to the same expectations."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import coincurve
import pytest
from pyln.client import LightningRpc, RpcError
from pyln.proto.invoice import Invoice as PylnInvoice

from agent.crypto import bolt11

Pair = tuple[LightningRpc, LightningRpc]  # (payer, payee), with a route between them
Restart = Callable[[], LightningRpc]  # SIGKILL the payer's node, start it again: its new RPC


def _label(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


def invoice_then_xpay(pair: Pair) -> None:
    payer, payee = pair
    label = _label("pay")
    inv = payee.invoice(21_000, label, "scenario")
    res = payer.xpay(inv["bolt11"])
    assert res["amount_msat"] == 21_000
    assert res["amount_sent_msat"] >= 21_000
    preimage = bytes.fromhex(res["payment_preimage"])
    assert hashlib.sha256(preimage).hexdigest() == inv["payment_hash"]
    (got,) = payee.listinvoices(label)["invoices"]
    assert got["status"] == "paid"
    assert got["amount_received_msat"] >= 21_000


def label_clash_is_900(pair: Pair) -> None:
    _, payee = pair
    label = _label("dup")
    first = payee.invoice(1000, label, "first")
    with pytest.raises(RpcError) as exc:
        payee.invoice(1000, label, "second")
    assert exc.value.error["code"] == 900
    (kept,) = payee.listinvoices(label)["invoices"]
    assert kept["payment_hash"] == first["payment_hash"]


def xpay_twice_is_219(pair: Pair) -> None:
    payer, payee = pair
    inv = payee.invoice(5000, _label("twice"), "d")
    payer.xpay(inv["bolt11"])
    with pytest.raises(RpcError) as exc:
        payer.xpay(inv["bolt11"])
    assert exc.value.error["code"] == 219


def listsendpays_reconciles_a_payment(pair: Pair) -> None:
    payer, payee = pair
    inv = payee.invoice(7000, _label("rec"), "d")
    res = payer.xpay(inv["bolt11"])
    parts = payer.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    complete = [p for p in parts if p["status"] == "complete"]
    assert complete
    assert complete[0]["payment_preimage"] == res["payment_preimage"]
    # xpay numbers its parts from 1 in a random group: the bare waitsendpay waits for part
    # 0 and finds none (208); with the part's ids it answers
    with pytest.raises(RpcError) as part0:
        payer.waitsendpay(inv["payment_hash"])
    assert part0.value.error["code"] == 208
    assert complete[0]["partid"] >= 1
    assert payer.waitsendpay(inv["payment_hash"], partid=complete[0]["partid"],
                             groupid=complete[0]["groupid"])["status"] == "complete"
    (summary,) = payer.listpays(payment_hash=inv["payment_hash"])["pays"]
    assert summary["status"] == "complete"
    with pytest.raises(RpcError) as never:
        payer.waitsendpay("00" * 32)
    assert never.value.error["code"] == 208


def invoice_fields_as_lightningd_writes_them(pair: Pair) -> None:
    """`invoice` answers with these fields; its BOLT11 carries what a current node needs
    (payment secret, features var_onion_optin + payment_secret), read by our decoder and
    by the node's own `decode` alike."""
    payer, payee = pair
    inv = payee.invoice(21_000, _label("fields"), "trade t-1", expiry=600)
    assert {"bolt11", "payment_hash", "payment_secret", "expires_at", "created_index"} <= (
        set(inv))
    ours = bolt11.decode(inv["bolt11"])
    assert ours.payee == payee.getinfo()["id"]
    assert ours.payment_hash == inv["payment_hash"]
    assert ours.payment_secret == inv["payment_secret"]
    assert ours.amount_msat == 21_000
    assert ours.description == "trade t-1"
    assert ours.expires_at == inv["expires_at"]
    assert ours.features == bolt11.CLN_FEATURES
    cltv_final = payee.listconfigs("cltv-final")["configs"]["cltv-final"]["value_int"]
    assert ours.min_final_cltv_expiry == cltv_final  # 10 off mainnet; pyln-testing sets 5
    theirs = payer.decode(inv["bolt11"])
    assert theirs["type"] == "bolt11 invoice"
    assert theirs["valid"] is True
    _same_fields(ours, theirs)


def _same_fields(ours: bolt11.Bolt11, theirs: dict[str, Any]) -> None:
    assert theirs["currency"] == ours.currency
    assert theirs["created_at"] == ours.timestamp
    assert theirs["expiry"] == ours.expiry_s
    assert theirs["payee"] == ours.payee
    assert theirs.get("amount_msat") == ours.amount_msat
    assert theirs.get("description") == ours.description
    assert theirs.get("description_hash") == ours.description_hash
    assert theirs["min_final_cltv_expiry"] == ours.min_final_cltv_expiry
    assert theirs["payment_secret"] == ours.payment_secret
    assert int(theirs["features"], 16) == ours.features
    assert theirs["payment_hash"] == ours.payment_hash


def node_decodes_our_invoices(pair: Pair) -> None:
    """An invoice our codec writes (any key, description or its hash) is read field by
    field by the node's `decode`: the independent decoder of agent/crypto/bolt11.py."""
    payer, _ = pair
    key = coincurve.PrivateKey()
    for kw in ({"amount_msat": 1, "description": "1 msat", "expiry_s": 3600},
               {"amount_msat": 93_333, "description": "trade ä€ 420 Wh", "expiry_s": 60,
                "min_final_cltv_expiry": 144},
               {"amount_msat": None, "description": "any amount", "deschashonly": True}):
        text = bolt11.encode(key, currency="bcrt", timestamp=int(time.time()),
                             payment_hash=os.urandom(32), payment_secret=os.urandom(32),
                             **kw)  # type: ignore[arg-type]
        _same_fields(bolt11.decode(text), payer.decode(text))


def xpay_refuses_an_invoice_without_payment_secret(pair: Pair) -> None:
    """What lnsim wrote before: no `s`. The node refuses it before trying (-32602)."""
    payer, _ = pair
    old = PylnInvoice(paymenthash=os.urandom(32), amount=None, currency="bcrt",
                      tags=[("d", "old"), ("x", 600)], date=int(time.time()))
    text = old.encode(coincurve.PrivateKey().secret.hex())
    with pytest.raises(RpcError) as exc:
        payer.xpay(text, amount_msat=1000)
    assert exc.value.error["code"] == -32602
    assert "Missing required payment secret" in exc.value.error["message"]
    with pytest.raises(RpcError) as dec:
        payer.decode(text)
    assert dec.value.error["code"] == -32602
    assert "Missing required payment secret" in dec.value.error["message"]


def pay_of_a_paid_invoice_succeeds_at_once(pair: Pair) -> None:
    """`pay` (not xpay) of an invoice it already paid answers complete, sending nothing."""
    payer, payee = pair
    inv = payee.invoice(4000, _label("pay2"), "d")
    first = payer.pay(inv["bolt11"])
    assert first["status"] == "complete"
    again = payer.pay(inv["bolt11"])
    assert again["status"] == "complete"
    assert again["payment_preimage"] == first["payment_preimage"]
    complete = [p for p in payer.listsendpays(payment_hash=inv["payment_hash"])["payments"]
                if p["status"] == "complete"]
    assert len(complete) == 1


def reconcile_after_the_payer_is_killed(pair: Pair, restart: Restart) -> None:
    """The payer's node is SIGKILLed right after a payment: what it did is still there."""
    payer, payee = pair
    inv = payee.invoice(11_000, _label("kill"), "d")
    res = payer.xpay(inv["bolt11"])
    payer = restart()
    parts = payer.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert [p["status"] for p in parts] == ["complete"]
    assert parts[0]["payment_preimage"] == res["payment_preimage"]
    assert payer.waitsendpay(inv["payment_hash"], partid=parts[0]["partid"],
                             groupid=parts[0]["groupid"])["status"] == "complete"
    with pytest.raises(RpcError) as again:
        payer.xpay(inv["bolt11"])
    assert again.value.error["code"] == 219


def hold_invoice_pays_only_when_settled(pair: Pair) -> None:
    """The holdinvoice plugin: the payment waits at ACCEPTED until the payee settles."""
    payer, payee = pair
    inv = payee.call("holdinvoice", {"amount_msat": 9000, "label": _label("hold"),
                                     "description": "metered", "cltv": 144})
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(payer.xpay(inv["bolt11"])),
                              daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    state = ""
    while state != "ACCEPTED" and time.monotonic() < deadline:
        state = payee.call("holdinvoicelookup", {"payment_hash": inv["payment_hash"]})["state"]
        time.sleep(0.1)
    assert state == "ACCEPTED"
    assert not result
    assert payee.listinvoices(payment_hash=inv["payment_hash"])["invoices"][0]["status"] == (
        "unpaid")
    assert payee.call("holdinvoicesettle", {"payment_hash": inv["payment_hash"]})["state"] == (
        "SETTLED")
    worker.join(30)
    assert result
    assert result[0]["amount_msat"] == 9000


def feerates_as_the_agent_reads_them(pair: Pair) -> None:
    """agent/adapters/cln_channels.splice_fee_sat reads perkw.splice (or opening)."""
    payer, _ = pair
    res = payer.feerates("perkw")
    rates = res["perkw"]
    assert {"opening", "mutual_close", "unilateral_close", "penalty", "splice",
            "min_acceptable", "max_acceptable", "floor", "estimates"} <= set(rates)
    assert rates["floor"] == 253
    assert {"opening_channel_satoshis", "mutual_close_satoshis", "unilateral_close_satoshis",
            "htlc_timeout_satoshis", "htlc_success_satoshis"} <= set(
        res["onchain_fee_estimates"])
    assert res["onchain_fee_estimates"]["opening_channel_satoshis"] == (
        rates["opening"] * 702 // 1000)
    with pytest.raises(RpcError) as bad:
        payer.feerates("perbyte")
    assert bad.value.error["code"] == -32602


def hold_invoice_cancel_fails_the_payment(pair: Pair) -> None:
    payer, payee = pair
    inv = payee.call("holdinvoice", {"amount_msat": 8000, "label": _label("holdx"),
                                     "description": "metered", "cltv": 144})
    result: list[Any] = []

    def pay() -> None:
        try:
            result.append(payer.xpay(inv["bolt11"]))
        except RpcError as exc:
            result.append(exc)

    worker = threading.Thread(target=pay, daemon=True)
    worker.start()
    deadline = time.monotonic() + 30
    state = ""
    while state != "ACCEPTED" and time.monotonic() < deadline:
        state = payee.call("holdinvoicelookup", {"payment_hash": inv["payment_hash"]})["state"]
        time.sleep(0.1)
    assert state == "ACCEPTED"
    assert payee.call("holdinvoicecancel", {"payment_hash": inv["payment_hash"]})["state"] == (
        "CANCELED")
    worker.join(30)
    assert result
    assert isinstance(result[0], RpcError)
    parts = payer.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert parts
    assert all(p["status"] == "failed" for p in parts)


SCENARIOS = [invoice_then_xpay, label_clash_is_900, xpay_twice_is_219,
             listsendpays_reconciles_a_payment, invoice_fields_as_lightningd_writes_them,
             node_decodes_our_invoices, xpay_refuses_an_invoice_without_payment_secret,
             pay_of_a_paid_invoice_succeeds_at_once, feerates_as_the_agent_reads_them]
RESTART_SCENARIOS = [reconcile_after_the_payer_is_killed]  # need (pair, restart)
# need the holdinvoice plugin
HOLD_SCENARIOS = [hold_invoice_pays_only_when_settled, hold_invoice_cancel_fails_the_payment]
