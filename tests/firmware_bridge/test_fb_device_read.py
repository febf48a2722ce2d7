"""Reading the shipped profile from the emulator: every register decodes to the home's value."""

from __future__ import annotations

import math

import pytest
from fb_helpers import START_S, FakeClock, MakeDevice, Serve, free_port

from firmware_bridge.emulator.home import HomeParams
from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.profile import Profile, builtin_profile

pytestmark = pytest.mark.integration  # real pymodbus servers on localhost

PROFILE = builtin_profile("peerwatt-sim-home")


def test_shipped_profile_reads_in_two_requests() -> None:
    blocks = PROFILE.blocks()
    assert [(b.kind, b.address, b.count) for b in blocks] == [("input", 0, 17), ("holding", 100, 4)]


async def test_every_register_decodes(emulated: EmulatedHomeSpec, clock: FakeClock,
                                      make_device: MakeDevice) -> None:
    device = make_device(emulated)
    await device.read()  # establish counter baselines
    clock.t_s += 7200.0  # two simulated hours later: counters and battery have moved
    readings = await device.read()
    assert emulated.home is not None
    expected = emulated.home.values()
    assert set(readings) == {r.meaning for r in PROFILE.registers}
    for reg in PROFILE.registers:
        m = readings[reg.meaning]
        assert math.isclose(m.value, expected[reg.meaning], abs_tol=abs(reg.scale) / 2 + 1e-9), reg
        assert m.timestamp_s == clock.t_s
        assert m.source == f"home@127.0.0.1:{emulated.port}/1#{reg.address}"
    assert expected["export_energy_wh"] > 0  # a sunny spring midday exports
    assert device.health == "ok"
    assert device.stats.reads_ok == 2


async def test_every_type_and_word_order(serve: Serve, clock: FakeClock,
                                         make_device: MakeDevice) -> None:
    """A profile using s16/u16/f32/u32/s32/u64 in both word orders round-trips."""
    regs = [
        ("grid_power_w", 0, "s16", "big", 1.0),
        ("pv_power_w", 1, "f32", "little", 1.0),
        ("load_power_w", 3, "f32", "big", 1.0),
        ("battery_power_w", 5, "s32", "little", 0.1),
        ("battery_soc_pct", 7, "u16", "big", 0.1),
        ("import_energy_wh", 8, "u64", "little", 1.0),
        ("export_energy_wh", 12, "u32", "little", 0.01),
        ("battery_setpoint_w", 20, "s32", "little", 1.0),
    ]
    profile = Profile.model_validate({
        "name": "mixed",
        "registers": [
            {"meaning": m, "address": a, "kind": "holding", "type": t, "word_order": w,
             "scale": s, "writable": m == "battery_setpoint_w"}
            for m, a, t, w, s in regs
        ],
    })
    spec = EmulatedHomeSpec("mixed", free_port(), unit=3, params=HomeParams(), seed=7,
                            profile=profile)
    await serve(spec, now_s=clock)
    device = make_device(spec)
    clock.t_s = START_S + 3 * 3600.0
    readings = await device.read()
    assert spec.home is not None
    expected = spec.home.values()
    for meaning, _, type_, _, scale in regs:
        tol = 1e-3 * abs(expected[meaning]) + 1e-3 if type_ == "f32" else scale / 2 + 1e-9
        assert math.isclose(readings[meaning].value, expected[meaning], abs_tol=tol), meaning
    assert await device.set_battery_power(-1500.0) == -1500.0
    assert spec.home.setpoint_w == -1500.0
