"""The coordinator's signal and roster, as received: decoded, checked against the pinned
key, newest kept.

A signal that does not decode is counted (`signals_invalid`); with `[market]
coordinator_key` set, one that key did not sign is counted (`signals_unverified`) and
dropped (agent.crypto.signal_sig). Of the valid ones the latest issued is the agent's.
The roster (its own retained message, up to MAX_ROSTER_BYTES) goes through the same
checks (`rosters_invalid`, `rosters_unverified`); the newest kept. A roster whose digest
is not the signal's is still used (the newest the coordinator signed) and counted
(`roster_behind`) until the matching one arrives.
"""

from __future__ import annotations

import structlog

from agent.clock import Clock
from agent.crypto.signal_sig import verify_signal
from agent.services.state import AgentState
from agent.wire import MAX_ROSTER_BYTES, Roster, Signal, WireError, decode

log = structlog.get_logger("daemon")


class SignalIntake:
    def __init__(self, state: AgentState, clock: Clock, trusted_key: str | None) -> None:
        self._state = state
        self._clock = clock
        self.trusted_key = trusted_key  # run-time setting (SIGHUP): see Agent.apply

    def on_signal(self, payload: bytes) -> None:
        try:
            sig = decode(payload, Signal)
        except WireError as exc:
            self._state.counters["signals_invalid"] += 1
            log.debug("signal_dropped", reason=exc.reason)
            return
        if self.trusted_key is not None and not verify_signal(sig, self.trusted_key):
            self._state.counters["signals_unverified"] += 1
            log.debug("signal_dropped", reason="not signed by the pinned coordinator key")
            return
        current = self._state.signal
        if current is None or sig.issued_s >= current.issued_s:
            self._state.signal = sig
            self._state.signal_received_s = self._clock.now_s()
            self._state.counters["signals"] += 1

    def on_roster(self, payload: bytes) -> None:
        try:
            roster = decode(payload, Roster, max_bytes=MAX_ROSTER_BYTES)
        except WireError as exc:
            self._state.counters["rosters_invalid"] += 1
            log.debug("roster_dropped", reason=exc.reason)
            return
        if self.trusted_key is not None and not verify_signal(roster, self.trusted_key):
            self._state.counters["rosters_unverified"] += 1
            log.debug("roster_dropped", reason="not signed by the pinned coordinator key")
            return
        current = self._state.roster_msg
        if current is None or roster.issued_s >= current.issued_s:
            self._state.roster_msg = roster
            self._state.counters["rosters"] += 1

    def roster_current(self) -> bool:
        """Whether the roster held is the one the latest signal names."""
        sig, roster = self._state.signal, self._state.roster_msg
        if sig is None or roster is None or not sig.roster_digest:
            return roster is not None
        if roster.digest != sig.roster_digest:
            self._state.counters["roster_behind"] += 1
            return False
        return True
