"""`peerwatt devices scan | read` against a emulator process, and the device factory."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fb_helpers import FakeClock, Serve, free_port

from firmware_bridge.cli import main
from firmware_bridge.device import ModbusDevice
from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.factory import DeviceConfig, open_device
from firmware_bridge.sunspec_device import SunSpecDevice

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def _wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail("emulator did not start")


@pytest.fixture
def emulator() -> Iterator[dict[str, int]]:
    """One SunSpec home and one SDM630 meter, served by `peerwatt devices simulate`."""
    ports = {"sunspec": free_port(), "eastron-sdm630": free_port()}
    procs = [subprocess.Popen(
        [sys.executable, "-m", "firmware_bridge.cli", "simulate", "--port", str(port),
         "--profile", profile], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) for profile, port in ports.items()]
    for proc, port in zip(procs, ports.values(), strict=True):
        _wait_port(port, proc)
    yield ports
    for proc in procs:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_scan_finds_sunspec_models_and_matching_profiles(
    emulator: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", "--host", "127.0.0.1", "--port", str(emulator["sunspec"])]) == 0
    out = capsys.readouterr().out
    assert "SunSpec map at 40000, 6 models" in out
    for line in ("1      common", "103    inverter_three_phase", "160    mppt",
                 "203    ac_meter_abcn", "124    storage_basic", "802    battery"):
        assert line in out, out
    assert "grid_power_w = " in out
    port = emulator["eastron-sdm630"]
    assert main(["scan", "--host", "127.0.0.1", "--port", str(port), "--timeout-s", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "no SunSpec map" in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()[3:] if line.strip()}
    assert rows["eastron-sdm630"] == "yes"
    assert rows["peerwatt-sim-home"] == "no"


def test_read_prints_every_configured_device(
    emulator: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "devices.toml"
    config.write_text(
        f'[[devices]]\nname = "inverter"\nport = {emulator["sunspec"]}\nprofile = "sunspec"\n'
        f'[[devices]]\nname = "meter"\nport = {emulator["eastron-sdm630"]}\n'
        'profile = "eastron-sdm630"\n'
    )
    assert main(["read", "--config", str(config), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"inverter", "meter"}
    assert result["inverter"]["health"] == "ok"
    assert result["inverter"]["readings"]["battery_soc_pct"]["unit"] == "%"
    assert set(result["meter"]["readings"]) == {"grid_power_w", "import_energy_wh",
                                                "export_energy_wh"}
    assert main(["read", "--config", str(config)]) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[0].split() == ["device", "meaning", "value", "unit", "source"]
    assert any(line.split()[:2] == ["meter", "grid_power_w"] for line in table.splitlines())


def test_read_reports_an_unreachable_device_and_bad_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'[device]\nport = {free_port()}\ntimeout_s = 0.2\n')
    assert main(["read", "--config", str(config)]) == 1
    assert "cannot connect" in capsys.readouterr().out
    config.write_text('[device]\ntransport = "carrier-pigeon"\n')
    assert main(["read", "--config", str(config)]) == 2
    assert "transport" in capsys.readouterr().err


def test_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "simulate,scan,read" in capsys.readouterr().err


async def test_factory_builds_the_right_device(serve: Serve, clock: FakeClock) -> None:
    (spec,) = await serve(EmulatedHomeSpec("h", free_port(), profile="sunspec"), now_s=clock)
    sunspec = open_device(DeviceConfig(port=spec.port, profile="sunspec"), now_s=clock)
    assert isinstance(sunspec, SunSpecDevice)
    assert "grid_power_w" in await sunspec.read()
    await sunspec.close()
    rtu = open_device(DeviceConfig(transport="rtu", serial_port="/dev/ttyX", baudrate=19200,
                                   parity="E", profile="eastron-sdm120", read_only=True))
    assert isinstance(rtu, ModbusDevice)
    assert rtu.label == "home@/dev/ttyX@192008E1/1"
    assert rtu.read_only
