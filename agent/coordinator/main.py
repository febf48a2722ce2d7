"""Compose and run the coordinator service."""

from __future__ import annotations

import asyncio

import structlog

from agent.adapters.mqtt import MqttTransport
from agent.coordinator.service import Coordinator
from agent.coordinator.signing import load_or_create_key, public_hex
from agent.daemon import make_clock, make_tariff
from agent.sdnotify import Notifier
from agent.settings import CoordinatorSettings
from agent.supervisor import Child, install_signal_handlers, supervise

log = structlog.get_logger("coordinator")


async def run_coordinator(settings: CoordinatorSettings) -> None:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    transport = MqttTransport(settings.broker, f"peerwatt-{settings.coordinator_id}")
    key = load_or_create_key(settings.key_file)
    coordinator = Coordinator(settings, transport, make_clock(settings.clock),
                              make_tariff(settings.market), key=key)
    log.info("coordinator_key", public_key=public_hex(key), solver=settings.solver)
    notifier = Notifier()

    async def ready() -> None:
        await transport.connected.wait()
        notifier.notify("READY=1", "STATUS=publishing the mean-field signal")

    await supervise([Child("mqtt", transport.run), Child("coordinator", coordinator.run),
                     Child("ready", ready)], stop)
