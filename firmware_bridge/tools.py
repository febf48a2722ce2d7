"""Installer tools: ``scan`` (what answers at this address: SunSpec models, or which built-in
profiles fit) and ``read`` (one reading of every configured device), as tables or JSON."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from firmware_bridge.control import ControlConfig
from firmware_bridge.device import ModbusDevice
from firmware_bridge.endpoints import Endpoint
from firmware_bridge.errors import DeviceConfigError, DeviceError
from firmware_bridge.factory import DeviceConfig, open_device
from firmware_bridge.modbus_link import LinkConfig
from firmware_bridge.profile import builtin_profile, builtin_profile_names
from firmware_bridge.sunspec_device import SunSpecDevice
from firmware_bridge.sunspec_map import meanings


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=False)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=False)).rstrip()
             for row in [header, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


async def scan_sunspec(endpoint: Endpoint, unit: int, timeout_s: float) -> str | None:
    """A table of the SunSpec models found, or None when there is no SunSpec map."""
    device = SunSpecDevice("scan", endpoint, unit, link=LinkConfig(timeout_s, retries=1),
                           control=ControlConfig(read_only=True))
    try:
        models = await device.read_all()
    except DeviceConfigError:
        return None
    finally:
        await device.close()
    assert device.map is not None
    rows = [[str(m.model.id), m.model.name, str(m.address), str(m.length),
             _summary(m.fixed)] for m in models]
    found = "\n".join(f"  {r.meaning} = {_fmt(r.value)}" for r in meanings(models))
    head = f"SunSpec map at {device.map.base}, {len(models)} models\n"
    return head + table(["model", "name", "address", "L", "points"], rows) + \
        f"\nreadings:\n{found}"


def _summary(values: dict[str, Any]) -> str:
    shown = [(k, v) for k, v in values.items() if k not in ("ID", "L") and v is not None]
    text = ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}" for k, v in shown[:6])
    return text + (", ..." if len(shown) > 6 else "")


async def scan_profiles(endpoint: Endpoint, unit: int, timeout_s: float) -> str:
    """Which built-in profiles read completely and plausibly at this address."""
    rows: list[list[str]] = []
    for name in builtin_profile_names():
        profile = builtin_profile(name)
        device = ModbusDevice("scan", endpoint, unit, profile,
                              link=LinkConfig(timeout_s, retries=0),
                              control=ControlConfig(read_only=True))
        try:
            readings = await device.read()
        except DeviceError as exc:
            rows.append([name, "no", str(exc).split(": ", 1)[-1]])
            continue
        finally:
            await device.close()
        fits = len(readings) == len(profile.registers)
        values = ", ".join(f"{m}={_fmt(r.value)}" for m, r in readings.items())
        rows.append([name, "yes" if fits else "partly", values])
    return table(["profile", "fits", "values"], rows)


def load_devices(path: Path) -> list[DeviceConfig]:
    """``[device]`` (an agent config) or ``[[devices]]`` (a list) from a TOML file."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DeviceConfigError(f"{path}: {exc}") from exc
    entries: list[Any] = list(data.get("devices", []))
    if isinstance(data.get("device"), dict):
        entries.insert(0, data["device"])
    if not entries:
        raise DeviceConfigError(f"{path}: no [device] or [[devices]] section")
    try:
        return [DeviceConfig.model_validate(e) for e in entries]
    except ValidationError as exc:
        raise DeviceConfigError(f"{path}: {exc}") from exc


async def read_devices(configs: list[DeviceConfig]) -> dict[str, Any]:
    """One reading of each device: {name: {health, readings | error}}."""
    out: dict[str, Any] = {}
    for config in configs:
        device = open_device(config)
        entry: dict[str, Any] = {"label": device.label}
        try:
            readings = await device.read()
            entry["readings"] = {
                m: {"value": r.value, "unit": r.unit, "timestamp_s": r.timestamp_s,
                    "source": r.source} for m, r in readings.items()
            }
        except DeviceError as exc:
            entry["error"] = str(exc)
        finally:
            await device.close()
        entry["health"] = device.health
        entry["rejected_values"] = device.stats.rejected_values
        out[config.name] = entry
    return out


def render_readings(result: dict[str, Any], as_json: bool) -> str:
    if as_json:
        return json.dumps(result, indent=2, sort_keys=True)
    rows: list[list[str]] = []
    for name, entry in result.items():
        if "error" in entry:
            rows.append([name, "-", "-", "-", f"{entry['health']}: {entry['error']}"])
        for meaning, r in entry.get("readings", {}).items():
            rows.append([name, meaning, _fmt(r["value"]), r["unit"], r["source"]])
    return table(["device", "meaning", "value", "unit", "source"], rows)
