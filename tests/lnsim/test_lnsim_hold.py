"""Hold invoices (the holdinvoice plugin's four methods) through pyln-client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from lnsim_harness import Lnsim
from pyln.client import LightningRpc, RpcError

from lnsim.network import NodeOptions


def pay_in_background(rpc: LightningRpc, bolt11: str) -> tuple[threading.Thread, list[Any]]:
    """xpay in a thread; the list gets the result or the RpcError."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(rpc.xpay(bolt11))
        except RpcError as exc:
            out.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    return worker, out


def wait_state(rpc: LightningRpc, payment_hash: str, state: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        found = dict(rpc.call("holdinvoicelookup", {"payment_hash": payment_hash}))
        if found["state"] == state or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def hold(ln: Lnsim, label: str, amount_msat: int = 50_000, **kw: Any) -> dict[str, Any]:
    return dict(ln.rpc("bob").call("holdinvoice", {
        "amount_msat": amount_msat, "label": label, "description": "metered", "cltv": 144,
        **kw}))


def test_accept_then_settle_pays_once_the_seller_settles(ln: Lnsim) -> None:
    bob, alice = ln.rpc("bob"), ln.rpc("alice")
    inv = hold(ln, "h1")
    assert {"bolt11", "payment_hash", "payment_secret", "expires_at"} <= set(inv)
    ph = inv["payment_hash"]
    assert bob.call("holdinvoicelookup", {"payment_hash": ph}) == {"state": "OPEN"}
    with pytest.raises(RpcError) as early:
        bob.call("holdinvoicesettle", {"payment_hash": ph})
    assert early.value.error == {"code": -32602,
                                 "message": "Holdinvoice is in wrong state: 'OPEN'"}
    worker, out = pay_in_background(alice, inv["bolt11"])
    accepted = wait_state(bob, ph, "ACCEPTED")
    assert accepted["state"] == "ACCEPTED"
    assert accepted["htlc_expiry"] > ln.rpc("bob").getinfo()["blockheight"]
    assert bob.listinvoices(payment_hash=ph)["invoices"][0]["status"] == "unpaid"
    assert alice.listsendpays(payment_hash=ph)["payments"][0]["status"] == "pending"
    with pytest.raises(RpcError) as busy:  # the buyer cannot pay it twice meanwhile
        alice.xpay(inv["bolt11"])
    assert busy.value.error["code"] == 200
    assert worker.is_alive()

    assert bob.call("holdinvoicesettle", {"payment_hash": ph}) == {"state": "SETTLED"}
    worker.join(30)
    assert out
    assert out[0]["amount_msat"] == 50_000
    assert bob.call("holdinvoicelookup", {"payment_hash": ph}) == {"state": "SETTLED"}
    assert bob.listinvoices(payment_hash=ph)["invoices"][0]["status"] == "paid"
    with pytest.raises(RpcError) as late:
        bob.call("holdinvoicecancel", {"payment_hash": ph})
    assert late.value.error["message"] == "Holdinvoice is in wrong state: 'SETTLED'"


def test_accept_then_cancel_fails_the_payment_and_returns_the_money(ln: Lnsim) -> None:
    bob, alice = ln.rpc("bob"), ln.rpc("alice")
    (before,) = alice.listpeerchannels()["channels"]
    inv = hold(ln, "h2")
    worker, out = pay_in_background(alice, inv["bolt11"])
    wait_state(bob, inv["payment_hash"], "ACCEPTED")
    (locked,) = alice.listpeerchannels()["channels"]
    assert locked["in_flight_msat"] > 0
    (htlc,) = locked["htlcs"]
    assert (htlc["direction"], htlc["payment_hash"]) == ("out", inv["payment_hash"])
    (into_bob,) = bob.listpeerchannels()["channels"][0]["htlcs"]
    assert into_bob["direction"] == "in"
    assert bob.call("holdinvoicecancel", {"payment_hash": inv["payment_hash"]}) == {
        "state": "CANCELED"}
    worker.join(30)
    assert isinstance(out[0], RpcError)
    assert out[0].error["code"] == 203
    (after,) = alice.listpeerchannels()["channels"]
    assert after["to_us_msat"] == before["to_us_msat"]
    assert after["in_flight_msat"] == 0
    (part,) = alice.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert part["status"] == "failed"
    with pytest.raises(RpcError) as again:  # canceled: takes no new HTLCs
        alice.xpay(inv["bolt11"])
    assert again.value.error["code"] == 203


def test_open_hold_invoice_past_expiry_looks_canceled(ln: Lnsim) -> None:
    inv = hold(ln, "h3", expiry=1)
    time.sleep(1.1)
    assert ln.rpc("bob").call("holdinvoicelookup", {"payment_hash": inv["payment_hash"]}) == {
        "state": "CANCELED"}


@pytest.mark.parametrize(("at_expiry", "state"), [("settle", "SETTLED"), ("cancel", "CANCELED")])
def test_accepted_hold_invoice_at_the_margin_is_settled_v4_or_canceled_v3(
    lnsim_factory: Callable[..., Lnsim], at_expiry: str, state: str,
) -> None:
    """holdinvoice v4.0.0 settles an ACCEPTED invoice at its soft expiry (v3 canceled it):
    a seller who has not decided by then is paid."""
    ln = lnsim_factory(options=NodeOptions(hold_cancel_before_expiry_s=2,
                                            hold_at_soft_expiry=at_expiry))
    inv = hold(ln, "h4", expiry=3)
    worker, out = pay_in_background(ln.rpc("alice"), inv["bolt11"])
    assert wait_state(ln.rpc("bob"), inv["payment_hash"], "ACCEPTED")["state"] == "ACCEPTED"
    worker.join(30)
    if state == "SETTLED":
        assert out[0]["amount_msat"] == 50_000
    else:
        assert isinstance(out[0], RpcError)
        assert out[0].error["code"] == 203
    assert ln.rpc("bob").call("holdinvoicelookup", {"payment_hash": inv["payment_hash"]}) == {
        "state": state}


def test_hold_invoice_within_the_cancel_margin_takes_no_htlc(ln: Lnsim) -> None:
    inv = hold(ln, "h5", expiry=600)  # the plugin's default margin is 1800 s
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").xpay(inv["bolt11"])
    assert exc.value.error["code"] == 203
    assert ln.rpc("bob").call("holdinvoicelookup", {"payment_hash": inv["payment_hash"]}) == {
        "state": "OPEN"}


@pytest.mark.parametrize(("method", "params", "message"), [
    ("holdinvoicelookup", {"payment_hash": "00" * 32}, f"payment_hash '{'00' * 32}' not found"),
    ("holdinvoicesettle", {"payment_hash": "zz"}, "payment_hash: should be a 32 byte hex "
                                                  "value: invalid token 'zz'"),
    ("holdinvoice", {"amount_msat": 1000, "label": "x", "description": "d"},
     "cltv: missing required parameter"),
])
def test_hold_errors_are_32602_with_the_plugin_wording(
    ln: Lnsim, method: str, params: dict[str, Any], message: str,
) -> None:
    with pytest.raises(RpcError) as exc:
        ln.rpc("bob").call(method, params)
    assert exc.value.error["code"] == -32602
    assert exc.value.error["message"] == message


def test_a_plain_invoice_is_not_a_hold_invoice_and_labels_are_shared(ln: Lnsim) -> None:
    plain = ln.rpc("bob").invoice(1000, "plain", "d")
    with pytest.raises(RpcError) as exc:
        ln.rpc("bob").call("holdinvoicelookup", {"payment_hash": plain["payment_hash"]})
    assert exc.value.error["code"] == -32602
    with pytest.raises(RpcError) as clash:
        hold(ln, "plain")
    assert clash.value.error["code"] == 900


def test_node_without_the_plugin_answers_unknown_command(
    lnsim_factory: Callable[..., Lnsim],
) -> None:
    ln = lnsim_factory(options=NodeOptions(disabled=frozenset(
        {"holdinvoice", "holdinvoicesettle", "holdinvoicecancel", "holdinvoicelookup",
         "xpay"})))
    for method in ("holdinvoice", "holdinvoicelookup", "xpay"):
        with pytest.raises(RpcError) as exc:
            ln.rpc("bob").call(method, {})
        assert exc.value.error["code"] == -32601
    assert "important-plugin" not in ln.rpc("bob").listconfigs()["configs"]
