"""Register types and their encoding: 16-bit words <-> raw numbers.

Words are big-endian on the wire (Modbus); ``word_order`` says which word of a 32/64-bit
value comes first: ``big`` = most significant word first (the Modbus default),
``little`` = least significant word first ("word swapped").
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Literal

RegisterType = Literal["u16", "s16", "u32", "s32", "f32", "u64"]
WordOrder = Literal["big", "little"]

WIDTH: dict[str, int] = {"u16": 1, "s16": 1, "u32": 2, "s32": 2, "f32": 2, "u64": 4}
_STRUCT: dict[str, str] = {
    "u16": ">H", "s16": ">h", "u32": ">I", "s32": ">i", "f32": ">f", "u64": ">Q",
}
_INT_RANGE: dict[str, tuple[int, int]] = {
    "u16": (0, 2**16 - 1),
    "s16": (-(2**15), 2**15 - 1),
    "u32": (0, 2**32 - 1),
    "s32": (-(2**31), 2**31 - 1),
    "u64": (0, 2**64 - 1),
}


def decode(words: Sequence[int], type_: RegisterType, word_order: WordOrder) -> float:
    """Turn ``WIDTH[type_]`` words into the raw number they hold."""
    if len(words) != WIDTH[type_]:
        raise ValueError(f"{type_} needs {WIDTH[type_]} words, got {len(words)}")
    ordered = list(words) if word_order == "big" else list(reversed(words))
    data = b"".join(int(w).to_bytes(2, "big") for w in ordered)
    value: float = struct.unpack(_STRUCT[type_], data)[0]
    return value


def encode(raw: float, type_: RegisterType, word_order: WordOrder) -> list[int]:
    """Turn a raw number into words; integer types truncate and saturate at their range."""
    value: float | int
    if type_ == "f32":
        value = float(raw)
    else:
        low, high = _INT_RANGE[type_]
        value = min(high, max(low, int(raw)))
    data = struct.pack(_STRUCT[type_], value)
    words = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    return words if word_order == "big" else list(reversed(words))


def raw_range(type_: RegisterType) -> tuple[float, float]:
    """The smallest and largest raw value a type holds."""
    if type_ == "f32":
        return (-3.4e38, 3.4e38)
    low, high = _INT_RANGE[type_]
    return (float(low), float(high))


def clamp_raw(raw: float, type_: RegisterType) -> float:
    """Round (integer types) and clamp a raw value into the type's range."""
    low, high = raw_range(type_)
    if type_ == "f32":
        return min(high, max(low, raw))
    if not math.isfinite(raw):
        return low if raw < 0 else high
    return float(min(int(high), max(int(low), round(raw))))
