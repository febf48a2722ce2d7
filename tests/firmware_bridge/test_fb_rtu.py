"""Modbus RTU for real: the emulator serves one end of a socat pseudo-terminal pair, the
devices read and write through the other end at 19200 8N1. (Linux pseudo-terminals refuse
some parity changes with EINVAL, so the framing is 8N1; parity only matters on a real line.)"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fb_helpers import FakeClock, MakeDevice, MakeSunSpec, Serve

from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.endpoints import SerialEndpoint
from firmware_bridge.errors import DeviceUnavailable
from firmware_bridge.profile import builtin_profile

pytestmark = pytest.mark.integration


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    socat = shutil.which("socat")
    if socat is None:
        pytest.fail("the 'socat' binary is not on PATH: install the Debian package 'socat' "
                    "(apt-get install socat); the Modbus RTU tests need a pseudo-terminal pair")
    a, b = tmp_path / "ttyA", tmp_path / "ttyB"
    proc = subprocess.Popen(
        [socat, f"pty,raw,echo=0,link={a}", f"pty,raw,echo=0,link={b}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30.0
    while not (a.exists() and b.exists()):
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("socat did not create the pseudo-terminal pair")
        time.sleep(0.02)
    yield str(a), str(b)
    proc.terminate()
    proc.wait(timeout=5)


async def test_profile_device_over_rtu(
    pty_pair: tuple[str, str], serve: Serve, clock: FakeClock, make_device: MakeDevice
) -> None:
    server_end, client_end = pty_pair
    spec = EmulatedHomeSpec("rtu-home", 0, unit=3, seed=9,
                            serial=SerialEndpoint(server_end, 19200, "N", 1))
    (spec,) = await serve(spec, now_s=clock)
    device = make_device(spec, endpoint=SerialEndpoint(client_end, 19200, "N", 1),
                         timeout_s=1.0)
    readings = await device.read()
    assert set(readings) == {r.meaning for r in builtin_profile("peerwatt-sim-home").registers}
    assert spec.home is not None
    assert readings["pv_power_w"].value == pytest.approx(spec.home.pv_w, abs=1.0)
    assert device.label == f"rtu-home@{client_end}@192008N1/3"
    assert await device.set_battery_power(-700.0) == pytest.approx(-700.0)
    assert spec.home.setpoint_w == pytest.approx(-700.0)


async def test_sunspec_device_over_rtu_with_timeout_and_recovery(
    pty_pair: tuple[str, str], serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    server_end, client_end = pty_pair
    spec = EmulatedHomeSpec("rtu-ss", 0, unit=1, seed=2, profile="sunspec",
                            serial=SerialEndpoint(server_end, 19200, "N", 1))
    (spec,) = await serve(spec, now_s=clock)
    device = make_sunspec(spec, endpoint=SerialEndpoint(client_end, 19200, "N", 1),
                          timeout_s=1.0, retries=0)
    readings = await device.read()
    assert spec.home is not None
    assert readings["grid_power_w"].value == pytest.approx(spec.home.grid_w, abs=1.0)
    assert await device.set_battery_power(800.0) == pytest.approx(800.0)
    spec.delay_s = 1.5
    with pytest.raises(DeviceUnavailable, match=r"no response within 1\.0 s"):
        await device.read()
    spec.delay_s = 0.0
    # The late answer still has to drain from the line: read again until the device
    # answers (the deadline only fails a hung run), then it is healthy.
    async with asyncio.timeout(30):
        while True:
            try:
                readings = await device.read()
                break
            except DeviceUnavailable:
                await asyncio.sleep(0.1)
    assert "grid_power_w" in readings
    assert device.health == "ok"
