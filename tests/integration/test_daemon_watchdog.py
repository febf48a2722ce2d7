"""The systemd watchdog sees a frozen event loop (a real NOTIFY_SOCKET listener).

The loop is frozen the way an SD card that stalls would freeze it: the agent's journal
writes are synchronous SQLite calls on the event loop, and the test holds the journal's
write lock (``BEGIN IMMEDIATE`` from another connection), so the agent's next write waits
inside SQLite's busy timeout (5 s) and nothing else on the loop runs. With a 1 s watchdog
(a ping every 0.5 s) the lock is held until no ping has come for 1.5 s, whenever the
agent's loop happens to reach its next write (the deadline for that only fails a hung
run): systemd would have killed the agent. Released, well inside the busy timeout, the
pings resume and the agent carries on without a restart or a crash.
"""

from __future__ import annotations

import itertools
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from community import start_community, wait_for

from demo.procs import Fleet

pytestmark = pytest.mark.integration

WATCHDOG_USEC = 1_000_000
SILENT_S = WATCHDOG_USEC / 1e6 + 0.5  # longer than WatchdogSec: systemd would act


@pytest.fixture
def listener(fleet: Fleet) -> Iterator[socket.socket]:
    path = fleet.workdir / "notify.sock"
    assert len(os.fsencode(path)) < 108
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.05)
    try:
        yield sock
    finally:
        sock.close()


def _drain(sock: socket.socket, into: list[tuple[float, list[str]]]) -> None:
    while True:
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return
        into.append((time.monotonic(), data.decode().split("\n")))


def _pings(received: list[tuple[float, list[str]]]) -> list[float]:
    return [t for t, fields in received if "WATCHDOG=1" in fields]


def test_watchdog_stops_while_the_loop_is_frozen(fleet: Fleet, mosquitto: Any,
                                                 listener: socket.socket,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    c = start_community(fleet, mosquitto.url, "watchdog", homes=1, speed=900.0)
    home = c.start_agent("home-0", env={"NOTIFY_SOCKET": str(listener.getsockname()),
                                        "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    received: list[tuple[float, list[str]]] = []

    def pings_since(t: float) -> int:
        _drain(listener, received)
        return sum(1 for p in _pings(received) if p > t)

    wait_for("READY=1 and 4 watchdog pings", lambda: pings_since(0.0) >= 4, 60.0, home.alive,
             every_s=0.05)
    wait_for("the journal", lambda: Path(home.journal).exists(), 10.0, home.alive)

    blocker = sqlite3.connect(home.journal, isolation_level=None, timeout=10.0)
    try:
        blocker.execute("BEGIN IMMEDIATE")  # the journal's write lock
        locked_at = time.monotonic()
        while True:  # until the loop is frozen: no ping for longer than WatchdogSec
            _drain(listener, received)
            silent_since = max([locked_at, *(p for p in _pings(received) if p > locked_at)])
            if time.monotonic() - silent_since > SILENT_S:
                break
            assert time.monotonic() < locked_at + 60, \
                "the watchdog pings never stopped while the journal was locked"
        blocker.execute("ROLLBACK")
        released_at = time.monotonic()
    finally:
        blocker.close()

    wait_for("watchdog pings again", lambda: pings_since(released_at) >= 3, 30.0, home.alive,
             every_s=0.05)
    pings = _pings(received)
    # Once the loop is stuck inside SQLite not one ping gets out until the lock is gone.
    frozen = [p for p in pings if silent_since < p < released_at]
    assert frozen == [], f"pings while the loop was frozen: {frozen}"
    gaps = [b - a for a, b in itertools.pairwise(pings)]
    assert max(gaps) > WATCHDOG_USEC / 1e6, \
        f"no gap longer than WatchdogSec: systemd would not have noticed ({gaps})"
    # Before and after the freeze the pings come (no restart, the same process).
    assert any(p < locked_at for p in pings)
    assert any(p > released_at for p in pings)
    home.alive()
    assert c.stop_agents() == {"agent-home-0": 0}
    counters = c.stopped_counters("home-0")
    assert counters.get("device_reads", 0) > 0
    assert not home.events("child_crashed"), home.events("child_crashed")


def test_coordinator_waits_for_its_broker_then_pings(fleet: Fleet, listener: socket.socket,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Started with its broker down, the coordinator extends its start timeout instead of
    being killed at TimeoutStartSec; once the broker is up: READY=1, then WATCHDOG=1."""
    from demo.procs import MOSQUITTO_CONF, free_port, peerwatt_cmd, wait_port
    from demo.runner import to_toml

    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    port = free_port()
    cfg = fleet.workdir / "coordinator.toml"
    cfg.write_text(to_toml({"broker": {"url": f"mqtt://127.0.0.1:{port}"},
                            "market": {"community": "wd-coord"}}))
    coordinator = fleet.start("coordinator", peerwatt_cmd("coordinator", "--config", str(cfg)),
                              env={"NOTIFY_SOCKET": str(listener.getsockname()),
                                   "WATCHDOG_USEC": str(WATCHDOG_USEC)})
    received: list[tuple[float, list[str]]] = []

    def has(field: str) -> bool:
        _drain(listener, received)
        assert coordinator.poll() is None, "the coordinator exited"
        return any(field in fields for _, fields in received)

    def extensions() -> int:
        has("READY=1")  # drains the socket
        return sum(any(f.startswith("EXTEND_TIMEOUT_USEC=") for f in fields)
                   for _, fields in received)

    wait_for("start-timeout extensions", lambda: extensions() >= 2, 60.0, every_s=0.05)
    assert not has("READY=1"), "READY=1 without a broker"
    conf = fleet.workdir / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port))
    broker = fleet.start("broker", ["mosquitto", "-c", str(conf)])
    wait_port(port, 10.0, broker)
    wait_for("READY=1", lambda: has("READY=1"), 60.0, every_s=0.05)
    ready_at = next(t for t, fields in received if "READY=1" in fields)
    wait_for("watchdog pings", lambda: has("WATCHDOG=1") and len(
        [t for t in _pings(received) if t >= ready_at]) >= 3, 30.0, every_s=0.05)
    assert not any(t < ready_at for t in _pings(received)), "pings before READY=1"
