"""MQTT 5 transport over aiomqtt: one connection, reconnected with full-jitter backoff.

`run()` owns the connection for the life of the daemon; `publish` waits (bounded) for
it and raises `TransientError` while the broker is away. Subscriptions are remembered
and renewed after every reconnect. Incoming messages go to a bounded queue; when it is
full the oldest is dropped and counted rather than blocking the network loop.
"""

from __future__ import annotations

import asyncio
import random
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache

import aiomqtt
import paho.mqtt.client as paho
import structlog
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.ports import InboundMessage, TransientError
from agent.settings import BrokerSettings

log = structlog.get_logger("mqtt")

NODELAY = ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),)


@lru_cache(maxsize=256)
def _expiry(expiry_s: int) -> Properties:
    """PUBLISH properties with a message expiry, built once per value (~0.1 ms each to
    build; paho only reads them when it packs the packet)."""
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.MessageExpiryInterval = expiry_s
    return props


def misc_period_s(keepalive_s: int) -> float:
    """How often paho's keepalive bookkeeping (`loop_misc`) runs: a quarter of the
    keepalive. A PINGREQ then leaves at most 1.25 keepalives after the last packet out,
    inside the 1.5 the broker allows (MQTT 5 §3.1.2.10), and a broker that stopped
    answering is found at most 1.25 keepalives after the ping."""
    return max(1.0, keepalive_s / 4)


class KeepaliveClient(aiomqtt.Client):
    """aiomqtt's client with paho's `loop_misc` every `misc_period_s` instead of every
    second. That once-a-second wake was the largest share of an idle home's CPU
    (bench.negotiation --idle, 1,000 homes: 131k of its 183k timer wakes); `loop_misc`
    only sends the keepalive ping and notices a missing PINGRESP, so a quarter of the
    keepalive loses nothing. aiomqtt names the coroutine `_misc_loop` (2.x);
    tests/unit/test_u_mqtt_keepalive.py fails if that name goes away."""

    async def _misc_loop(self) -> None:
        period_s = misc_period_s(self._client.keepalive)
        while self._client.loop_misc() == paho.MQTT_ERR_SUCCESS:  # noqa: ASYNC110 (a timer)
            await asyncio.sleep(period_s)


@dataclass
class MqttStats:
    connects: int = 0
    disconnects: int = 0
    received: int = 0
    published: int = 0
    dropped_inbound: int = 0


@dataclass(frozen=True, slots=True)
class LastWill:
    topic: str
    payload: bytes
    birth: bytes


