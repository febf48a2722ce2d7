"""Faults injected into a real emulator: timeouts, drops, garbage, counters going backwards."""

from __future__ import annotations

import asyncio
import re

import pytest
from fb_helpers import FakeClock, MakeDevice, free_port

from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable

pytestmark = pytest.mark.integration  # real pymodbus servers on localhost


async def test_timeout_message_health_and_recovery(emulated: EmulatedHomeSpec,
                                                   make_device: MakeDevice) -> None:
    device = make_device(emulated, timeout_s=0.2, retries=2)
    await device.read()
    # On a loaded machine even this healthy read can miss 0.2 s once and succeed on retry:
    # count the timeouts of the failing read only.
    before = device.stats.timeouts
    emulated.delay_s = 1.0
    with pytest.raises(DeviceUnavailable) as info:
        await device.read()
    assert re.fullmatch(
        rf"home@127\.0\.0\.1:{emulated.port}/1: no response within 0\.2 s reading 17 input "
        r"registers at 0 \(3 attempts\)", str(info.value),
    ), str(info.value)
    assert device.health == "degraded"
    assert device.stats.timeouts - before == 3
    assert device.stats.reads_failed == 1
    for _ in range(2):
        with pytest.raises(DeviceUnavailable):
            await device.read()
    assert device.health == "down"
    assert device.stats.consecutive_failures == 3
    emulated.delay_s = 0.0
    readings = await device.read()
    assert len(readings) == 9
    assert device.health == "ok"
    assert device.stats.reads_ok == 2


async def test_refused_connection(make_device: MakeDevice) -> None:
    nobody = EmulatedHomeSpec("meter", free_port(), unit=1)
    device = make_device(nobody, retries=1)
    with pytest.raises(DeviceUnavailable, match=rf"meter@127\.0\.0\.1:{nobody.port}/1: cannot "
                       r"connect .* reading 17 input registers at 0 \(2 attempts\)"):
        await device.read()
    assert device.health == "degraded"


async def test_dropped_connection_fails_then_recovers(emulated: EmulatedHomeSpec,
                                                      make_device: MakeDevice) -> None:
    device = make_device(emulated, retries=1)
    await device.read()
    emulated.drop = True
    with pytest.raises(DeviceUnavailable):
        await device.read()
    assert device.health == "degraded"
    emulated.drop = False
    assert len(await device.read()) == 9
    assert device.health == "ok"


async def test_reconnects_within_one_read_when_the_drop_clears(
    emulated: EmulatedHomeSpec, make_device: MakeDevice
) -> None:
    device = make_device(emulated, retries=6, timeout_s=0.2)
    await device.read()
    emulated.drop = True
    asyncio.get_running_loop().call_later(0.3, setattr, emulated, "drop", False)
    assert len(await device.read()) == 9
    assert device.health == "ok"
    assert device.stats.reads_failed == 0


async def test_wrong_unit_is_transient_gateway_error(emulated: EmulatedHomeSpec,
                                                     make_device: MakeDevice) -> None:
    other = EmulatedHomeSpec("home", emulated.port, unit=9)
    device = make_device(other, retries=0)
    with pytest.raises(DeviceUnavailable, match="exception 11"):
        await device.read()


async def test_garbage_values_are_rejected_and_counted(emulated: EmulatedHomeSpec,
                                                       make_device: MakeDevice) -> None:
    device = make_device(emulated)
    emulated.garbage = True
    readings = await device.read()
    assert set(readings) == {"battery_setpoint_w", "grid_setpoint_w"}  # writable: kept
    assert device.stats.rejected_values == 7
    assert device.health == "ok"  # the device answered; its values were implausible
    emulated.garbage = False
    assert len(await device.read()) == 9
    assert device.stats.rejected_values == 7


async def test_counter_going_backwards_is_rejected(emulated: EmulatedHomeSpec, clock: FakeClock,
                                                   make_device: MakeDevice) -> None:
    device = make_device(emulated)
    clock.t_s += 3 * 3600.0  # the battery is full by now: the home exports
    first = await device.read()
    assert emulated.home is not None
    assert emulated.home.export_wh > 100
    emulated.home.export_wh -= 100.0
    second = await device.read()
    assert "export_energy_wh" not in second
    assert "import_energy_wh" in second
    assert device.stats.rejected_values == 1
    clock.t_s += 1800.0  # exports carry the counter past its last accepted value again
    third = await device.read()
    assert third["export_energy_wh"].value > first["export_energy_wh"].value


async def test_counter_reset_is_accepted_after_repeated_readings(
    emulated: EmulatedHomeSpec, clock: FakeClock, make_device: MakeDevice
) -> None:
    device = make_device(emulated)
    clock.t_s += 3 * 3600.0
    await device.read()
    assert emulated.home is not None
    emulated.home.export_wh = 0.0  # a meter swap
    assert "export_energy_wh" not in await device.read()
    assert "export_energy_wh" not in await device.read()
    assert "export_energy_wh" in await device.read()
    assert device.stats.rejected_values == 2


async def test_frozen_counter_is_detected_and_withheld(emulated: EmulatedHomeSpec, clock: FakeClock,
                                                       make_device: MakeDevice) -> None:
    device = make_device(emulated)
    clock.t_s += 3 * 3600.0  # exporting
    emulated.frozen = True
    before = await device.read()
    clock.t_s += 60.0  # ~40 Wh of export: within tolerance, a standing counter is plausible
    assert (await device.read())["export_energy_wh"].value == before["export_energy_wh"].value
    clock.t_s += 1800.0  # the grid power says ~1 kWh left; the counter did not move
    during = await device.read()
    assert "export_energy_wh" not in during  # stale, not passed on as fresh
    assert "import_energy_wh" in during  # no import flowed: standing still is right
    assert during["pv_power_w"].timestamp_s == clock.t_s
    assert device.stats.frozen_counters == 1
    emulated.frozen = False
    after = await device.read()
    assert after["export_energy_wh"].value > before["export_energy_wh"].value
    assert device.stats.frozen_counters == 1


async def test_illegal_address_is_permanent(emulated: EmulatedHomeSpec,
                                            make_device: MakeDevice) -> None:
    from firmware_bridge.profile import Profile

    profile = Profile.model_validate({"name": "wrong", "registers": [
        {"meaning": "pv_power_w", "address": 50, "kind": "input", "type": "u32"}]})
    device = make_device(emulated, profile=profile)
    with pytest.raises(DeviceConfigError, match=r"exception 2 .*reading 2 input registers at 50"):
        await device.read()
