"""Battery set-point through SunSpec storage controls (124): clamping, write on change,
read-back, dry run, read-only refusal, and the simulated battery following it."""

from __future__ import annotations

import pytest
from fb_helpers import FakeClock, MakeSunSpec, Serve, free_port

from firmware_bridge.emulator.home import HomeParams
from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.errors import DeviceConfigError

pytestmark = pytest.mark.integration


def _spec() -> EmulatedHomeSpec:
    params = HomeParams(battery_kwh=10.0, battery_max_w=4000.0, initial_soc_pct=50.0)
    return EmulatedHomeSpec("ss", free_port(), profile="sunspec", params=params, seed=1)


async def test_setpoint_is_written_read_back_and_followed(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec)
    assert await device.set_battery_power(-1500.0) == pytest.approx(-1500.0)
    assert device.stats.writes == 1
    clock.t_s += 600.0
    readings = await device.read()
    assert readings["battery_setpoint_w"].value == pytest.approx(-1500.0)
    assert readings["battery_power_w"].value == pytest.approx(-1500.0, abs=1.0)
    assert spec.home is not None
    assert spec.home.battery.soc_pct < 50.0


@pytest.mark.parametrize(("requested_w", "limits", "accepted_w"), [
    (9000.0, {}, 4000.0),  # device: WChaMax
    (-9000.0, {}, -4000.0),
    (3000.0, {"max_charge_w": 2000.0}, 2000.0),  # config limit
    (-3000.0, {"max_discharge_w": 1000.0}, -1000.0),
    (1234.567, {}, 1234.4),  # rate resolution: 0.01 % of 4000 W = 0.4 W, never past
])
async def test_clamped_to_device_and_config_limits(
    requested_w: float, limits: dict[str, float], accepted_w: float,
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec,
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec, **limits)
    assert await device.set_battery_power(requested_w) == pytest.approx(accepted_w)
    assert spec.home is not None
    assert spec.home.setpoint_w == pytest.approx(accepted_w)


async def test_written_only_on_change_and_refreshed(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec, setpoint_refresh_s=300.0)
    await device.set_battery_power(1000.0)
    await device.set_battery_power(1000.0)
    assert device.stats.writes == 1
    clock.t_s += 301.0
    await device.set_battery_power(1000.0)
    assert device.stats.writes == 2
    await device.set_battery_power(500.0)
    assert device.stats.writes == 3


async def test_dry_run_logs_instead_of_writing(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec, dry_run=True)
    assert await device.set_battery_power(2000.0) == pytest.approx(2000.0)
    assert device.stats.writes == 0
    assert spec.home is not None
    assert spec.home.setpoint_at_s is None
    assert "battery_setpoint_w" not in await device.read()  # still under local control


async def test_read_only_device_refuses(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec, read_only=True)
    with pytest.raises(DeviceConfigError, match="read-only; refusing to write"):
        await device.set_battery_power(100.0)
    assert spec.home is not None
    assert spec.home.setpoint_at_s is None


async def test_writes_outside_the_storage_controls_are_refused_by_the_device(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec)
    smap = await device.discover()
    meter = smap.find(203)
    assert meter is not None
    with pytest.raises(DeviceConfigError, match="exception 2"):
        await device._link.write(meter.address + 2, [1])  # a meter register



async def test_a_home_without_battery_holds_at_zero(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    spec = EmulatedHomeSpec("ss", free_port(), profile="sunspec",
                            params=HomeParams(battery_kwh=0.0, battery_max_w=0.0))
    (spec,) = await serve(spec, now_s=clock)
    device = make_sunspec(spec)
    assert await device.set_battery_power(1500.0) == 0.0  # WChaMax = 0: clamped to nothing
    assert (await device.read())["battery_setpoint_w"].value == 0.0
