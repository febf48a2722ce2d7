"""SunSpec definitions come from pysunspec2's JSON; point codec, sentinels, scale factors."""

from __future__ import annotations

import json
import math
from importlib import resources

import pytest

from firmware_bridge.errors import DeviceConfigError
from firmware_bridge.sunspec_codec import decode_model, decode_raw, encode_point
from firmware_bridge.sunspec_defs import SUPPORTED_MODELS, PointDef, model_def

# L of each model without repeating blocks, as the SunSpec model tables state it.
FIXED_LENGTHS = {1: 66, 101: 50, 102: 50, 103: 50, 111: 60, 112: 60, 113: 60, 124: 24,
                 160: 8, 201: 105, 202: 105, 203: 105, 204: 105, 211: 124, 212: 124,
                 213: 124, 214: 124, 713: 7, 714: 18, 802: 62}


@pytest.mark.parametrize("model_id", sorted(SUPPORTED_MODELS))
def test_every_supported_model_loads_from_pysunspec2(model_id: int) -> None:
    model = model_def(model_id)
    raw = json.loads(resources.files("sunspec2.models.json")
                     .joinpath(f"model_{model_id}.json").read_text())
    assert model.id == model_id
    assert [p.name for p in model.fixed.points] == [p["name"] for p in raw["group"]["points"]]
    if model_id in FIXED_LENGTHS:
        assert model.fixed_length == FIXED_LENGTHS[model_id]
    for point in model.fixed.points:
        if isinstance(point.sf, str):
            assert model.fixed.point(point.sf) is not None, (model_id, point.name)


def test_repeating_groups() -> None:
    assert model_def(160).repeating is not None
    assert model_def(160).length(2) == 8 + 2 * 20
    assert model_def(160).repeats(48) == 2
    assert model_def(124).repeating is None


def test_unknown_model_is_a_config_error() -> None:
    with pytest.raises(DeviceConfigError, match="no SunSpec model definition for model 9999"):
        model_def(9999)


def _p(type_: str, size: int = 1) -> PointDef:
    return PointDef("X", type_, size, 0, None, "", False, False)


@pytest.mark.parametrize(("type_", "size", "words"), [
    ("int16", 1, [0x8000]), ("uint16", 1, [0xFFFF]), ("acc16", 1, [0]),
    ("enum16", 1, [0xFFFF]), ("bitfield16", 1, [0xFFFF]), ("sunssf", 1, [0x8000]),
    ("int32", 2, [0x8000, 0]), ("uint32", 2, [0xFFFF, 0xFFFF]), ("acc32", 2, [0, 0]),
    ("uint64", 4, [0xFFFF] * 4), ("acc64", 4, [0] * 4), ("float32", 2, [0x7FC0, 0]),
    ("string", 4, [0] * 4),
])
def test_not_implemented_sentinels_decode_to_none(type_: str, size: int,
                                                  words: list[int]) -> None:
    assert decode_raw(words, _p(type_, size)) is None
    assert encode_point(None, _p(type_, size)) == words or type_ == "float32"


@pytest.mark.parametrize(("type_", "size", "value", "sf"), [
    ("int16", 1, -1234.5, -1), ("uint16", 1, 49.99, -2), ("int32", 2, -70000.0, 0),
    ("acc32", 2, 123456789.0, 0), ("float32", 2, 3.25, 0), ("uint64", 4, 2.0**40, 0),
    ("acc16", 1, 1200.0, 1),
])
def test_point_round_trip(type_: str, size: int, value: float, sf: int) -> None:
    words = encode_point(value, _p(type_, size), sf)
    raw = decode_raw(words, _p(type_, size))
    assert isinstance(raw, int | float)
    assert math.isclose(raw * 10.0**sf, value, rel_tol=1e-6)


def test_strings_and_saturation() -> None:
    assert decode_raw(encode_point("peerwatt", _p("string", 16)), _p("string", 16)) == "peerwatt"
    assert encode_point(1e9, _p("int16")) == [0x7FFF]


def test_scale_factor_applies_and_missing_scale_factor_hides_value() -> None:
    meter = model_def(203)
    words = [0] * (meter.fixed.length)
    w, w_sf = meter.fixed.point("W"), meter.fixed.point("W_SF")
    assert w is not None
    assert w_sf is not None
    words[w.offset] = 1234
    words[w_sf.offset] = 0xFFFF  # -1
    assert decode_model(meter, 40000, words).number("W") == pytest.approx(123.4)
    words[w_sf.offset] = 0x8000  # scale factor not implemented
    assert decode_model(meter, 40000, words).number("W") is None
