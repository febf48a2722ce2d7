"""Pymodbus servers presenting :class:`EmulatedHome`s through a register profile (or the
SunSpec map, :mod:`firmware_bridge.emulator.sunspec`).

One server per home (TCP, or RTU on a serial line), all in one event loop. Before every request the
home is advanced to ``now_s()`` and the registers of the requested block are re-encoded
from it; a write to the setpoint register is applied to the home. Faults can be switched
on the :class:`EmulatedHomeSpec` while serving (in-process tests): ``delay_s`` answers late,
``drop`` closes connections, ``garbage`` serves out-of-range values, ``frozen`` stops the
energy counters.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData

from firmware_bridge.codec import clamp_raw, decode, encode, raw_range
from firmware_bridge.emulator.base import EmulatorServer, SimBlocks
from firmware_bridge.emulator.spec import SUNSPEC, EmulatedHomeSpec
from firmware_bridge.emulator.sunspec import SunSpecHomeServer
from firmware_bridge.errors import ProfileError
from firmware_bridge.profile import Profile, RegisterKind, RegisterSpec, builtin_profile
from firmware_bridge.sanity import COUNTER_MEANINGS

__all__ = ["EmulatedHomeSpec", "HomeServer", "serve_homes"]

log = structlog.get_logger(__name__)

_READ_FCS: dict[int, RegisterKind] = {3: "holding", 4: "input"}


class HomeServer(EmulatorServer):
    def __init__(self, spec: EmulatedHomeSpec, host: str, now_s: Callable[[], float]) -> None:
        super().__init__(spec, host, now_s)
        self.profile = (
            builtin_profile(spec.profile) if isinstance(spec.profile, str) else spec.profile
        )
        missing = {r.meaning for r in self.profile.registers} - set(self.home.values())
        if missing:
            raise ProfileError(f"profile {self.profile.name!r}: the home has no {sorted(missing)}")
        self._frozen: dict[str, float] | None = None
        self._listen(lambda: _simdata(self.profile))

    def _serving_info(self) -> dict[str, Any]:
        return {"profile": self.profile.name}

    def _on_read(self, function_code: int, start: int, address: int, count: int,
                 registers: list[int]) -> ExcCodes | None:
        self._refresh(_READ_FCS.get(function_code, "holding"), start, registers)
        return None

    def _on_write(
        self, start: int, address: int, registers: list[int], values: list[int], now_s: float
    ) -> ExcCodes | None:
        self._apply_write(start, address, registers, values, now_s)
        return None

    def _apply_write(
        self, start: int, address: int, registers: list[int], values: list[int], now_s: float
    ) -> None:
        after = list(registers)
        after[address - start : address - start + len(values)] = values
        for reg in self.profile.registers:
            if reg.writable and reg.address < address + len(values) and address < reg.end:
                words = after[reg.address - start : reg.end - start]
                value = decode(words, reg.type, reg.word_order) * reg.scale
                if reg.meaning == "battery_setpoint_w":
                    self.home.write_setpoint(value, now_s)
                elif reg.meaning == "grid_setpoint_w":
                    self.home.write_grid_setpoint(value, now_s)
                log.debug("sim_register_written", home=self.spec.name, meaning=reg.meaning,
                          value=value)

    def _refresh(self, kind: RegisterKind, start: int, registers: list[int]) -> None:
        values = self.home.values()
        if not self.spec.frozen:
            self._frozen = None
        elif self._frozen is None:
            self._frozen = {m: values[m] for m in COUNTER_MEANINGS if m in values}
        for reg in self.profile.registers:
            if reg.kind == kind:
                raw = self._raw(reg, values)
                registers[reg.address - start : reg.end - start] = encode(
                    raw, reg.type, reg.word_order
                )

    def _raw(self, reg: RegisterSpec, values: dict[str, float]) -> float:
        if self.spec.garbage and not reg.writable:
            return raw_range(reg.type)[1]
        value = values[reg.meaning]
        if self._frozen is not None and reg.meaning in self._frozen:
            value = self._frozen[reg.meaning]
        return clamp_raw(value / reg.scale, reg.type)


def _simdata(profile: Profile) -> SimBlocks:
    """(coils, discrete inputs, holding, input) blocks; gaps between registers are invalid."""

    def regs(kind: RegisterKind) -> list[SimData]:
        blocks = [
            SimData(r.address, values=[0] * r.width, datatype=DataType.REGISTERS,
                    readonly=not r.writable)
            for r in profile.registers if r.kind == kind
        ]
        return blocks or [SimData(0, datatype=DataType.INVALID)]

    bits = [SimData(0, values=False, datatype=DataType.BITS)]
    return (bits, list(bits), regs("holding"), regs("input"))


async def serve_homes(
    homes: list[EmulatedHomeSpec], *, host: str = "127.0.0.1", now_s: Callable[[], float],
    ready: asyncio.Event | None = None,
) -> None:
    """Serve every home on its own port until cancelled; set ``ready`` once all listen."""
    servers = [
        SunSpecHomeServer(spec, host, now_s) if spec.profile == SUNSPEC
        else HomeServer(spec, host, now_s) for spec in homes
    ]
    try:
        for server in servers:
            await server.start()
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        for server in servers:
            await server.stop()
