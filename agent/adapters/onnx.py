"""onnxruntime sessions for the forecaster and the policy (no torch at run time).

Each class checks the file's input and output names and shapes once at load time and
raises `ModelError` naming the file and the mismatch, so a wrong or missing model is a
clear start-up failure rather than a crash mid-interval.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import onnxruntime as ort

from agent.domain.policy_obs import OBS_SIZE, OBS_VERSION
from agent.ports import Decision, FloatArray, Forecast, PermanentError

FORECAST_HISTORY = 96
CALENDAR_FEATURES = 25  # one-hot hour of day of the first forecast step + weekend flag
POLICY_OBS = OBS_SIZE   # observation layout v2 (agent.domain.policy_obs, models/policy.md)
OBS_VERSION_KEY = "peerwatt.obs_version"  # policy.onnx metadata: the layout it was trained on


class ModelError(PermanentError):
    """A model file is missing, unreadable or does not have the expected signature."""


# The daemon's and the simulator's default policy: the signal-following rule in layout v2
# (models/build_rule_v2.py). The learned PPO policy ships as `policy.onnx` and is opt-in
# (`[models] policy`): it lost to the rule in the demo and in CityLearn (models/policy.md).
DEFAULT_POLICY = "policy_rule_v2.onnx"


def shipped(name: str) -> Path:
    """Path of a model file shipped with the agent (`agent/modelfiles`, package data; the
    training and export code that writes them is the `models` package)."""
    return Path(str(resources.files("agent") / "modelfiles" / name))


def _session(path: Path) -> ort.InferenceSession:
    if not path.is_file():
        raise ModelError(f"model file {path} not found")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), sess_options=opts,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors  # noqa: BLE001
        raise ModelError(f"model file {path} cannot be loaded: {exc}") from None


def _check(sess: ort.InferenceSession, path: Path, inputs: dict[str, int],
           outputs: tuple[str, ...]) -> None:
    got_in = {i.name: i.shape[-1] for i in sess.get_inputs()}
    want = dict(inputs.items())
    if got_in != want:
        raise ModelError(f"model file {path}: inputs {got_in}, expected {want}")
    got_out = tuple(o.name for o in sess.get_outputs())
    if got_out != outputs:
        raise ModelError(f"model file {path}: outputs {got_out}, expected {outputs}")


def calendar(t_s: float) -> FloatArray:
    """Features of the time `t_s`: one-hot hour of day, then a weekend flag. `t_s` counts
    seconds from 1970-01-01 00:00 in the clock whose hours are wanted: `OnnxForecaster`
    passes the home's local time (`local_s`), training passed the data's local time."""
    feats = np.zeros(CALENDAR_FEATURES, dtype=np.float32)
    feats[int(t_s // 3600) % 24] = 1.0
    day = (int(t_s // 86400) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    feats[24] = 1.0 if day >= 5 else 0.0
    return feats


class OnnxForecaster:
    """Net-load forecaster: mean and standard deviation for the next `horizon` steps."""

    def __init__(self, path: Path, timezone: str = "UTC") -> None:
        self._zone = ZoneInfo(timezone)  # the calendar features are the home's local time
        self.timezone = timezone
        self._sess = _session(path)
        _check(self._sess, path, {"history": FORECAST_HISTORY, "calendar": CALENDAR_FEATURES},
               ("mean", "std"))
        dims = [o.shape[-1] for o in self._sess.get_outputs()]
        if not all(isinstance(d, int) and d > 0 for d in dims) or len(set(dims)) != 1:
            raise ModelError(f"model file {path}: outputs need one fixed horizon as their "
                             f"last dimension, got {dims}")
        self.horizon = int(dims[0])
        self.path = path

    def forecast(self, history_kw: FloatArray, t_s: float) -> Forecast:
        if history_kw.shape != (FORECAST_HISTORY,) or not np.all(np.isfinite(history_kw)):
            raise ValueError(f"history must be {FORECAST_HISTORY} finite values, "
                             f"got shape {history_kw.shape}")
        mean, std = self._sess.run(None, {
            "history": history_kw.astype(np.float32)[None, :],
            "calendar": calendar(self.local_s(t_s))[None, :],
        })
        return Forecast(mean_kw=np.asarray(mean[0], dtype=np.float32),
                        std_kw=np.asarray(std[0], dtype=np.float32))

    def forecast_many(self, history_kw: FloatArray, t_s: float) -> Forecast:
        """One batch for many homes at the same time: history (N, 96) → mean, std (N, H)."""
        if history_kw.ndim != 2 or history_kw.shape[1] != FORECAST_HISTORY:
            raise ValueError(f"history must be (N, {FORECAST_HISTORY}), got {history_kw.shape}")
        cal = np.broadcast_to(calendar(self.local_s(t_s)), (history_kw.shape[0], CALENDAR_FEATURES))
        mean, std = self._sess.run(None, {"history": history_kw.astype(np.float32),
                                          "calendar": np.ascontiguousarray(cal)})
        return Forecast(mean_kw=np.asarray(mean, dtype=np.float32),
                        std_kw=np.asarray(std, dtype=np.float32))

    def local_s(self, t_s: float) -> float:
        """`t_s` (UTC epoch seconds) shifted by the home's UTC offset at that instant."""
        offset = datetime.fromtimestamp(t_s, UTC).astimezone(self._zone).utcoffset()
        return t_s + (offset.total_seconds() if offset is not None else 0.0)

    def observe(self, interval_start_s: float, actual_kw: float) -> None:
        """The raw model does not learn online; `CalibratedForecaster` wraps it for that."""


