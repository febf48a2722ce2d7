"""The stand-in driven with an unmodified pyln-client LightningRpc."""

from __future__ import annotations

import os
import socket
import stat
import threading
import time
from typing import Any

import pytest
from lnsim_harness import IN_FLIGHT_S, Lnsim, wait_pending
from pyln.client import LightningRpc, RpcError

from lnsim.server import build_network


def code_of(exc: pytest.ExceptionInfo[RpcError]) -> int:
    return int(exc.value.error["code"])


def channel_with(rpc: LightningRpc, peer_id: str) -> dict[str, Any]:
    (chan,) = rpc.listpeerchannels(peer_id)["channels"]
    return dict(chan)


def test_nodes_json_lists_every_node_with_its_socket(ln: Lnsim) -> None:
    assert set(ln.nodes) == {"alice", "bob", "carol", "lsp"}
    for name, entry in ln.nodes.items():
        assert stat.S_ISSOCK(os.stat(entry["rpc"]).st_mode)
        assert len(entry["id"]) == 66
        assert entry["id"][:2] in ("02", "03")
        assert ln.rpc(name).getinfo()["id"] == entry["id"]
    assert build_network(["alice"]).nodes["alice"].id == ln.id("alice")
    assert build_network(["alice"], seed=1).nodes["alice"].id != ln.id("alice")


def test_getinfo_has_the_documented_fields(ln: Lnsim) -> None:
    info = ln.rpc("alice").getinfo()
    required = {"id", "alias", "color", "num_peers", "num_pending_channels",
                "num_active_channels", "num_inactive_channels", "version", "blockheight",
                "network", "fees_collected_msat", "lightning-dir", "address"}
    assert required <= set(info)
    assert info["network"] == "regtest"
    assert info["num_peers"] == 1
    assert info["num_active_channels"] == 1
    assert ln.rpc("lsp").getinfo()["num_active_channels"] == 3


def test_pay_over_the_hub_moves_balances_on_every_hop(ln: Lnsim) -> None:
    alice, bob, lsp = ln.rpc("alice"), ln.rpc("bob"), ln.rpc("lsp")
    a_before = channel_with(alice, ln.id("lsp"))["to_us_msat"]
    b_before = channel_with(bob, ln.id("lsp"))["to_us_msat"]
    inv = bob.invoice(100_000, "trade-1", "0.1 kWh")
    assert {"bolt11", "payment_hash", "payment_secret", "expires_at", "created_index"} <= set(inv)
    assert inv["bolt11"].startswith("lnbcrt1u1")

    res = alice.pay(inv["bolt11"])
    fee = 1000 + 100_000 * 10 // 1_000_000
    assert res["status"] == "complete"
    assert res["parts"] == 1
    assert res["amount_msat"] == 100_000
    assert res["amount_sent_msat"] == 100_000 + fee
    assert res["destination"] == ln.id("bob")
    assert res["payment_hash"] == inv["payment_hash"]

    (paid,) = bob.listinvoices(label="trade-1")["invoices"]
    assert paid["status"] == "paid"
    assert paid["amount_received_msat"] == 100_000
    assert paid["payment_preimage"] == res["payment_preimage"]
    (sent,) = alice.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert sent["status"] == "complete"
    assert sent["amount_sent_msat"] == 100_000 + fee
    assert alice.listsendpays(bolt11=inv["bolt11"])["payments"] == [sent]

    assert channel_with(alice, ln.id("lsp"))["to_us_msat"] == a_before - 100_000 - fee
    assert channel_with(bob, ln.id("lsp"))["to_us_msat"] == b_before + 100_000
    assert channel_with(lsp, ln.id("alice"))["to_us_msat"] == a_before + 100_000 + fee
    assert channel_with(lsp, ln.id("bob"))["to_us_msat"] == b_before - 100_000
    assert lsp.getinfo()["fees_collected_msat"] == fee
    funds = alice.listfunds()
    assert funds["outputs"]
    assert funds["channels"][0]["our_amount_msat"] == a_before - 100_000 - fee


def test_mesh_pays_directly_without_fee(lnsim_factory: Any) -> None:
    ln = lnsim_factory(["a", "b", "c"], topology="mesh")
    assert "lsp" not in ln.nodes
    assert len(ln.rpc("a").listpeerchannels()["channels"]) == 2
    inv = ln.rpc("c").invoice("5sat", "x", "d")
    assert ln.rpc("a").xpay(inv["bolt11"])["amount_sent_msat"] == 5000


