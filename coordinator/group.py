"""Several coordinators as one group: who is alive, and who publishes.

Each coordinator of a group holds the shared subscription
`$share/coordinators/peerwatt/v1/{community}/state/+`, so the broker gives every state
report to one of them; each forwards what it received on `coordinators/reports/{id}`, so
all of them aggregate the same reports (a trimmed mean cannot be merged from parts).
Presence is retained on `coordinators/presence/{id}` with a Last Will; the live
coordinator with the lowest id publishes the signal, the others compute and stand by. When
the leader dies its will clears it and the next one publishes from the next interval on.
"""

from __future__ import annotations

import structlog

from agent.wire import Presence, WireError, decode

log = structlog.get_logger("coordinator")

class Group:
    def __init__(self, me: str) -> None:
        self.me = me
        self._online: set[str] = set()
        self._leading: bool | None = None

    def on_presence(self, topic: str, payload: bytes) -> None:
        if not payload:
            return
        try:
            p = decode(payload, Presence)
        except WireError as exc:
            log.debug("presence_dropped", topic=topic, reason=exc.reason)
            return
        if not topic.endswith(f"/{p.agent_id}"):
            return
        if p.online:
            self._online.add(p.agent_id)
        else:
            self._online.discard(p.agent_id)

    def leads(self) -> bool:
        leading = min(self._online | {self.me}) == self.me
        if leading != self._leading:
            log.info("coordinator_role", coordinator=self.me,
                     role="leader" if leading else "standby", group=sorted(self._online))
            self._leading = leading
        return leading
