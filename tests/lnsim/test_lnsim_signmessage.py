"""`signmessage` / `checkmessage` on the stand-in, through the real pyln-client."""

from __future__ import annotations

import pytest
from lnsim_harness import Lnsim
from pyln.client import RpcError

from agent.adapters.cln.node import ClnNode
from agent.crypto import lnsig


def test_signmessage_shape_and_checkmessage(ln: Lnsim) -> None:
    alice = ln.rpc("alice")
    signed = alice.signmessage("peerwatt says hello")
    assert set(signed) == {"signature", "recid", "zbase"}
    assert len(signed["signature"]) == 128
    assert len(signed["recid"]) == 2
    bob = ln.rpc("bob")
    ok = bob.checkmessage("peerwatt says hello", signed["zbase"], ln.id("alice"))
    assert ok == {"pubkey": ln.id("alice"), "verified": True}
    wrong = bob.checkmessage("peerwatt says hellO", signed["zbase"], ln.id("alice"))
    assert wrong["verified"] is False
    # Without a pubkey the node vouches only for keys in its graph.
    assert bob.checkmessage("peerwatt says hello", signed["zbase"])["pubkey"] == ln.id("alice")
    stranger = lnsig.sign(b"\x07" * 32, "peerwatt says hello")
    with pytest.raises(RpcError):
        bob.checkmessage("peerwatt says hello", stranger.zbase)


def test_offline_verification_agrees_with_the_node(ln: Lnsim) -> None:
    zbase = ln.rpc("carol").signmessage("binding statement")["zbase"]
    assert lnsig.verify("binding statement", zbase, ln.id("carol"))
    assert not lnsig.verify("binding statement", zbase, ln.id("alice"))


async def test_adapter_sign_message(ln: Lnsim) -> None:
    node = ClnNode(ln.path("bob"))
    zbase = await node.sign_message("from the adapter")
    assert lnsig.recover("from the adapter", zbase) == ln.id("bob")
