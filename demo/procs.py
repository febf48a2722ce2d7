"""Child processes for the demo and the integration tests: a broker, lnsim, device
simulators, the coordinator and agents — started, waited for and always cleaned up."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_ports(n: int) -> int:
    """A base port with `n` consecutive free ports after it."""
    for _ in range(200):
        base = free_port()
        if base + n >= 65535:
            continue
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError(f"no {n} consecutive free ports on 127.0.0.1")


def wait_port(port: int, timeout_s: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout_s} s")


MOSQUITTO_CONF = """listener {port} 127.0.0.1
allow_anonymous true
persistence false
set_tcp_nodelay true
max_queued_messages 100000
max_inflight_messages 0
"""


def peerwatt_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "peerwatt", *args]


@dataclass
class Fleet:
    """Every child started here is stopped in reverse order on exit, however we exit."""

    workdir: Path
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(self, name: str, cmd: list[str], *, env: dict[str, str] | None = None
              ) -> subprocess.Popen[bytes]:
        log = (self.workdir / "logs" / f"{name}.log").open("wb")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                env={**os.environ, **(env or {})})
        log.close()
        self.procs.append((name, proc))
        return proc

    def broker(self, kind: str = "auto") -> tuple[int, str]:
        """Start mosquitto (or, without it or when asked, the embedded amqtt broker, which
        speaks only MQTT 3.1.1); return the port and which one runs."""
        port = free_port()
        if kind != "embedded" and shutil.which("mosquitto"):
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(MOSQUITTO_CONF.format(port=port))
            proc = self.start("broker", ["mosquitto", "-c", str(conf)])
            kind = "mosquitto"
        else:
            proc = self.start("broker", [sys.executable, "-m", "demo.broker",
                                         "--port", str(port)])
            kind = "amqtt"
        wait_port(port, 20.0, proc)
        return port, kind

    def lnsim(self, names: list[str]) -> dict[str, str]:
        lndir = self.workdir / "ln"
        proc = self.start("lnsim", peerwatt_cmd("lnsim", "--names", ",".join(names),
                                                "--dir", str(lndir)))
        nodes_json = lndir / "nodes.json"
        deadline = time.monotonic() + 30.0
        while not nodes_json.exists():
            if proc.poll() is not None:
                raise RuntimeError(f"lnsim exited with {proc.returncode}; see its log")
            if time.monotonic() > deadline:
                raise TimeoutError("lnsim did not write nodes.json within 30 s")
            time.sleep(0.05)
        nodes = json.loads(nodes_json.read_text())
        return {n["name"]: n["rpc"] for n in nodes}

    def stop(self, name_prefix: str = "", timeout_s: float = 12.0) -> dict[str, int | None]:
        """SIGTERM the matching children (newest first), wait, SIGKILL what is left."""
        chosen = [(n, p) for n, p in reversed(self.procs) if n.startswith(name_prefix)]
        for _, p in chosen:
            if p.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        codes: dict[str, int | None] = {}
        for n, p in chosen:
            try:
                codes[n] = p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                codes[n] = None
        self.procs = [(n, p) for n, p in self.procs if (n, p) not in chosen]
        return codes

    @contextlib.contextmanager
    def running(self) -> Iterator[Fleet]:
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        try:
            yield self
        finally:
            self.stop()
