"""Real onnxruntime sessions: the shipped models, and clear ModelErrors for wrong files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from agent.adapters.onnx import (
    CALENDAR_FEATURES,
    FORECAST_HISTORY,
    OBS_VERSION_KEY,
    POLICY_OBS,
    ModelError,
    OnnxForecaster,
    OnnxPolicy,
    calendar,
    shipped,
)
from agent.ports import PermanentError

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
    rng = np.random.default_rng(3)
    for scale in (0.0, 1.0, 50.0):
        obs = (rng.normal(0.0, 1.0, POLICY_OBS) * scale).astype(np.float32)
        obs[2] = 5.0  # power limit kW: the graph scales its power output by it
        d = policy.decide(obs)
        assert 0.0 <= d.price_position <= 1.0
        assert -5_000.0 <= d.battery_power_w <= 5_000.0


def test_policy_batch_matches_single(policy: OnnxPolicy) -> None:
    obs = np.random.default_rng(5).normal(0.0, 1.0, (64, POLICY_OBS)).astype(np.float32)
    many = policy.act_many(obs)
    assert many.shape == (64, 2)
    assert np.allclose(policy.decide_many(obs), many[:, 0])
    for i in (0, 17, 63):
        d = policy.decide(obs[i])
        assert d.battery_power_w == pytest.approx(float(many[i, 0]), abs=1e-3)
        assert d.price_position == pytest.approx(float(many[i, 1]), abs=1e-6)


def test_old_rule_policy_is_refused_clearly(tmp_path: Path) -> None:
    """The v1 rule policy (6 inputs, no layout version) cannot be fed layout v2."""
    path = tmp_path / "policy_v1.onnx"
    graph = helper.make_graph(
        [helper.make_node("Slice", ["obs", "lo", "hi", "axis"], ["action"])], "policy_v1",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor(n, TensorProto.INT64, [1], [v])
         for n, v in (("lo", 0), ("hi", 2), ("axis", 1))])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    with pytest.raises(ModelError) as info:
        OnnxPolicy(path)
    msg = str(info.value)
    assert str(path) in msg
    assert "no observation layout version" in msg
    assert f"layout v2 ({POLICY_OBS} values)" in msg
    assert "peerwatt models export policy" in msg


@pytest.mark.parametrize("obs", [
    np.zeros(6, dtype=np.float32),
    np.zeros((1, POLICY_OBS), dtype=np.float32),
    np.where(np.arange(POLICY_OBS) == 3, np.nan, 0.0).astype(np.float32),
    np.where(np.arange(POLICY_OBS) == 1, np.inf, 0.0).astype(np.float32),
], ids=["v1-width", "2d", "nan", "inf"])
def test_policy_bad_observation(policy: OnnxPolicy, obs: np.ndarray) -> None:
    with pytest.raises(ValueError, match=f"observation must be {POLICY_OBS} finite values"):
        policy.decide(obs)


# --- wrong files ---------------------------------------------------------------------------


def tiny_model(path: Path, inputs: dict[str, list[int | str]],
               outputs: dict[str, list[int | str]], meta: dict[str, str] | None = None) -> Path:
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
    if meta:
        helper.set_model_props(model, meta)
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
    pytest.param({"obs": ["N", 6]}, {"action": ["N", 6]}, "inputs {'obs': 6}, expected "
                 f"{{'obs': {POLICY_OBS}}}", id="obs-width"),
    pytest.param({"observation": ["N", 24]}, {"action": ["N", 24]}, "'observation'",
                 id="input-name"),
    pytest.param({"obs": ["N", 24]}, {"act": ["N", 24]}, "outputs ('act',), expected "
                 "('action',)", id="output-name"),
    pytest.param({"obs": ["N", 24], "extra": ["N", 24]}, {"action": ["N", 24]}, "'extra'",
                 id="extra-input"),
])
def test_policy_with_wrong_signature(tmp_path: Path, inputs: dict[str, list[int | str]],
                                     outputs: dict[str, list[int | str]], words: str) -> None:
    path = tiny_model(tmp_path / "p.onnx", inputs, outputs, {OBS_VERSION_KEY: "2"})
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
