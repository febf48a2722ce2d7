"""Health: READY=1 once device and broker are up, WATCHDOG=1 while the loop is live,
STATUS= with a one-line summary for `systemctl status`."""

from __future__ import annotations

import asyncio
import time

import structlog

from agent.adapters.mqtt import MqttTransport
from agent.sdnotify import Notifier
from agent.services.metering import Metering
from agent.services.state import AgentState

log = structlog.get_logger("health")


class Health:
    def __init__(self, state: AgentState, transport: MqttTransport, metering: Metering,
                 notifier: Notifier, stale_after_s: float) -> None:
        self._state = state
        self._transport = transport
        self._metering = metering
        self._notifier = notifier
        self._stale_after_s = stale_after_s
        self.ready = asyncio.Event()

    def status_line(self) -> str:
        c = self._state.counters
        sig = self._state.signal
        return (f"device {self._state.device_health}, "
                f"broker {'up' if self._transport.connected.is_set() else 'down'}, "
                f"signal {'seq ' + str(sig.seq) if sig else 'none'}, "
                f"sold {c['trades_sold']} bought {c['trades_bought']}, "
                f"paid {c['payments_settled']} failed {c['payments_failed']}")

    def live(self) -> bool:
        """Loop is live and the metering loop has ticked (read or failed) recently."""
        beat = self._state.heartbeats.get("metering")
        return beat is not None and time.monotonic() - beat < self._stale_after_s

    async def _started(self) -> None:
        await self._metering.first_read.wait()
        await self._transport.connected.wait()

    async def run(self) -> None:
        # Until device and broker are up, extend systemd's start timeout a period at a
        # time: a broker that is down at boot does not kill the agent, a hung loop does.
        period = Notifier.watchdog_interval_s() or 5.0
        waiting = asyncio.ensure_future(self._started())
        try:
            while not waiting.done():
                self._notifier.notify(f"EXTEND_TIMEOUT_USEC={int(3 * period * 1e6)}",
                                      f"STATUS=starting: {self.status_line()}")
                await asyncio.wait([waiting], timeout=period)
        finally:
            waiting.cancel()
        self._notifier.notify("READY=1", f"STATUS={self.status_line()}")
        self.ready.set()
        log.info("agent_ready", agent=self._state.agent_id, status=self.status_line())
        while True:
            await asyncio.sleep(period)
            fields = [f"STATUS={self.status_line()}"]
            if self.live():
                fields.append("WATCHDOG=1")
            self._notifier.notify(*fields)
