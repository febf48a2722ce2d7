"""Session-wide fixtures: a real mosquitto broker on a free port for this test session."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo.procs import MOSQUITTO_CONF, free_port, wait_port


@dataclass
class Broker:
    port: int
    conf: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def restart(self) -> None:
        """Stop the broker, then start it again on the same port (tests of reconnects)."""
        self.stop()
        self.proc = _spawn(self.conf)
        wait_port(self.port, 10.0, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def _spawn(conf: Path) -> subprocess.Popen[bytes]:
    binary = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin")
    if binary is None:
        pytest.fail("the 'mosquitto' binary is not on PATH: install the Debian package "
                    "'mosquitto' (apt-get install mosquitto); the MQTT tests need a real broker")
    return subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    port = free_port()
    conf = tmp_path_factory.mktemp("mosquitto") / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port))
    broker = Broker(port, conf, _spawn(conf))
    wait_port(port, 10.0, broker.proc)
    yield broker
    broker.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Broker]:
    """A broker of this test's own, for tests that stop and restart it."""
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(MOSQUITTO_CONF.format(port=port))
    broker = Broker(port, conf, _spawn(conf))
    wait_port(port, 10.0, broker.proc)
    yield broker
    if broker.proc.poll() is None:
        broker.stop()
