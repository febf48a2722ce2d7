"""Negotiation → settlement: the buyer's agreed trades, journaled, to be paid.

The one message between the two services is a trade id on this bounded queue: negotiation
journals the trade (with its invoice) and puts its id here; settlement takes it and pays.
Nothing is lost if the agent stops in between: the trade is in the journal, and
settlement reconciles every unfinished trade on start. A full queue makes negotiation wait.
"""

from __future__ import annotations

import asyncio

MAX_WAITING = 1024


class Handover:
    def __init__(self, maxsize: int = MAX_WAITING) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue(maxsize)

    async def put(self, trade_id: str) -> None:
        await self._queue.put(trade_id)

    async def get(self) -> str:
        return await self._queue.get()

    def empty(self) -> bool:
        return self._queue.empty()
