"""Battery setpoint writes: clamped, written once while unchanged, read back, dry run, read-only."""

from __future__ import annotations

import pytest
from fb_helpers import FakeClock, MakeDevice

from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable
from firmware_bridge.profile import Profile, builtin_profile

pytestmark = pytest.mark.integration  # real pymodbus servers on localhost


@pytest.mark.parametrize(
    ("requested_w", "expected_w"),
    [
        (1200.4, 1200.0),     # rounded to the register's resolution (1 W)
        (8000.0, 3000.0),     # the caller's max_charge_w (3000) is below the profile's (10000)
        (-4000.0, -4000.0),
        (-20000.0, -10000.0),  # the profile's max_discharge_w
    ],
)
async def test_write_is_clamped_and_read_back(emulated: EmulatedHomeSpec, make_device: MakeDevice,
                                              requested_w: float, expected_w: float) -> None:
    device = make_device(emulated, max_charge_w=3000.0)
    accepted_w = await device.set_battery_power(requested_w)
    assert accepted_w == expected_w
    assert emulated.home is not None
    assert emulated.home.setpoint_w == expected_w
    assert (await device.read())["battery_setpoint_w"].value == expected_w
    assert device.stats.writes == 1


async def test_written_once_while_unchanged_then_refreshed(
    emulated: EmulatedHomeSpec, clock: FakeClock, make_device: MakeDevice
) -> None:
    device = make_device(emulated, setpoint_refresh_s=300.0)
    assert await device.set_battery_power(1000.0) == 1000.0
    assert await device.set_battery_power(1000.2) == 1000.0  # same register value
    assert device.stats.writes == 1
    assert await device.set_battery_power(-500.0) == -500.0
    assert device.stats.writes == 2
    clock.t_s += 301.0  # keep the device's remote-control timeout from expiring
    await device.set_battery_power(-500.0)
    assert device.stats.writes == 3
    assert emulated.home is not None
    assert emulated.home.setpoint_at_s == clock.t_s


async def test_dry_run_writes_nothing(emulated: EmulatedHomeSpec, make_device: MakeDevice) -> None:
    device = make_device(emulated, dry_run=True)
    assert await device.set_battery_power(50000.0) == 10000.0
    assert device.stats.writes == 0
    assert emulated.home is not None
    assert emulated.home.setpoint_at_s is None


async def test_read_only_profile_refuses(emulated: EmulatedHomeSpec,
                                         make_device: MakeDevice) -> None:
    data = builtin_profile("peerwatt-sim-home").model_dump()
    data["read_only"] = True
    for reg in data["registers"]:
        reg["writable"] = False
    device = make_device(emulated, profile=Profile.model_validate(data))
    with pytest.raises(DeviceConfigError, match="read-only; refusing to write"):
        await device.set_battery_power(100.0)
    assert device.stats.writes == 0


async def test_profile_without_setpoint_refuses(emulated: EmulatedHomeSpec,
                                                make_device: MakeDevice) -> None:
    profile = Profile.model_validate({"name": "meter-only", "registers": [
        {"meaning": "grid_power_w", "address": 0, "kind": "input", "type": "s32"}]})
    device = make_device(emulated, profile=profile)
    with pytest.raises(DeviceConfigError, match="no writable battery_setpoint_w"):
        await device.set_battery_power(100.0)


async def test_failed_write_is_retried_next_time(emulated: EmulatedHomeSpec,
                                                 make_device: MakeDevice) -> None:
    device = make_device(emulated, retries=0)
    emulated.delay_s = 1.0
    with pytest.raises(DeviceUnavailable, match="writing 2 holding registers at 100"):
        await device.set_battery_power(700.0)
    assert device.stats.writes_failed == 1
    assert device.health == "degraded"
    emulated.delay_s = 0.0
    assert await device.set_battery_power(700.0) == 700.0
    assert device.stats.writes == 1
    assert device.health == "ok"


async def test_nan_is_refused(emulated: EmulatedHomeSpec, make_device: MakeDevice) -> None:
    with pytest.raises(ValueError, match="finite"):
        await make_device(emulated).set_battery_power(float("nan"))
