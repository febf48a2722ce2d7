"""Node message signatures, the Ed25519 envelope, replay protection and bindings."""

from __future__ import annotations

import stat
from pathlib import Path

import coincurve
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyln.proto import zbase32

from agent.crypto import lnsig
from agent.crypto.envelope import Identity, ReplayGuard, canonical, verify
from agent.services.identity import Bindings
from agent.services.state import AgentState
from agent.wire import MoveMsg

SECRET = bytes(range(1, 33))
NODE = coincurve.PrivateKey(SECRET).public_key.format(compressed=True).hex()


def test_zbase_layout_matches_core_lightnings_documented_example() -> None:
    # From Core Lightning's signmessage documentation: zbase = zbase32(recid+31 || sig).
    zbase = ("rdq7e66b8gb1x4c8qs383tmi9uo76jdraqbfj8ic7xd1gxyhztfwgdhqhumfehc4dxbed7e5ycf4u6wm"
             "9fedfoukz9uqk471okwocw31")
    raw = zbase32.decode(zbase)
    assert raw[0] - 31 == 1  # "recid": "01"
    assert raw[1:].hex().startswith("ddd47bc1398327e98775b27cc575fce1df2464c382549eacebc7233c")


def test_sign_recover_verify() -> None:
    sig = lnsig.sign(SECRET, "hello")
    assert lnsig.recover("hello", sig.zbase) == NODE
    assert lnsig.verify("hello", sig.zbase, NODE)
    assert not lnsig.verify("hellO", sig.zbase, NODE)
    assert zbase32.decode(sig.zbase)[1:].hex() == sig.signature


@pytest.mark.parametrize("garbage", ["", "!!!", "y" * 104, "ybndrfg8", "1" * 300])
def test_recover_garbage_is_none(garbage: str) -> None:
    assert lnsig.recover("hello", garbage) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200), st.integers(0, 103))
def test_any_changed_character_breaks_the_node_signature(message: str, pos: int) -> None:
    sig = lnsig.sign(SECRET, message).zbase
    flipped = sig[:pos] + ("y" if sig[pos] != "y" else "b") + sig[pos + 1:]
    assert lnsig.recover(message, flipped) != NODE


def test_identity_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "state" / "identity.ed25519"
    first = Identity.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load_or_create(path).pubkey_hex == first.pubkey_hex
    seqs = [first.next_seq() for _ in range(1000)]
    assert seqs == sorted(set(seqs))


BODY = {"kind": "offer", "price_msat_per_kwh": 120_000, "deadline_s": 1.5, "list": [1, 2.5]}


def test_envelope_binds_topic_and_every_field(tmp_path: Path) -> None:
    me = Identity.load_or_create(tmp_path / "k")
    sig = me.sign("a/inbox/x", BODY)
    assert verify(me.pubkey_hex, "a/inbox/x", dict(reversed(list(BODY.items()))), sig)
    assert not verify(me.pubkey_hex, "a/inbox/y", BODY, sig)
    for key in BODY:
        changed = {**BODY, key: "other"}
        assert not verify(me.pubkey_hex, "a/inbox/x", changed, sig)
    other = Identity.load_or_create(tmp_path / "k2")
    assert not verify(other.pubkey_hex, "a/inbox/x", BODY, sig)
    assert not verify("zz", "a/inbox/x", BODY, sig)
    assert canonical("t", {"b": 1, "a": 2}) == b't\n{"a":2,"b":1}'


def test_replay_guard_accepts_each_seq_once_within_its_window() -> None:
    guard = ReplayGuard(window=4)
    assert [guard.fresh("s", n) for n in (1, 2, 2, 3)] == [True, True, False, True]
    assert guard.fresh("t", 2)  # per sender
    for n in (4, 5, 6):
        assert guard.fresh("s", n)
    assert not guard.fresh("s", 1)  # older than anything remembered


