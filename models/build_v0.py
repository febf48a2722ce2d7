"""Build the retired v1 rule policy (`policy_rule_v1.onnx`) and, on request, the retired v0
forecaster. The shipped `policy.onnx` now comes from `peerwatt models train|export policy`
(models/policy/, models/policy.md); the daemon refuses this rule file (layout v1).

    python -m models.build_v0 [--seed 0] [--out models/] [--forecast-v0]

The shipped `forecast.onnx` now comes from `peerwatt models train forecast` (models/forecast/,
trained on measured CityLearn data, see models/forecast.md). `--forecast-v0` still writes
the first linear model, as `forecast_v0.onnx`, for comparison.

forecast_v0.onnx — a heteroscedastic linear forecaster of a home's net load (load − PV,
kW, 15-minute means) for the next 96 steps. Inputs: `history` [N, 96] (the last 96
interval means, oldest first) and `calendar` [N, 25] (one-hot hour of the first step, a
weekend flag). Outputs: `mean` [N, 96] and `std` [N, 96]. The mean is ridge regression;
the log-variance is a second ridge regression on log squared residuals (plus the
1.27 bias of log χ²₁), so the spread depends on the time of day and the recent
history. Trained on the synthetic homes of `firmware_bridge.simhome` (the demo's own
device simulator) — a first model; issue 4 trains a real one on measured data.

policy_rule_v1.onnx — not learned: the documented rule that was policy.onnx before
issue 9, kept for comparison (observation layout v1, 6 values).
Inputs `obs` [N, 6]: SoC fraction, net-load mean kW and std kW for the next interval,
the standardised community price z of that interval within the signal's horizon,
battery power limit kW, mean net load over the horizon kW. Output `action` [N, 2]:
battery power kW (+ charge) and a price position in [0, 1]:

    power = clip(−mean − α·tanh(z)·p_max, −p_max, p_max),   position = 0.5 + 0.25·tanh(z)

i.e. self-consumption, shifted towards charging when the community price is low and
discharging when it is high. α is `--alpha`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from agent.adapters.onnx import CALENDAR_FEATURES, FORECAST_HISTORY, calendar
from firmware_bridge.simhome import HomeParams, HomeProfile

STEP_S = 900
H = 96
LOG_CHI2_BIAS = 1.2704  # -E[log χ²₁]


def home_series(seed: int, days: int, rng: np.random.Generator) -> np.ndarray:
    params = HomeParams(annual_load_kwh=float(rng.uniform(2500, 6000)),
                        pv_kwp=float(rng.uniform(0, 8)))
    profile = HomeProfile(params, seed)
    t = np.arange(days * 86400 // 60, dtype=np.float64) * 60.0 + 86400 * 20000
    net = (profile.loads_w(t) - profile.pvs_w(t)) / 1000.0
    return net.reshape(-1, STEP_S // 60).mean(axis=1)  # kW per 15-min interval


def samples(series: list[np.ndarray], stride: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for s in series:
        for end in range(FORECAST_HISTORY, len(s) - H, stride):
            t0 = 86400 * 20000 + end * STEP_S
            xs.append(np.concatenate([s[end - FORECAST_HISTORY:end], calendar(t0)]))
            ys.append(s[end:end + H])
    return np.asarray(xs), np.asarray(ys)


def ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    xa = np.hstack([x, np.ones((len(x), 1))])
    reg = lam * np.eye(xa.shape[1])
    reg[-1, -1] = 0.0
    w = np.linalg.solve(xa.T @ xa + reg, xa.T @ y)
    return w[:-1], w[-1]


def forecast_graph(wm: np.ndarray, bm: np.ndarray, wv: np.ndarray,
                   bv: np.ndarray) -> onnx.ModelProto:
    inits = [numpy_helper.from_array(a.astype(np.float32), n) for a, n in
             ((wm, "Wm"), (bm, "bm"), (wv, "Wv"), (bv, "bv"), (np.array(0.5), "half"))]
    nodes = [
        helper.make_node("Concat", ["history", "calendar"], ["x"], axis=1),
        helper.make_node("MatMul", ["x", "Wm"], ["xm"]),
        helper.make_node("Add", ["xm", "bm"], ["mean"]),
        helper.make_node("MatMul", ["x", "Wv"], ["xv"]),
        helper.make_node("Add", ["xv", "bv"], ["logvar"]),
        helper.make_node("Mul", ["logvar", "half"], ["logstd"]),
        helper.make_node("Exp", ["logstd"], ["std"]),
    ]
    graph = helper.make_graph(
        nodes, "peerwatt_forecast_v0",
        [helper.make_tensor_value_info("history", TensorProto.FLOAT, ["N", FORECAST_HISTORY]),
         helper.make_tensor_value_info("calendar", TensorProto.FLOAT, ["N", CALENDAR_FEATURES])],
        [helper.make_tensor_value_info("mean", TensorProto.FLOAT, ["N", H]),
         helper.make_tensor_value_info("std", TensorProto.FLOAT, ["N", H])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                             producer_name="peerwatt models.build_v0")


def policy_graph(alpha: float) -> onnx.ModelProto:
    from models.build_rule_v2 import rule_initializers, rule_nodes

    inits = rule_initializers(alpha)
    nodes = [
        helper.make_node("Split", ["obs"], ["soc", "mean", "std", "z", "pmax", "fut"], axis=1,
                         num_outputs=6),
        *rule_nodes(),
    ]
    graph = helper.make_graph(
        nodes, "peerwatt_policy_rule_v0",
        [helper.make_tensor_value_info("obs", TensorProto.FLOAT, ["N", 6])],
        [helper.make_tensor_value_info("action", TensorProto.FLOAT, ["N", 2])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)],
                             producer_name="peerwatt models.build_v0")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent)
    ap.add_argument("--alpha", type=float, default=0.3)
    ap.add_argument("--homes", type=int, default=48)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--forecast-v0", action="store_true",
                    help="also fit and write the retired linear forecaster (forecast_v0.onnx)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(policy_graph(args.alpha), args.out / "policy_rule_v1.onnx")
    if not args.forecast_v0:
        return
    rng = np.random.default_rng(args.seed)
    series = [home_series(1000 + i, args.days, rng) for i in range(args.homes)]
    n_train = int(0.75 * args.homes)  # held out: the last quarter of homes
    x, y = samples(series[:n_train], stride=4)
    wm, bm = ridge(x, y, lam=1.0)
    resid = y - (x @ wm + bm)
    wv, bv = ridge(x, np.log(resid**2 + 1e-4) + LOG_CHI2_BIAS, lam=10.0)
    xt, yt = samples(series[n_train:], stride=8)
    mean = xt @ wm + bm
    std = np.exp(0.5 * (xt @ wv + bv))
    persistence = xt[:, FORECAST_HISTORY - H:FORECAST_HISTORY]  # same time yesterday
    z80 = 1.2816
    report = {
        "train_samples": len(x), "test_samples": len(xt),
        "train_homes": n_train, "test_homes": args.homes - n_train, "days": args.days,
        "mae_kw": float(np.abs(mean - yt).mean()),
        "mae_persistence_kw": float(np.abs(persistence - yt).mean()),
        "coverage_80": float((np.abs(yt - mean) <= z80 * std).mean()),
        "coverage_95": float((np.abs(yt - mean) <= 1.96 * std).mean()),
    }
    onnx.save(forecast_graph(wm, bm, wv, bv), args.out / "forecast_v0.onnx")
    (args.out / "forecast_v0_eval.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
