"""Register profiles: a device's register map as a TOML data file, validated by pydantic.

A profile lists registers (``meaning`` from :data:`MEANINGS`, protocol ``address`` 0-based,
``kind``, ``type``, ``word_order``, ``scale`` with value_SI = raw * scale, ``writable``,
optional physical ``min``/``max``) plus profile-level write limits. Shipped profiles live
in ``firmware_bridge/profiles/``; one test loads them all.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from firmware_bridge.codec import WIDTH, RegisterType, WordOrder
from firmware_bridge.errors import ProfileError
from firmware_bridge.measurement import MEANINGS

PROFILE_DIR = Path(__file__).parent / "profiles"
MAX_READ_COUNT = 125  # registers per read request allowed by the Modbus spec

RegisterKind = Literal["holding", "input"]


class RegisterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    meaning: str
    address: int = Field(ge=0, le=65535)
    kind: RegisterKind
    type: RegisterType
    word_order: WordOrder = "big"
    scale: float = 1.0
    writable: bool = False
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _check(self) -> RegisterSpec:
        if self.meaning not in MEANINGS:
            raise ValueError(
                f"unknown meaning {self.meaning!r}; known: {', '.join(sorted(MEANINGS))}"
            )
        if self.scale == 0:
            raise ValueError("scale must not be 0")
        if self.address + self.width > 65536:
            raise ValueError(f"address {self.address} + {self.width} words passes 65535")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        if self.writable and self.kind != "holding":
            raise ValueError(f"{self.meaning}: only holding registers can be writable")
        return self

    @property
    def width(self) -> int:
        return WIDTH[self.type]

    @property
    def end(self) -> int:
        """One past the last protocol address this register uses."""
        return self.address + self.width


class Profile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    source: str = ""  # where the register map is documented
    read_only: bool = False
    max_charge_w: float | None = Field(default=None, ge=0)
    max_discharge_w: float | None = Field(default=None, ge=0)
    registers: list[RegisterSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Profile:
        seen: set[str] = set()
        for reg in self.registers:
            if reg.meaning in seen:
                raise ValueError(f"meaning {reg.meaning!r} appears twice")
            seen.add(reg.meaning)
            if self.read_only and reg.writable:
                raise ValueError(f"read_only profile has writable register {reg.meaning!r}")
        for kind in ("holding", "input"):
            regs = sorted((r for r in self.registers if r.kind == kind), key=lambda r: r.address)
            for a, b in itertools.pairwise(regs):
                if b.address < a.end:
                    raise ValueError(
                        f"{kind} registers {a.meaning!r} ({a.address}..{a.end - 1}) and "
                        f"{b.meaning!r} (at {b.address}) overlap"
                    )
        return self

    def register(self, meaning: str) -> RegisterSpec | None:
        return next((r for r in self.registers if r.meaning == meaning), None)

    def blocks(self, max_count: int = MAX_READ_COUNT) -> list[ReadBlock]:
        return plan_blocks(self.registers, max_count)


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """Contiguous registers of one kind, read with one request."""

    kind: RegisterKind
    address: int
    count: int
    registers: tuple[RegisterSpec, ...]


def plan_blocks(registers: list[RegisterSpec], max_count: int = MAX_READ_COUNT) -> list[ReadBlock]:
    """Group registers into as few requests as possible, never reading across a gap."""
    blocks: list[ReadBlock] = []
    for kind in ("input", "holding"):
        current: list[RegisterSpec] = []
        for reg in sorted((r for r in registers if r.kind == kind), key=lambda r: r.address):
            if current and (
                reg.address != current[-1].end or reg.end - current[0].address > max_count
            ):
                blocks.append(_block(current))
                current = []
            current.append(reg)
        if current:
            blocks.append(_block(current))
    return blocks


def _block(regs: list[RegisterSpec]) -> ReadBlock:
    return ReadBlock(regs[0].kind, regs[0].address, regs[-1].end - regs[0].address, tuple(regs))


def load_profile(path: str | Path) -> Profile:
    """Read and validate a profile file; any problem raises :class:`ProfileError`."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data: dict[str, Any] = tomllib.load(f)
    except OSError as exc:
        raise ProfileError(f"profile {path}: cannot read: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {path}: not valid TOML: {exc}") from exc
    data.setdefault("name", path.stem)
    try:
        return Profile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(f"profile {path}: {_describe(exc, data)}") from exc


def builtin_profile(name: str) -> Profile:
    """A profile shipped in ``firmware_bridge/profiles/``, by name (file stem)."""
    path = PROFILE_DIR / f"{name}.toml"
    if not path.is_file():
        known = ", ".join(builtin_profile_names())
        raise ProfileError(f"no built-in profile {name!r}; known: {known}")
    return load_profile(path)


def builtin_profile_names() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def _describe(exc: ValidationError, data: dict[str, Any]) -> str:
    parts = []
    for err in exc.errors():
        loc = _loc(err["loc"], data)
        msg = err["msg"].removeprefix("Value error, ")
        value = err.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
        parts.append(f"{loc}: {msg}{shown}" if loc else f"{msg}{shown}")
    return "; ".join(parts)


def _loc(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """``registers.2.type`` → ``registers[2] (meaning 'pv_power_w').type``."""
    out = ""
    node: Any = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and "meaning" in node:
                out += f" (meaning {node['meaning']!r})"
        else:
            out += f".{part}" if out else part
            node = node.get(part) if isinstance(node, dict) else None
    return out
