"""A SunSpec device over Modbus TCP or RTU: discovered on first use, decoded with the model
definitions pysunspec2 ships, controlled through the storage model (124).

Same surface as :class:`ModbusDevice`: ``read()`` → SI :class:`Measurement`s,
``set_battery_power()`` → clamped, written on change, read back; ``health``, ``stats``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from firmware_bridge.control import DEFAULT_CONTROL, ControlConfig
from firmware_bridge.endpoints import Endpoint
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable
from firmware_bridge.freeze import FrozenCounters
from firmware_bridge.health import DeviceStats, Health
from firmware_bridge.measurement import MEANINGS, Measurement
from firmware_bridge.modbus_link import DEFAULT_LINK, LinkConfig, ModbusLink
from firmware_bridge.sanity import SanityFilter
from firmware_bridge.sunspec_codec import ModelValues, decode_model, encode_point
from firmware_bridge.sunspec_defs import INVERTER_MODELS, METER_MODELS, has_model_def, model_def
from firmware_bridge.sunspec_map import RANGES, StoragePlan, meanings, plan_setpoint, setpoint_w
from firmware_bridge.sunspec_scan import ModelLocation, SunSpecMap, discover, read_model

log = structlog.get_logger(__name__)
T = TypeVar("T")

# Models a poll reads; the rest (common, nameplate, settings, ...) only `read_all` does.
POLLED = INVERTER_MODELS | METER_MODELS | {124, 160, 713, 714, 802}


class SunSpecDevice:
    def __init__(self, name: str, endpoint: Endpoint, unit: int, *,
                 link: LinkConfig = DEFAULT_LINK, control: ControlConfig = DEFAULT_CONTROL,
                 now_s: Callable[[], float] = time.time) -> None:
        self.name = name
        self.label = f"{name}@{endpoint}/{unit}"
        self.stats = DeviceStats()
        self.read_only = control.read_only
        self.map: SunSpecMap | None = None
        self._now_s = now_s
        self._dry_run = control.dry_run
        c = control
        self._max_charge_w = math.inf if c.max_charge_w is None else c.max_charge_w
        self._max_discharge_w = math.inf if c.max_discharge_w is None else c.max_discharge_w
        self._setpoint_refresh_s = control.setpoint_refresh_s
        self._revert_s = control.revert_s
        self._sanity = SanityFilter(self.label, self.stats)
        self._frozen = FrozenCounters(self.label, self.stats)
        self._link = ModbusLink(self.label, endpoint, unit, self.stats, link)
        self._last_pct: float | None = None
        self._last_write_s = -math.inf

    @property
    def health(self) -> Health:
        return self.stats.health

    async def discover(self) -> SunSpecMap:
        if self.map is None:
            self.map = await self._io("device_read_failed", discover(self._link.read))
            log.info("sunspec_discovered", device=self.label, base=self.map.base,
                     models=[m.id for m in self.map.models])
        return self.map

    async def read_all(self, polled_only: bool = False) -> list[ModelValues]:
        """Decode every model with a shipped definition (or only those a poll needs)."""
        smap = await self.discover()
        wanted = [m for m in smap.models if has_model_def(m.id)
                  and (not polled_only or m.id in POLLED)]
        return [await self._read_model(loc) for loc in wanted]

    async def read(self) -> dict[str, Measurement]:
        models = await self.read_all(polled_only=True)
        self.stats.reads_ok += 1
        timestamp_s = self._now_s()
        result: dict[str, Measurement] = {}
        for r in meanings(models):
            low, high = RANGES[r.meaning]
            if self._sanity.accept_value(r.meaning, r.value, low, high, r.address):
                result[r.meaning] = Measurement(r.meaning, r.value, MEANINGS[r.meaning],
                                                timestamp_s, f"{self.label}#{r.address}")
        return self._frozen.check(result)

    @property
    def controls_grid(self) -> bool:
        """SunSpec storage (model 124) takes a battery power, not a grid target."""
        return False

    async def set_grid_power(self, power_w: float) -> float:
        raise DeviceConfigError(f"{self.label}: SunSpec model 124 has no grid set-point")

    async def set_battery_power(self, power_w: float) -> float:
        """Ask for ``power_w`` (+ charge, - discharge); return what the device accepted."""
        if not math.isfinite(power_w):
            raise ValueError(f"{self.label}: battery power must be finite, got {power_w}")
        if self.read_only:
            raise DeviceConfigError(f"{self.label}: device is read-only; refusing to write")
        loc = await self._storage_location()
        storage = await self._read_model(loc)
        try:
            plan = plan_setpoint(storage, power_w, self._max_charge_w, self._max_discharge_w)
        except ValueError as exc:
            raise DeviceConfigError(f"{self.label}: {exc}") from None
        now_s = self._now_s()
        fresh = now_s - self._last_write_s < self._setpoint_refresh_s
        if plan.in_pct == self._last_pct and fresh:
            return plan.power_w
        if self._dry_run:
            log.info("battery_setpoint_dry_run", device=self.label, requested_w=power_w,
                     setpoint_w=plan.power_w)
            self._last_pct, self._last_write_s = plan.in_pct, now_s
            return plan.power_w
        return await self._write_and_verify(loc, storage, plan, power_w, now_s)

    async def close(self) -> None:
        await self._link.close()

    async def _storage_location(self) -> ModelLocation:
        loc = (await self.discover()).find(124)
        if loc is None:
            raise DeviceConfigError(f"{self.label}: no SunSpec storage model (124) to control")
        return loc

    async def _write_and_verify(
        self, loc: ModelLocation, storage: ModelValues, plan: StoragePlan, requested_w: float,
        now_s: float,
    ) -> float:
        values = {"OutWRte": plan.out_pct, "InWRte": plan.in_pct, "InOutWRte_WinTms": 0,
                  "InOutWRte_RvrtTms": self._revert_s, "StorCtl_Mod": 3}
        try:
            await self._write_points(loc, storage, values)
            after = await self._read_model(loc)
        except DeviceUnavailable as exc:
            self.stats.writes_failed += 1
            self._last_pct = None
            self._record_failure("battery_setpoint_failed", str(exc))
            raise
        self.stats.writes += 1
        self._last_pct, self._last_write_s = plan.in_pct, now_s
        read_back_w = setpoint_w(after)
        if read_back_w is None or not math.isclose(read_back_w, plan.power_w, abs_tol=1.0):
            log.warning("battery_setpoint_mismatch", device=self.label,
                        written_w=plan.power_w, read_back_w=read_back_w)
            return math.nan if read_back_w is None else read_back_w
        log.debug("battery_setpoint_written", device=self.label, requested_w=requested_w,
                  setpoint_w=read_back_w)
        return read_back_w

    async def _write_points(
        self, loc: ModelLocation, storage: ModelValues, values: dict[str, float]
    ) -> None:
        """Write points of model 124, one request per contiguous run, rates before mode."""
        model = model_def(124)
        run: list[int] = []
        run_start = -1
        for name in ("OutWRte", "InWRte", "InOutWRte_WinTms", "InOutWRte_RvrtTms",
                     "StorCtl_Mod"):
            point = model.fixed.point(name)
            if point is None or not point.writable:
                raise DeviceConfigError(f"{self.label}: model 124 has no writable {name}")
            sf = 0
            if point.sf is not None and isinstance(s := storage.get(str(point.sf)), int):
                sf = s
            words = encode_point(values[name], point, sf)
            if run and point.offset != run_start + len(run):
                await self._link.write(loc.address + run_start, run)
                run = []
            if not run:
                run_start = point.offset
            run += words
        await self._link.write(loc.address + run_start, run)

    async def _read_model(self, loc: ModelLocation) -> ModelValues:
        words = await self._io("device_read_failed", read_model(self._link.read, loc))
        return decode_model(model_def(loc.id), loc.address, words)

    async def _io(self, event: str, work: Awaitable[T]) -> T:
        try:
            result = await work
        except DeviceUnavailable as exc:
            self.stats.reads_failed += 1
            self._record_failure(event, str(exc))
            raise
        self._record_success()
        return result

    def _record_failure(self, event: str, error: str) -> None:
        first = self.stats.failed(error)
        level = log.warning if first else log.debug
        level(event, device=self.label, error=error, health=self.stats.health,
              consecutive_failures=self.stats.consecutive_failures)

    def _record_success(self) -> None:
        failures = self.stats.consecutive_failures
        if self.stats.succeeded():
            log.info("device_recovered", device=self.label, after_failures=failures)
