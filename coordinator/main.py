"""Compose and run the coordinator service."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from agent.adapters.mqtt import LastWill, MqttTransport
from agent.clock import make_clock
from agent.crypto.signal_sig import load_or_create_key, public_hex
from agent.ports import TransientError
from agent.sdnotify import Notifier
from agent.settings import CoordinatorSettings
from agent.supervisor import Child, install_signal_handlers, supervise
from agent.tariff import make_tariff
from agent.topics import Topics
from agent.wire import Presence, encode
from coordinator.service import Coordinator

log = structlog.get_logger("coordinator")


async def run_coordinator(settings: CoordinatorSettings) -> None:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    will = None
    if settings.group:  # the group sees this coordinator die through its Last Will
        topic = Topics(settings.market.community).coordinator_presence(settings.coordinator_id)
        will = LastWill(topic, encode(Presence(agent_id=settings.coordinator_id, online=False)),
                        encode(Presence(agent_id=settings.coordinator_id, online=True)))
    transport = MqttTransport(settings.broker, f"peerwatt-{settings.coordinator_id}",
                              will=will)
    key = load_or_create_key(settings.key_file)
    coordinator = Coordinator(settings, transport, make_clock(settings.clock),
                              make_tariff(settings.market), key=key)
    log.info("coordinator_key", public_key=public_hex(key), solver=settings.solver)
    notifier = Notifier()

    async def ready() -> None:
        period = Notifier.watchdog_interval_s()
        while not transport.connected.is_set():  # a broker down at boot: extend the start
            notifier.notify(f"EXTEND_TIMEOUT_USEC={int(3 * (period or 5.0) * 1e6)}",
                            "STATUS=starting: waiting for the broker")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period or 5.0):
                    await transport.connected.wait()
        notifier.notify("READY=1", "STATUS=publishing the mean-field signal")
        while period is not None:  # WatchdogSec: a ping per half period while the loop runs
            notifier.notify("WATCHDOG=1")
            await asyncio.sleep(period)

    async def drain() -> None:
        # A clean stop sends no Last Will: say we are gone, so another coordinator leads.
        if will is not None:
            with contextlib.suppress(TransientError):
                await transport.publish(will.topic, will.payload, retain=True, timeout_s=2)

    await supervise([Child("mqtt", transport.run), Child("coordinator", coordinator.run),
                     Child("ready", ready)], stop, drain=drain)
