"""SunSpec model definitions, as shipped by pysunspec2 (``sunspec2/models/json``).

Nothing here retypes a register map: :func:`model_def` reads pysunspec2's JSON through
``importlib.resources`` and lays its points out as offsets from the model's start (the
``ID`` register is offset 0, ``L`` offset 1). A model has one fixed group and at most one
repeating group (e.g. the MPPT modules of 160, the DC ports of 714), which repeats until the
model's length ``L`` is used up.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from firmware_bridge.errors import DeviceConfigError

# Models this package maps to meanings (see sunspec_map); any shipped model decodes.
INVERTER_MODELS = frozenset({101, 102, 103, 111, 112, 113})
METER_MODELS = frozenset({201, 202, 203, 204, 211, 212, 213, 214})
SUPPORTED_MODELS = (
    frozenset({1, 120, 121, 122, 123, 124, 160, 802, 713, 714}) | INVERTER_MODELS | METER_MODELS
)


@dataclass(frozen=True, slots=True)
class PointDef:
    name: str
    type: str  # SunSpec type: int16, uint16, acc32, float32, sunssf, string, enum16, ...
    size: int  # registers
    offset: int  # from the start of its group (fixed group: from the model's ID register)
    sf: str | int | None  # a scale-factor point's name, a constant exponent, or none
    units: str
    writable: bool
    mandatory: bool


@dataclass(frozen=True, slots=True)
class GroupDef:
    name: str
    points: tuple[PointDef, ...]
    length: int  # registers

    def point(self, name: str) -> PointDef | None:
        return next((p for p in self.points if p.name == name), None)


@dataclass(frozen=True, slots=True)
class ModelDef:
    id: int
    name: str
    label: str
    fixed: GroupDef  # includes ID and L
    repeating: GroupDef | None

    @property
    def fixed_length(self) -> int:
        """``L`` of the model without repeats (the fixed group less ID and L)."""
        return self.fixed.length - 2

    def length(self, repeats: int = 0) -> int:
        """``L`` with ``repeats`` repeating blocks."""
        extra = self.repeating.length * repeats if self.repeating else 0
        return self.fixed_length + extra

    def repeats(self, model_length: int) -> int:
        """How many repeating blocks a model of length ``L`` holds."""
        if self.repeating is None or self.repeating.length == 0:
            return 0
        return max(0, (model_length - self.fixed_length) // self.repeating.length)


def _group(raw: dict[str, Any]) -> GroupDef:
    points: list[PointDef] = []
    offset = 0
    for p in raw.get("points", []):
        size = int(p.get("size", 1))
        sf = p.get("sf")
        points.append(PointDef(
            name=str(p["name"]), type=str(p["type"]), size=size, offset=offset,
            sf=(int(sf) if isinstance(sf, int) or (isinstance(sf, str) and _is_int(sf))
                else sf),
            units=str(p.get("units", "")), writable=p.get("access", "R") == "RW",
            mandatory=p.get("mandatory", "O") == "M",
        ))
        offset += size
    return GroupDef(str(raw["name"]), tuple(points), offset)


def _is_int(text: str) -> bool:
    return text.lstrip("-").isdigit()


@functools.cache
def model_def(model_id: int) -> ModelDef:
    """The definition pysunspec2 ships for ``model_id``; :class:`DeviceConfigError` if none."""
    path = resources.files("sunspec2.models.json").joinpath(f"model_{model_id}.json")
    try:
        raw: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise DeviceConfigError(f"no SunSpec model definition for model {model_id}") from exc
    group = raw["group"]
    subgroups = group.get("groups", [])
    if len(subgroups) > 1:
        raise DeviceConfigError(f"SunSpec model {model_id}: nested groups are not supported")
    return ModelDef(
        id=int(raw["id"]), name=str(group["name"]), label=str(group.get("label", "")),
        fixed=_group(group), repeating=_group(subgroups[0]) if subgroups else None,
    )


def has_model_def(model_id: int) -> bool:
    try:
        model_def(model_id)
    except DeviceConfigError:
        return False
    return True
