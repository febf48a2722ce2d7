"""MqttTransport against a real mosquitto: round trips, expiry, shared subscriptions,
disconnected publishes and the last will."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import pytest

from agent.adapters.mqtt import LastWill, MqttTransport
from agent.ports import InboundMessage, TransientError
from agent.settings import BrokerSettings
from demo.procs import free_port

WAIT_S = 10.0


class Broker(Protocol):
    """What these tests use of the `mosquitto` / `own_broker` fixtures (tests/conftest.py)."""

    @property
    def url(self) -> str: ...

    def stop(self) -> None: ...

    def restart(self) -> None: ...


def topic_root() -> str:
    return f"peerwatt-test/{uuid.uuid4().hex}"


@asynccontextmanager
async def running(url: str, name: str, *, will: LastWill | None = None,
                  connect: bool = True) -> AsyncIterator[MqttTransport]:
    transport = MqttTransport(BrokerSettings(url=url), f"{name}-{uuid.uuid4().hex[:8]}",
                              will=will, session_expiry_s=0)
    task = asyncio.create_task(transport.run(), name=f"mqtt-{name}")
    try:
        if connect:
            async with asyncio.timeout(WAIT_S):
                await transport.connected.wait()
        yield transport
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def next_message(transport: MqttTransport, timeout_s: float = WAIT_S) -> InboundMessage:
    async with asyncio.timeout(timeout_s):
        return await anext(transport.messages())


async def until(predicate: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def nothing_before_marker(transport: MqttTransport, publisher: MqttTransport,
                                root: str) -> bool:
    """Nothing reaches `transport` before a marker published after everything else: the
    broker hands one client its messages in the order it took them, so a message that
    was going to arrive would come first. No wall-clock window is involved."""
    marker = f"{root}/marker/{uuid.uuid4().hex}"
    await transport.subscribe(marker, qos=1)
    await publisher.publish(marker, b"marker", qos=1)
    msg = await next_message(transport)
    if msg.topic == marker:
        return True
    pytest.fail(f"unexpected message {msg}")


async def test_publish_subscribe_round_trip(mosquitto: Broker) -> None:
    root = topic_root()
    async with running(mosquitto.url, "sub") as sub, running(mosquitto.url, "pub") as pub:
        await sub.subscribe(f"{root}/+/x", qos=1)
        payloads = [b"hello", b"", bytes(range(256)), b"x" * 60_000]
        for i, payload in enumerate(payloads):
            await pub.publish(f"{root}/{i}/x", payload, qos=1)
        got = [await next_message(sub) for _ in payloads]
        assert [(m.topic, m.payload) for m in got] == [
            (f"{root}/{i}/x", p) for i, p in enumerate(payloads)]
        assert pub.stats.published == len(payloads)
        assert sub.stats.received == len(payloads)
        assert sub.stats.connects == 1
        # After unsubscribing nothing more arrives.
        await sub.unsubscribe(f"{root}/+/x")
        await pub.publish(f"{root}/9/x", b"late")
        assert await nothing_before_marker(sub, pub, root)


async def test_subscription_made_before_connect_is_applied(mosquitto: Broker) -> None:
    root = topic_root()
    async with running(mosquitto.url, "early", connect=False) as sub:
        await sub.subscribe(f"{root}/t")
        async with asyncio.timeout(WAIT_S):
            await sub.connected.wait()
        async with running(mosquitto.url, "pub") as pub:
            await pub.publish(f"{root}/t", b"1")
            assert (await next_message(sub)).payload == b"1"


async def test_retained_message_reaches_late_subscriber_until_it_expires(
        mosquitto: Broker) -> None:
    root = topic_root()
    async with running(mosquitto.url, "pub") as pub:
        await pub.publish(f"{root}/signal", b"current", retain=True, expiry_s=1)
        await pub.publish(f"{root}/keep", b"kept", retain=True)
        async with running(mosquitto.url, "early") as early:
            await early.subscribe(f"{root}/signal")
            assert (await next_message(early)).payload == b"current"
        await asyncio.sleep(2.5)  # MQTT 5 message expiry: 1 s (the broker counts whole s)
        async with running(mosquitto.url, "late") as late:
            await late.subscribe(f"{root}/signal")
            await late.subscribe(f"{root}/keep")
            got = await next_message(late)
            assert (got.topic, got.payload) == (f"{root}/keep", b"kept")
            assert await nothing_before_marker(late, pub, root)
        await pub.publish(f"{root}/keep", b"", retain=True)  # clear the retained message


async def test_shared_subscription_delivers_each_message_once(mosquitto: Broker) -> None:
    root = topic_root()
    n = 40
    async with running(mosquitto.url, "g1") as a, running(mosquitto.url, "g2") as b, \
            running(mosquitto.url, "pub") as pub:
        await a.subscribe(f"$share/g/{root}/offers", qos=1)
        await b.subscribe(f"$share/g/{root}/offers", qos=1)
        for t in (a, b):  # an ordinary subscription: both get the end marker
            await t.subscribe(f"{root}/end", qos=1)
        for i in range(n):
            await pub.publish(f"{root}/offers", str(i).encode(), qos=1)
        await pub.publish(f"{root}/end", b"end", qos=1)  # after every offer
        got: dict[str, list[int]] = {"a": [], "b": []}
        ended: set[str] = set()

        async def drain(name: str, t: MqttTransport) -> None:
            async for m in t.messages():
                if m.topic == f"{root}/end":
                    ended.add(name)
                    continue
                assert m.topic == f"{root}/offers"
                assert name not in ended, "an offer after the end marker"
                got[name].append(int(m.payload))

        tasks = [asyncio.create_task(drain("a", a)), asyncio.create_task(drain("b", b))]
        # Each client gets its messages in the broker's order: once both have the end
        # marker, every offer (and any duplicate) has been delivered.
        await until(lambda: ended == {"a", "b"})
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert sorted(got["a"] + got["b"]) == list(range(n))
        assert got["a"]
        assert got["b"]


async def test_publish_without_a_broker_raises_transient_error() -> None:
    url = f"mqtt://127.0.0.1:{free_port()}"  # nothing listens here
    async with running(url, "lonely", connect=False) as t:
        async with asyncio.timeout(5.0):  # bounds the test, not a performance claim
            with pytest.raises(TransientError, match="not connected"):
                await t.publish("x/y", b"z", timeout_s=0.5)
        assert not t.connected.is_set()
        assert t.stats.published == 0


async def test_publish_after_broker_stops_raises_transient_error(own_broker: Broker) -> None:
    async with running(own_broker.url, "orphan") as t:
        own_broker.stop()
        await until(lambda: not t.connected.is_set())
        async with asyncio.timeout(WAIT_S):
            with pytest.raises(TransientError):
                await t.publish("x/y", b"z", timeout_s=0.5)
        assert t.stats.disconnects >= 1


async def test_reconnects_and_resubscribes_after_broker_restart(own_broker: Broker) -> None:
    root = topic_root()
    async with running(own_broker.url, "sub") as sub:
        await sub.subscribe(f"{root}/t")
        own_broker.restart()
        await until(lambda: sub.stats.connects >= 2 and sub.connected.is_set(), 30.0)
        async with running(own_broker.url, "pub") as pub:
            await pub.publish(f"{root}/t", b"again")
            assert (await next_message(sub)).payload == b"again"


async def test_last_will_marks_an_unclean_death_offline(mosquitto: Broker) -> None:
    """Birth `online:true` on connect; when the TCP connection dies without DISCONNECT the
    broker publishes the will `online:false` (retained). The connection is cut by shutting
    down the paho socket under the client, as a crash or a pulled cable would."""
    root = topic_root()
    presence = f"{root}/presence/home-1"
    will = LastWill(presence, json.dumps({"agent_id": "home-1", "online": False}).encode(),
                    json.dumps({"agent_id": "home-1", "online": True}).encode())
    async with running(mosquitto.url, "watcher") as watcher:
        await watcher.subscribe(presence)
        async with running(mosquitto.url, "home", will=will) as home:
            assert json.loads((await next_message(watcher)).payload)["online"] is True
            client = home._client
            assert client is not None
            sock = client._client.socket()
            assert sock is not None
            sock.shutdown(socket.SHUT_RDWR)
            assert json.loads((await next_message(watcher)).payload)["online"] is False
            # The transport reconnects by itself and announces itself again.
            assert json.loads((await next_message(watcher)).payload)["online"] is True
        # A clean stop sends DISCONNECT: the will is not published, the birth stays retained.
        async with running(mosquitto.url, "marker") as marker:
            assert await nothing_before_marker(watcher, marker, root)
    async with running(mosquitto.url, "late") as late:
        await late.subscribe(presence)
        assert json.loads((await next_message(late)).payload)["online"] is True
        async with running(mosquitto.url, "cleanup") as c:
            await c.publish(presence, b"", retain=True)
