"""Outside check: the shipped policy in CityLearn 2.1.2's own environment.

CityLearn is not a peerwatt dependency (its requirements pull torchvision and a CUDA
torch). Run it from a separate venv, installed with care:

    python3.11 -m venv /tmp/cl-venv
    /tmp/cl-venv/bin/pip install torch==2.13.0          # the CPU wheel, first
    /tmp/cl-venv/bin/pip install --no-deps CityLearn==2.1.2
    /tmp/cl-venv/bin/pip install "numpy<2" pandas==1.5.3 gym==0.26.2 simplejson \\
        matplotlib pillow onnxruntime==1.32.0 highspy     # highspy: the MPC controllers
    /tmp/cl-venv/bin/python bench/citylearn_check.py --json bench/results/citylearn_check.json

Environment: `citylearn_challenge_2022_phase_all` (17 buildings, 6.4 kWh / 5 kW batteries,
hourly steps, CityLearn's time-of-use price), decentralised, the held-out summer
2017-06-01 … 2017-07-31. Each hour, for each building, the script forecasts its net load
with the shipped `forecast.onnx` from the last 24 measured hours, builds observation
layout v2 (`agent.domain.policy_obs`) with CityLearn's price path and no mean-field
signal (flag 0, the daemon's tariff fallback; feed-in 0: CityLearn does not pay for
export), runs `policy.onnx` and sends its power × 1 h / capacity as CityLearn's storage
action. Controllers (`--controllers`): no storage action (CityLearn's own baseline, all
KPIs 1.0), a self-consumption rule on the same forecast (`self_consumption`), the policy
(`policy`), and the per-home MPC (`mpc`: `meanfield.home.plan_homes`, what
`[battery] control = "mpc"` runs, on CityLearn's tariff with nothing paid for export;
`mpc_capacity`: the same with each building's daily peak priced at the Flemish rate).
KPIs are CityLearn's `evaluate()`, district level (lower is better; 1.0 = the baseline).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # peerwatt itself is not installed in CityLearn's venv

from agent.domain import policy_obs  # noqa: E402
from sim.data import START_S  # noqa: E402

SCHEMA = "citylearn_challenge_2022_phase_all"
FIRST, LAST = 7296, 8759      # CityLearn time steps of 2017-06-01 00:00 … 2017-07-31 23:00
KPIS = ("cost_total", "electricity_consumption_total", "carbon_emissions_total",
        "daily_peak_average", "annual_peak_average", "ramping_average",
        "daily_one_minus_load_factor_average")


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=opts,
                                providers=["CPUExecutionProvider"])


def calendar(t_s: float) -> np.ndarray:
    """`agent.adapters.onnx.calendar` (that module imports the daemon's device stack)."""
    feats = np.zeros(25, dtype=np.float32)
    feats[int(t_s // 3600) % 24] = 1.0
    feats[24] = 1.0 if (int(t_s // 86400) + 3) % 7 >= 5 else 0.0
    return feats


def forecast(forecaster: ort.InferenceSession, net: np.ndarray,
             t: int) -> tuple[np.ndarray, np.ndarray]:
    """The shipped forecaster's mean and spread (96 × 15 min) for CityLearn step t, from the
    building's last 24 measured hours (CityLearn row t = our hour t − 1)."""
    hist = np.repeat(net[t - 24:t], 4).astype(np.float32)[None, :]
    mean, std = forecaster.run(None, {"history": hist,
                                      "calendar": calendar(START_S + (t - 1) * 3600.0)[None, :]})
    return np.asarray(mean[0]), np.asarray(std[0])


def building_series(root: Path, name: str, kwp: float) -> np.ndarray:
    """Hourly net load kW of a building from its CSV, indexed by CityLearn time step."""
    rows = np.genfromtxt(root / f"{name}.csv", delimiter=",", names=True)
    load = rows["Equipment_Electric_Power_kWh"]
    pv = rows["Solar_Generation_WkW"] * kwp / 1000.0
    return np.asarray(load - pv, dtype=np.float64)


CAPACITY_PER_KW_DAY = 48.8 / 365.0   # the Flemish capacity rate (scenarios/capacity.toml)


def mpc_actions(env: Any, nets: list[np.ndarray], forecaster: ort.InferenceSession,
                price: np.ndarray, t: int, capacity: bool) -> list[list[float]]:
    """Every building's own receding-horizon LP (`meanfield.home.plan_homes`, the per-home
    MPC of `--control mpc`, one HiGHS call for all 17) over the next 24 hours on the
    forecast's hourly means, CityLearn's price for import and nothing for export (CityLearn
    pays none), its first hour applied. Energy left at the end is worth √η × the horizon's
    mean price; wear 0.002 per kWh, as the daemon's default. With `capacity`, each
    building's own daily peak import is also priced at the Flemish rate per day (CityLearn
    bills none: its `cost_total` is energy only; the peak shows in its peak KPIs)."""
    from meanfield.home import HomeBatteries, HomeHorizon, blocked, plan_homes

    means, caps, stored, power, floor, so_far = [], [], [], [], [], []
    hour = (t - 1) % 24
    for b, net in enumerate(nets):
        means.append(blocked(forecast(forecaster, net, t)[0].astype(np.float64), 4))
        bat = env.buildings[b].electrical_storage
        cap = float(bat.degraded_capacity)
        caps.append(cap)
        stored.append(min(cap, float(bat.energy_init)))
        power.append(min(float(bat.nominal_power), cap))
        floor.append((1.0 - float(bat.depth_of_discharge)) * cap)
        today = np.asarray(env.buildings[b].net_electricity_consumption, np.float64)
        so_far.append(max(0.0, float(today[-hour:].max())) if hour else 0.0)
    steps = len(means[0])
    path = np.asarray(price[t:t + steps], np.float64)
    path = np.concatenate([path, np.full(steps - len(path), path[-1])])
    mean_kw = np.vstack(means)
    c = np.asarray(caps)
    eta = float(env.schema["buildings"][env.buildings[0].name]["electrical_storage"]
                ["attributes"]["efficiency"])   # nominal; CityLearn's curve: 0.83–0.9
    bats = HomeBatteries(c, np.asarray(power), np.asarray(stored), np.asarray(floor), c, eta)
    period = ((hour + np.arange(steps)) // 24).astype(np.int64)
    plan = plan_homes(HomeHorizon(mean_kw, mean_kw, path, 1.0,
                                  CAPACITY_PER_KW_DAY if capacity else 0.0, period,
                                  np.asarray(so_far),
                                  math.sqrt(eta) * float(path.mean()), 0.002,
                                  export_price=np.zeros(steps)), bats)
    return [[float(np.clip(plan.power_kw[b, 0] / caps[b], -1.0, 1.0))]
            for b in range(len(nets))]


def run(controller: str, policy: ort.InferenceSession | None,
        forecaster: ort.InferenceSession) -> dict[str, Any]:
    from citylearn.citylearn import CityLearnEnv

    env = CityLearnEnv(SCHEMA, central_agent=False, simulation_start_time_step=FIRST,
                       simulation_end_time_step=LAST)
    root = Path(env.schema["root_directory"])
    price = np.genfromtxt(root / "pricing.csv", delimiter=",", skip_header=1)[:, 0]
    names = [b.name for b in env.buildings]
    nets = [building_series(root, n, float(env.schema["buildings"][n]["pv"]["attributes"]
                                             ["nominal_power"])) for n in names]
    obs_names = env.observation_names[0]
    i_soc = obs_names.index("electrical_storage_soc")
    observations = env.reset()
    t = FIRST
    began = time.perf_counter()
    decide_s: list[float] = []
    while not env.done:
        if controller in ("mpc", "mpc_capacity"):
            actions = mpc_actions(env, nets, forecaster, price, t,
                                  controller == "mpc_capacity")
            observations, _, _, _ = env.step(actions)
            t += 1
            continue
        actions = []
        for b, net in enumerate(nets):
            cap = float(env.buildings[b].electrical_storage.capacity)
            mean, std = forecast(forecaster, net, t)
            if controller == "self_consumption" or policy is None:
                power_kw = -float(mean[0])
            else:
                path = np.repeat(price[t:t + 24], 4) * 1000.0   # $/MWh-like units; the band
                obs = policy_obs.observation(                  # position is scale-free
                    100.0 * float(observations[b][i_soc]), cap * 1000.0, 5000.0, 0.0,
                    float((t - 1) % 24), mean, std, path, 0.0, float(path[0]),
                    np.zeros(1), on_signal=False)
                start = time.perf_counter()
                (act,) = policy.run(None, {"obs": obs[None, :]})
                decide_s.append(time.perf_counter() - start)
                power_kw = float(act[0][0])
            actions.append([float(np.clip(power_kw * 1.0 / cap, -1.0, 1.0))])
        observations, _, _, _ = env.step(actions)
        t += 1
    kpis = env.evaluate()
    district = kpis[kpis["level"] == "district"].set_index("cost_function")["value"]
    return {"kpis": {k: round(float(district[k]), 4) for k in KPIS},
            "steps": t - FIRST, "wall_s": round(time.perf_counter() - began, 1),
            "policy_decide_ms_p50": round(1000.0 * float(np.median(decide_s)), 4)
            if decide_s else None}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path, required=True)
    ap.add_argument("--policy", type=Path, default=ROOT / "agent/modelfiles/policy.onnx")
    ap.add_argument("--controllers", default="self_consumption,policy",
                    help="comma-separated: self_consumption, policy, mpc, mpc_capacity "
                         "(the MPCs need highspy)")
    args = ap.parse_args()
    import citylearn

    fc = session(ROOT / "agent/modelfiles/forecast.onnx")
    out: dict[str, Any] = {
        "what": "CityLearn 2.1.2 env, citylearn_challenge_2022_phase_all, 17 buildings, "
                "2017-06-01..07-31, decentralised; KPIs from CityLearnEnv.evaluate() at "
                "district level, normalised by CityLearn to no storage control (= 1.0; "
                "lower is better)",
        "citylearn": citylearn.__version__, "policy": str(args.policy),
        "note": "no mean-field signal in CityLearn: the policy runs on its tariff "
                "fallback input (flag 0); CityLearn steps are hourly, the policy was "
                "trained on 15-minute intervals; the price position is unused here",
        "controllers": {},
    }
    for name in args.controllers.split(","):
        out["controllers"][name] = run(name, session(args.policy), fc)
        print(name, out["controllers"][name], flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
