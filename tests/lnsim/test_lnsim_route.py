"""getroute + sendpay through pyln-client: a circular rebalance, and its failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from lnsim_harness import Lnsim
from pyln.client import LightningRpc, RpcError

FEE_INSUFFICIENT = 0x100C
AMOUNT = 100_000_000


def channel(ln: Lnsim, node: str, peer: str) -> dict[str, Any]:
    (chan,) = ln.rpc(node).listpeerchannels(ln.id(peer))["channels"]
    return dict(chan)


def circular_route(ln: Lnsim, a: LightningRpc, *, pay_fee: bool) -> list[dict[str, Any]]:
    """a -> c -> b -> a: out through a's channel to c, back in through b."""
    out_chan = channel(ln, "a", "c")
    back = a.getroute(ln.id("a"), AMOUNT, 1, fromid=ln.id("c"),
                      exclude=[f"{out_chan['short_channel_id']}/"
                               f"{0 if ln.id('c') < ln.id('a') else 1}"])["route"]
    assert [h["id"] for h in back] == [ln.id("b"), ln.id("a")]
    c_fee = 1000 + back[0]["amount_msat"] * 10 // 1_000_000 if pay_fee else 0
    first = {"id": ln.id("c"), "channel": out_chan["short_channel_id"],
             "amount_msat": back[0]["amount_msat"] + c_fee, "delay": back[0]["delay"] + 6}
    return [first, *back]


@pytest.fixture
def mesh(lnsim_factory: Callable[..., Lnsim]) -> Lnsim:
    return lnsim_factory(["a", "b", "c"], topology="mesh")


def test_circular_rebalance_moves_liquidity_between_our_channels(mesh: Lnsim) -> None:
    a = mesh.rpc("a")
    to_c, to_b = channel(mesh, "a", "c"), channel(mesh, "a", "b")
    inv = a.invoice(AMOUNT, "rebalance", "circular")
    route = circular_route(mesh, a, pay_fee=True)
    res = a.sendpay(route, inv["payment_hash"], payment_secret=inv["payment_secret"],
                    amount_msat=AMOUNT)
    assert res["status"] == "pending"
    assert res["message"]
    done = a.waitsendpay(inv["payment_hash"], timeout=10)
    assert done["status"] == "complete"
    assert a.listinvoices("rebalance")["invoices"][0]["status"] == "paid"
    cost = route[0]["amount_msat"] - AMOUNT
    assert cost == 2 * (1000 + AMOUNT * 10 // 1_000_000)  # two forwarders: 1000 msat + 10 ppm
    assert channel(mesh, "a", "c")["to_us_msat"] == to_c["to_us_msat"] - route[0]["amount_msat"]
    assert channel(mesh, "a", "b")["to_us_msat"] == to_b["to_us_msat"] + AMOUNT
    assert mesh.rpc("c").getinfo()["fees_collected_msat"] > 0
    assert mesh.rpc("b").getinfo()["fees_collected_msat"] > 0


def test_a_hop_paid_less_than_its_fee_fails_there_204(mesh: Lnsim) -> None:
    a = mesh.rpc("a")
    inv = a.invoice(AMOUNT, "cheap", "circular")
    a.sendpay(circular_route(mesh, a, pay_fee=False), inv["payment_hash"])
    with pytest.raises(RpcError) as exc:
        a.waitsendpay(inv["payment_hash"], timeout=10)
    assert exc.value.error["code"] == 204
    assert exc.value.error["data"]["failcode"] == FEE_INSUFFICIENT
    assert exc.value.error["data"]["erring_node"] == mesh.id("c")
    assert channel(mesh, "a", "c")["in_flight_msat"] == 0


def test_first_hop_without_capacity_is_refused_at_once(mesh: Lnsim) -> None:
    a = mesh.rpc("a")
    inv = a.invoice(AMOUNT, "toobig", "d")
    route = circular_route(mesh, a, pay_fee=True)
    route[0]["amount_msat"] = 5_000_000_000
    with pytest.raises(RpcError) as exc:
        a.sendpay(route, inv["payment_hash"])
    assert exc.value.error["code"] == 204
    assert a.listsendpays(payment_hash=inv["payment_hash"])["payments"] == []


@pytest.mark.parametrize("params", [
    {"route": [], "payment_hash": "00" * 32},
    {"route": [{"id": "02" + "00" * 32, "channel": "103x1x0", "amount_msat": 1}],
     "payment_hash": "00" * 32},
])
def test_bad_routes_are_32602(mesh: Lnsim, params: dict[str, Any]) -> None:
    with pytest.raises(RpcError) as exc:
        mesh.rpc("a").call("sendpay", params)
    assert exc.value.error["code"] == -32602


def test_getroute_without_a_path_is_205(mesh: Lnsim) -> None:
    with pytest.raises(RpcError) as exc:
        mesh.rpc("a").getroute(mesh.id("b"), 10**13, 1)
    assert exc.value.error["code"] == 205
