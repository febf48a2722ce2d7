"""Payment scenarios written against Core Lightning's JSON-RPC only, run twice: against lnsim
(tests/lnsim/test_lnsim_scenarios.py) and against real lightningd nodes (tests/realnode/),
so the stand-in and the real node are held to the same expectations."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import Any

import pytest
from pyln.client import LightningRpc, RpcError

Pair = tuple[LightningRpc, LightningRpc]  # (payer, payee), with a route between them


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
    assert payer.waitsendpay(inv["payment_hash"])["status"] == "complete"
    (summary,) = payer.listpays(payment_hash=inv["payment_hash"])["pays"]
    assert summary["status"] == "complete"
    with pytest.raises(RpcError) as never:
        payer.waitsendpay("00" * 32)
    assert never.value.error["code"] == 208


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


SCENARIOS = [invoice_then_xpay, label_clash_is_900, xpay_twice_is_219,
             listsendpays_reconciles_a_payment]
HOLD_SCENARIOS = [hold_invoice_pays_only_when_settled]  # need the holdinvoice plugin