def test_label_clash_is_900(ln: Lnsim) -> None:
    bob = ln.rpc("bob")
    bob.invoice(1000, "dup", "first")
    with pytest.raises(RpcError) as exc:
        bob.invoice(1000, "dup", "second")
    assert code_of(exc) == 900


def test_xpay_twice_is_219_and_pay_of_a_paid_bolt11_succeeds_at_once(ln: Lnsim) -> None:
    alice = ln.rpc("alice")
    inv = ln.rpc("bob").invoice(20_000, "t", "d")
    first = alice.xpay(inv["bolt11"])
    assert first["successful_parts"] == 1
    assert first["failed_parts"] == 0
    with pytest.raises(RpcError) as exc:
        alice.xpay(inv["bolt11"])
    assert code_of(exc) == 219
    again = alice.pay(inv["bolt11"])
    assert again["status"] == "complete"
    assert again["payment_preimage"] == first["payment_preimage"]
    assert len(alice.listsendpays()["payments"]) == 1


def test_second_pay_while_one_is_in_flight_is_refused_with_200(ln: Lnsim) -> None:
    alice = ln.rpc("alice")
    alice.call("dev-lnsim-delay-payments", {"delay_s": IN_FLIGHT_S})
    inv = ln.rpc("bob").invoice(20_000, "slow", "d")
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(alice.xpay(inv["bolt11"])))
    worker.start()
    wait_pending(alice, inv["payment_hash"])
    (pending,) = alice.listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert pending["status"] == "pending"
    assert channel_with(alice, ln.id("lsp"))["in_flight_msat"] == pending["amount_sent_msat"]
    with pytest.raises(RpcError) as exc:
        alice.xpay(inv["bolt11"])
    assert code_of(exc) == 200
    worker.join(60)
    assert results
    assert results[0]["amount_msat"] == 20_000
    assert [p["status"] for p in alice.listsendpays()["payments"]] == ["complete"]


def test_waitinvoice_wakes_on_payment(ln: Lnsim) -> None:
    inv = ln.rpc("bob").invoice(3000, "w", "d")
    got: list[Any] = []
    waiter = threading.Thread(target=lambda: got.append(ln.rpc("bob").waitinvoice("w")))
    waiter.start()
    time.sleep(0.2)
    assert ln.rpc("bob").getinfo()  # other requests still answered while one waits
    ln.rpc("alice").pay(inv["bolt11"])
    waiter.join(30)
    assert got
    assert got[0]["status"] == "paid"
    assert got[0]["pay_index"] == 1


def test_waitinvoice_on_expiry_is_903_and_unknown_label_is_minus_1(ln: Lnsim) -> None:
    bob = ln.rpc("bob")
    bob.invoice(3000, "short", "d", expiry=1)
    woken: list[BaseException] = []

    def wait() -> None:
        try:
            bob.waitinvoice("short")
        except RpcError as err:
            woken.append(err)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    waiter.join(60)  # woken by the expiry (1 s); the deadline only fails a hung run
    assert not waiter.is_alive(), "waitinvoice did not return after the invoice expired"
    assert len(woken) == 1
    err = woken[0]
    assert isinstance(err, RpcError)
    assert err.error["code"] == 903
    assert bob.listinvoices("short")["invoices"][0]["status"] == "expired"
    with pytest.raises(RpcError) as exc:
        bob.waitinvoice("nope")
    assert code_of(exc) == -1


def test_expired_invoice_cannot_be_paid_207(ln: Lnsim) -> None:
    inv = ln.rpc("bob").invoice(3000, "old", "d", expiry=1)
    time.sleep(1.1)
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").pay(inv["bolt11"])
    assert code_of(exc) == 207


def test_insufficient_liquidity_is_205_and_moves_nothing(ln: Lnsim) -> None:
    alice = ln.rpc("alice")
    before = channel_with(alice, ln.id("lsp"))
    inv = ln.rpc("bob").invoice(1_500_000_000, "big", "1.5M sat")
    # xpay, and pay handed to xpay (lightningd v26.06): 205 "Failed: ..."
    for method, params, code in (("pay", {"bolt11": inv["bolt11"]}, 205),
                                 ("xpay", {"invstring": inv["bolt11"]}, 205)):
        with pytest.raises(RpcError) as exc:
            alice.call(method, params)
        assert code_of(exc) == code
    assert channel_with(alice, ln.id("lsp")) == before


