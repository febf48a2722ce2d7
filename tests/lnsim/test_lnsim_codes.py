"""Documented answers and error codes: waitsendpay, listpays, decode, listconfigs, and xpay
reporting failure for a payment that completed (injected)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from lnsim_harness import IN_FLIGHT_S, Lnsim, wait_pending, wait_xpay
from pyln.client import RpcError

from lnsim.network import NodeOptions


def code(exc: pytest.ExceptionInfo[RpcError]) -> int:
    return int(exc.value.error["code"])


def test_waitsendpay_never_sent_208_in_progress_200_then_complete(ln: Lnsim) -> None:
    alice = ln.rpc("alice")
    with pytest.raises(RpcError) as never:
        alice.waitsendpay("11" * 32)
    assert code(never) == 208
    # The payment stays in flight for IN_FLIGHT_S: long enough that two consecutive calls
    # fall inside it on any machine that is not hung.
    alice.call("dev-lnsim-delay-payments", {"delay_s": IN_FLIGHT_S})
    inv = ln.rpc("bob").invoice(10_000, "w", "d")
    worker = threading.Thread(target=lambda: alice.xpay(inv["bolt11"]), daemon=True)
    worker.start()
    wait_pending(alice, inv["payment_hash"])
    with pytest.raises(RpcError) as part0:  # xpay numbers its parts from 1
        alice.waitsendpay(inv["payment_hash"], timeout=0)
    assert code(part0) == 208
    with pytest.raises(RpcError) as busy:
        wait_xpay(alice, inv["payment_hash"], timeout=0)
    assert code(busy) == 200
    done = wait_xpay(alice, inv["payment_hash"], timeout=60)
    assert done["status"] == "complete"
    assert done["payment_preimage"]
    assert {"id", "created_index", "payment_hash", "created_at", "amount_sent_msat"} <= set(done)
    worker.join(30)
    (pays,) = alice.listpays(inv["bolt11"])["pays"]
    assert pays["status"] == "complete"
    assert pays["amount_msat"] == 10_000


@pytest.mark.parametrize("mode", ["after_complete", "while_pending"])
def test_xpay_can_report_failure_for_a_payment_that_completes(ln: Lnsim, mode: str) -> None:
    alice = ln.rpc("alice")
    if mode == "while_pending":
        alice.call("dev-lnsim-delay-payments", {"delay_s": IN_FLIGHT_S})
    alice.call("dev-lnsim-xpay-false-failure", {"mode": mode})
    inv = ln.rpc("bob").invoice(10_000, f"lie-{mode}", "d")
    with pytest.raises(RpcError) as exc:
        alice.xpay(inv["bolt11"])
    assert code(exc) == 209
    (part,) = alice.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert part["status"] == ("complete" if mode == "after_complete" else "pending")
    assert wait_xpay(alice, inv["payment_hash"], timeout=10)["status"] == "complete"
    with pytest.raises(RpcError) as again:  # reconcile, do not retry: it is paid
        alice.xpay(inv["bolt11"])
    assert code(again) == 219
    assert ln.rpc("bob").listinvoices(f"lie-{mode}")["invoices"][0]["status"] == "paid"


def test_decode_and_decodepay_show_the_invoice(ln: Lnsim) -> None:
    inv = ln.rpc("bob").invoice(12_345, "dec", "two words", expiry=900)
    dec = ln.rpc("alice").decode(inv["bolt11"])
    assert dec["type"] == "bolt11 invoice"
    assert dec["valid"] is True
    assert dec["payee"] == ln.id("bob")
    assert dec["amount_msat"] == 12_345
    assert dec["payment_hash"] == inv["payment_hash"]
    assert dec["expiry"] == 900
    assert dec["description"] == "two words"
    assert dec["currency"] == "bcrt"
    assert dec["signature"].startswith("30")  # DER
    old = ln.rpc("alice").decodepay(inv["bolt11"])
    assert old == {k: v for k, v in dec.items() if k not in ("type", "valid")}
    for method, params in (("decode", {"string": "lnbcrt1nonsense"}),
                           ("decodepay", {"bolt11": "lnbcrt1nonsense"})):
        with pytest.raises(RpcError) as exc:
            ln.rpc("alice").call(method, params)
        assert code(exc) == -32602


def test_listconfigs_reports_a_remote_signer_by_default(ln: Lnsim) -> None:
    configs = ln.rpc("alice").listconfigs()["configs"]
    assert configs["subdaemon"] == {"values_str": ["hsmd:remote_hsmd_socket"],
                                    "sources": [configs["subdaemon"]["sources"][0]]}
    assert configs["network"]["value_str"] == "regtest"
    only = ln.rpc("alice").listconfigs("subdaemon")["configs"]
    assert list(only) == ["subdaemon"]
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").listconfigs("no-such-option")
    assert code(exc) == -32602


def test_listconfigs_with_a_local_signer_has_no_subdaemon(
    lnsim_factory: Callable[..., Lnsim],
) -> None:
    ln = lnsim_factory(options=NodeOptions(remote_signer=False))
    assert "subdaemon" not in ln.rpc("alice").listconfigs()["configs"]
    assert ln.rpc("alice").listconfigs("subdaemon") == {"configs": {}}


@pytest.mark.parametrize(("method", "params", "expected"), [
    ("dev-lnsim-fail-htlcs", {"node": "bob", "failcode": "WIRE_NO_SUCH"}, -32602),
    ("dev-lnsim-xpay-false-failure", {"mode": "sometimes"}, -32602),
    ("dev-lnsim-set-balance", {"short_channel_id": "999x1x0", "node": "bob",
                               "balance_msat": 1}, -32602),
    ("waitsendpay", {"payment_hash": "11" * 32, "partid": -1}, -32602),
    ("listpays", {"status": "lost"}, -32602),
])
def test_bad_requests_get_json_rpc_errors(
    ln: Lnsim, method: str, params: dict[str, Any], expected: int,
) -> None:
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").call(method, params)
    assert code(exc) == expected
