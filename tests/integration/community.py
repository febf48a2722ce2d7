"""A small simulated community of real processes for the daemon-level tests.

Writes configs the way `peerwatt demo` does (one shared accelerated `[clock]`, one lnsim
node and one simulated Modbus home per agent) and starts the parts through
:class:`demo.procs.Fleet`, so every child is stopped however a test ends. The
clock starts mid-morning on a spring day, so homes with PV have surplus to sell.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from demo.procs import Fleet, free_ports, peerwatt_cmd, wait_port
from demo.runner import to_toml
from firmware_bridge.emulator.cli import varied_params
from firmware_bridge.emulator.home import HomeParams

INTERVAL_S = 900
MID_MORNING = datetime(2026, 4, 15, 10, 0, tzinfo=UTC)
# Device seeds 1..3: seed 1 has neither PV nor battery (it buys), seeds 2 and 3 have
# 7.3 and 5.0 kWp of PV (they sell at 10:00 in April).
FIRST_SEED = 1


def sim_clock(speed: float, warmup_s: float, start: datetime = MID_MORNING) -> dict[str, Any]:
    """The `[clock]` table every process of one community shares."""
    return {"mode": "sim", "epoch_real_s": time.time() + warmup_s,
            "start_sim_s": start.timestamp(), "speed": speed}


def read_events(log: Path) -> list[dict[str, Any]]:
    """The JSON log lines of one child's log file (other lines, e.g. stderr, skipped)."""
    if not log.exists():
        return []
    events = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                events.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return events


def wait_for(what: str, check: Callable[[], Any], timeout_s: float,
             alive: Callable[[], None] | None = None, every_s: float = 0.1) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        if alive is not None:
            alive()
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(every_s)


@dataclass
class Home:
    name: str
    seed: int
    params: HomeParams
    device_port: int
    rpc: str
    state_dir: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def journal(self) -> Path:
        return self.state_dir / "journal.sqlite"

    def events(self, event: str | None = None) -> list[dict[str, Any]]:
        found = read_events(self.log)
        return found if event is None else [e for e in found if e.get("event") == event]

    def alive(self) -> None:
        """Fail if the agent process has exited."""
        assert self.proc is not None, f"{self.name} was never started"
        code = self.proc.poll()
        if code is not None:
            tail = self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""
            raise AssertionError(f"agent {self.name} exited early with {code}:\n{tail}")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Read the agent's journal (read-only; fine while the agent runs, WAL mode)."""
        if not self.journal.exists():
            return []
        db = sqlite3.connect(f"file:{self.journal}?mode=ro", uri=True, timeout=2.0)
        try:
            return db.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []
        finally:
            db.close()