def test_fee_cap_is_206_for_pay_and_xpay(ln: Lnsim) -> None:
    inv = ln.rpc("bob").invoice(100_000, "fee", "d")
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").pay(inv["bolt11"], maxfee=10)
    assert code_of(exc) == 206
    with pytest.raises(RpcError) as exc:  # askrene: "Could not find route without excessive cost"
        ln.rpc("alice").xpay(inv["bolt11"], maxfee=10)
    assert code_of(exc) == 206


def test_offline_node_refuses_connections_and_routes_around_it(ln: Lnsim) -> None:
    inv = ln.rpc("bob").invoice(1000, "o", "d")
    ln.rpc("alice").call("dev-lnsim-set-offline", {"node": "bob"})
    with pytest.raises(ConnectionRefusedError):
        ln.rpc("bob").getinfo()
    assert channel_with(ln.rpc("lsp"), ln.id("bob"))["peer_connected"] is False
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").pay(inv["bolt11"])
    assert code_of(exc) == 205
    ln.rpc("alice").call("dev-lnsim-set-offline", {"node": ln.id("bob"), "offline": False})
    assert ln.rpc("bob").getinfo()["id"] == ln.id("bob")
    assert ln.rpc("alice").pay(inv["bolt11"])["status"] == "complete"


def test_reply_filter_is_applied(ln: Lnsim) -> None:
    alice = ln.rpc("alice")
    with alice.reply_filter({"channels": [{"short_channel_id": True}]}):
        chans = alice.listpeerchannels()
    assert chans == {"channels": [{"short_channel_id": "103x1x0"}]}


def test_positional_params_and_msat_strings(ln: Lnsim) -> None:
    res = ln.rpc("bob").call("invoice", ["2sat", 42, "positional", 60])
    assert ln.rpc("bob").listinvoices("42")["invoices"][0]["amount_msat"] == 2000
    assert res["expires_at"] - time.time() <= 61


@pytest.mark.parametrize(("method", "params", "code"), [
    ("nosuchmethod", {}, -32601),
    ("invoice", {"amount_msat": 1000, "description": "no label"}, -32602),
    ("invoice", {"amount_msat": -5, "label": "x", "description": "d"}, -32602),
    ("invoice", {"amount_msat": 1.5, "label": "x", "description": "d"}, -32602),
    ("invoice", {"amount_msat": 1000, "label": "x", "description": "d", "bogus": 1}, -32602),
    ("pay", {"bolt11": "lnbcrt1garbage"}, -32602),
    ("xpay", {}, -32602),
    ("listsendpays", {"status": "weird"}, -32602),
    ("waitinvoice", {"label": [1]}, -32602),
    ("getinfo", "not-an-object", -32602),
    ("dev-lnsim-set-offline", {"node": "nobody"}, -32602),
])
def test_bad_params_get_json_rpc_errors(ln: Lnsim, method: str, params: Any, code: int) -> None:
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").call(method, params)
    assert code_of(exc) == code
    assert exc.value.error["message"]


def raw_exchange(path: str, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(path)
        s.sendall(data)
        out = b""
        while not out.endswith(b"\n\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            out += chunk
        return out


@pytest.mark.parametrize("garbage", [b'{"jsonrpc": "2.0", "id": 1, }}}', b"[1, 2]\n",
                                     b'{"id": 1}', b"\xff\xfe{}", b"nonsense"])
def test_malformed_input_gets_an_error_and_the_server_lives(ln: Lnsim, garbage: bytes) -> None:
    reply = raw_exchange(ln.path("alice"), garbage)
    assert b'"error"' in reply
    assert reply.endswith(b"\n\n")
    assert ln.rpc("alice").getinfo()["alias"] == "alice"


def test_two_requests_on_one_connection_both_answered(ln: Lnsim) -> None:
    req = b'{"jsonrpc":"2.0","id":"a","method":"getinfo","params":{}}'
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(ln.path("alice"))
        s.sendall(req + req.replace(b'"a"', b'"b"'))
        out = b""
        while out.count(b"\n\n") < 2:
            out += s.recv(65536)
    assert b'"id": "a"' in out
    assert b'"id": "b"' in out
