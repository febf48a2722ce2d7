"""What every simulated-home server shares: the home, the listener, start/stop, and the
request prologue (faults, then advance the home to now) before the subclass reads or
writes its own register image."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from pymodbus.constants import ExcCodes
from pymodbus.simulator import SimData, SimDevice

from firmware_bridge.emulator.home import EmulatedHome
from firmware_bridge.emulator.spec import EmulatedHomeSpec, listen, no_such_unit, shared_faults

log = structlog.get_logger(__name__)

SimBlocks = tuple[list[SimData], list[SimData], list[SimData], list[SimData]]


class EmulatorServer:
    def __init__(self, spec: EmulatedHomeSpec, host: str, now_s: Callable[[], float]) -> None:
        if not 1 <= spec.unit <= 247:
            raise ValueError(f"{spec.name}: unit must be 1..247, got {spec.unit}")
        self.spec = spec
        self.host = host
        self._now_s = now_s
        self.home = EmulatedHome(spec.params, spec.seed, start_s=now_s(),
                                 setpoint_timeout_s=spec.setpoint_timeout_s)

    def _listen(self, blocks: Callable[[], SimBlocks]) -> None:
        """Build the server (subclasses call this last); every other unit id gets
        "gateway target device failed to respond"."""
        devices = [SimDevice(id=self.spec.unit, simdata=blocks(), action=self._action),
                   SimDevice(id=0, simdata=blocks(), action=no_such_unit)]
        self.spec.home = self.home
        self.server = listen(devices, self.host, self.spec)

    def _serving_info(self) -> dict[str, Any]:
        raise NotImplementedError

    async def start(self) -> None:
        try:
            await self.server.serve_forever(background=True)
        except RuntimeError as exc:
            raise OSError(f"{self.spec.name}: cannot listen on {self.spec.where}") from exc
        log.info("sim_home_serving", home=self.spec.name, host=self.host, port=self.spec.where,
                 unit=self.spec.unit, seed=self.spec.seed, **self._serving_info())

    async def stop(self) -> None:
        await self.server.shutdown()  # type: ignore[no-untyped-call]

    async def _action(
        self, function_code: int, start: int, address: int, count: int,
        registers: list[int], set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        fault = await shared_faults(self.spec, self.server)
        if fault is not None:
            return fault
        now_s = self._now_s()
        self.home.advance(now_s)
        if set_values is not None:
            return self._on_write(start, address, registers, [int(v) for v in set_values], now_s)
        return self._on_read(function_code, start, address, count, registers)

    def _on_write(self, start: int, address: int, registers: list[int], values: list[int],
                  now_s: float) -> ExcCodes | None:
        raise NotImplementedError

    def _on_read(self, function_code: int, start: int, address: int, count: int,
                 registers: list[int]) -> ExcCodes | None:
        raise NotImplementedError
