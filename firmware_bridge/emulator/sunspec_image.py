"""The register image of a simulated SunSpec home: common (1), inverter (10x/11x), MPPT
(160), meter (20x/21x), storage (124) and battery (802, or 713 + 714), laid out with the
definitions pysunspec2 ships. Pure: home values in, register words out.

Scale factors are fixed per ``*_SF`` point (:data:`SF_EXPONENTS`); energy counters start at
:data:`COUNTER_START_WH`, since an accumulator reading 0 means "not implemented".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from firmware_bridge.emulator.home import EmulatedHome
from firmware_bridge.sunspec_codec import Value, encode_point
from firmware_bridge.sunspec_defs import GroupDef, ModelDef, model_def
from firmware_bridge.sunspec_scan import END_MODEL_ID, SUNS

COUNTER_START_WH = 100_000.0
SF_EXPONENTS: dict[str, int] = {
    "A_SF": -2, "V_SF": -1, "Hz_SF": -2, "PF_SF": -2, "DCA_SF": -2, "DCV_SF": -1,
    "Tmp_SF": -1, "SoC_SF": -1, "ChaState_SF": -1, "InOutWRte_SF": -2, "CellV_SF": -3,
    "Pct_SF": -1, "SoH_SF": -1, "InBatV_SF": -1, "MinRsvPct_SF": -1, "DoD_SF": -1,
}
GARBAGE_EXPONENT = 10  # "garbage": every scale factor served as 10**10
GRID_V, DC_V, BATTERY_V = 230.0, 380.0, 400.0
# 124's writable controls and their values at power-up: local control, no limits.
CONTROLS_AT_START: dict[str, Value] = {
    "StorCtl_Mod": 0, "OutWRte": 100.0, "InWRte": 100.0, "InOutWRte_WinTms": 0,
    "InOutWRte_RvrtTms": 0, "InOutWRte_RmpTms": 0, "WChaGra": 100.0, "WDisChaGra": 100.0,
    "VAChaMax": None, "MinRsvPct": 5.0, "ChaGriSet": 1,
}


@dataclass(frozen=True, slots=True)
class SunSpecLayout:
    inverter: int = 103
    meter: int = 203
    battery: int = 802  # or 713 (then 714 is served too)
    mppt_modules: int = 2
    base: int = 40000

    def model_ids(self) -> list[int]:
        battery = [802] if self.battery == 802 else [713, 714]
        return [1, self.inverter, 160, self.meter, 124, *battery]


@dataclass(slots=True)
class Placed:
    model: ModelDef
    address: int  # of the ID register
    repeats: int

    @property
    def length(self) -> int:
        return self.model.length(self.repeats)

    @property
    def end(self) -> int:
        return self.address + self.length + 2


@dataclass(slots=True)
class SimState:
    """What the simulated device holds besides the home: controls and fault switches."""

    unit: int = 1
    seed: int = 0
    controls: dict[str, Value] = field(default_factory=lambda: dict(CONTROLS_AT_START))
    garbage: bool = False
    frozen_wh: dict[str, float] | None = None  # counters held still while "frozen"


def place(layout: SunSpecLayout) -> list[Placed]:
    address = layout.base + 2
    placed: list[Placed] = []
    for model_id in layout.model_ids():
        repeats = layout.mppt_modules if model_id == 160 else (1 if model_id == 714 else 0)
        placed.append(Placed(model_def(model_id), address, repeats))
        address = placed[-1].end
    return placed


def image_length(placed: list[Placed], base: int) -> int:
    return placed[-1].end + 2 - base


def header_words() -> list[int]:
    return list(SUNS)


def end_words() -> list[int]:
    return [END_MODEL_ID, 0]


def encode_model(p: Placed, home: EmulatedHome, state: SimState) -> list[int]:
    fixed, repeats = _values(p, home, state)
    fixed |= {"ID": p.model.id, "L": p.length}
    words = _encode_group(p.model.fixed, fixed, state)
    if p.model.repeating is not None:
        for values in repeats:
            words += _encode_group(p.model.repeating, values, state)
    return words


def _exponent(sf: str | int | None) -> int:
    if isinstance(sf, int):
        return sf
    return 0 if sf is None else SF_EXPONENTS.get(sf, 0)


def _encode_group(group: GroupDef, values: dict[str, Value], state: SimState) -> list[int]:
    """Values are encoded with the right exponents; ``garbage`` lies only in the SF points."""
    words: list[int] = []
    for point in group.points:
        if point.type == "sunssf":
            sf = GARBAGE_EXPONENT if state.garbage else _exponent(point.name)
            words += encode_point(sf, point)
        else:
            words += encode_point(values.get(point.name), point, _exponent(point.sf))
    return words


def _counters(home: EmulatedHome, state: SimState) -> dict[str, float]:
    now = {"import": home.import_wh, "export": home.export_wh, "pv": home.pv_wh}
    held = state.frozen_wh if state.frozen_wh is not None else now
    return {k: COUNTER_START_WH + v for k, v in held.items()}


def _values(
    p: Placed, home: EmulatedHome, state: SimState
) -> tuple[dict[str, Value], list[dict[str, Value]]]:
    mid, params, battery = p.model.id, home.params, home.battery
    counters = _counters(home, state)
    pv_w, grid_w, batt_w = home.pv_w, home.grid_w, home.battery_w
    dc_w = pv_w / 0.97
    cha_st = 4 if batt_w > 1 else (3 if batt_w < -1 else 6)
    if mid == 1:
        return {"Mn": "peerwatt", "Md": "simhome-sunspec", "Vr": "0.1",
                "SN": f"PW-{state.seed:06d}", "DA": state.unit}, []
    if mid in (101, 102, 103, 111, 112, 113):
        phases = {101: 1, 111: 1, 102: 2, 112: 2}.get(mid, 3)
        amps = pv_w / GRID_V / phases
        per_phase = {f"Aph{x}": amps for x in "ABC"[:phases]}
        volts = {f"PhVph{x}": GRID_V for x in "ABC"[:phases]}
        return {"A": amps * phases, **per_phase, **volts, "W": pv_w, "Hz": 50.0, "VA": pv_w,
                "VAr": 0.0, "PF": 100.0, "WH": counters["pv"], "DCA": dc_w / DC_V,
                "DCV": DC_V, "DCW": dc_w, "TmpCab": 35.0, "St": 4 if pv_w > 0 else 2,
                "Evt1": 0, "Evt2": 0}, []
    if mid == 160:
        n = p.repeats
        module: dict[str, Value] = {"DCA": dc_w / n / DC_V, "DCV": DC_V, "DCW": dc_w / n,
                  "DCWH": counters["pv"] / 0.97 / n, "Tms": int(home.now_s) % 2**32,
                  "Tmp": 40.0, "DCSt": 4 if pv_w > 0 else 2, "DCEvt": 0}
        repeats = [module | {"ID": i + 1, "IDStr": f"string {i + 1}"} for i in range(n)]
        return {"Evt": 0, "N": n, "TmsPer": 0}, repeats
    if mid in (201, 202, 203, 204, 211, 212, 213, 214):
        phases = {201: 1, 211: 1, 202: 2, 212: 2}.get(mid, 3)
        amps = grid_w / GRID_V / phases
        per = {f"{q}ph{x}": v for x in "ABC"[:phases]
               for q, v in (("A", amps), ("W", grid_w / phases), ("PhV", GRID_V))}
        return {"A": amps * phases, **per, "PhV": GRID_V, "Hz": 50.0, "W": grid_w,
                "VA": abs(grid_w), "VAR": 0.0, "PF": 100.0, "TotWhImp": counters["import"],
                "TotWhExp": counters["export"], "Evt": 0}, []
    if mid == 124:
        return {**state.controls, "WChaMax": params.battery_max_w,
                "ChaState": battery.soc_pct, "InBatV": BATTERY_V, "ChaSt": cha_st}, []
    if mid == 802:
        return {"AHRtg": battery.capacity_wh / BATTERY_V, "WHRtg": battery.capacity_wh,
                "WChaRteMax": battery.max_power_w, "WDisChaRteMax": battery.max_power_w,
                "SoCMax": battery.max_soc_pct, "SoCMin": battery.min_soc_pct,
                "SoC": battery.soc_pct, "SoH": 100.0, "ChaSt": cha_st,
                "LocRemCtl": 0 if home.remote_control(home.now_s) else 1, "Typ": 4,
                "State": 3, "Evt1": 0, "Evt2": 0, "EvtVnd1": 0, "EvtVnd2": 0, "V": BATTERY_V,
                "A": -batt_w / BATTERY_V, "W": -batt_w, "SetOp": 1, "SetInvState": 3}, []
    if mid == 713:
        return {"WHRtg": battery.capacity_wh, "WHAvail": battery.soc_wh,
                "SoC": battery.soc_pct, "SoH": 100.0, "Sta": 1}, []
    if mid == 714:
        port: dict[str, Value] = {"PrtTyp": 1, "ID": 1, "IDStr": "battery", "DCV": BATTERY_V,
                                  "DCA": -batt_w / BATTERY_V, "DCW": -batt_w, "DCSta": 1}
        return {"NPrt": 1, "DCA": -batt_w / BATTERY_V, "DCW": -batt_w}, [port]
    return {}, []
