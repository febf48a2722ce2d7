"""Bind the agent to its Lightning node: learn the node's id and publish our key binding,
signed by the node (`signmessage`), retained on `identity/{agent}`. Retries with backoff
while the node or the broker are away; done once it has published."""

from __future__ import annotations

import asyncio

import structlog

from agent.adapters.cln.node import ClnNode
from agent.ports import NodeUnavailable, TransientError, Transport
from agent.services.identity import Bindings
from agent.services.state import AgentState

log = structlog.get_logger("daemon")


class NodeBinding:
    def __init__(self, node: ClnNode, bindings: Bindings, transport: Transport,
                 state: AgentState) -> None:
        self._node = node
        self._bindings = bindings
        self._transport = transport
        self._state = state

    async def run(self) -> None:
        attempt = 0
        while True:
            try:
                node_id = await self._node.node_id()
                binding = await self._bindings.own_binding(node_id, self._node)
                await self._transport.publish(self._bindings.topic, binding, retain=True)
                self._state.node_id = node_id
                log.debug("node_ready", node_id=node_id)
                return
            except (NodeUnavailable, TransientError) as exc:
                attempt += 1
                (log.warning if attempt == 1 else log.debug)(
                    "node_unavailable", error=str(exc), attempt=attempt)
                await asyncio.sleep(min(10.0, 0.2 * 2 ** min(6, attempt)))
