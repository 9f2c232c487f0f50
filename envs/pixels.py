"""A pixel task small enough to learn on a laptop CPU in minutes.

:class:`PixelGridEnv` (``rlkit/PixelGrid-v0``): a ``size`` x ``size`` grid drawn as an RGB
image, ``cell`` pixels per cell: the agent red, the goal green, both placed at random every
episode. Reaching the goal ends the episode with reward 1; running out of ``max_steps``
(``4 * size`` by default) truncates it with 0. The mean return is therefore the success rate.
Only the image says where the goal is, so a policy must read it (a CNN's job).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])  # up, down, left, right (row, col)
AGENT, GOAL = 0, 1  # RGB channels they are drawn in


class PixelGridEnv(gym.Env):
    """Reach the goal on a grid seen only as pixels; observation (H, W, 3) uint8."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 8}

    def __init__(self, size: int = 5, cell: int = 4, max_steps: int | None = None,
                 render_mode: str | None = None) -> None:
        if size < 2 or cell < 1:
            raise ValueError(f"PixelGrid needs size >= 2 and cell >= 1, got {size}, {cell}")
        self.size, self.cell = size, cell
        self.max_steps = 4 * size if max_steps is None else max_steps
        self.render_mode = render_mode
        side = size * cell
        self.observation_space = gym.spaces.Box(0, 255, (side, side, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(4)
        self.agent = np.zeros(2, dtype=np.int64)
        self.goal = np.zeros(2, dtype=np.int64)
        self.steps = 0

    def _draw(self) -> np.ndarray:
        image = np.zeros(self.observation_space.shape, np.uint8)
        for (row, col), channel in ((self.agent, AGENT), (self.goal, GOAL)):
            rows, cols = slice(row * self.cell, (row + 1) * self.cell), slice(
                col * self.cell, (col + 1) * self.cell)
            image[rows, cols, channel] = 255
        return image

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        cells = self.np_random.choice(self.size * self.size, size=2, replace=False)
        self.agent = np.array(divmod(int(cells[0]), self.size))
        self.goal = np.array(divmod(int(cells[1]), self.size))
        self.steps = 0
        return self._draw(), {}

    def step(self, action):
        self.agent = np.clip(self.agent + MOVES[int(action)], 0, self.size - 1)
        self.steps += 1
        success = bool((self.agent == self.goal).all())
        truncated = not success and self.steps >= self.max_steps
        return self._draw(), float(success), success, truncated, {"is_success": success}

    def render(self) -> np.ndarray | None:
        return self._draw() if self.render_mode == "rgb_array" else None
