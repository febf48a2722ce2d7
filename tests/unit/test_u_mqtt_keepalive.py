"""The transport's keepalive pacing: paho's `loop_misc` a quarter-keepalive apart (not
aiomqtt's every second), and a silent connection still kept up by a real mosquitto."""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid

import aiomqtt

from agent.adapters.mqtt import KeepaliveClient, MqttTransport, misc_period_s
from agent.settings import BrokerSettings
from tests.unit.test_u_mqtt import Broker, until

KEEPALIVE_S = 8


def test_the_period_is_a_quarter_keepalive_and_never_under_a_second() -> None:
    assert misc_period_s(30) == 7.5
    assert misc_period_s(8) == 2.0
    assert misc_period_s(2) == 1.0


async def test_the_override_replaces_aiomqtts_own_loop() -> None:
    """If aiomqtt renames `_misc_loop`, the override would be dead code: fail here."""
    assert inspect.iscoroutinefunction(vars(aiomqtt.Client).get("_misc_loop"))
    assert vars(KeepaliveClient)["_misc_loop"] is not vars(aiomqtt.Client)["_misc_loop"]
    transport = MqttTransport(BrokerSettings(url="mqtt://127.0.0.1:1"), "x",
                              session_expiry_s=0)
    assert isinstance(transport._make_client(), KeepaliveClient)


async def test_a_silent_connection_outlives_one_and_a_half_keepalives(
        mosquitto: Broker) -> None:
    """Nothing is published: only the paced keepalive pings keep the broker from closing
    the connection at 1.5 keepalives (MQTT 5 §3.1.2.10). Waits on the ping's answer and
    on the protocol's own deadline, not on the machine's speed; under load the sleeps
    only get longer, so the call count bound holds either way."""
    settings = BrokerSettings(url=mosquitto.url, keepalive_s=KEEPALIVE_S)
    transport = MqttTransport(settings, f"ka-{uuid.uuid4().hex[:8]}", session_expiry_s=0)
    task = asyncio.create_task(transport.run())
    try:
        async with asyncio.timeout(10):
            await transport.connected.wait()
        assert transport._client is not None
        paho_client = transport._client._client  # the paho client aiomqtt wraps
        calls = 0
        loop_misc = paho_client.loop_misc

        def counted() -> aiomqtt.client.mqtt.MQTTErrorCode:
            nonlocal calls
            calls += 1
            return loop_misc()

        paho_client.loop_misc = counted  # type: ignore[method-assign]
        start, first_out = time.monotonic(), paho_client._last_msg_out
        # a ping went out and was answered, and the broker's deadline has passed
        await until(lambda: paho_client._last_msg_out > first_out
                    and paho_client._ping_t == 0
                    and time.monotonic() - start > 1.5 * KEEPALIVE_S + 1,
                    timeout_s=6 * KEEPALIVE_S)
        elapsed = time.monotonic() - start
        assert transport.stats.connects == 1
        assert transport.stats.disconnects == 0
        assert transport.connected.is_set()
        # aiomqtt's own loop would have run about once a second (~13 times here)
        assert calls <= elapsed / misc_period_s(KEEPALIVE_S) + 2, (calls, elapsed)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
