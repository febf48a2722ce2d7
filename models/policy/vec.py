"""stable-baselines3 `VecEnv` over `Core`: `n` home slots of one community day, stepped
as one numpy batch. All slots end together after 96 intervals; the next episode draws
a day from the pool and `n` of its learning homes (with replacement)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from stable_baselines3.common.vec_env import VecEnv

from models.policy.core import Core, EnvConfig
from models.policy.env import ACT_SPACE, OBS_SPACE, Pool


class SingleTaskVecEnv(VecEnv):
    """The parts of SB3's VecEnv a single-process env has nothing to do for: attributes
    are this object's own, no sub-env is wrapped or has methods to call."""

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None,
                   **method_kwargs: Any) -> list[Any]:
        return [None for _ in self._indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False for _ in self._indices(indices)]

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else list(indices)


class HomesVecEnv(SingleTaskVecEnv):
    def __init__(self, pool: Pool, n: int, cfg: EnvConfig, seed: int) -> None:
        if not pool:
            raise ValueError("empty pool")
        self.render_mode = None
        super().__init__(n, OBS_SPACE, ACT_SPACE)
        self.pool, self.cfg = pool, cfg
        self.rng = np.random.default_rng(seed)
        self._core = self._new_core()
        self._actions = np.zeros((n, 2))

    def _new_core(self) -> Core:
        day, idx = self.pool[int(self.rng.integers(len(self.pool)))]
        return Core(day, self.rng.choice(idx, size=self.num_envs), self.cfg, self.rng)

    def reset(self) -> npt.NDArray[np.float32]:
        self._core = self._new_core()
        return self._core.reset()

    def step_async(self, actions: npt.NDArray[Any]) -> None:
        self._actions = np.asarray(actions, dtype=np.float64)

    def step_wait(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32],
                                 npt.NDArray[np.bool_], list[dict[str, Any]]]:
        reward, done, _ = self._core.step(self._actions)
        dones = np.full(self.num_envs, done)
        if not done:
            return (self._core.observe(), reward.astype(np.float32), dones,
                    [{} for _ in range(self.num_envs)])
        last = self._core.observe()
        infos = [{"terminal_observation": last[i], "TimeLimit.truncated": False}
                 for i in range(self.num_envs)]
        return self.reset(), reward.astype(np.float32), dones, infos

    def close(self) -> None:
        return None
