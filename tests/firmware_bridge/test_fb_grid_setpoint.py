"""The grid set-point: a grid exchange target the device holds with its battery itself
(the simulated home's holding pair at 102), written and read back over real Modbus."""

from __future__ import annotations

import pytest
from fb_helpers import FakeClock, MakeDevice

from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.profile import Profile, builtin_profile

pytestmark = pytest.mark.integration  # real pymodbus servers on localhost


async def test_device_holds_the_grid_target_at_every_step(
    emulated: EmulatedHomeSpec, clock: FakeClock, make_device: MakeDevice
) -> None:
    device = make_device(emulated)
    assert device.controls_grid
    before = await device.read()
    assert await device.set_grid_power(-400.0) == -400.0
    home = emulated.home
    assert home is not None
    assert home.grid_mode
    steps = []
    for _ in range(20):  # 20 simulated minutes at midday: load and PV move every minute
        clock.t_s += 60.0
        readings = await device.read()
        steps.append((readings["grid_power_w"].value, readings["load_power_w"].value,
                      readings["battery_power_w"].value))
    assert len({round(load) for _, load, _ in steps}) > 5  # the home did move
    assert all(grid == pytest.approx(-400.0, abs=1.0) for grid, _, _ in steps)
    assert len({round(batt) for _, _, batt in steps}) > 5  # the battery did the tracking
    exported = readings["export_energy_wh"].value - before["export_energy_wh"].value
    imported = readings["import_energy_wh"].value - before["import_energy_wh"].value
    assert exported == pytest.approx(400.0 * 20 / 60, abs=1.0)  # the register's 0.1 Wh
    assert imported == pytest.approx(0.0, abs=0.2)
    assert readings["grid_setpoint_w"].value == -400.0


async def test_zero_is_self_consumption_and_a_battery_write_takes_over(
    emulated: EmulatedHomeSpec, clock: FakeClock, make_device: MakeDevice
) -> None:
    device = make_device(emulated)
    home = emulated.home
    assert home is not None
    await device.set_grid_power(0.0)
    clock.t_s += 300.0
    await device.read()
    assert home.battery_w == pytest.approx(home.pv_w - home.load_w)  # self-consumption
    assert await device.set_battery_power(0.0) == 0.0  # the same raw value, another register
    assert device.stats.writes == 2
    assert not home.grid_mode
    clock.t_s += 300.0
    await device.read()
    assert home.battery_w == 0.0


async def test_without_the_register_there_is_no_grid_control(
    emulated: EmulatedHomeSpec, make_device: MakeDevice
) -> None:
    data = builtin_profile("peerwatt-sim-home").model_dump()
    data["registers"] = [r for r in data["registers"] if r["meaning"] != "grid_setpoint_w"]
    device = make_device(emulated, profile=Profile.model_validate(data))
    assert not device.controls_grid
    with pytest.raises(DeviceConfigError, match="no writable grid_setpoint_w"):
        await device.set_grid_power(0.0)
    assert not make_device(emulated, read_only=True).controls_grid