@dataclass
class Community:
    """Broker (given), lnsim, device emulator, optional coordinator, and agents."""

    fleet: Fleet
    broker_url: str
    name: str
    clock: dict[str, Any]
    homes: dict[str, Home] = field(default_factory=dict)

    @property
    def workdir(self) -> Path:
        return self.fleet.workdir

    @property
    def broker_port(self) -> int:
        return int(self.broker_url.rsplit(":", 1)[1])

    def interval_now(self) -> int:
        """The market interval the community's simulated clock is in."""
        now = self.clock["start_sim_s"] + (time.time() - self.clock["epoch_real_s"]) \
            * self.clock["speed"]
        return int(now // INTERVAL_S)

    def stopped_counters(self, name: str) -> dict[str, Any]:
        """The counters of the agent's final `agent_stopped` line."""
        lines = self.homes[name].events("agent_stopped")
        assert len(lines) == 1, f"{name}: {len(lines)} agent_stopped lines"
        return lines[0]

    @property
    def prefix(self) -> str:
        return f"peerwatt/v1/{self.name}"

    def write_config(self, home: Home, **overrides: dict[str, Any]) -> Path:
        p = home.params
        data: dict[str, Any] = {
            "agent_id": home.name,
            "device": {"name": home.name, "port": home.device_port, "poll_s": 0.1,
                       "timeout_s": 0.5, "max_age_s": 4 * INTERVAL_S * 0.1},
            "broker": {"url": self.broker_url, "keepalive_s": 5},
            "lightning": {"rpc_socket": home.rpc},
            "market": {"community": self.name},
            "battery": {"capacity_wh": p.battery_kwh * 1000.0,
                        "max_charge_w": float(p.battery_max_w),
                        "max_discharge_w": float(p.battery_max_w)},
            "paths": {"state_dir": str(home.state_dir)},
            "clock": self.clock,
        }
        for section, values in overrides.items():
            data[section] = {**data.get(section, {}), **values}
        cfg = self.workdir / f"{home.name}.toml"
        cfg.write_text(to_toml(data))
        return cfg

    def start_agent(self, name: str, *, env: dict[str, str] | None = None,
                    **overrides: dict[str, Any]) -> Home:
        home = self.homes[name]
        cfg = self.write_config(home, **overrides)
        home.proc = self.fleet.start(f"agent-{name}", peerwatt_cmd(
            "run", "--config", str(cfg), "--log-level", "debug"), env=env)
        return home

    def start_coordinator(self, key_file: Path | None = None, **broker: Any) -> None:
        cfg = self.workdir / "coordinator.toml"
        extra = {} if key_file is None else {"key_file": str(key_file)}
        cfg.write_text(to_toml({"broker": {"url": self.broker_url, **broker},
                                "market": {"community": self.name}, "clock": self.clock,
                                **extra}))
        self.fleet.start("coordinator", peerwatt_cmd("coordinator", "--config", str(cfg)))

    def stop_agents(self, timeout_s: float = 30.0) -> dict[str, int | None]:
        """SIGTERM every agent; their exit codes (None: had to be killed after the timeout).

        The property is "exits 0 on SIGTERM", not a speed: the timeout is generous because
        CI machines are shared (a stop normally takes well under a second). An agent still
        alive 15 s after SIGTERM dumps every thread's stack into its log (faulthandler)."""
        return self.fleet.stop("agent-", timeout_s=timeout_s)

    def wait_ready(self, names: list[str], timeout_s: float = 30.0) -> None:
        for n in names:
            home = self.homes[n]
            wait_for(f"{n} agent_ready", lambda h=home: h.events("agent_ready"),
                     timeout_s, home.alive, every_s=0.2)

    def node_sockets(self) -> dict[str, str]:
        nodes = json.loads((self.workdir / "ln" / "nodes.json").read_text())
        return {n["name"]: n["rpc"] for n in nodes}


def start_community(fleet: Fleet, broker_url: str, name: str, *, homes: int = 3,
                    first_seed: int = FIRST_SEED, speed: float = 900.0,
                    warmup_s: float = 3.0, sim_args: tuple[str, ...] = ()) -> Community:
    """lnsim and the device emulator for `homes` homes on one clock; agents not started."""
    names = [f"home-{i}" for i in range(homes)]
    rpcs = fleet.lnsim(names)
    clock = sim_clock(speed, warmup_s)
    base_port = free_ports(homes)
    sim = fleet.start("devices", peerwatt_cmd(
        "devices", "simulate", "--homes", str(homes), "--base-port", str(base_port),
        "--seed", str(first_seed), "--speed", str(speed),
        "--epoch-real", str(clock["epoch_real_s"]), "--start-sim", str(clock["start_sim_s"]),
        *sim_args))
    wait_port(base_port + homes - 1, 30.0, sim)
    community = Community(fleet, broker_url, name, clock)
    for i, n in enumerate(names):
        community.homes[n] = Home(n, first_seed + i, varied_params(first_seed + i),
                                  base_port + i, rpcs[n], fleet.workdir / "state" / n,
                                  fleet.workdir / "logs" / f"agent-{n}.log")
    return community


class HangingDevice:
    """A TCP front for a Modbus device that hangs: it accepts connections and, once
    `hang()` is called (or from the start without an `upstream_port`), never answers.
    Until then it relays bytes both ways to the real device on `upstream_port`."""

    def __init__(self, upstream_port: int | None = None) -> None:
        self._upstream = upstream_port
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self.accepted = 0
        self.hung_at: float | None = None if upstream_port is not None else time.time()
        self._hung = threading.Event()
        if upstream_port is None:
            self._hung.set()
        self._stop = threading.Event()
        self._open: list[socket.socket] = []
        self._threads: list[threading.Thread] = []

    def hang(self) -> None:
        """From now on nothing is relayed; connections stay open, requests unanswered."""
        self.hung_at = time.time()
        self._hung.set()

    def _accept_loop(self) -> None:
        self._listener.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            self._open.append(conn)  # held open however it ends: a hung device
            if self._hung.is_set() or self._upstream is None:
                continue
            up = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            self._open.append(up)
            for a, b in ((conn, up), (up, conn)):
                t = threading.Thread(target=self._relay, args=(a, b), daemon=True)
                t.start()
                self._threads.append(t)

    def _relay(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.1)
        while not self._stop.is_set() and not self._hung.is_set():
            try:
                data = src.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data or self._hung.is_set():
                return
            try:
                dst.sendall(data)
            except OSError:
                return

    def __enter__(self) -> HangingDevice:
        t = threading.Thread(target=self._accept_loop, name="hanging-device", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(5)
        for c in self._open:
            c.close()
        self._listener.close()


class MqttProbe:
    """A plain paho MQTT 5 client for tests: publish anything, collect what arrives."""

    def __init__(self, port: int, client_id: str) -> None:
        self.received: list[paho.MQTTMessage] = []
        self._lock = threading.Lock()
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                   protocol=paho.MQTTv5)
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", port, keepalive=10)
        self._client.loop_start()

    def _on_message(self, _client: Any, _userdata: Any, message: paho.MQTTMessage) -> None:
        with self._lock:
            self.received.append(message)

    def publish(self, topic: str, payload: bytes, *, retain: bool = False) -> None:
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        info.wait_for_publish(10)
        assert info.is_published(), f"publish to {topic} not acknowledged"

    def subscribe(self, topic: str) -> None:
        result, _ = self._client.subscribe(topic, qos=1)
        assert result == paho.MQTT_ERR_SUCCESS

    def messages(self, topic: str) -> list[bytes]:
        with self._lock:
            return [bytes(m.payload) for m in self.received if m.topic == topic]

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


def sellers_paid_are_buyers_paid(c: Community) -> bool:
    """Every trade a seller's journal has paid is paid in the buyer's journal too (the
    condition a clean stop waits for; payments in flight are journaled by then)."""
    paid = {role: {r[0] for h in c.homes.values() for r in h.query(
        "SELECT trade_id FROM trades WHERE role=? AND state='paid'", (role,))}
        for role in ("seller", "buyer")}
    return paid["seller"] <= paid["buyer"]


def assert_books_agree(c: Community) -> int:
    """No trade lost or duplicated across the homes' journals: every trade a buyer holds is
    held by exactly one seller with identical terms, and every trade a seller was paid for
    is paid on the buyer's side. Returns the number of paid trades."""
    cols = "trade_id, interval, seller, buyer, energy_wh, price_msat_per_kwh, amount_msat"
    sold: dict[str, tuple[Any, ...]] = {}
    bought: dict[str, tuple[Any, ...]] = {}
    paid_sold, paid_bought = set(), set()
    for h in c.homes.values():
        for row in h.query(f"SELECT {cols}, role, state FROM trades"):
            terms, role, state = row[:7], row[7], row[8]
            book = sold if role == "seller" else bought
            assert row[0] not in book, f"trade {row[0]} journaled twice as {role}"
            book[row[0]] = terms
            if state == "paid":
                (paid_sold if role == "seller" else paid_bought).add(row[0])
    for trade_id, terms in bought.items():
        assert sold.get(trade_id) == terms, f"buyer's trade {trade_id} differs from seller's"
    assert paid_sold <= paid_bought, f"paid to sellers but not by buyers: {paid_sold - paid_bought}"
    return len(paid_bought)
