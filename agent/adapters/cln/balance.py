"""What the home's channels hold on our side (Core Lightning `listpeerchannels`)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agent.adapters.cln.rpc import DeadlineRpc

USABLE_STATES = frozenset({"CHANNELD_NORMAL", "CHANNELD_AWAITING_SPLICE"})


def _to_msat(value: Any) -> int:
    """pyln gives Millisatoshi (an int subclass) or, from older nodes, "123msat" strings."""
    if isinstance(value, int):
        return int(value)
    return int(str(value).removesuffix("msat"))


def balance_from(listpeerchannels: dict[str, Any]) -> int:
    return sum(_to_msat(c.get("to_us_msat", 0)) for c in listpeerchannels.get("channels", [])
               if c.get("state") in USABLE_STATES)


async def channel_balance_msat(rpc_socket: Path, timeout_s: float) -> int:
    """Our side of every usable channel, msat; TimeoutError or OSError when the node is away."""
    def call() -> int:
        return balance_from(DeadlineRpc(str(rpc_socket), timeout_s).listpeerchannels())

    async with asyncio.timeout(timeout_s):
        return await asyncio.to_thread(call)
