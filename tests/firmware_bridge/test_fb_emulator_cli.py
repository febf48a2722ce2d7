"""`peerwatt devices simulate` as its own process: serves homes, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path

import pytest
from fb_helpers import free_port

from firmware_bridge.device import ModbusDevice
from firmware_bridge.emulator.cli import main, varied_params
from firmware_bridge.endpoints import TcpEndpoint
from firmware_bridge.errors import DeviceUnavailable
from firmware_bridge.modbus_link import LinkConfig
from firmware_bridge.profile import builtin_profile

ROOT = Path(__file__).resolve().parents[2]


async def _read_when_up(device: ModbusDevice, deadline_s: float = 10.0) -> dict[str, float]:
    end = time.monotonic() + deadline_s
    while True:
        try:
            return {m: r.value for m, r in (await device.read()).items()}
        except DeviceUnavailable:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.1)


@pytest.mark.integration
async def test_community_process_serves_and_stops() -> None:
    base_port = free_port()
    start_sim_s, speed = 1_711_972_800.0, 600.0
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "firmware_bridge.emulator.cli", "--homes", "2",
        "--base-port", str(base_port), "--seed", "10", "--speed", str(speed),
        "--epoch-real", str(time.time()), "--start-sim", str(start_sim_s),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    profile = builtin_profile("peerwatt-sim-home")
    devices = [ModbusDevice(f"home-{i}", TcpEndpoint("127.0.0.1", base_port + i), 1, profile,
                            link=LinkConfig(timeout_s=0.5, retries=0)) for i in range(2)]
    try:
        for device in devices:
            values = await _read_when_up(device)
            assert set(values) == {r.meaning for r in profile.registers}
        await asyncio.sleep(0.5)  # 300 simulated seconds
        later = await devices[0].read()
        assert later["load_power_w"].value > 0
    finally:
        for device in devices:
            await device.close()
        proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(proc.communicate(), timeout=10)
    assert proc.returncode == 0, err.decode()
    assert b"sim_home_serving" in out


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--homes", "3"])
    assert info.value.code == 2
    assert "--homes N needs --base-port" in capsys.readouterr().err


def test_unknown_profile_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", str(free_port()), "--profile", "nope"]) == 1
    assert "no built-in profile 'nope'" in capsys.readouterr().err


def test_varied_params_are_reproducible_and_mixed() -> None:
    homes = [varied_params(seed) for seed in range(50)]
    assert homes == [varied_params(seed) for seed in range(50)]
    assert any(h.pv_kwp == 0 for h in homes)
    assert any(h.pv_kwp > 0 for h in homes)
    assert any(h.battery_kwh == 0 for h in homes)
    assert any(h.battery_kwh > 0 for h in homes)
