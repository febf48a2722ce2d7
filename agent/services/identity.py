"""Who is who on the wire: this agent's binding, and the verified bindings of its peers.

Each agent's binding is its Ed25519 public key with its Lightning node's signature over
the binding statement. It travels inside the first move of every contact (an offer, a
buyer's first reply), and is also published retained on `identity/{agent}` for tools and
the coordinator; no home needs a directory of all the others. Peers accept a binding
only if that signature recovers to the node id it claims, cache it, then check every
move's Ed25519 signature against the bound key.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from agent.crypto import lnsig
from agent.crypto.envelope import Identity, ReplayGuard, binding_statement, verify
from agent.ports import MessageSigner
from agent.services.state import AgentState
from agent.topics import Topics, suffix
from agent.wire import Binding, MoveMsg, WireError, decode, encode

log = structlog.get_logger("identity")


@dataclass(frozen=True, slots=True)
class Peer:
    node_id: str
    pubkey: str


class Bindings:
    def __init__(self, community: str, agent_id: str, identity: Identity,
                 state: AgentState) -> None:
        self._community = community
        self._me = agent_id
        self.identity = identity
        self._state = state
        self._peers: dict[str, Peer] = {}
        self._replays = ReplayGuard()
        self.own: Binding | None = None

    @property
    def topic(self) -> str:
        return Topics(self._community).identity(self._me)

    async def own_binding(self, node_id: str, signer: MessageSigner) -> bytes:
        statement = binding_statement(self._community, self._me, self.identity.pubkey_hex)
        zbase = await signer.sign_message(statement)
        binding = Binding(community=self._community, agent_id=self._me, node_id=node_id,
                          pubkey=self.identity.pubkey_hex, zbase=zbase)
        self._peers[self._me] = Peer(node_id, self.identity.pubkey_hex)
        self.own = binding
        return encode(binding)

    def on_binding(self, topic: str, payload: bytes) -> None:
        if not payload:  # a cleared retained binding
            return
        try:
            b = decode(payload, Binding)
        except WireError as exc:
            self._state.counters["bindings_invalid"] += 1
            log.debug("binding_dropped", topic=topic, reason=exc.reason)
            return
        if not topic.endswith(suffix("identity", agent=b.agent_id)):
            self._state.counters["bindings_invalid"] += 1
            log.debug("binding_dropped", topic=topic, reason="topic does not name the agent")
        elif not self._accept(b):
            log.debug("binding_dropped", topic=topic, reason="node signature does not verify")

    def _accept(self, b: Binding) -> bool:
        known = self._peers.get(b.agent_id)
        if known is not None and known == Peer(b.node_id, b.pubkey):
            return True
        statement = binding_statement(b.community, b.agent_id, b.pubkey)
        if b.community != self._community or not lnsig.verify(statement, b.zbase, b.node_id):
            self._state.counters["bindings_invalid"] += 1
            return False
        self._peers[b.agent_id] = Peer(b.node_id, b.pubkey)
        self._state.counters["bindings"] += 1
        return True

    def sign(self, topic: str, msg: MoveMsg, *, introduce: bool = False) -> MoveMsg:
        """Stamp and sign `msg`; with `introduce`, carry our binding for a first contact."""
        update: dict[str, object] = {"seq": self.identity.next_seq()}
        if introduce and self.own is not None:
            update["binding"] = self.own
        stamped = msg.model_copy(update=update)
        return stamped.model_copy(update={"sig": self.identity.sign(topic, stamped.unsigned())})

    def check(self, topic: str, msg: MoveMsg) -> str:
        """An empty string for an authentic, fresh move; else the counter to bump."""
        if msg.binding is not None and (msg.binding.agent_id != msg.sender
                                        or not self._accept(msg.binding)):
            return "moves_bad_binding"
        peer = self._peers.get(msg.sender)
        if peer is None:
            return "moves_unbound"
        if peer.node_id != msg.node_id:
            return "moves_wrong_node"
        if not msg.sig or not verify(peer.pubkey, topic, msg.unsigned(), msg.sig):
            return "moves_forged"
        if not self._replays.fresh(msg.sender, msg.seq):
            return "moves_replayed"
        return ""
