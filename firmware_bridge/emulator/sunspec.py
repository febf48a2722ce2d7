"""A pymodbus server presenting a :class:`EmulatedHome` as a SunSpec device: ``SunS`` at
the layout's base (40000), then common, inverter, MPPT, meter, storage and battery models
and the end marker, all holding registers. Any SunSpec client can scan and read it.

Before each read the home is advanced and the requested models are re-encoded; writes to
the storage model's controls (124) drive the home's battery. Faults as for every simulated
home, plus: ``garbage`` serves every scale factor as 10**10, ``frozen`` holds the energy
counters still.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from pymodbus.constants import ExcCodes
from pymodbus.simulator import DataType, SimData

from firmware_bridge.emulator.base import EmulatorServer, SimBlocks
from firmware_bridge.emulator.spec import EmulatedHomeSpec
from firmware_bridge.emulator.sunspec_image import (
    Placed,
    SimState,
    encode_model,
    end_words,
    header_words,
    image_length,
    place,
)
from firmware_bridge.sunspec_codec import decode_model
from firmware_bridge.sunspec_map import setpoint_w

log = structlog.get_logger(__name__)


class SunSpecHomeServer(EmulatorServer):
    def __init__(self, spec: EmulatedHomeSpec, host: str, now_s: Callable[[], float]) -> None:
        super().__init__(spec, host, now_s)
        self.state = SimState(unit=spec.unit, seed=spec.seed)
        self.base = spec.layout.base
        self.placed = place(spec.layout)
        self.image = self._build()
        self._listen(self._simdata)

    def _serving_info(self) -> dict[str, Any]:
        return {"profile": "sunspec", "models": [p.model.id for p in self.placed]}

    def _simdata(self) -> SimBlocks:
        bits = [SimData(0, values=False, datatype=DataType.BITS)]
        holding = [SimData(self.base, values=list(self.image), datatype=DataType.REGISTERS)]
        return (bits, list(bits), holding, [SimData(0, datatype=DataType.INVALID)])

    def _build(self) -> list[int]:
        words = header_words()
        for p in self.placed:
            words += encode_model(p, self.home, self.state)
        words += end_words()
        assert len(words) == image_length(self.placed, self.base)
        return words

    def _on_read(self, function_code: int, start: int, address: int, count: int,
                 registers: list[int]) -> ExcCodes | None:
        self._refresh_state()
        for p in self.placed:
            if p.address < address + count and address < p.end:
                words = encode_model(p, self.home, self.state)
                registers[p.address - start : p.end - start] = words
        return None

    def _refresh_state(self) -> None:
        self.state.garbage = self.spec.garbage
        if not self.spec.frozen:
            self.state.frozen_wh = None
        elif self.state.frozen_wh is None:
            h = self.home
            self.state.frozen_wh = {"import": h.import_wh, "export": h.export_wh, "pv": h.pv_wh}

    def _on_write(
        self, start: int, address: int, registers: list[int], values: list[int], now_s: float
    ) -> ExcCodes | None:
        storage = next((p for p in self.placed if p.model.id == 124), None)
        if storage is None or not self._writable(storage, address, len(values)):
            return ExcCodes.ILLEGAL_ADDRESS
        after = list(registers)
        after[address - start : address - start + len(values)] = values
        decoded = decode_model(storage.model, storage.address,
                               after[storage.address - start : storage.end - start])
        for point in storage.model.fixed.points:
            if point.writable:
                self.state.controls[point.name] = decoded.get(point.name)
        target_w = setpoint_w(decoded)
        if target_w is None:
            self.home.setpoint_at_s = None  # back to local (self-consumption) control
        else:
            self.home.write_setpoint(target_w, now_s)
        log.debug("sim_storage_written", home=self.spec.name, setpoint_w=target_w)
        return None

    @staticmethod
    def _writable(p: Placed, address: int, count: int) -> bool:
        """Every written register belongs to a writable point of the storage model."""
        offsets = range(address - p.address, address - p.address + count)
        writable = {pt.offset + i for pt in p.model.fixed.points if pt.writable
                    for i in range(pt.size)}
        return all(o in writable for o in offsets)
