"""Multi-hop routing through lnsim, driven by pyln-client: fees, liquidity, HTLC failures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lnsim_harness import Lnsim, wait_xpay
from pyln.client import RpcError

TEMPORARY_CHANNEL_FAILURE = 0x1007
INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS = 0x400F


def topology(tmp_path: Path, nodes: list[str], channels: list[dict[str, Any]]) -> str:
    path = tmp_path / "topology.json"
    path.write_text(json.dumps({"nodes": nodes, "channels": channels}))
    return str(path)


def balance(ln: Lnsim, node: str, peer: str) -> int:
    (chan,) = ln.rpc(node).listpeerchannels(ln.id(peer))["channels"]
    return int(chan["to_us_msat"])


@pytest.fixture
def line(lnsim_factory: Callable[..., Lnsim], tmp_path: Path) -> Lnsim:
    """p - a - b - d, each hop with its own fee policy."""
    return lnsim_factory([], topology=topology(tmp_path, ["p", "a", "b", "d"], [
        {"a": "p", "b": "a", "capacity_sat": 1_000_000},
        {"a": "a", "b": "b", "capacity_sat": 1_000_000, "fee_base_msat": 500, "fee_ppm": 2000},
        {"a": "b", "b": "d", "capacity_sat": 1_000_000, "fee_base_msat": 100, "fee_ppm": 1000},
    ]))


@pytest.fixture
def diamond(lnsim_factory: Callable[..., Lnsim], tmp_path: Path) -> Lnsim:
    """p to d through x (cheap, but x holds only 50k sat towards d) or y (dearer)."""
    return lnsim_factory([], topology=topology(tmp_path, ["p", "x", "y", "d"], [
        {"a": "p", "b": "x", "capacity_sat": 1_000_000},
        {"a": "x", "b": "d", "capacity_sat": 1_000_000, "a_sat": 50_000,
         "fee_base_msat": 0, "fee_ppm": 100},
        {"a": "p", "b": "y", "capacity_sat": 1_000_000},
        {"a": "y", "b": "d", "capacity_sat": 1_000_000, "fee_base_msat": 2000, "fee_ppm": 100},
    ]))


def test_three_hops_pay_each_forwarders_fee_and_move_every_balance(line: Lnsim) -> None:
    amount = 200_000_000
    fee_b = 100 + amount * 1000 // 1_000_000  # b forwards `amount` to d
    fee_a = 500 + (amount + fee_b) * 2000 // 1_000_000  # a forwards amount + b's fee
    before = {(n, q): balance(line, n, q) for n, q in (("p", "a"), ("a", "b"), ("b", "d"))}
    inv = line.rpc("d").invoice(amount, "l1", "three hops")
    res = line.rpc("p").xpay(inv["bolt11"], maxfee=10_000_000)
    assert res["amount_sent_msat"] == amount + fee_a + fee_b
    assert balance(line, "p", "a") == before[("p", "a")] - amount - fee_a - fee_b
    assert balance(line, "a", "b") == before[("a", "b")] - amount - fee_b
    assert balance(line, "b", "d") == before[("b", "d")] - amount
    assert line.rpc("a").getinfo()["fees_collected_msat"] == fee_a
    assert line.rpc("b").getinfo()["fees_collected_msat"] == fee_b
    assert line.rpc("d").listinvoices("l1")["invoices"][0]["status"] == "paid"


def test_remote_hop_short_of_liquidity_fails_that_part_and_the_retry_succeeds(
    diamond: Lnsim,
) -> None:
    inv = diamond.rpc("d").invoice(100_000_000, "big", "more than x holds")
    res = diamond.rpc("p").xpay(inv["bolt11"], maxfee=1_000_000)
    assert res["failed_parts"] == 1
    assert res["amount_sent_msat"] == 100_000_000 + 2000 + 10_000  # through y
    parts = diamond.rpc("p").listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert [p["status"] for p in parts] == ["failed", "complete"]
    assert parts[0]["groupid"] == parts[1]["groupid"]
    assert [p["partid"] for p in parts] == [1, 2]  # xpay numbers parts from 1
    (summary,) = diamond.rpc("p").listpays(payment_hash=inv["payment_hash"])["pays"]
    assert summary["status"] == "complete"
    assert "number_of_parts" not in summary  # listpays shows it for more than one part
    assert summary["preimage"] == res["payment_preimage"]


def test_injected_htlc_failure_at_a_forwarder_is_routed_around(diamond: Lnsim) -> None:
    diamond.rpc("p").call("dev-lnsim-fail-htlcs", {"node": "x", "count": 1})
    inv = diamond.rpc("d").invoice(1_000_000, "small", "d")
    res = diamond.rpc("p").pay(inv["bolt11"])
    assert res["status"] == "complete"
    failed, done = diamond.rpc("p").listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert failed["status"] == "failed"
    assert done["amount_sent_msat"] == 1_000_000 + 2000 + 100  # y's fee: the retry went round
    # the fault was used up: the next payment takes the cheap route through x again
    inv2 = diamond.rpc("d").invoice(1_000_000, "small2", "d")
    assert diamond.rpc("p").xpay(inv2["bolt11"])["amount_sent_msat"] == 1_000_000 + 100


def test_permanent_failure_at_the_destination_is_203_without_retry(diamond: Lnsim) -> None:
    diamond.rpc("p").call("dev-lnsim-fail-htlcs", {
        "node": "d", "failcode": "WIRE_INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS"})
    inv = diamond.rpc("d").invoice(1_000_000, "perm", "d")
    with pytest.raises(RpcError) as exc:
        diamond.rpc("p").xpay(inv["bolt11"])
    assert exc.value.error["code"] == 203
    assert exc.value.error["data"]["failcode"] == INCORRECT_OR_UNKNOWN_PAYMENT_DETAILS
    assert exc.value.error["data"]["erring_node"] == diamond.id("d")
    assert len(diamond.rpc("p").listsendpays()["payments"]) == 1
    with pytest.raises(RpcError) as wait:
        wait_xpay(diamond.rpc("p"), inv["payment_hash"])
    assert wait.value.error["code"] == 203
    (summary,) = diamond.rpc("p").listpays(payment_hash=inv["payment_hash"])["pays"]
    assert summary["status"] == "failed"


def test_every_route_failing_is_209_for_xpay_and_for_pay(diamond: Lnsim) -> None:
    for node in ("x", "y"):
        diamond.rpc("p").call("dev-lnsim-fail-htlcs", {"node": node, "count": 10})
    inv = diamond.rpc("d").invoice(1_000_000, "doomed", "d")
    with pytest.raises(RpcError) as exc:
        diamond.rpc("p").xpay(inv["bolt11"])
    assert exc.value.error["code"] == 209
    assert exc.value.error["message"].startswith("Failed after 2 attempts")
    parts = diamond.rpc("p").listsendpays(payment_hash=inv["payment_hash"])["payments"]
    assert [p["status"] for p in parts] == ["failed", "failed"]
    with pytest.raises(RpcError) as wait:
        wait_xpay(diamond.rpc("p"), inv["payment_hash"])
    assert wait.value.error["code"] == 204  # failure along the route
    assert wait.value.error["data"]["failcode"] == TEMPORARY_CHANNEL_FAILURE
    with pytest.raises(RpcError) as exc:  # pay is handed to xpay (lightningd v26.06)
        diamond.rpc("p").pay(inv["bolt11"])
    assert exc.value.error["code"] == 209


def set_side(ln: Lnsim, node: str, peer: str, full: bool) -> None:
    (chan,) = ln.rpc(node).listpeerchannels(ln.id(peer))["channels"]
    ln.rpc(node).call("dev-lnsim-set-balance", {
        "short_channel_id": chan["short_channel_id"], "node": node,
        "balance_msat": chan["total_msat"] if full else 0})


def test_destination_drained_towards_itself_fails_after_attempts_209(diamond: Lnsim) -> None:
    for via in ("x", "y"):  # the payer cannot see this: it learns it from the failures
        set_side(diamond, "d", via, full=True)
    inv = diamond.rpc("d").invoice(1_000_000, "full", "d")
    with pytest.raises(RpcError) as exc:
        diamond.rpc("p").xpay(inv["bolt11"])
    assert exc.value.error["code"] == 209
    assert len(diamond.rpc("p").listsendpays()["payments"]) == 2


def test_more_than_the_destination_can_ever_receive_is_205(diamond: Lnsim) -> None:
    for via in ("x", "y"):
        set_side(diamond, "p", via, full=True)  # p can send 2 x 990k sat
    inv = diamond.rpc("d").invoice(1_970_000_000, "huge", "d")  # d: 2 x 980k sat usable
    with pytest.raises(RpcError) as exc:
        diamond.rpc("p").xpay(inv["bolt11"])
    assert exc.value.error["code"] == 205  # lightningd v26.06: xpay says 205 "Failed: ..."
    assert diamond.rpc("p").listsendpays()["payments"] == []


def test_ring_routes_the_long_way_when_the_short_way_is_offline(
    lnsim_factory: Callable[..., Lnsim],
) -> None:
    ln = lnsim_factory(["r0", "r1", "r2", "r3"], topology="ring")
    assert len(ln.rpc("r0").listpeerchannels()["channels"]) == 2
    inv = ln.rpc("r2").invoice(10_000, "ring", "d")
    ln.rpc("r0").call("dev-lnsim-set-offline", {"node": "r1"})
    res = ln.rpc("r0").xpay(inv["bolt11"])
    assert res["amount_sent_msat"] == 10_000 + 1000  # one forwarder (r3), default fee
    assert ln.rpc("r3").getinfo()["fees_collected_msat"] == 1000


@pytest.mark.parametrize("body", [
    "not json",
    json.dumps({"nodes": ["a"], "channels": [{"a": "a", "b": "zz", "capacity_sat": 1}]}),
    json.dumps({"nodes": ["a", "b"], "channels": [{"a": "a", "b": "b", "capacity_sat": 0}]}),
    json.dumps({"nodes": ["a", "b"], "channels": [
        {"a": "a", "b": "b", "capacity_sat": 10, "a_sat": 11}]}),
])
def test_a_bad_topology_file_is_refused_with_a_reason(tmp_path: Path, body: str) -> None:
    from lnsim import main

    path = tmp_path / "t.json"
    path.write_text(body)
    assert main(["--dir", str(tmp_path / "d"), "--topology", str(path)]) == 2
    assert main(["--dir", str(tmp_path / "d"), "--topology", str(tmp_path / "none")]) == 2
