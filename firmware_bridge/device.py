"""A Modbus device (meter, inverter, battery or a whole home) driven by a register profile.

Reads decode every register of the profile into SI :class:`Measurement`s; writes set the
battery power setpoint, clamped to the profile's and the caller's limits, or, where the
profile has one, a grid exchange target the device holds itself; each is verified by
reading it back. Health and counters are in :attr:`ModbusDevice.stats`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import structlog

from firmware_bridge.codec import clamp_raw, decode, encode
from firmware_bridge.control import DEFAULT_CONTROL, ControlConfig
from firmware_bridge.endpoints import Endpoint
from firmware_bridge.errors import DeviceConfigError, DeviceUnavailable
from firmware_bridge.freeze import FrozenCounters
from firmware_bridge.health import DeviceStats, Health
from firmware_bridge.measurement import MEANINGS, Measurement
from firmware_bridge.modbus_link import DEFAULT_LINK, LinkConfig, ModbusLink
from firmware_bridge.profile import Profile, RegisterSpec
from firmware_bridge.sanity import SanityFilter

log = structlog.get_logger(__name__)

SETPOINT = "battery_setpoint_w"
GRID_SETPOINT = "grid_setpoint_w"


class ModbusDevice:
    def __init__(self, name: str, endpoint: Endpoint, unit: int, profile: Profile, *,
                 link: LinkConfig = DEFAULT_LINK, control: ControlConfig = DEFAULT_CONTROL,
                 now_s: Callable[[], float] = time.time) -> None:
        """`endpoint`: a :class:`TcpEndpoint`, or a :class:`SerialEndpoint` for RTU.
        `control.setpoint_refresh_s`: rewrite an unchanged setpoint after this long (on the
        `now_s` clock), so the device's remote-control timeout does not expire."""
        self.name = name
        self.label = f"{name}@{endpoint}/{unit}"
        self.profile = profile
        self.read_only = control.read_only or profile.read_only
        self.stats = DeviceStats()
        self._now_s = now_s
        self._dry_run = control.dry_run
        self._max_charge_w = _min_limit(profile.max_charge_w, control.max_charge_w)
        self._max_discharge_w = _min_limit(profile.max_discharge_w, control.max_discharge_w)
        self._setpoint_refresh_s = control.setpoint_refresh_s
        self._blocks = profile.blocks()
        self._sanity = SanityFilter(self.label, self.stats)
        self._frozen = FrozenCounters(self.label, self.stats)
        self._link = ModbusLink(self.label, endpoint, unit, self.stats, link)
        self._last: tuple[str, float] | None = None  # the last (register, raw) written
        self._last_write_s = -math.inf

    @property
    def health(self) -> Health:
        return self.stats.health

    async def read(self) -> dict[str, Measurement]:
        """Read every register of the profile; implausible values are left out."""
        try:
            words_per_block = [
                await self._link.read(b.kind, b.address, b.count) for b in self._blocks
            ]
        except DeviceUnavailable as exc:
            self.stats.reads_failed += 1
            self._record_failure("device_read_failed", str(exc))
            raise
        self.stats.reads_ok += 1
        self._record_success()
        timestamp_s = self._now_s()
        result: dict[str, Measurement] = {}
        for block, words in zip(self._blocks, words_per_block, strict=True):
            for reg in block.registers:
                offset = reg.address - block.address
                value = _to_si(reg, words[offset : offset + reg.width])
                if self._sanity.accept(reg, value):
                    result[reg.meaning] = Measurement(
                        reg.meaning, value, MEANINGS[reg.meaning], timestamp_s,
                        f"{self.label}#{reg.address}",
                    )
        return self._frozen.check(result)

    @property
    def controls_grid(self) -> bool:
        """The device holds a grid exchange target itself (`set_grid_power`)."""
        reg = self.profile.register(GRID_SETPOINT)
        return not self.read_only and reg is not None and reg.writable

    async def set_battery_power(self, power_w: float) -> float:
        """Ask for ``power_w`` (+ charge, - discharge); return what the device accepted."""
        return await self._set(SETPOINT, power_w, self._max_discharge_w, self._max_charge_w)

    async def set_grid_power(self, power_w: float) -> float:
        """Ask the device to hold the grid exchange at ``power_w`` (+ import) with its
        battery (0: self-consumption); return the target it accepted. The device's own
        battery limits apply; the caller's charge and discharge limits do not bound a
        grid target."""
        return await self._set(GRID_SETPOINT, power_w, math.inf, math.inf)

    async def _set(self, meaning: str, power_w: float, max_neg_w: float,
                   max_pos_w: float) -> float:
        reg = self._writable(meaning)
        if not math.isfinite(power_w):
            raise ValueError(f"{self.label}: {meaning} must be finite, got {power_w}")
        clamped_w = min(max_pos_w, max(-max_neg_w, power_w))
        if reg.min is not None:
            clamped_w = max(reg.min, clamped_w)
        if reg.max is not None:
            clamped_w = min(reg.max, clamped_w)
        raw = clamp_raw(clamped_w / reg.scale, reg.type)
        accepted_w = raw * reg.scale
        now_s = self._now_s()
        if (meaning, raw) == self._last and now_s - self._last_write_s < self._setpoint_refresh_s:
            return accepted_w
        if self._dry_run:
            log.info("battery_setpoint_dry_run", device=self.label, requested_w=power_w,
                     setpoint_w=accepted_w, register=meaning)
            self._last, self._last_write_s = (meaning, raw), now_s
            return accepted_w
        return await self._write_and_verify(reg, raw, power_w, now_s)

    async def close(self) -> None:
        await self._link.close()

    async def _write_and_verify(
        self, reg: RegisterSpec, raw: float, requested_w: float, now_s: float
    ) -> float:
        try:
            await self._link.write(reg.address, encode(raw, reg.type, reg.word_order))
            words = await self._link.read(reg.kind, reg.address, reg.width)
        except DeviceUnavailable as exc:
            self.stats.writes_failed += 1
            self._last = None
            self._record_failure("battery_setpoint_failed", str(exc))
            raise
        self.stats.writes += 1
        self._record_success()
        self._last, self._last_write_s = (reg.meaning, raw), now_s
        read_back_w = _to_si(reg, words)
        if decode(words, reg.type, reg.word_order) != raw:
            log.warning("battery_setpoint_mismatch", device=self.label,
                        written_w=raw * reg.scale, read_back_w=read_back_w)
        else:
            log.debug("battery_setpoint_written", device=self.label, requested_w=requested_w,
                      setpoint_w=read_back_w, register=reg.meaning)
        return read_back_w

    def _writable(self, meaning: str) -> RegisterSpec:
        if self.read_only:
            why = f"profile {self.profile.name!r}" if self.profile.read_only else "device"
            raise DeviceConfigError(f"{self.label}: {why} is read-only; refusing to write")
        reg = self.profile.register(meaning)
        if reg is None or not reg.writable:
            raise DeviceConfigError(
                f"{self.label}: profile {self.profile.name!r} has no writable {meaning}"
            )
        return reg

    def _record_failure(self, event: str, error: str) -> None:
        first = self.stats.failed(error)
        level = log.warning if first else log.debug
        level(event, device=self.label, error=error, health=self.stats.health,
              consecutive_failures=self.stats.consecutive_failures)

    def _record_success(self) -> None:
        failures = self.stats.consecutive_failures
        if self.stats.succeeded():
            log.info("device_recovered", device=self.label, after_failures=failures)


def _to_si(reg: RegisterSpec, words: list[int]) -> float:
    return decode(words, reg.type, reg.word_order) * reg.scale


def _min_limit(profile_w: float | None, caller_w: float | None) -> float:
    limits = [w for w in (profile_w, caller_w) if w is not None]
    return min(limits) if limits else math.inf
