"""SunSpec discovery: find the ``SunS`` marker at the standard base addresses and walk the
model chain (ID, L, ..., then the end marker 0xFFFF). Reads go through a link's ``read``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.profile import MAX_READ_COUNT, RegisterKind

SUNS = [0x5375, 0x6E53]  # "SunS"
BASE_ADDRESSES = (40000, 50000, 0)
END_MODEL_ID = 0xFFFF
MAX_MODELS = 64

Read = Callable[[RegisterKind, int, int], Awaitable[list[int]]]


@dataclass(frozen=True, slots=True)
class ModelLocation:
    id: int
    address: int  # protocol address of the model's ID register
    length: int  # L: registers after ID and L


@dataclass(frozen=True, slots=True)
class SunSpecMap:
    base: int
    models: tuple[ModelLocation, ...]

    def find(self, *ids: int) -> ModelLocation | None:
        """The first model whose id is among ``ids``."""
        return next((m for m in self.models if m.id in ids), None)


async def find_base(read: Read, bases: tuple[int, ...] = BASE_ADDRESSES) -> int:
    for base in bases:
        try:
            if await read("holding", base, 2) == SUNS:
                return base
        except DeviceConfigError:  # illegal address: no map there
            continue
    raise DeviceConfigError(
        f"no SunSpec marker 'SunS' at base address {', '.join(map(str, bases))}"
    )


async def discover(read: Read, bases: tuple[int, ...] = BASE_ADDRESSES) -> SunSpecMap:
    """Locate every model; permanent errors mean "not SunSpec", transient ones propagate."""
    base = await find_base(read, bases)
    address = base + 2
    models: list[ModelLocation] = []
    while len(models) < MAX_MODELS:
        try:
            model_id, length = await read("holding", address, 2)
        except DeviceConfigError:  # some devices give no L after the end marker
            (model_id,) = await read("holding", address, 1)
            length = 0
        if model_id == END_MODEL_ID:
            return SunSpecMap(base, tuple(models))
        models.append(ModelLocation(model_id, address, length))
        address += length + 2
    raise DeviceConfigError(f"SunSpec map at {base}: no end marker after {MAX_MODELS} models")


async def read_model(read: Read, location: ModelLocation) -> list[int]:
    """A model's registers from its ID register on (``L + 2`` words), in spec-sized requests."""
    words: list[int] = []
    total = location.length + 2
    while len(words) < total:
        count = min(MAX_READ_COUNT, total - len(words))
        words += await read("holding", location.address + len(words), count)
    return words
