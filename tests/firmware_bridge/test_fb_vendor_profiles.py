"""Every shipped profile, served by the emulator through that profile and read back by
ModbusDevice: types, word orders, scales and signs decode to the home's values."""

from __future__ import annotations

import pytest
from fb_helpers import FakeClock, MakeDevice, Serve, free_port

from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.profile import builtin_profile, builtin_profile_names

pytestmark = pytest.mark.integration

VENDOR = ["eastron-sdm120", "eastron-sdm630", "huawei-sun2000", "sungrow-sh"]


def test_vendor_profiles_are_shipped_documented_and_read_only() -> None:
    assert set(VENDOR) <= set(builtin_profile_names())
    for name in VENDOR:
        profile = builtin_profile(name)
        assert profile.source, name
        assert profile.read_only, name


@pytest.mark.parametrize("name", builtin_profile_names())
async def test_profile_decodes_the_simulated_home(
    name: str, serve: Serve, clock: FakeClock, make_device: MakeDevice
) -> None:
    (spec,) = await serve(EmulatedHomeSpec(name, free_port(), profile=name, seed=5), now_s=clock)
    clock.t_s += 2 * 3600.0  # PV surplus; both counters non-zero after the morning
    spec_home = spec.home
    assert spec_home is not None
    spec_home.advance(clock.t_s)
    spec_home.import_wh += 1234.5  # a meter that has seen some import
    device = make_device(spec)
    readings = await device.read()
    profile = builtin_profile(name)
    assert set(readings) == {r.meaning for r in profile.registers}
    home = spec_home.values()
    for meaning, reading in readings.items():
        reg = profile.register(meaning)
        assert reg is not None
        tolerance = abs(reg.scale) if reg.type != "f32" else 0.01
        assert reading.value == pytest.approx(home[meaning], abs=tolerance + 1e-6), meaning


async def test_read_only_profile_refuses_writes(
    serve: Serve, clock: FakeClock, make_device: MakeDevice
) -> None:
    spec = EmulatedHomeSpec("meter", free_port(), profile="eastron-sdm630")
    (spec,) = await serve(spec, now_s=clock)
    device = make_device(spec)
    with pytest.raises(DeviceConfigError, match="profile 'eastron-sdm630' is read-only"):
        await device.set_battery_power(100.0)
