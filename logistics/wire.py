"""The signed wire between the city's agents, as the daemon speaks it.

Every agent has an Ed25519 key (`agent.crypto.envelope.Identity`) bound to a Lightning
node id by the node's `signmessage` signature (`agent.crypto.lnsig`; the nodes are
lnsim's, `lnsim.network.node_key`). Every move travels as the daemon's `MoveMsg`: stamped
with a sequence number, signed over its topic and body, carrying the sender's binding on
first contact (offers and a buyer's first reply), encoded to JSON; the receiver decodes
it and checks it as the daemon's `Bindings.check` does (topic names the sender, binding
verified against the node signature, node id, signature, replay) before its state
machine sees it. Only the broker is missing: `deliver` hands the bytes over.

Topics are the daemon's: `offers/{slot}/{carrier}` and `inbox/{receiver}/{sender}` under
`peerwatt/v1/{community}/`, with the slot id in the `interval` field.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agent.crypto import lnsig
from agent.crypto.envelope import Identity, ReplayGuard, binding_statement, verify
from agent.domain.negotiation import Move
from agent.wire import Binding, MoveMsg, WireError, decode, encode
from lnsim.network import node_key


@dataclass(frozen=True, slots=True)
class _Peer:
    node_id: str
    pubkey: str


@dataclass
class _Agent:
    identity: Identity
    node_id: str
    binding: Binding
    peers: dict[str, _Peer] = field(default_factory=dict)
    replays: ReplayGuard = field(default_factory=ReplayGuard)


class SignedWire:
    def __init__(self, names: list[str], community: str, seed: int) -> None:
        self.community = community
        self.counters: Counter[str] = Counter()
        self.bytes_sent = 0
        self._agents: dict[str, _Agent] = {}
        for name in names:
            raw = hashlib.sha256(f"peerwatt-logistics/{seed}/{name}".encode()).digest()
            identity = Identity(Ed25519PrivateKey.from_private_bytes(raw))
            key = node_key(seed, name)
            node_id = key.public_key.format(compressed=True).hex()
            zbase = lnsig.sign(key.secret, binding_statement(community, name,
                                                             identity.pubkey_hex)).zbase
            binding = Binding(community=community, agent_id=name, node_id=node_id,
                              pubkey=identity.pubkey_hex, zbase=zbase)
            self._agents[name] = _Agent(identity, node_id, binding)

    def topic(self, move: Move) -> str:
        base = f"peerwatt/v1/{self.community}"
        if move.kind == "offer":
            return f"{base}/offers/{move.interval}/{move.sender}"
        return f"{base}/inbox/{move.receiver}/{move.sender}"

    def encode(self, move: Move, sent_s: float, *, introduce: bool) -> tuple[str, bytes]:
        """The sender's side: the topic and the signed payload."""
        me = self._agents[move.sender]
        topic = self.topic(move)
        msg = MoveMsg.of(move, me.node_id, sent_s)
        update: dict[str, object] = {"seq": me.identity.next_seq()}
        if introduce:
            update["binding"] = me.binding
        msg = msg.model_copy(update=update)
        msg = msg.model_copy(update={"sig": me.identity.sign(topic, msg.unsigned())})
        payload = encode(msg)
        self.bytes_sent += len(payload)
        self.counters["moves_sent"] += 1
        return topic, payload

    def receive(self, receiver: str, topic: str, payload: bytes) -> Move | None:
        """The receiver's side: the move, or None (dropped and counted) when the payload
        is invalid or not authentic."""
        try:
            msg = decode(payload, MoveMsg)
        except WireError:
            self.counters["moves_invalid"] += 1
            return None
        problem = ("moves_wrong_topic" if topic.rsplit("/", 1)[-1] != msg.sender
                   else self._check(self._agents[receiver], topic, msg))
        if problem:
            self.counters[problem] += 1
            return None
        self.counters["moves_verified"] += 1
        return msg.to_move()

    def deliver(self, move: Move, receiver: str, sent_s: float, *,
                introduce: bool = False) -> Move | None:
        """Send `move` to `receiver` over the wire (the broker's part is a function call)."""
        topic, payload = self.encode(move, sent_s, introduce=introduce)
        return self.receive(receiver, topic, payload)

    def _check(self, me: _Agent, topic: str, msg: MoveMsg) -> str:
        b = msg.binding
        if b is not None and (b.agent_id != msg.sender or not self._accept(me, b)):
            return "moves_bad_binding"
        peer = me.peers.get(msg.sender)
        if peer is None:
            return "moves_unbound"
        if peer.node_id != msg.node_id:
            return "moves_wrong_node"
        if not msg.sig or not verify(peer.pubkey, topic, msg.unsigned(), msg.sig):
            return "moves_forged"
        if not me.replays.fresh(msg.sender, msg.seq):
            return "moves_replayed"
        return ""

    def _accept(self, me: _Agent, b: Binding) -> bool:
        known = me.peers.get(b.agent_id)
        if known is not None and known == _Peer(b.node_id, b.pubkey):
            return True
        statement = binding_statement(b.community, b.agent_id, b.pubkey)
        if b.community != self.community or not lnsig.verify(statement, b.zbase, b.node_id):
            return False
        me.peers[b.agent_id] = _Peer(b.node_id, b.pubkey)
        self.counters["bindings_verified"] += 1
        return True
