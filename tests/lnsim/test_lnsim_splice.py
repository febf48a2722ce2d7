"""Splicing through pyln-client: splicein/spliceout and the splice_init/update/signed sequence."""

from __future__ import annotations

from typing import Any

import pytest
from lnsim_harness import Lnsim
from pyln.client import RpcError


def chan(ln: Lnsim, node: str = "alice") -> dict[str, Any]:
    (found,) = ln.rpc(node).listpeerchannels()["channels"]
    return dict(found)


def wallet_msat(ln: Lnsim, node: str = "alice") -> int:
    return sum(int(o["amount_msat"]) for o in ln.rpc(node).listfunds()["outputs"])


def test_splicein_grows_capacity_and_our_side_from_the_wallet(ln: Lnsim) -> None:
    before, funds = chan(ln), wallet_msat(ln)
    res = ln.rpc("alice").call("splicein", {"channel": before["channel_id"],
                                             "amount": "300000"})
    assert {"psbt", "tx", "txid"} <= set(res)
    after = chan(ln)
    assert after["total_msat"] == before["total_msat"] + 300_000_000
    assert after["to_us_msat"] == before["to_us_msat"] + 300_000_000
    assert after["short_channel_id"] == before["short_channel_id"]
    assert wallet_msat(ln) == funds - 300_000_000
    (lsp_side,) = ln.rpc("lsp").listpeerchannels(ln.id("alice"))["channels"]
    assert lsp_side["total_msat"] == after["total_msat"]
    assert lsp_side["to_us_msat"] == before["total_msat"] - before["to_us_msat"]


def test_spliceout_shrinks_capacity_and_refuses_more_than_our_side(ln: Lnsim) -> None:
    before = chan(ln)
    ln.rpc("alice").call("spliceout", {"channel": before["channel_id"], "amount": 200_000})
    after = chan(ln)
    assert after["total_msat"] == before["total_msat"] - 200_000_000
    assert after["to_us_msat"] == before["to_us_msat"] - 200_000_000
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").call("spliceout", {"channel": ln.id("lsp"), "amount": "900000sat"})
    assert exc.value.error["code"] == 357
    assert chan(ln) == after


def test_a_splice_out_leaves_too_little_for_a_payment_a_splice_in_restores_it(
    ln: Lnsim,
) -> None:
    start = chan(ln)
    ln.rpc("alice").call("spliceout", {"channel": start["channel_id"],
                                        "amount": "980000"})
    inv = ln.rpc("bob").invoice(100_000_000, "after-splice", "d")
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").xpay(inv["bolt11"])
    assert exc.value.error["code"] == 205
    ln.rpc("alice").call("splicein", {"channel": f"{ln.id('lsp')}:?",
                                       "amount": "500000"})
    assert ln.rpc("alice").xpay(inv["bolt11"])["amount_msat"] == 100_000_000


def test_splice_init_update_signed_sequence(ln: Lnsim) -> None:
    before = chan(ln)
    cid = before["channel_id"]
    alice = ln.rpc("alice")
    psbt = alice.call("splice_init", {"channel_id": cid, "relative_amount": 100_000})["psbt"]
    with pytest.raises(RpcError) as busy:
        alice.call("splicein", {"channel": cid, "amount": "1"})
    assert busy.value.error["code"] == 355
    with pytest.raises(RpcError) as early:
        alice.call("splice_signed", {"channel_id": cid, "psbt": psbt})
    assert early.value.error["code"] == 358
    upd = alice.call("splice_update", {"channel_id": cid, "psbt": psbt})
    assert upd["commitments_secured"] is True
    assert upd["signatures_secured"] is True
    signed = alice.call("splice_signed", {"channel_id": cid, "psbt": upd["psbt"]})
    assert {"tx", "txid", "psbt"} <= set(signed)
    assert chan(ln)["total_msat"] == before["total_msat"] + 100_000_000
    out = alice.call("splice_init", {"channel_id": cid, "relative_amount": -50_000})["psbt"]
    alice.call("splice_update", {"channel_id": cid, "psbt": out})
    alice.call("splice_signed", {"channel_id": cid, "psbt": out})
    assert chan(ln)["total_msat"] == before["total_msat"] + 50_000_000


@pytest.mark.parametrize(("method", "params", "code"), [
    ("splicein", {"channel": "ab" * 32, "amount": "1000"}, 352),
    ("splicein", {"channel": "CID", "amount": "-5"}, -32602),
    ("splicein", {"channel": "CID", "amount": "99999999999"}, 301),
    ("splice_update", {"channel_id": "00" * 32, "psbt": "x"}, 352),
    ("splice_init", {"channel_id": "CID", "relative_amount": 0}, -32602),
    # lightningd v26.06's splice script reads a short_channel_id as an amount
    ("splicein", {"channel": "SCID", "amount": "1000"}, -32602),
    ("spliceout", {"channel": "SCID", "amount": "1000"}, -32602),
])
def test_splice_errors_follow_core_lightning(
    ln: Lnsim, method: str, params: dict[str, Any], code: int,
) -> None:
    mine = chan(ln)
    ids = {"CID": mine["channel_id"], "SCID": mine["short_channel_id"]}
    params = {k: ids.get(v, v) for k, v in params.items()}
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").call(method, params)
    assert exc.value.error["code"] == code
    if params.get("channel") == mine["short_channel_id"]:
        assert exc.value.error["message"] == "Splice script compile failed"


def test_splice_with_the_peer_offline_is_refused(ln: Lnsim) -> None:
    ln.rpc("bob").call("dev-lnsim-set-offline", {"node": "lsp"})
    with pytest.raises(RpcError) as exc:
        ln.rpc("alice").call("splicein", {"channel": ln.id("lsp"), "amount": "1000"})
    assert exc.value.error["code"] == 351
