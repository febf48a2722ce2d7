"""The policy environment: Gymnasium and PettingZoo API conformance, the safety clamp,
and the observation the daemon builds (agent.domain.policy_obs) — on a small real day."""

from __future__ import annotations

from datetime import date

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pettingzoo.test import parallel_api_test

from agent.adapters.onnx import OnnxForecaster, shipped
from agent.domain import policy_obs
from agent.domain.decision import BUY, SELL
from coordinator.game import GameConfig
from models.policy.core import Core, EnvConfig
from models.policy.env import CommunityParallelEnv, HomeEnv
from models.policy.episodes import STEPS, Day, build_day
from sim.data import load_slice
from sim.scenario import load_scenario


@pytest.fixture(scope="module")
def day() -> Day:
    return build_day(load_scenario("tou"), load_slice(), date(2017, 6, 12), 24, 5,
                     OnnxForecaster(shipped("forecast.onnx")),
                     GameConfig(points=21, min_type_size=4), signal_every=48,
                     keep_equilibrium=True)


def test_gymnasium_env_checker(day: Day) -> None:
    env = HomeEnv([(day, np.arange(day.n))])
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=3)
    assert obs.shape == (policy_obs.OBS_SIZE,)
    steps, done = 0, False
    while not done:
        obs, reward, done, truncated, _ = env.step(env.action_space.sample())
        assert np.isfinite(reward)
        assert not truncated
        steps += 1
    assert steps == STEPS


def test_pettingzoo_parallel_api(day: Day) -> None:
    parallel_api_test(CommunityParallelEnv(day), num_cycles=STEPS + 5)


def test_same_seed_same_episode(day: Day) -> None:
    def rollout(seed: int) -> list[float]:
        env = HomeEnv([(day, np.arange(day.n))])
        env.reset(seed=seed)
        env.action_space.seed(seed)
        return [env.step(env.action_space.sample())[1] for _ in range(20)]
    assert rollout(4) == rollout(4)
    assert rollout(4) != rollout(5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=arrays(np.float64, (STEPS, 24, 2),
                      elements=st.floats(allow_nan=True, allow_infinity=True, width=64)),
       soc0=st.floats(0.0, 100.0))
def test_no_action_breaks_the_safety_limits(day: Day, actions: np.ndarray, soc0: float) -> None:
    """Whatever the network outputs (even NaN or ±inf), the clamp keeps the battery within
    its power limit and SoC window, and every opening price stays in the band."""
    core = Core(day, np.arange(day.n), EnvConfig(), np.random.default_rng(0))
    core.reset(np.full(day.n, soc0))
    b = core.batteries
    floor = min(b.min_soc_pct, soc0) - 1e-9
    has = core.cap > 0
    for s in range(STEPS):
        setpoint = core.setpoint(actions[s, :, 0])
        assert np.all(np.abs(setpoint) <= core.pmax + 1e-9)
        reward, _, out = core.step(actions[s])
        assert np.all(np.isfinite(reward))
        power_w = out.grid_w - day.net_kw[:, s] * 1000.0
        assert np.all(np.abs(power_w) <= core.pmax + 1e-6)
        assert np.all(b.soc_pct[has] >= floor)
        assert np.all(b.soc_pct[has] <= b.max_soc_pct + 1e-9)
        traded = out.side != 0
        assert np.all(out.price_msat[traded] >= core.feed)
        assert np.all(out.price_msat[traded] <= day.retail[s])


def test_observation_matches_for_one_home_and_many(day: Day) -> None:
    """The daemon's scalar call and the environment's batched call give the same vector."""
    rng = np.random.default_rng(1)
    mean, std = rng.normal(0, 1, (3, 96)), np.abs(rng.normal(0, 1, (3, 96)))
    prices, field = rng.uniform(9e4, 3e5, 60), rng.normal(0, 1, 60)
    many = policy_obs.observation(np.array([10.0, 50, 90]), np.array([0, 5e3, 13e3]),
                                  np.array([0, 2500, 5000]), np.array([0, 1, 2]), 13.25,
                                  mean, std, prices, 88_889, 333_333, field, True)
    for i in range(3):
        one = policy_obs.observation([10.0, 50, 90][i], [0, 5e3, 13e3][i], [0, 2500, 5000][i],
                                     [0, 1, 2][i], 13.25, mean[i], std[i], prices, 88_889,
                                     333_333, field, True)
        assert np.array_equal(one, many[i])
    assert many.shape == (3, policy_obs.OBS_SIZE)
    # A path shorter than the last block uses its last value.
    short = policy_obs.block_means(np.array([1.0, 2.0, 3.0]))
    assert short.tolist() == [1.0, 2.5, 3.0, 3.0]


@given(side=st.sampled_from([SELL, BUY]),
       position=st.floats(allow_nan=True, allow_infinity=True),
       feed=st.integers(0, 10**6), width=st.integers(0, 10**6))
def test_start_price_always_in_band(side: int, position: float, feed: int, width: int) -> None:
    price = int(policy_obs.start_price(side, position, feed, feed + width))
    assert feed <= price <= feed + width


def test_action_spaces() -> None:
    from models.policy.env import ACT_SPACE, OBS_SPACE
    assert isinstance(ACT_SPACE, gym.spaces.Box)
    assert ACT_SPACE.shape == (2,)
    assert OBS_SPACE.shape == (policy_obs.OBS_SIZE,)
