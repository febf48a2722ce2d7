"""Money is conserved through lnsim whatever happens: random payments, injected HTLC
failures and too-large amounts, all observed through pyln-client only."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from lnsim_harness import Lnsim
from pyln.client import RpcError

NAMES = ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_balances_fees_and_invoices_add_up_after_random_payments(
    lnsim_factory: Callable[..., Lnsim], seed: int,
) -> None:
    ln = lnsim_factory(NAMES, topology="ring", channel_sat=100_000)
    rng = random.Random(seed)
    rpc = {n: ln.rpc(n) for n in NAMES}
    capacity = {c["short_channel_id"]: c["total_msat"]
                for n in NAMES for c in rpc[n].listpeerchannels()["channels"]}
    paid: dict[str, int] = {}  # payment_hash -> amount the payee asked for
    codes: list[int] = []
    for i in range(60):
        payer, payee = rng.sample(NAMES, 2)
        if rng.random() < 0.2:
            rpc[payer].call("dev-lnsim-fail-htlcs", {"node": rng.choice(NAMES)})
        amount = rng.choice([rng.randint(1, 5_000_000), rng.randint(1, 120_000_000)])
        inv = rpc[payee].invoice(amount, f"r{i}", "random")
        method = rng.choice(["xpay", "pay"])
        try:
            rpc[payer].call(method, {"invstring" if method == "xpay" else "bolt11":
                                     inv["bolt11"], "maxfee": 1_000_000})
        except RpcError as exc:
            codes.append(int(exc.error["code"]))
            continue
        paid[inv["payment_hash"]] = amount
    assert set(codes) <= {203, 205, 206, 209, 215, 220}, codes

    total_fees = sum(rpc[n].getinfo()["fees_collected_msat"] for n in NAMES)
    sent = received = 0
    for n in NAMES:
        for s in rpc[n].listsendpays()["payments"]:
            assert s["status"] != "pending"
            if s["status"] == "complete":
                assert s["payment_hash"] in paid
                sent += s["amount_sent_msat"]
        for inv in rpc[n].listinvoices()["invoices"]:
            if inv["status"] == "paid":
                assert inv["amount_received_msat"] == paid[inv["payment_hash"]]
                received += inv["amount_received_msat"]
    assert received == sum(paid.values())
    assert sent - received == total_fees
    sides: dict[str, int] = {}
    for n in NAMES:
        for c in rpc[n].listpeerchannels()["channels"]:
            assert c["in_flight_msat"] == 0
            assert c["to_us_msat"] >= 0
            assert c["total_msat"] == capacity[c["short_channel_id"]]
            sides[c["short_channel_id"]] = sides.get(c["short_channel_id"], 0) + c["to_us_msat"]
    assert sides == capacity
