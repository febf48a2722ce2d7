"""From decoded SunSpec models to peerwatt meanings, and the storage (124) set-point.

Signs follow :data:`firmware_bridge.measurement.MEANINGS`: grid + import, battery + charge.

- meter 201–204 / 211–214: ``W`` → grid power (SunSpec meters: + = import),
  ``TotWhImp``/``TotWhExp`` → the energy counters;
- inverter 101–103 / 111–113: ``W`` → PV power; without an inverter model, the sum of
  the MPPT (160) modules' ``DCW``;
- battery 802: ``SoC``, and ``W`` → battery power (SunSpec battery: + = discharge, so the
  sign flips); else 713 ``SoC`` and 714 ``DCW`` (+ = injection, i.e. discharge);
- storage 124: ``ChaState`` → SoC when no battery model says it; the set-point below.

Storage control (124): ``StorCtl_Mod`` = charge and discharge limits active (bits 0 and 1);
charging at P is ``InWRte = +P`` and ``OutWRte = -P`` (a negative discharge limit forces
charge), discharging at P is the mirror image; both rates are percent of ``WChaMax``, with
``InOutWRte_SF``. ``InOutWRte_RvrtTms`` makes the device revert to local control if no
write refreshes the set-point in time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from firmware_bridge.sunspec_codec import ModelValues
from firmware_bridge.sunspec_defs import INVERTER_MODELS, METER_MODELS

STORCTL_BOTH = 0b11  # bit 0: charge limit, bit 1: discharge limit (model 124 symbols)

# Physical ranges for SunSpec readings (profiles carry their own min/max).
RANGES: dict[str, tuple[float, float]] = {
    "grid_power_w": (-100_000.0, 100_000.0),
    "pv_power_w": (0.0, 100_000.0),
    "battery_power_w": (-50_000.0, 50_000.0),
    "battery_soc_pct": (0.0, 100.0),
    "battery_setpoint_w": (-50_000.0, 50_000.0),
    "import_energy_wh": (0.0, 1e12),
    "export_energy_wh": (0.0, 1e12),
}


@dataclass(frozen=True, slots=True)
class Reading:
    meaning: str
    value: float
    address: int  # the model's ID register: where it came from


def _first(models: list[ModelValues], ids: frozenset[int] | set[int]) -> ModelValues | None:
    return next((m for m in models if m.model.id in ids), None)


def meanings(models: list[ModelValues]) -> list[Reading]:
    """Every meaning the decoded models give (points not implemented are left out)."""
    out: list[Reading] = []

    def put(meaning: str, model: ModelValues | None, value: float | None) -> None:
        if model is not None and value is not None and meaning not in {r.meaning for r in out}:
            out.append(Reading(meaning, value, model.address))

    meter = _first(models, METER_MODELS)
    if meter is not None:
        put("grid_power_w", meter, meter.number("W"))
        put("import_energy_wh", meter, meter.number("TotWhImp"))
        put("export_energy_wh", meter, meter.number("TotWhExp"))
    inverter = _first(models, INVERTER_MODELS)
    if inverter is not None:
        put("pv_power_w", inverter, inverter.number("W"))
    mppt = _first(models, {160})
    if mppt is not None and mppt.repeats:
        dcw = [r.get("DCW") for r in mppt.repeats]
        numbers = [float(v) for v in dcw if isinstance(v, int | float)]
        put("pv_power_w", mppt, sum(numbers) if numbers else None)
    battery = _first(models, {802})
    if battery is not None:
        put("battery_soc_pct", battery, battery.number("SoC"))
        w = battery.number("W")
        put("battery_power_w", battery, None if w is None else 0.0 - w)
    capacity, dc = _first(models, {713}), _first(models, {714})
    if capacity is not None:
        put("battery_soc_pct", capacity, capacity.number("SoC"))
    if dc is not None:
        w = dc.number("DCW")
        put("battery_power_w", dc, None if w is None else 0.0 - w)
    storage = _first(models, {124})
    if storage is not None:
        put("battery_soc_pct", storage, storage.number("ChaState"))
        put("battery_setpoint_w", storage, setpoint_w(storage))
    return out


def setpoint_w(storage: ModelValues) -> float | None:
    """The set-point the 124 controls hold, or None when the device is under local control."""
    mode, w_max = storage.get("StorCtl_Mod"), storage.number("WChaMax")
    rate_in, rate_out = storage.number("InWRte"), storage.number("OutWRte")
    if not isinstance(mode, int) or mode & STORCTL_BOTH != STORCTL_BOTH:
        return None
    if w_max is None or rate_in is None or rate_out is None:
        return None
    return (rate_in - rate_out) / 2.0 / 100.0 * w_max


@dataclass(frozen=True, slots=True)
class StoragePlan:
    """What to write to model 124 for one set-point."""

    power_w: float  # what the device will hold, after clamping and rounding
    in_pct: float
    out_pct: float


def plan_setpoint(
    storage: ModelValues, power_w: float, max_charge_w: float, max_discharge_w: float
) -> StoragePlan:
    """Clamp ``power_w`` into the limits and the device's ``WChaMax``; round to the rate's
    resolution (``InOutWRte_SF``). Raises ValueError when the device cannot be controlled."""
    w_max = storage.number("WChaMax")
    if w_max is None or w_max < 0:
        raise ValueError("storage model 124 has no usable WChaMax")
    if w_max == 0:  # no battery power to give: hold
        return StoragePlan(0.0, in_pct=0.0, out_pct=0.0)
    sf = storage.get("InOutWRte_SF")
    exponent = sf if isinstance(sf, int) else 0
    clamped_w = min(max_charge_w, w_max, max(-max_discharge_w, -w_max, power_w))
    step_pct = 10.0**exponent
    pct = math.trunc(clamped_w / w_max * 100.0 / step_pct) * step_pct  # never past a limit
    pct = max(-100.0, min(100.0, pct))
    if not math.isfinite(pct):
        raise ValueError(f"set-point {power_w} W gives no finite rate")
    return StoragePlan(pct / 100.0 * w_max, in_pct=pct, out_pct=-pct)
