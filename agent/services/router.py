"""One reader of the agent's MQTT messages, handing each to the part it is for.

The coordinator's signal goes to the signal intake (its roster too, through `route`), Home
Assistant's birth message to the Home Assistant service (when on), everything else (offers
and inbox moves) to negotiation.
Peers' key bindings arrive inside their first moves: there is no identity/+ subscription
(that would cost every home one retained message per home in the community).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from agent.ports import InboundMessage, Transport

OnPayload = Callable[[bytes], None]


class Router:
    def __init__(self, transport: Transport, signal_topic: str, on_signal: OnPayload,
                 on_other: Callable[[InboundMessage], Awaitable[None]]) -> None:
        self._transport = transport
        self._signal_topic = signal_topic
        self._on_signal = on_signal
        self._on_other = on_other
        self._exact: dict[str, OnPayload] = {}
        self._subscribe: list[str] = []

    def route(self, topic: str, handler: OnPayload, *, subscribe: bool = False) -> None:
        """Messages on exactly `topic` go to `handler` (subscribed by its owner, or here
        with `subscribe`)."""
        self._exact[topic] = handler
        if subscribe:
            self._subscribe.append(topic)

    async def run(self) -> None:
        await self._transport.subscribe(self._signal_topic)
        for topic in self._subscribe:
            await self._transport.subscribe(topic)
        async for message in self._transport.messages():
            if message.topic == self._signal_topic:
                self._on_signal(message.payload)
            elif (handler := self._exact.get(message.topic)) is not None:
                handler(message.payload)
            else:
                await self._on_other(message)
