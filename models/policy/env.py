"""The policy environment behind three interfaces, all on `models.policy.core.Core`:

- `HomeEnv`: Gymnasium, one home of a community day per episode (96 intervals).
- `CommunityParallelEnv`: PettingZoo parallel API, every home of a day an agent.
- `models.policy.vec.HomesVecEnv`: stable-baselines3's `VecEnv`, many home slots stepped
  as one batch (one shared network for all: the parameter sharing across homes).

Observation: `agent.domain.policy_obs` layout v2 (24 values); action: Box [-1, 1]²
(battery power as a share of the home's limit, price position × 2 − 1).
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import numpy.typing as npt
from pettingzoo import ParallelEnv

from agent.domain.policy_obs import OBS_SIZE
from models.policy.core import Core, EnvConfig
from models.policy.episodes import Day

Pool = list[tuple[Day, npt.NDArray[np.int64]]]  # a day and the homes that may learn on it
OBS_SPACE = gym.spaces.Box(-100.0, 100.0, (OBS_SIZE,), np.float32)
ACT_SPACE = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)


class HomeEnv(gym.Env[npt.NDArray[np.float32], npt.NDArray[np.float32]]):
    metadata: dict[str, Any] = {"render_modes": []}  # noqa: RUF012  # gym.Env declares it so

    def __init__(self, pool: Pool, cfg: EnvConfig | None = None) -> None:
        if not pool:
            raise ValueError("empty pool")
        self.pool, self.cfg = pool, cfg or EnvConfig()
        self.observation_space = OBS_SPACE
        self.action_space = ACT_SPACE
        self._core: Core | None = None

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[npt.NDArray[np.float32],
                                                               dict[str, Any]]:
        super().reset(seed=seed)
        day, idx = self.pool[int(self.np_random.integers(len(self.pool)))]
        home = np.array([idx[int(self.np_random.integers(idx.size))]])
        self._core = Core(day, home, self.cfg, self.np_random)
        return self._core.reset()[0], {"home": day.homes.names[int(home[0])]}

    def step(self, action: npt.NDArray[np.float32]) -> tuple[
            npt.NDArray[np.float32], float, bool, bool, dict[str, Any]]:
        if self._core is None:
            raise RuntimeError("step before reset")
        reward, done, out = self._core.step(np.asarray(action, dtype=np.float64)[None, :])
        info = {"cost_msat": float(out.cost_msat[0]), "grid_w": float(out.grid_w[0])}
        return self._core.observe()[0], float(reward[0]), done, False, info


class CommunityParallelEnv(ParallelEnv):  # type: ignore[misc]  # untyped base
    metadata: ClassVar[dict[str, Any]] = {"name": "peerwatt_community_v2",
                                          "render_modes": []}

    def __init__(self, day: Day, cfg: EnvConfig | None = None, seed: int = 0) -> None:
        self.day, self.cfg = day, cfg or EnvConfig()
        self.possible_agents = list(day.homes.names)
        self.agents: list[str] = []
        self._rng = np.random.default_rng(seed)
        self._core = Core(day, np.arange(day.n), self.cfg, self._rng)

    def observation_space(self, agent: str) -> gym.spaces.Box:
        return OBS_SPACE

    def action_space(self, agent: str) -> gym.spaces.Box:
        return ACT_SPACE

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[
            dict[str, npt.NDArray[np.float32]], dict[str, dict[str, Any]]]:
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._core = Core(self.day, np.arange(self.day.n), self.cfg, self._rng)
        obs = self._core.reset()
        self.agents = list(self.possible_agents)
        return {a: obs[i] for i, a in enumerate(self.agents)}, {a: {} for a in self.agents}

    def step(self, actions: dict[str, npt.NDArray[np.float32]]) -> tuple[
            dict[str, npt.NDArray[np.float32]], dict[str, float], dict[str, bool],
            dict[str, bool], dict[str, dict[str, Any]]]:
        act = np.stack([np.asarray(actions[a], dtype=np.float64) for a in self.possible_agents])
        reward, done, out = self._core.step(act)
        obs = self._core.observe()
        names = self.possible_agents
        result = ({a: obs[i] for i, a in enumerate(names)},
                  {a: float(reward[i]) for i, a in enumerate(names)},
                  dict.fromkeys(names, done), dict.fromkeys(names, False),
                  {a: {"cost_msat": float(out.cost_msat[i])} for i, a in enumerate(names)})
        if done:
            self.agents = []
        return result
