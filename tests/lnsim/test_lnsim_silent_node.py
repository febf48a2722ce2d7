"""A node that accepts a request and never answers holds neither the caller nor a thread.

pyln-client reads with a blocking `recv` that has no timeout; `asyncio.timeout` frees the
awaiting task but not the worker thread, and the event loop's shutdown joins its worker
threads — a daemon (or a test) could not exit. The adapter's socket carries the deadline
(agent/adapters/cln/rpc.py). And lnsim, stopping, closes every client's socket, as
lightningd's exit does, so a client waiting for an answer reads the end of the stream —
even one whose connection the loop had not finished accepting (what hung a CI run:
tests/settlement/test_settle_node_faults.py, a watch-loop call racing the node's stop).
"""

from __future__ import annotations

import asyncio
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from lnsim_harness import start_lnsim

from agent.adapters.cln.balance import channel_balance_msat
from agent.adapters.cln.node import ClnNode
from agent.adapters.cln.rpc import DeadlineRpc
from agent.ports import NodeUnavailable

# Far above the deadlines below; only a run where the thread never ends gets here.
HANG_GUARD_S = 60.0


class SilentNode:
    """A unix socket that accepts every connection, reads what comes, answers nothing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.requests = 0
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(path))
        self._listener.listen()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, name="silent-node", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            if conn.recv(65536):
                self.requests += 1

    def close(self) -> None:
        self._listener.close()
        for conn in self._conns:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentNode]:
    directory = Path(tempfile.mkdtemp(prefix="lns", dir="/tmp"))  # short: AF_UNIX limit
    node = SilentNode(directory / "lightning-rpc")
    yield node
    node.close()


async def _executor_drains() -> None:
    """The loop's worker threads all end (what `asyncio.run`'s exit waits for)."""
    await asyncio.wait_for(asyncio.get_running_loop().shutdown_default_executor(),
                           HANG_GUARD_S)


async def test_a_node_that_never_answers_is_unavailable_and_frees_the_thread(
        silent: SilentNode) -> None:
    node = ClnNode(silent.path, timeout_s=0.2)
    with pytest.raises(NodeUnavailable, match="getinfo"):
        await node.node_id()
    assert silent.requests == 1  # it was asked, and said nothing
    await _executor_drains()


async def test_the_balance_read_of_a_silent_node_times_out_and_frees_the_thread(
        silent: SilentNode) -> None:
    with pytest.raises(TimeoutError):
        await channel_balance_msat(silent.path, 0.2)
    await _executor_drains()


def test_the_socket_deadline_ends_a_blocking_call_on_its_own(silent: SilentNode) -> None:
    # No asyncio here: the plain call in this thread returns by itself.
    with pytest.raises(TimeoutError):
        DeadlineRpc(str(silent.path), 0.2).getinfo()


@pytest.mark.parametrize("timeout_s", [0.0, -1.0])
def test_a_deadline_must_be_positive(timeout_s: float) -> None:
    with pytest.raises(ValueError, match="timeout_s"):
        DeadlineRpc("/nowhere", timeout_s)


def test_stopping_lnsim_closes_a_connection_waiting_for_an_answer() -> None:
    ln = start_lnsim(["alice", "bob"])
    try:
        # A request lnsim holds open: waitinvoice on an unpaid invoice.
        ln.rpc("bob").invoice(1000, "held", "d")
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(ln.path("bob"))
        client.sendall(b'{"jsonrpc": "2.0", "id": 1, "method": "waitinvoice", '
                       b'"params": {"label": "held"}}')
        ln.stop()  # at once: the connection may not even be accepted yet
        client.settimeout(HANG_GUARD_S)
        try:
            answer = client.recv(65536)
        except ConnectionResetError:  # closed with our request unread
            answer = b""
        assert answer == b""  # the end of the stream, no answer
        client.close()
    finally:
        ln.stop()
