"""SunSpec over a real pymodbus server: discovery, decoding of every supported model
variant against the simulated home, conformance via pysunspec2's own client, faults."""

from __future__ import annotations

import asyncio

import pytest
import sunspec2.modbus.client as sunspec_client
from fb_helpers import FakeClock, MakeSunSpec, Serve, free_port

from firmware_bridge.emulator.server import EmulatedHomeSpec
from firmware_bridge.emulator.sunspec_image import COUNTER_START_WH, SunSpecLayout
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable

pytestmark = pytest.mark.integration  # real pymodbus servers on localhost

LAYOUTS = [
    SunSpecLayout(101, 201, 802), SunSpecLayout(102, 202, 713), SunSpecLayout(103, 203, 802),
    SunSpecLayout(111, 204, 713), SunSpecLayout(112, 211, 802), SunSpecLayout(113, 212, 802),
    SunSpecLayout(103, 213, 713), SunSpecLayout(113, 214, 802, base=50000),
    SunSpecLayout(103, 203, 802, base=0),
]


def _spec(layout: SunSpecLayout | None = None) -> EmulatedHomeSpec:
    return EmulatedHomeSpec("ss", free_port(), profile="sunspec", seed=7,
                            layout=layout or SunSpecLayout())


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda x: f"{x.inverter}-{x.meter}-{x.battery}"
                         f"@{x.base}")
async def test_every_model_variant_decodes_to_the_home(
    layout: SunSpecLayout, serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(layout), now_s=clock)
    device = make_sunspec(spec)
    clock.t_s += 2 * 3600.0
    readings = await device.read()
    assert device.map is not None
    assert device.map.base == layout.base
    assert [m.id for m in device.map.models] == layout.model_ids()
    assert spec.home is not None
    home = spec.home.values()
    assert readings["grid_power_w"].value == pytest.approx(home["grid_power_w"], abs=1.0)
    assert readings["pv_power_w"].value == pytest.approx(home["pv_power_w"], abs=1.0)
    assert readings["battery_power_w"].value == pytest.approx(home["battery_power_w"], abs=1.0)
    assert readings["battery_soc_pct"].value == pytest.approx(home["battery_soc_pct"], abs=0.1)
    for meaning in ("import_energy_wh", "export_energy_wh"):
        assert readings[meaning].value == pytest.approx(COUNTER_START_WH + home[meaning], abs=1)
    assert all(r.timestamp_s == clock.t_s and r.unit for r in readings.values())
    assert readings["grid_power_w"].source.startswith(f"ss@127.0.0.1:{spec.port}/1#")


async def test_every_model_decodes_including_common_and_mppt(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    models = {m.model.id: m for m in await make_sunspec(spec).read_all()}
    assert models[1].get("Mn") == "peerwatt"
    assert models[1].get("SN") == "PW-000007"
    assert models[1].get("Opt") is None  # not implemented
    assert len(models[160].repeats) == 2
    assert models[160].repeats[0]["IDStr"] == "string 1"
    assert spec.home is not None
    dc_w = sum(float(r["DCW"]) for r in models[160].repeats)  # type: ignore[arg-type]
    assert dc_w == pytest.approx(spec.home.pv_w / 0.97, abs=2.0)
    assert models[203].number("Hz") == pytest.approx(50.0)
    assert models[203].number("VA") is not None
    assert models[802].number("WHRtg") == pytest.approx(spec.home.battery.capacity_wh)
    assert models[124].number("ChaState") == pytest.approx(50.0)


async def test_pysunspec2_client_reads_the_simulator_as_a_device(
    serve: Serve, clock: FakeClock
) -> None:
    (spec,) = await serve(_spec(SunSpecLayout(113, 213, 802)), now_s=clock)

    def scan() -> dict[str, object]:
        dev = sunspec_client.SunSpecModbusClientDeviceTCP(
            slave_id=1, ipaddr="127.0.0.1", ipport=spec.port, timeout=5)
        try:
            dev.scan()
            return {"ids": sorted(k for k in dev.models if isinstance(k, int)),
                    "W": dev.models[213][0].W.cvalue, "Mn": dev.models[1][0].Mn.cvalue,
                    "SoC": dev.models[802][0].SoC.cvalue,
                    "modules": len(dev.models[160][0].module)}
        finally:
            dev.close()

    found = await asyncio.to_thread(scan)
    assert spec.home is not None
    assert found["ids"] == [1, 113, 124, 160, 213, 802]
    assert found["W"] == pytest.approx(spec.home.grid_w, abs=0.01)
    assert found["Mn"] == "peerwatt"
    assert found["SoC"] == pytest.approx(50.0)
    assert found["modules"] == 2


async def test_a_device_without_sunspec_is_a_config_error(
    emulated: EmulatedHomeSpec, make_sunspec: MakeSunSpec
) -> None:
    device = make_sunspec(emulated)
    with pytest.raises(DeviceConfigError, match="no SunSpec marker 'SunS'"):
        await device.read()


async def test_faults_garbage_frozen_timeout(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec, retries=1, timeout_s=0.2)
    clock.t_s += 3 * 3600.0  # exporting
    await device.read()
    spec.garbage = True  # every scale factor 10**10
    garbage = await device.read()
    assert not {"grid_power_w", "pv_power_w", "battery_soc_pct", "import_energy_wh"} & set(garbage)
    assert device.stats.rejected_values >= 5
    spec.garbage = False
    spec.frozen = True
    await device.read()
    clock.t_s += 1800.0
    assert "export_energy_wh" not in await device.read()
    assert device.stats.frozen_counters == 1
    spec.frozen = False
    spec.delay_s = 1.0
    with pytest.raises(DeviceUnavailable, match=r"no response within 0\.2 s"):
        await device.read()
    assert device.health == "degraded"
    spec.delay_s = 0.0
    assert "export_energy_wh" in await device.read()
    assert device.health == "ok"


async def test_dropped_connection_recovers(
    serve: Serve, clock: FakeClock, make_sunspec: MakeSunSpec
) -> None:
    (spec,) = await serve(_spec(), now_s=clock)
    device = make_sunspec(spec, retries=1)
    await device.read()
    spec.drop = True
    with pytest.raises(DeviceUnavailable):
        await device.read()
    spec.drop = False
    assert len(await device.read()) == 6
