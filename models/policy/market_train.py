"""Train the policy with PPO (stable-baselines3) in the simulator's market
(`models.policy.market_env`): the default of `peerwatt models train policy`.

One shared actor–critic (two 64-unit tanh layers each) acts for every battery home of a
training community of the default scenario (`capacity`); days are drawn (seeded) from
2016-09-01 … 2017-05-25, the evaluation's days are in June–July 2017 and its communities
are other seeds' (with the held-out buildings). Two variants: `prob` (forecast spreads in
the observation and the coordinator's plan) and `det` (means only). torch runs one
thread; the run writes `train.json` (plan, wall and CPU time, the mean cost per learning home of
each training day) and `prob.zip` / `det.zip` for `peerwatt models export policy`.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO

from models.policy.market_env import MarketEnvConfig, MarketVecEnv
from models.policy.train import HELD_OUT_BUILDINGS
from sim.data import Dataset
from sim.scenario import load_scenario


@dataclass(frozen=True)
class MarketPlan:
    name: str
    days: tuple[date, ...]
    homes: int          # per training community, before the held-out homes leave
    episodes: int       # simulated days per variant


def market_plan(quick: bool, seed: int, episodes: int | None = None,
                homes: int | None = None) -> MarketPlan:
    if quick:  # the committed slice covers 2017-04-01 … 07-31
        return MarketPlan("quick", (date(2017, 5, 10),), homes=homes or 30,
                          episodes=episodes or 2)
    span = (date(2017, 5, 25) - date(2016, 9, 1)).days + 1
    pick = np.random.default_rng(seed).choice(span, size=24, replace=False)
    days = tuple(sorted(date(2016, 9, 1) + timedelta(days=int(i)) for i in pick))
    return MarketPlan("full", days, homes=homes or 100, episodes=episodes or 30)


def train_market(data: Dataset, run_dir: Path, *, quick: bool, seed: int,
                 variants: tuple[str, ...] = ("prob", "det"),
                 episodes: int | None = None, homes: int | None = None) -> dict[str, Any]:
    torch.set_num_threads(1)
    p = market_plan(quick, seed, episodes, homes)
    run_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    sc = load_scenario("capacity")
    info: dict[str, Any] = {"env": "market", "plan": {**asdict(p),
                                                      "days": [str(d) for d in p.days]},
                            "seed": seed, "scenario": sc.name, "torch": torch.__version__,
                            "held_out_buildings": list(HELD_OUT_BUILDINGS)}
    for v in variants:
        torch.manual_seed(seed)
        cfg = MarketEnvConfig(homes=p.homes, probabilistic=(v != "det"))
        env = MarketVecEnv(sc, data, p.days, cfg, seed, HELD_OUT_BUILDINGS)
        slots = env.num_envs
        model = PPO("MlpPolicy", env, n_steps=96, batch_size=max(32, slots * 96 // 4),
                    n_epochs=10, learning_rate=3e-4, gamma=0.99, gae_lambda=0.95,
                    clip_range=0.2, ent_coef=0.0, seed=seed, device="cpu", verbose=0,
                    policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]},
                                   "log_std_init": -1.0})
        t0, c0 = time.perf_counter(), time.process_time()
        model.learn(total_timesteps=p.episodes * 96 * slots)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        model.save(run_dir / f"{v}.zip")
        info[v] = {"learning_homes": slots, "timesteps": int(model.num_timesteps),
                   "episodes": env.episodes, "outage_episodes": env.outages,
                   "outage_share": cfg.outage_share, "wall_s": round(wall, 1),
                   "cpu_s": round(cpu, 1),
                   "day_cost_eur_per_home": [round(c, 4) for c in env.day_costs]}
    info["wall_s"] = round(time.perf_counter() - began, 1)
    (run_dir / "train.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