class MqttTransport:
    def __init__(self, settings: BrokerSettings, client_id: str, *, will: LastWill | None = None,
                 queue_size: int = 10_000, session_expiry_s: int = 300) -> None:
        self._settings = settings
        self._client_id = client_id
        self._will = will
        self._session_expiry_s = session_expiry_s
        self._queue: asyncio.Queue[InboundMessage] = asyncio.Queue(maxsize=queue_size)
        self._subs: dict[str, int] = {}
        self._client: aiomqtt.Client | None = None
        self.connected = asyncio.Event()
        self.stats = MqttStats()

    def _make_client(self) -> KeepaliveClient:
        creds = self._settings.credentials()
        connect_props = None
        if self._settings.v5:
            connect_props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            connect_props.SessionExpiryInterval = self._session_expiry_s
        will = None
        if self._will is not None:
            will = aiomqtt.Will(self._will.topic, self._will.payload, qos=1, retain=True)
        tls = None
        if self._settings.url.startswith("mqtts"):
            tls = ssl.create_default_context(
                cafile=str(self._settings.tls_ca_file) if self._settings.tls_ca_file else None)
        return KeepaliveClient(
            self._settings.host, self._settings.port, identifier=self._client_id,
            username=creds[0] if creds else None,
            password=creds[1].get_secret_value() if creds else None,
            protocol=aiomqtt.ProtocolVersion.V5 if self._settings.v5 else
            aiomqtt.ProtocolVersion.V311, will=will, keepalive=self._settings.keepalive_s,
            properties=connect_props, socket_options=NODELAY, tls_context=tls, timeout=4,
            max_inflight_messages=1000,
        )

    async def run(self) -> None:
        """Keep a connection up until cancelled. Never returns normally."""
        failures = 0
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    for topic, qos in self._subs.items():
                        await client.subscribe(topic, qos=qos)
                    if self._will is not None:
                        await client.publish(self._will.topic, self._will.birth, qos=1,
                                             retain=True)
                    _raise_if_cancel_was_swallowed()
                    self.stats.connects += 1
                    if failures:
                        log.info("broker_reconnected", attempts=failures)
                    failures = 0
                    self.connected.set()
                    async for message in client.messages:
                        self._enqueue(InboundMessage(str(message.topic), _as_bytes(message)))
            except aiomqtt.MqttError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # An MqttError raised while we are being cancelled (aiomqtt's exit
                    # can time out waiting for the disconnect and raise in place of the
                    # cancellation) must not be taken for a lost broker: that would
                    # reconnect instead of stopping.
                    raise asyncio.CancelledError from exc
                self.connected.clear()
                self._client = None
                self.stats.disconnects += 1
                failures += 1
                level = log.warning if failures == 1 else log.debug
                level("broker_unavailable", host=self._settings.host, port=self._settings.port,
                      error=str(exc), attempt=failures)
                await asyncio.sleep(random.uniform(0, min(30.0, 0.2 * 1.5 ** min(10, failures))))
            finally:
                self.connected.clear()
                self._client = None

    def _enqueue(self, message: InboundMessage) -> None:
        self.stats.received += 1
        if self._queue.full():
            self._queue.get_nowait()
            self.stats.dropped_inbound += 1
        self._queue.put_nowait(message)

    async def _ready_client(self, timeout_s: float) -> aiomqtt.Client:
        if self._client is not None and self.connected.is_set():
            return self._client  # the common case, without a timeout context per publish
        try:
            async with asyncio.timeout(timeout_s):
                await self.connected.wait()
        except TimeoutError:
            raise TransientError(
                f"broker {self._settings.host}:{self._settings.port} not connected") from None
        assert self._client is not None
        return self._client

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False,
                      expiry_s: int | None = None, timeout_s: float = 5.0) -> None:
        client = await self._ready_client(timeout_s)
        props = None
        if expiry_s is not None and self._settings.v5:
            props = _expiry(max(1, int(expiry_s)))
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, properties=props,
                                 timeout=timeout_s)
        except aiomqtt.MqttError as exc:
            raise TransientError(f"publish to {topic} failed: {exc}") from exc
        self.stats.published += 1

    async def subscribe(self, topic: str, *, qos: int = 1) -> None:
        self._subs[topic] = qos
        if self._client is not None:
            try:
                await self._client.subscribe(topic, qos=qos, timeout=5)
            except aiomqtt.MqttError as exc:
                raise TransientError(f"subscribe to {topic} failed: {exc}") from exc

    async def unsubscribe(self, topic: str) -> None:
        self._subs.pop(topic, None)
        if self._client is not None:
            try:
                await self._client.unsubscribe(topic, timeout=5)
            except aiomqtt.MqttError as exc:
                raise TransientError(f"unsubscribe from {topic} failed: {exc}") from exc

    async def messages(self) -> AsyncIterator[InboundMessage]:
        while True:
            yield await self._queue.get()


def _raise_if_cancel_was_swallowed() -> None:
    """Python 3.11's asyncio.wait_for (inside aiomqtt's publish and subscribe) returns the
    result and drops a cancellation that arrives as its future completes. The task still
    counts it (`cancelling()`): honour it here, or a stop during the birth publish would
    leave the transport running and its owner waiting for it for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _as_bytes(message: aiomqtt.Message) -> bytes:
    payload = message.payload
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode()
    return b"" if payload is None else str(payload).encode()
