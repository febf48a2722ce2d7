"""Train the policy with PPO (stable-baselines3) on a pool of community days.

Parameters are shared across homes: one actor–critic network (two 64-unit tanh layers
each for the actor and the critic) acts for every home slot of `HomesVecEnv`; the home's
type (battery, risk aversion) and the mean field are in its observation. Days, homes and
PPO are seeded; with one torch thread a run repeats bit for bit on the same machine.
"""

from __future__ import annotations

import json
import pickle
import time
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3 import PPO

from agent.adapters.onnx import OnnxForecaster, shipped
from coordinator.game import GameConfig
from models.policy.core import EnvConfig
from models.policy.env import Pool
from models.policy.episodes import build_day
from models.policy.vec import HomesVecEnv
from sim.data import Dataset
from sim.scenario import load_scenario

HELD_OUT_BUILDINGS = ("Building_15", "Building_16", "Building_17")  # the forecaster's too


@dataclass(frozen=True)
class Plan:
    name: str
    days: tuple[date, ...]      # training days
    homes: int                  # per community day
    slots: int                  # home slots stepped together
    timesteps: int              # per variant (home-intervals)
    signal_every: int
    game_points: int
    min_type_size: int


def _days(first: date, last: date, k: int, seed: int) -> tuple[date, ...]:
    span = (last - first).days + 1
    pick = np.random.default_rng(seed).choice(span, size=min(k, span), replace=False)
    return tuple(sorted(first + timedelta(days=int(i)) for i in pick))


def plan(quick: bool, seed: int) -> Plan:
    if quick:  # the committed slice covers 2017-04-01 … 07-31
        return Plan("quick", (date(2017, 5, 10),), homes=24, slots=16, timesteps=16 * 96 * 2,
                    signal_every=48, game_points=21, min_type_size=4)
    return Plan("full", _days(date(2016, 9, 1), date(2017, 5, 25), 24, seed), homes=160,
                slots=128, timesteps=3_200_000, signal_every=16, game_points=51,
                min_type_size=20)


def build_pool(p: Plan, data: Dataset, seed: int) -> Pool:
    sc = load_scenario("tou")
    fc = OnnxForecaster(shipped("forecast.onnx"))
    game = GameConfig(points=p.game_points, min_type_size=p.min_type_size)
    pool: Pool = []
    for i, d in enumerate(p.days):
        day = build_day(sc, data, d, p.homes, seed * 1000 + i, fc, game, p.signal_every)
        learn = np.array([j for j, b in enumerate(day.homes.building)
                          if b not in HELD_OUT_BUILDINGS], dtype=np.int64)
        pool.append((day, learn))
    return pool


def train_variant(pool: Pool, p: Plan, cfg: EnvConfig, seed: int, out: Path,
                  name: str) -> dict[str, Any]:
    torch.manual_seed(seed)
    env = HomesVecEnv(pool, p.slots, cfg, seed)
    model = PPO("MlpPolicy", env, n_steps=96, batch_size=min(512, p.slots * 96 // 2),
                n_epochs=10, learning_rate=3e-4, gamma=0.995, gae_lambda=0.95,
                clip_range=0.2, ent_coef=0.0, seed=seed, device="cpu", verbose=0,
                policy_kwargs={"net_arch": {"pi": [64, 64], "vf": [64, 64]},
                               "log_std_init": -0.7})
    began = time.perf_counter()
    model.learn(total_timesteps=p.timesteps)
    wall = time.perf_counter() - began
    model.save(out / f"{name}.zip")
    return {"variant": name, "env": asdict(cfg), "timesteps": int(model.num_timesteps),
            "wall_s": round(wall, 1)}


def train(data: Dataset, run_dir: Path, *, quick: bool, seed: int,
          variants: tuple[str, ...] = ("prob", "det")) -> dict[str, Any]:
    torch.set_num_threads(1)
    p = plan(quick, seed)
    run_dir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    cached = run_dir / "pool.pkl"
    key = (p.days, p.homes, p.signal_every, p.game_points, p.min_type_size, seed)
    pool = None
    if cached.is_file():  # a pool built for the same plan and seed (our own file)
        saved_key, saved = pickle.loads(cached.read_bytes())
        pool = saved if saved_key == key else None
    if pool is None:
        pool = build_pool(p, data, seed)
        cached.write_bytes(pickle.dumps((key, pool)))
    built = time.perf_counter() - began
    info: dict[str, Any] = {"plan": {**asdict(p), "days": [str(d) for d in p.days]},
                            "seed": seed, "pool_s": round(built, 1),
                            "learning_homes": int(sum(i.size for _, i in pool)),
                            "torch": torch.__version__}
    for v in variants:
        cfg = EnvConfig(deterministic=(v == "det"))
        info[v] = train_variant(pool, p, cfg, seed, run_dir, v)
    info["wall_s"] = round(time.perf_counter() - began, 1)
    (run_dir / "train.json").write_text(json.dumps(info, indent=2) + "\n")
    return info
