"""SunSpec point types <-> registers, "not implemented" sentinels, and scale factors.

``decode_model`` turns one model's registers into a :class:`ModelValues`: every point's
value with its scale factor applied (``value * 10**sf``), or ``None`` where the device
marks the point (or its scale factor) as not implemented. ``encode_point`` is the inverse
for one point (the emulator and the writer use it).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field

from firmware_bridge.sunspec_defs import GroupDef, ModelDef, PointDef

Value = float | int | str | None

# type -> (struct format, "not implemented" raw value); strings and pads are handled apart.
_NUMERIC: dict[str, tuple[str, int | float | None]] = {
    "int16": (">h", -0x8000), "uint16": (">H", 0xFFFF), "count": (">H", 0xFFFF),
    "acc16": (">H", 0), "enum16": (">H", 0xFFFF), "bitfield16": (">H", 0xFFFF),
    "sunssf": (">h", -0x8000), "int32": (">i", -0x80000000), "uint32": (">I", 0xFFFFFFFF),
    "acc32": (">I", 0), "enum32": (">I", 0xFFFFFFFF), "bitfield32": (">I", 0xFFFFFFFF),
    "ipaddr": (">I", 0), "int64": (">q", -0x8000000000000000),
    "uint64": (">Q", 0xFFFFFFFFFFFFFFFF), "acc64": (">Q", 0), "float32": (">f", None),
    "float64": (">d", None),
}


@dataclass(frozen=True, slots=True)
class ModelValues:
    """Decoded values of one model instance at ``address``."""

    model: ModelDef
    address: int
    length: int
    fixed: dict[str, Value]
    repeats: list[dict[str, Value]] = field(default_factory=list)

    def get(self, name: str) -> Value:
        return self.fixed.get(name)

    def number(self, name: str) -> float | None:
        value = self.fixed.get(name)
        return float(value) if isinstance(value, int | float) else None


def _bytes(words: Sequence[int]) -> bytes:
    return b"".join(int(w & 0xFFFF).to_bytes(2, "big") for w in words)


def decode_raw(words: Sequence[int], point: PointDef) -> Value:
    """The raw value of a point (no scale factor), or ``None`` if not implemented."""
    data = _bytes(words)
    if point.type in ("string", "eui48", "ipv6addr"):
        if point.type != "string":
            return data.hex()
        text = data.split(b"\0", 1)[0].decode("ascii", errors="replace").strip()
        return text or None
    if point.type == "pad":
        return None
    fmt, unimpl = _NUMERIC[point.type]
    value: int | float = struct.unpack(fmt, data[: struct.calcsize(fmt)])[0]
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return None if value == unimpl else value


def encode_point(value: Value, point: PointDef, sf: int = 0) -> list[int]:
    """Registers for ``value`` (in SI, scaled down by ``10**sf``); ``None`` = not implemented."""
    if point.type == "string":
        text = ("" if value is None else str(value)).encode("ascii")[: point.size * 2]
        data = text.ljust(point.size * 2, b"\0")
    elif point.type in ("pad", "eui48", "ipv6addr"):
        data = b"\0" * (point.size * 2)
    else:
        fmt, unimpl = _NUMERIC[point.type]
        raw: int | float
        if value is None or isinstance(value, str):
            raw = math.nan if unimpl is None else unimpl
        elif unimpl is None:
            raw = float(value) / 10.0**sf
        else:
            scaled = float(value) / 10.0**sf
            raw = _saturate(round(scaled), fmt) if math.isfinite(scaled) else unimpl
        data = struct.pack(fmt, raw)
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def _saturate(raw: int, fmt: str) -> int:
    bits = struct.calcsize(fmt) * 8
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if fmt.islower() else (0, 2**bits - 1)
    return int(min(high, max(low, raw)))


def _decode_group(
    group: GroupDef, words: Sequence[int], sfs: dict[str, Value] | None = None
) -> dict[str, Value]:
    raw = {p.name: decode_raw(words[p.offset : p.offset + p.size], p) for p in group.points}
    scales = dict(sfs or {}) | {p.name: raw[p.name] for p in group.points if p.type == "sunssf"}
    out: dict[str, Value] = {}
    for p in group.points:
        value = raw[p.name]
        if p.sf is None or p.type == "sunssf" or not isinstance(value, int | float):
            out[p.name] = value
            continue
        exponent = p.sf if isinstance(p.sf, int) else scales.get(p.sf)
        out[p.name] = value * 10.0**exponent if isinstance(exponent, int) else None
    return out


def decode_model(model: ModelDef, address: int, words: Sequence[int]) -> ModelValues:
    """Decode a whole model instance; ``words`` start at its ID register (``L + 2`` words)."""
    length = len(words) - 2
    fixed = _decode_group(model.fixed, words[: model.fixed.length])
    repeats: list[dict[str, Value]] = []
    if model.repeating is not None:
        sfs = {k: v for k, v in fixed.items() if (p := model.fixed.point(k)) and p.type == "sunssf"}
        size = model.repeating.length
        for i in range(model.repeats(length)):
            start = model.fixed.length + i * size
            repeats.append(_decode_group(model.repeating, words[start : start + size], sfs))
    return ModelValues(model, address, length, fixed, repeats)


def scale_exponent(values: ModelValues, point: PointDef) -> int | None:
    """The exponent that applies to ``point`` in this instance (None: not implemented)."""
    if point.sf is None:
        return 0
    if isinstance(point.sf, int):
        return point.sf
    sf_def = values.model.fixed.point(point.sf)
    if sf_def is None:
        return None
    return None if values.fixed.get(point.sf) is None else _raw_sf(values, sf_def)


def _raw_sf(values: ModelValues, sf_def: PointDef) -> int | None:
    value = values.fixed.get(sf_def.name)
    return value if isinstance(value, int) else None
