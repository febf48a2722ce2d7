"""The RL training environment is the simulator's market (`models.policy.market_env`)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

pytest.importorskip("stable_baselines3")

from agent.domain.policy_obs import OBS_SIZE
from models.policy.market_env import MarketEnvConfig, MarketVecEnv, training_homes
from models.policy.train import HELD_OUT_BUILDINGS
from sim.data import load_slice
from sim.scenario import Scenario, load_scenario

DAY = date(2017, 5, 10)


def _unguarded() -> Scenario:
    """The capacity scenario without the rationality guard, which would hold both of these
    forced policies to self-consumption from the first step (nothing earned yet)."""
    sc = load_scenario("capacity")
    return sc.model_copy(update={"market": sc.market.model_copy(
        update={"rational_guard": False})})


def _day(action: float) -> tuple[list[float], np.ndarray, MarketVecEnv]:
    env = MarketVecEnv(_unguarded(), load_slice(), [DAY],
                       MarketEnvConfig(homes=30), 5, HELD_OUT_BUILDINGS)
    obs = env.reset()
    assert obs.shape == (env.num_envs, OBS_SIZE)
    total = np.zeros(env.num_envs)
    soc = []
    for step in range(96):
        env.step_async(np.full((env.num_envs, 2), action))
        obs, reward, done, _ = env.step_wait()
        assert np.all(np.isfinite(reward))
        total += reward
        soc.append(float(obs[:, 0].mean()))
        assert bool(done.all()) == (step == 95)
    env.close()
    return soc, total, env


def test_a_day_of_learning_homes_in_the_market() -> None:
    """Every battery home is a slot, held-out buildings never learn, a day is 96 steps,
    and what the homes do moves the coordinator's signal (their SoC is in the reports):
    charging hard and discharging hard give different days."""
    up, r_up, env = _day(1.0)
    down, r_down, _ = _day(-1.0)
    assert env.num_envs > 0
    assert env.episodes == 2   # the next day started on done
    assert max(up[:40]) > max(down[:40])
    assert not np.allclose(r_up, r_down)
    assert len(env.day_costs) == 1
    homes = training_homes(load_scenario("capacity"), load_slice(), 30, 5, HELD_OUT_BUILDINGS)
    assert not set(homes.building) & set(HELD_OUT_BUILDINGS)
    assert int((homes.capacity_wh > 0).sum()) == env.num_envs


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_signal_outage_episodes_show_the_learners_the_daemons_fallback(share: float) -> None:
    """In an outage episode the learners observe what the daemon observes without a signal
    (flag 0, the tariff's price path, no mean field); otherwise the signal (flag 1)."""
    env = MarketVecEnv(load_scenario("capacity"), load_slice(), [DAY],
                       MarketEnvConfig(homes=30, outage_share=share), 5, HELD_OUT_BUILDINGS)
    obs = env.reset()
    flags = set(obs[:, OBS_SIZE - 1].tolist())
    for _ in range(60):  # into the evening price step
        env.step_async(np.zeros((env.num_envs, 2)))
        obs, _, _, _ = env.step_wait()
        flags |= set(obs[:, OBS_SIZE - 1].tolist())
    env.close()
    assert flags == ({0.0} if share else {1.0})
    assert env.outages == int(share)
    if share:  # no mean field: its block means are 0
        assert np.all(obs[:, OBS_SIZE - 5:OBS_SIZE - 1] == 0.0)
