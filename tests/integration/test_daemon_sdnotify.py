"""systemd's notify protocol, seen from the socket: READY=1, STATUS= and WATCHDOG=1.

The test binds a unix datagram socket, starts one agent with NOTIFY_SOCKET pointing at
it and a 2 s watchdog, and reads what arrives.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from community import start_community

from demo.procs import Fleet

pytestmark = pytest.mark.integration


@pytest.fixture
def notify_socket(fleet: Fleet) -> Iterator[tuple[socket.socket, Path]]:
    path = fleet.workdir / "notify.sock"
    assert len(os.fsencode(path)) < 108
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.2)
    try:
        yield sock, path
    finally:
        sock.close()


def _datagrams(sock: socket.socket, until: float) -> Iterator[list[str]]:
    while time.monotonic() < until:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            continue
        yield data.decode().split("\n")


def test_daemon_notifies_systemd(fleet: Fleet, mosquitto: Any,
                                 notify_socket: tuple[socket.socket, Path],
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sock, path = notify_socket
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    c = start_community(fleet, mosquitto.url, "notify", homes=1, speed=900.0)
    home = c.start_agent("home-0", env={"NOTIFY_SOCKET": str(path),
                                        "WATCHDOG_USEC": "2000000"})

    received: list[list[str]] = []
    ready_at: int | None = None
    for fields in _datagrams(sock, time.monotonic() + 40.0):
        home.alive()
        received.append(fields)
        if ready_at is None and "READY=1" in fields:
            ready_at = len(received) - 1
        watchdogs = sum("WATCHDOG=1" in f for f in received)
        if ready_at is not None and watchdogs >= 3:
            break
    assert ready_at is not None, f"no READY=1 in {received}"
    # Before READY=1 only start-timeout extensions (the agent waits for device and broker).
    early = received[:ready_at]
    assert all(any(f.startswith("EXTEND_TIMEOUT_USEC=") for f in d) for d in early), early
    assert not any("WATCHDOG=1" in d for d in early), early

    ready = received[ready_at]
    status = [f for f in ready if f.startswith("STATUS=")]
    assert status, ready
    assert "device ok" in status[0], status
    assert "broker up" in status[0], status
    # READY=1 only after the first device reading and the broker connection.
    assert home.events("agent_ready"), "READY=1 sent but agent_ready not logged"

    after = received[ready_at + 1:]
    assert sum("WATCHDOG=1" in f for f in after) >= 3, received
    assert all(any(x.startswith("STATUS=") for x in f) for f in after), after

    assert c.stop_agents() == {"agent-home-0": 0}