class _NodeKey:
    """A MessageSigner over a local secp256k1 key, as the node's signmessage would be."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    async def sign_message(self, message: str) -> str:
        return lnsig.sign(self.secret, message).zbase


def _move(sender: str, node: str) -> MoveMsg:
    return MoveMsg(kind="offer", trade_id="ab" * 16, interval=5, sender=sender, receiver="",
                   round=0, energy_wh=100, price_msat_per_kwh=1000, deadline_s=10.0,
                   node_id=node, sent_s=1.0)


async def test_bindings_accept_true_bindings_and_check_moves(tmp_path: Path) -> None:
    alice = Bindings("c", "alice", Identity.load_or_create(tmp_path / "a"), AgentState("alice"))
    bob_state = AgentState("bob")
    bob = Bindings("c", "bob", Identity.load_or_create(tmp_path / "b"), bob_state)
    alice_node = NODE
    bob.on_binding("peerwatt/v1/c/identity/alice",
                   await alice.own_binding(alice_node, _NodeKey(SECRET)))
    assert bob_state.counters["bindings"] == 1
    topic = "peerwatt/v1/c/offers/5"
    signed = alice.sign(topic, _move("alice", alice_node))
    assert bob.check(topic, signed) == ""
    assert bob.check(topic, signed) == "moves_replayed"
    assert bob.check("peerwatt/v1/c/offers/6", alice.sign(topic, _move("alice", alice_node))) \
        == "moves_forged"
    assert bob.check(topic, _move("alice", alice_node)) == "moves_forged"  # unsigned
    assert bob.check(topic, alice.sign(topic, _move("carol", alice_node))) == "moves_unbound"
    other_node = "03" + "11" * 32
    assert bob.check(topic, alice.sign(topic, _move("alice", other_node))) == "moves_wrong_node"


async def test_bindings_refuse_false_node_signatures(tmp_path: Path) -> None:
    state = AgentState("bob")
    bob = Bindings("c", "bob", Identity.load_or_create(tmp_path / "b"), state)
    mallory = Bindings("c", "alice", Identity.load_or_create(tmp_path / "m"),
                       AgentState("alice"))
    # Mallory claims alice's node id but can only sign with her own node key.
    forged = await mallory.own_binding(NODE, _NodeKey(b"\x09" * 32))
    bob.on_binding("peerwatt/v1/c/identity/alice", forged)
    true = await mallory.own_binding(NODE, _NodeKey(SECRET))
    bob.on_binding("peerwatt/v1/c/identity/other", true)  # topic does not name the agent
    bob.on_binding("peerwatt/v1/c/identity/alice", b"{not json")
    assert state.counters["bindings_invalid"] == 3
    assert state.counters["bindings"] == 0


async def test_a_binding_carried_in_a_move_introduces_its_sender(tmp_path: Path) -> None:
    alice = Bindings("c", "alice", Identity.load_or_create(tmp_path / "a"), AgentState("alice"))
    await alice.own_binding(NODE, _NodeKey(SECRET))
    bob_state = AgentState("bob")
    bob = Bindings("c", "bob", Identity.load_or_create(tmp_path / "b"), bob_state)
    topic = "peerwatt/v1/c/offers/5/alice"
    plain = alice.sign(topic, _move("alice", NODE))
    assert plain.binding is None
    assert bob.check(topic, plain) == "moves_unbound"
    first = alice.sign(topic, _move("alice", NODE), introduce=True)
    assert first.binding is not None
    assert bob.check(topic, first) == ""
    assert bob.check(topic, alice.sign(topic, _move("alice", NODE))) == ""  # now cached
    # A binding for someone else, or one whose node signature is false, is refused.
    mallory = Bindings("c", "mallory", Identity.load_or_create(tmp_path / "m"),
                       AgentState("mallory"))
    await mallory.own_binding(NODE, _NodeKey(b"\x05" * 32))
    forged = mallory.sign(topic, _move("mallory", NODE), introduce=True)
    assert bob.check(topic, forged) == "moves_bad_binding"
    assert bob_state.counters["bindings"] == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=130))
def test_our_zbase32_agrees_with_pyln(data: bytes) -> None:
    encoded = zbase32.encode(data).decode()
    assert lnsig.zbase32_encode(data) == encoded
    assert lnsig.zbase32_decode(encoded) == zbase32.decode(encoded)
