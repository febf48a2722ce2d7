"""Real onnxruntime sessions: the shipped models, and clear ModelErrors for wrong files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper

from agent.adapters.onnx import (
    CALENDAR_FEATURES,
    FORECAST_HISTORY,
    POLICY_OBS,
    ModelError,
    OnnxForecaster,
    OnnxPolicy,
    calendar,
    shipped,
)
from agent.ports import PermanentError

ALPHA = 0.3  # models/build_v0.py --alpha default, which the shipped policy.onnx was built with
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def forecaster() -> OnnxForecaster:
    return OnnxForecaster(shipped("forecast.onnx"))


@pytest.fixture(scope="module")
def policy() -> OnnxPolicy:
    return OnnxPolicy(shipped("policy.onnx"))


def test_shipped_paths_exist() -> None:
    for name in ("forecast.onnx", "policy.onnx"):
        assert shipped(name).is_file()


@pytest.mark.parametrize("history", [
    np.zeros(FORECAST_HISTORY, dtype=np.float32),
    np.linspace(-3.0, 4.0, FORECAST_HISTORY, dtype=np.float32),
    np.sin(np.arange(FORECAST_HISTORY) / 8.0).astype(np.float64) * 2.0,  # float64 is cast
], ids=["flat", "ramp", "daily"])
@pytest.mark.parametrize("t_s", [T0, T0 + 9 * 3600, T0 + 4 * 86_400])
def test_forecast_shapes_and_positive_spread(forecaster: OnnxForecaster, history: np.ndarray,
                                             t_s: float) -> None:
    fc = forecaster.forecast(history, t_s)
    assert forecaster.horizon == 96
    assert fc.mean_kw.shape == (96,)
    assert fc.std_kw.shape == (96,)
    assert fc.mean_kw.dtype == np.float32
    assert np.all(np.isfinite(fc.mean_kw))
    assert np.all(fc.std_kw > 0)
    assert np.all(np.isfinite(fc.std_kw))


@pytest.mark.parametrize(("history", "words"), [
    (np.zeros(95, dtype=np.float32), "got shape (95,)"),
    (np.zeros((1, 96), dtype=np.float32), "got shape (1, 96)"),
    (np.array([np.nan] + [0.0] * 95, dtype=np.float32), "finite"),
    (np.array([0.0] * 95 + [np.inf], dtype=np.float32), "finite"),
])
def test_forecast_bad_history(forecaster: OnnxForecaster, history: np.ndarray,
                              words: str) -> None:
    with pytest.raises(ValueError, match="history must be 96 finite values") as info:
        forecaster.forecast(history, T0)
    assert words in str(info.value)


def test_calendar_features() -> None:
    monday_0h = 4 * 86_400.0  # 1970-01-05 was a Monday
    feats = calendar(monday_0h + 13 * 3600 + 59)
    assert feats.shape == (CALENDAR_FEATURES,)
    assert feats[13] == 1.0
    assert feats[:24].sum() == 1.0
    assert feats[24] == 0.0
    assert calendar(monday_0h + 5 * 86_400)[24] == 1.0  # Saturday
    assert calendar(monday_0h + 6 * 86_400)[24] == 1.0  # Sunday
    assert calendar(monday_0h + 7 * 86_400)[24] == 0.0


def test_policy_shape_and_clamped_position(policy: OnnxPolicy) -> None:
    for z in (-50.0, -1.0, 0.0, 1.0, 50.0):
        d = policy.decide(np.array([0.5, 1.0, 0.2, z, 5.0, 0.5], dtype=np.float32))
        assert 0.0 <= d.price_position <= 1.0
        assert -5_000.0 <= d.battery_power_w <= 5_000.0


def rule(obs: np.ndarray) -> tuple[float, float]:
    """The rule of models/build_v0.py, in float64:
    power = clip(−mean − α·tanh(z)·p_max, −p_max, p_max), position = 0.5 + 0.25·tanh(z)."""
    _soc, mean, _std, z, p_max, _fut = (float(x) for x in obs)
    power = min(p_max, max(-p_max, -mean - ALPHA * np.tanh(z) * p_max))
    return power, 0.5 + 0.25 * float(np.tanh(z))


@settings(max_examples=300, deadline=None)
@given(soc=st.floats(0, 1), mean=st.floats(-20, 20), std=st.floats(0, 5), z=st.floats(-6, 6),
       p_max=st.floats(0, 20), fut=st.floats(-20, 20))
def test_policy_matches_documented_rule(policy: OnnxPolicy, soc: float, mean: float,
                                        std: float, z: float, p_max: float, fut: float) -> None:
    obs = np.array([soc, mean, std, z, p_max, fut], dtype=np.float32)
    power_kw, position = rule(obs.astype(np.float64))
    d = policy.decide(obs)
    assert d.battery_power_w / 1000.0 == pytest.approx(power_kw, abs=1e-5, rel=1e-5)
    assert d.price_position == pytest.approx(position, abs=1e-5)


def test_policy_random_batch_matches_rule(policy: OnnxPolicy) -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        obs = np.array([rng.uniform(0, 1), rng.normal(0, 3), rng.uniform(0, 1),
                        rng.normal(0, 2), rng.uniform(0, 10), rng.normal(0, 3)],
                       dtype=np.float32)
        power_kw, position = rule(obs.astype(np.float64))
        d = policy.decide(obs)
        assert abs(d.battery_power_w / 1000.0 - power_kw) <= 1e-5 * max(1.0, abs(power_kw))
        assert abs(d.price_position - position) <= 1e-5


@pytest.mark.parametrize("obs", [
    np.zeros(5, dtype=np.float32),
    np.zeros((1, POLICY_OBS), dtype=np.float32),
    np.array([0, 0, 0, np.nan, 1, 0], dtype=np.float32),
    np.array([0, np.inf, 0, 0, 1, 0], dtype=np.float32),
], ids=["short", "2d", "nan", "inf"])
def test_policy_bad_observation(policy: OnnxPolicy, obs: np.ndarray) -> None:
    with pytest.raises(ValueError, match="observation must be 6 finite values"):
        policy.decide(obs)


# --- wrong files ---------------------------------------------------------------------------


def tiny_model(path: Path, inputs: dict[str, list[int | str]],
               outputs: dict[str, list[int | str]]) -> Path:
    """A graph that is just Identity / Concat from its inputs, with the given signature."""
    in_names, out_names = list(inputs), list(outputs)
    nodes = []
    for i, out in enumerate(out_names):
        src = in_names[min(i, len(in_names) - 1)]
        nodes.append(helper.make_node("Identity", [src], [out]))
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "absent.onnx"
    for cls in (OnnxForecaster, OnnxPolicy):
        with pytest.raises(ModelError, match=f"model file {path} not found"):
            cls(path)
    assert issubclass(ModelError, PermanentError)


def test_garbage_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"definitely not a protobuf" * 10)
    with pytest.raises(ModelError, match=f"model file {path} cannot be loaded"):
        OnnxPolicy(path)


def test_directory_is_not_a_model(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        OnnxPolicy(tmp_path)


@pytest.mark.parametrize(("inputs", "outputs", "words"), [
    pytest.param({"obs": ["N", 5]}, {"action": ["N", 5]}, "inputs {'obs': 5}, expected "
                 "{'obs': 6}", id="obs-width"),
    pytest.param({"observation": ["N", 6]}, {"action": ["N", 6]}, "'observation'",
                 id="input-name"),
    pytest.param({"obs": ["N", 6]}, {"act": ["N", 6]}, "outputs ('act',), expected "
                 "('action',)", id="output-name"),
    pytest.param({"obs": ["N", 6], "extra": ["N", 6]}, {"action": ["N", 6]}, "'extra'",
                 id="extra-input"),
])
def test_policy_with_wrong_signature(tmp_path: Path, inputs: dict[str, list[int | str]],
                                     outputs: dict[str, list[int | str]], words: str) -> None:
    path = tiny_model(tmp_path / "p.onnx", inputs, outputs)
    with pytest.raises(ModelError) as info:
        OnnxPolicy(path)
    assert str(path) in str(info.value)
    assert words in str(info.value)


@pytest.mark.parametrize(("inputs", "outputs", "words"), [
    pytest.param({"history": ["N", 48], "calendar": ["N", 25]},
                 {"mean": ["N", 48], "std": ["N", 48]}, "'history': 48", id="history-width"),
    pytest.param({"history": ["N", 96], "calendar": ["N", 24]},
                 {"mean": ["N", 96], "std": ["N", 24]}, "'calendar': 24", id="calendar-width"),
    pytest.param({"history": ["N", 96], "calendar": ["N", 25]},
                 {"std": ["N", 96], "mean": ["N", 25]}, "outputs ('std', 'mean')",
                 id="outputs-swapped"),
    pytest.param({"history": ["N", 96], "calendar": ["N", 25]},
                 {"mean": ["N", 96], "std": ["N", 25]}, "horizon", id="horizons-differ"),
    pytest.param({"obs": ["N", 6]}, {"action": ["N", 2]}, "expected", id="policy-as-forecaster"),
])
def test_forecaster_with_wrong_signature(tmp_path: Path, inputs: dict[str, list[int | str]],
                                         outputs: dict[str, list[int | str]],
                                         words: str) -> None:
    path = tiny_model(tmp_path / "f.onnx", inputs, outputs)
    with pytest.raises(ModelError) as info:
        OnnxForecaster(path)
    assert str(path) in str(info.value)
    assert words in str(info.value)


def test_forecaster_with_symbolic_horizon(tmp_path: Path) -> None:
    """Outputs whose horizon onnxruntime cannot know at load time (a dynamic axis)."""
    nodes = [
        helper.make_node("Shape", ["calendar"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["end"], axis=0),
        helper.make_node("Slice", ["history", "zero", "end", "one"], ["mean"]),
        helper.make_node("Slice", ["history", "zero", "end", "one"], ["std"]),
    ]
    inits = [onnx.numpy_helper.from_array(np.array([v], dtype=np.int64), n)
             for n, v in (("zero", 0), ("one", 1))]
    graph = helper.make_graph(
        nodes, "dynamic",
        [helper.make_tensor_value_info("history", TensorProto.FLOAT, ["N", 96]),
         helper.make_tensor_value_info("calendar", TensorProto.FLOAT, ["N", 25])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N", "H"]),
         helper.make_tensor_value_info("std", TensorProto.FLOAT, ["N", "H"])], inits)
    path = tmp_path / "dynamic.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    with pytest.raises(ModelError, match="one fixed horizon") as info:
        OnnxForecaster(path)
    assert str(path) in str(info.value)
    assert "'H'" in str(info.value)


def test_shipped_policy_is_not_a_forecaster() -> None:
    with pytest.raises(ModelError, match="inputs"):
        OnnxForecaster(shipped("policy.onnx"))
    with pytest.raises(ModelError, match="inputs"):
        OnnxPolicy(shipped("forecast.onnx"))


# --- local time --------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "t_s", "offset_h"), [
    ("UTC", T0, 0),
    ("Europe/Berlin", 1_705_000_000.0, 1),        # January: CET
    ("Europe/Berlin", 1_720_000_000.0, 2),        # July: CEST
    ("America/Los_Angeles", 1_720_000_000.0, -7),
])
def test_forecaster_calendar_is_local_time(zone: str, t_s: float, offset_h: int) -> None:
    local = OnnxForecaster(shipped("forecast.onnx"), zone)
    utc = OnnxForecaster(shipped("forecast.onnx"))
    assert local.local_s(t_s) == t_s + offset_h * 3600
    history = np.sin(np.arange(FORECAST_HISTORY) / 8.0).astype(np.float32)
    a = local.forecast(history, t_s)
    b = utc.forecast(history, t_s + offset_h * 3600)
    assert np.array_equal(a.mean_kw, b.mean_kw)
    assert np.array_equal(a.std_kw, b.std_kw)


def test_timezone_setting_is_checked() -> None:
    from pydantic import ValidationError

    from agent.settings import ModelSettings

    assert ModelSettings(timezone="Europe/Berlin").timezone == "Europe/Berlin"
    with pytest.raises(ValidationError, match="unknown IANA time zone 'Mars/Olympus'"):
        ModelSettings(timezone="Mars/Olympus")
