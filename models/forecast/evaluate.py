"""Held-out evaluation of an exported forecaster, with onnxruntime only (no torch).

Every 15-minute issue time of the test period, for every test building, in time order:
the online calibrator (agent/forecast/calibration.py, exactly as the daemon runs it, cold
at the start of the test period) observes the last completed interval, then the model's
forecast is scored raw and calibrated. Baselines on the same windows: persistence (same
time yesterday, from the history), the same-size deterministic MSE model, and
climatology (each building's own empirical distribution per hour of day over the
training period).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from agent.adapters.onnx import OnnxForecaster
from agent.forecast.calibration import SpreadCalibrator
from models.forecast.metrics import Z80, Z95, crps_gaussian, gaussian_scores, pinball
from models.forecast.windows import GAP, STEP_S, Split, Windows, steps, windows
from sim.data import DATASET, START_S, WHEEL_NAME, WHEEL_SHA256, Dataset


def _session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def predict(path: Path, w: Windows) -> tuple[np.ndarray, np.ndarray]:
    sess = _session(path)
    means, stds = [], []
    for i in range(0, len(w), 8192):
        m, s = sess.run(None, {"history": w.history[i:i + 8192],
                               "calendar": w.calendar[i:i + 8192]})
        means.append(m)
        stds.append(s)
    return np.concatenate(means), np.concatenate(stds)


def calibrate(ds: Dataset, split: Split, w: Windows, mean: np.ndarray,
              std: np.ndarray) -> np.ndarray:
    """The daemon's online calibration replayed per building, in time order."""
    out = np.empty_like(std)
    for bi, name in enumerate(split.test_buildings):
        s = steps(ds.buildings[name].net_kw)
        cal = SpreadCalibrator(mean.shape[1], STEP_S)
        rows = np.flatnonzero(w.building == bi)
        for r in rows[np.argsort(w.t_s[rows])]:
            k = int((w.t_s[r] - START_S) // STEP_S)
            done = k - GAP - 1  # the last completed interval when deciding for k
            cal.observe(START_S + done * STEP_S, float(s[done]))
            out[r] = cal.calibrate(float(w.t_s[r]), mean[r], std[r]).std_kw
    return out


def _ens_crps(sorted_members: np.ndarray, csum: np.ndarray, y: np.ndarray) -> np.ndarray:
    """CRPS of an empirical distribution (sorted members, their cumsum) at each y."""
    m = len(sorted_members)
    n_le = np.searchsorted(sorted_members, y, side="right")
    s_le = np.where(n_le > 0, csum[np.maximum(n_le - 1, 0)], 0.0)
    e_xy = ((csum[-1] - 2 * s_le) + y * (2 * n_le - m)) / m
    w = (2 * np.arange(1, m + 1) - m - 1) / (m * m)
    return np.asarray(e_xy - float((sorted_members * w).sum()))


def climatology(ds: Dataset, split: Split, w: Windows) -> dict[str, float]:
    hours = ((w.t_s[:, None] + np.arange(w.target.shape[1]) * STEP_S) // 3600) % 24
    crps = np.zeros_like(w.target, dtype=np.float64)
    q = {p: np.zeros_like(crps) for p in (0.025, 0.1, 0.5, 0.9, 0.975)}
    for bi, name in enumerate(split.test_buildings):
        net = ds.buildings[name].net_kw
        lo, hi = split.train_days[0] * 24, split.train_days[1] * 24
        past = net[lo:hi]
        past_h = np.arange(lo, hi) % 24
        for hr in range(24):
            members = np.sort(past[(past_h == hr) & np.isfinite(past)])
            sel = (w.building[:, None] == bi) & (hours == hr)
            crps[sel] = _ens_crps(members, np.cumsum(members), w.target[sel])
            for p in q:
                q[p][sel] = np.quantile(members, p)
    y = w.target
    return {"crps": float(crps.mean()), "pinball_10": pinball(q[0.1], y, 0.1),
            "pinball_50": pinball(q[0.5], y, 0.5), "pinball_90": pinball(q[0.9], y, 0.9),
            "coverage_80": float(((y >= q[0.1]) & (y <= q[0.9])).mean()),
            "coverage_95": float(((y >= q[0.025]) & (y <= q[0.975])).mean()),
            "mae": float(np.abs(y - q[0.5]).mean())}


def point(pred: np.ndarray, y: np.ndarray) -> dict[str, float]:
    mae = float(np.abs(y - pred).mean())  # the CRPS of a point forecast is its MAE
    return {"crps": mae, "pinball_50": pinball(pred, y, 0.5), "mae": mae}


def latency_ms(path: Path, runs: int = 2000) -> dict[str, float]:
    fc = OnnxForecaster(path)
    rng = np.random.default_rng(0)
    hist = rng.normal(1.0, 1.0, (runs, 96)).astype(np.float32)
    for i in range(200):
        fc.forecast(hist[i], START_S + i * STEP_S)
    times = np.empty(runs)
    for i in range(runs):
        t0 = time.perf_counter()
        fc.forecast(hist[i], START_S + i * STEP_S)
        times[i] = time.perf_counter() - t0
    return {"p50": float(np.percentile(times, 50) * 1e3),
            "p99": float(np.percentile(times, 99) * 1e3), "runs": runs, "threads": 1}


def _file(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    shown = path.resolve()
    if shown.is_relative_to(Path.cwd()):
        shown = shown.relative_to(Path.cwd())
    return {"path": str(shown), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def evaluate(ds: Dataset, split: Split, model: Path, baseline: Path | None) -> dict[str, Any]:
    for path in (model, baseline):
        if path is not None:
            OnnxForecaster(path)  # the daemon's checks: ModelError on a missing/wrong file
    w = windows(ds, split.test_buildings, split.test_days, split.test_stride)
    mean, std = predict(model, w)
    std_cal = calibrate(ds, split, w, mean, std)
    y = w.target
    raw = gaussian_scores(mean, std, y)
    cal = gaussian_scores(mean, std_cal, y)
    persistence = np.concatenate([w.history[:, 1:], w.history[:, -1:]], axis=1)
    scores: dict[str, dict[str, float]] = {
        "model": cal, "model_raw": raw, "persistence": point(persistence, y),
        "climatology": climatology(ds, split, w)}
    if baseline is not None:
        scores["deterministic"] = point(predict(baseline, w)[0], y)
    unseen = np.isin(np.array(split.test_buildings)[w.building],
                     [b for b in split.test_buildings if b not in split.train_buildings])
    by_group = {}
    for label, sel in (("seen_buildings", ~unseen), ("unseen_buildings", unseen)):
        if sel.any():
            by_group[label] = {
                "windows": int(sel.sum()),
                "crps_model": crps_gaussian(mean[sel], std_cal[sel], y[sel]),
                "crps_persistence": float(np.abs(persistence[sel] - y[sel]).mean()),
                "coverage_80_raw": float((np.abs(y[sel] - mean[sel]) <= Z80 * std[sel]).mean()),
                "coverage_80": float((np.abs(y[sel] - mean[sel]) <= Z80 * std_cal[sel]).mean()),
                "coverage_95_raw": float((np.abs(y[sel] - mean[sel]) <= Z95 * std[sel]).mean()),
                "coverage_95": float((np.abs(y[sel] - mean[sel]) <= Z95 * std_cal[sel]).mean())}
    return {
        "crps": {k: v["crps"] for k, v in scores.items()},
        "pinball": {k: {q: v[f"pinball_{q}"] for q in ("10", "50", "90")
                        if f"pinball_{q}" in v} for k, v in scores.items()},
        "coverage_80": cal["coverage_80"], "coverage_95": cal["coverage_95"],
        "coverage_raw": {"80": raw["coverage_80"], "95": raw["coverage_95"]},
        "coverage_climatology": {"80": scores["climatology"]["coverage_80"],
                                 "95": scores["climatology"]["coverage_95"]},
        "mae": cal["mae"],
        "mae_by_forecaster": {k: v["mae"] for k, v in scores.items()},
        "by_group": by_group,
        "latency_ms": latency_ms(model),
        "model": _file(model), "baseline": _file(baseline) if baseline else None,
        "data": {**split.describe(), "wheel": WHEEL_NAME, "wheel_sha256": WHEEL_SHA256,
                 "dataset": DATASET, "source": ds.source, "files": ds.files,
                 "test_windows": len(w), "issue_every_s": STEP_S * split.test_stride,
                 "unit": "kW net load (load - PV), 15-min means"},
    }
