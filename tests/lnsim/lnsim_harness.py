"""Run `lnsim.serve` in a background thread (its own event loop) on a short tmp dir."""

from __future__ import annotations

import asyncio
import gc
import json
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyln.client import LightningRpc

from lnsim import serve
from lnsim.network import NodeOptions


@dataclass
class Lnsim:
    dir: Path
    nodes: dict[str, dict[str, Any]]
    _loop: asyncio.AbstractEventLoop | None = None
    _task: asyncio.Task[Any] | None = None
    _thread: threading.Thread | None = None
    errors: list[BaseException] = field(default_factory=list)

    def path(self, name: str) -> str:
        return str(self.nodes[name]["rpc"])

    def id(self, name: str) -> str:
        return str(self.nodes[name]["id"])

    def rpc(self, name: str) -> LightningRpc:
        return LightningRpc(self.path(name))

    def stop(self) -> None:
        """Stop serving; every client socket is closed on return (as lightningd's exit
        closes them), so a client blocked reading gets the end of the stream."""
        if self._loop is not None and self._task is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._task.cancel)
        if self._thread is not None:
            self._thread.join(timeout=10)
            assert not self._thread.is_alive(), "lnsim did not stop within 10 s"
        # A connection the loop accepted in its last moments sits in asyncio's transport
        # set-up task, cancelled before it ran: its socket is only closed when collected
        # (a process's exit would close it). Collect now, not whenever the next cycle runs.
        gc.collect()


def wait_xpay(rpc: LightningRpc, payment_hash: str, timeout: int | None = None) -> Any:
    """`waitsendpay` for an xpay payment: its parts are numbered from 1 in a random group,
    so the bare call (part 0 of the latest group) finds nothing (208) on lightningd."""
    last = rpc.listsendpays(payment_hash=payment_hash)["payments"][-1]
    return rpc.waitsendpay(payment_hash, timeout=timeout, partid=last["partid"],
                           groupid=last["groupid"])


def start_lnsim(names: list[str], topology: str = "hub", seed: int = 0,
              channel_sat: int = 2_000_000, options: NodeOptions | None = None,
              directory: Path | None = None, fresh: bool = False) -> Lnsim:
    """Serve in a thread; `directory` given: serve that DIR again (its saved state)."""
    directory = directory or Path(tempfile.mkdtemp(prefix="lns", dir="/tmp"))
    ln = Lnsim(dir=directory, nodes={})
    started = threading.Event()

    async def run() -> None:
        ln._loop = asyncio.get_running_loop()
        ln._task = asyncio.current_task()
        ready = asyncio.Event()

        async def signal_ready() -> None:
            await ready.wait()
            started.set()

        waiter = asyncio.create_task(signal_ready())
        try:
            await serve(directory, names, topology, seed, ready, channel_sat=channel_sat,
                        options=options, fresh=fresh)
        finally:
            waiter.cancel()

    def target() -> None:
        try:
            asyncio.run(run())
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            ln.errors.append(exc)
        finally:
            started.set()

    ln._thread = threading.Thread(target=target, name="lnsim", daemon=True)
    ln._thread.start()
    assert started.wait(10), "lnsim did not start"
    if ln.errors:
        raise ln.errors[0]
    ln.nodes = {n["name"]: n for n in json.loads((directory / "nodes.json").read_text())}
    return ln


# A delayed payment stays in flight this long: two consecutive calls fall inside it on
# any machine that is not hung.
IN_FLIGHT_S = 3.0


def wait_pending(rpc: LightningRpc, payment_hash: str, timeout_s: float = 30.0) -> None:
    """Until the node lists a payment of this hash as pending (started, not finished)."""
    deadline = time.monotonic() + timeout_s
    while not any(p["status"] == "pending" for p in
                  rpc.listsendpays(payment_hash=payment_hash)["payments"]):
        assert time.monotonic() < deadline, "the payment never showed as pending"
        time.sleep(0.02)