class OnnxPolicy:
    """Battery and price decision from the observation vector documented in models/policy.md
    (layout v2). A file trained on another layout is refused at load time."""

    def __init__(self, path: Path) -> None:
        self._sess = _session(path)
        meta = self._sess.get_modelmeta().custom_metadata_map
        version = meta.get(OBS_VERSION_KEY)
        is_policy = [i.name for i in self._sess.get_inputs()] == ["obs"]
        if version != str(OBS_VERSION) and is_policy:
            have = (f"layout v{version}" if version is not None else
                    "no observation layout version (the retired v1 rule policy took 6 "
                    "values)")
            raise ModelError(f"model file {path}: policy has {have}; this daemon feeds "
                             f"observation layout v{OBS_VERSION} ({POLICY_OBS} values): "
                             "export a policy with `peerwatt models export policy`")
        _check(self._sess, path, {"obs": POLICY_OBS}, ("action",))
        self.path = path

    def decide(self, observation: FloatArray) -> Decision:
        if observation.shape != (POLICY_OBS,) or not np.all(np.isfinite(observation)):
            raise ValueError(f"observation must be {POLICY_OBS} finite values")
        (action,) = self._sess.run(None, {"obs": observation.astype(np.float32)[None, :]})
        power_kw, position = float(action[0][0]), float(action[0][1])
        if not (math.isfinite(power_kw) and math.isfinite(position)):
            raise ValueError("policy returned a non-finite action")
        return Decision(battery_power_w=power_kw * 1000.0,
                        price_position=min(1.0, max(0.0, position)))

    def decide_many(self, observations: FloatArray) -> FloatArray:
        """One batch: observations (N, 24) → battery power W (N,), as `decide` per row."""
        if observations.ndim != 2 or observations.shape[1] != POLICY_OBS:
            raise ValueError(f"observations must be (N, {POLICY_OBS})")
        (action,) = self._sess.run(None, {"obs": observations.astype(np.float32)})
        power_w: FloatArray = np.asarray(action, dtype=np.float32)[:, 0] * 1000.0
        return power_w

    def act_many(self, observations: FloatArray) -> FloatArray:
        """One batch: observations (N, 24) → (N, 2): battery power W and price position
        in [0, 1] (clipped as `decide` does)."""
        if observations.ndim != 2 or observations.shape[1] != POLICY_OBS:
            raise ValueError(f"observations must be (N, {POLICY_OBS})")
        (action,) = self._sess.run(None, {"obs": observations.astype(np.float32)})
        out = np.asarray(action, dtype=np.float32).copy()
        out[:, 0] *= 1000.0
        out[:, 1] = np.clip(out[:, 1], 0.0, 1.0)
        return out
