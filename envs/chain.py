"""A deep-exploration task: dithering (epsilon-greedy) exploration almost never solves it.

:class:`ChainEnv` (``rlkit/Chain-v0``): states 0, ..., N - 1 in a row, the agent starting at 0.
Action 0 steps left (free; at 0 it stays), action 1 steps right at a cost of ``0.01``.
Reaching N - 1 pays 1 and ends the episode; otherwise it is truncated after ``N + 9`` steps.
The observation is the one-hot position. Every step right looks worse than staying left until
the far end has been seen once, and a uniformly random walk reaches it with probability about
2^-(N - 1): so the optimal return, 1 - 0.01 (N - 1), is found only by deep exploration.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

RIGHT_COST = 0.01


class ChainEnv(gym.Env):
    """A chain of ``n`` states; only the far end pays (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, n: int = 20, max_steps: int | None = None) -> None:
        if n < 2:
            raise ValueError(f"Chain needs n >= 2 states, got {n}")
        self.n = n
        self.max_steps = n + 9 if max_steps is None else max_steps
        self.observation_space = gym.spaces.Box(0.0, 1.0, (n,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.position = 0
        self.steps = 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n, np.float32)
        obs[self.position] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.position, self.steps = 0, 0
        return self._obs(), {}

    def step(self, action):
        right = int(action) == 1
        self.position = min(self.position + 1, self.n - 1) if right else max(self.position - 1, 0)
        self.steps += 1
        success = self.position == self.n - 1
        reward = 1.0 if success else (-RIGHT_COST if right else 0.0)
        truncated = not success and self.steps >= self.max_steps
        return self._obs(), reward, success, truncated, {"is_success": success}
