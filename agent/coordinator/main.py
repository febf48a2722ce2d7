"""Compose and run the coordinator service."""

from __future__ import annotations

import asyncio

from agent.adapters.mqtt import MqttTransport
from agent.coordinator.service import Coordinator
from agent.daemon import make_clock, make_tariff
from agent.sdnotify import Notifier
from agent.settings import CoordinatorSettings
from agent.supervisor import Child, install_signal_handlers, supervise


async def run_coordinator(settings: CoordinatorSettings) -> None:
    stop = asyncio.Event()
    install_signal_handlers(stop)
    transport = MqttTransport(settings.broker, f"peerwatt-{settings.coordinator_id}")
    coordinator = Coordinator(settings, transport, make_clock(settings.clock),
                              make_tariff(settings.market))
    notifier = Notifier()

    async def ready() -> None:
        await transport.connected.wait()
        notifier.notify("READY=1", "STATUS=publishing the mean-field signal")

    await supervise([Child("mqtt", transport.run), Child("coordinator", coordinator.run),
                     Child("ready", ready)], stop)
