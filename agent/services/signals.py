"""The coordinator's signal, as received: decoded, checked against the pinned key, newest kept.

A signal that does not decode is counted (`signals_invalid`); with `[market]
coordinator_key` set, one that key did not sign is counted (`signals_unverified`) and
dropped (agent.crypto.signal_sig). Of the valid ones the latest issued is the agent's.
"""

from __future__ import annotations

import structlog

from agent.clock import Clock
from agent.crypto.signal_sig import verify_signal
from agent.services.state import AgentState
from agent.wire import Signal, WireError, decode

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
