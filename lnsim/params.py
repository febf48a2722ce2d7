"""JSON-RPC parameter checking in Core Lightning's manner: by name or by position."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from lnsim.errors import MethodError, bad_param

_MSAT_RE = re.compile(r"^(\d+)(msat|sat)?$|^(\d+\.\d{1,3})sat$|^(\d+(?:\.\d{1,11})?)btc$")


def _token(value: Any) -> str:
    return json.dumps(value)[:80]


class Params:
    """The request's params mapped onto the method's parameter names."""

    def __init__(self, raw: Any, names: Sequence[str]) -> None:
        if raw is None:
            raw = {}
        if isinstance(raw, list):
            if len(raw) > len(names):
                raise MethodError(-32602, f"too many parameters: got {len(raw)}, expected at "
                                 f"most {len(names)}")
            raw = {n: v for n, v in zip(names, raw, strict=False) if v is not None}
        elif not isinstance(raw, dict):
            raise MethodError(-32602, "params must be an object or an array")
        unknown = sorted(set(raw) - set(names))
        if unknown:
            raise MethodError(-32602, f"unknown parameter: {unknown[0]}")
        self._values: dict[str, Any] = {k: v for k, v in raw.items() if v is not None}

    def has(self, name: str) -> bool:
        return name in self._values

    def _get(self, name: str, required: bool) -> Any:
        if name not in self._values:
            if required:
                raise bad_param(name, "missing required parameter")
            return None
        return self._values[name]

    def str_(self, name: str, *, required: bool = False) -> str | None:
        value = self._get(name, required)
        if value is not None and not isinstance(value, str):
            raise bad_param(name, f"should be a string: invalid token {_token(value)}")
        return value

    def label(self, name: str) -> str:
        value = self._get(name, True)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise bad_param(name, f"should be a string or integer: invalid token "
                            f"{_token(value)}")
        return str(value)

    def int_(self, name: str, *, required: bool = False, minimum: int = 0) -> int | None:
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise bad_param(name, f"should be an integer >= {minimum}: invalid token "
                            f"{_token(value)}")
        return value

    def number(self, name: str) -> Decimal | None:
        value = self._get(name, False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise bad_param(name, f"should be a number: invalid token {_token(value)}")
        try:
            number = Decimal(str(value))
        except InvalidOperation as exc:
            raise bad_param(name, f"should be a number: invalid token {_token(value)}") from exc
        if not number.is_finite() or number < 0:
            raise bad_param(name, f"should be a non-negative number: {_token(value)}")
        return number

    def bool_(self, name: str, default: bool) -> bool:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise bad_param(name, f"should be a boolean: invalid token {_token(value)}")
        return value

    def msat(self, name: str, *, required: bool = False, allow_any: bool = False) -> int | None:
        """An amount: integer msat, or a string "123msat", "5sat", "0.001btc" (or "any")."""
        value = self._get(name, required)
        if value is None or (allow_any and value == "any"):
            return None
        msat = parse_msat(value)
        if msat is None:
            raise bad_param(name, f"should be a millisatoshi amount: invalid token "
                            f"{_token(value)}")
        return msat

    def list_(self, name: str) -> list[Any]:
        value = self._get(name, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise bad_param(name, f"should be an array: invalid token {_token(value)}")
        return value


def parse_msat(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    m = _MSAT_RE.match(value)
    if m is None:
        return None
    whole, unit, sat_dec, btc = m.groups()
    if whole is not None:
        return int(whole) * (1000 if unit == "sat" else 1)
    if sat_dec is not None:
        return int(Decimal(sat_dec) * 1000)
    return int(Decimal(btc) * 100_000_000_000)
