"""Goals on a grid, seen through Dict observations of several parts.

:class:`GoalGridEnv` (``rlkit/GoalGrid-v0``): a ``size`` x ``size`` grid (5) with the agent and
a goal at two distinct random cells. The observation is ``{"position", "goal"}``, each the
cell's (row, column) scaled to [0, 1]; the actions move up, down, left and right (a move into
the border stays put). Reaching the goal ends the episode with reward
``1 - 0.9 * t / max_steps`` after ``t`` steps; after ``max_steps = 4 * size`` steps the episode
is truncated with nothing. The policy must read both entries: where it is, and where to go.

:class:`GoalImageEnv` (``rlkit/GoalImage-v0``): the same walk, the agent seen only in a small
image, ``size x size x 1`` uint8 (255 where it stands, else 0), the goal only as the ``goal``
vector: a camera and a target, as robots have them. The policy must read where it is from the
image (through a CNN) and where to go from the vector beside it.

For both the optimum, E[1 - 0.9 d / max_steps] over the random cells with ``d`` the Manhattan
distance to the goal, is computed exactly by :func:`optimal_return` (0.85 for size 5).
"""

from __future__ import annotations

import itertools
from typing import Any

import gymnasium as gym
import numpy as np

MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1]])
"""up, down, left, right as (row, column) steps"""


def optimal_return(size: int = 5) -> float:
    """E[1 - 0.9 d / (4 size)] with ``d`` the Manhattan distance from the agent to the goal:
    the shortest path's return, over the uniformly random distinct cells of the two."""
    cells = list(itertools.product(range(size), repeat=2))
    total = [1.0 - 0.9 * (abs(a[0] - g[0]) + abs(a[1] - g[1])) / (4 * size)
             for a, g in itertools.permutations(cells, 2)]
    return float(np.mean(total))


class GoalGridEnv(gym.Env):
    """Walk to the goal (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, size: int = 5) -> None:
        if size < 2:
            raise ValueError(f"GoalGrid needs size >= 2, got {size}")
        self.size, self.max_steps = size, 4 * size
        cell = gym.spaces.Box(0.0, 1.0, (2,), np.float32)
        self.observation_space = gym.spaces.Dict({"position": cell, "goal": cell})
        self.action_space = gym.spaces.Discrete(4)
        self.agent = np.zeros(2, np.int64)
        self.goal = np.zeros(2, np.int64)
        self.steps = 0

    def _cells(self, k: int) -> list[np.ndarray]:
        """k distinct random cells."""
        flat = self.np_random.choice(self.size * self.size, size=k, replace=False)
        return [np.array(divmod(int(i), self.size)) for i in flat]

    def _scaled(self, cell: np.ndarray) -> np.ndarray:
        return (cell / (self.size - 1)).astype(np.float32)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"position": self._scaled(self.agent), "goal": self._scaled(self.goal)}

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.steps = 0
        self.agent, self.goal = self._cells(2)
        return self._obs(), {}

    def _move(self, action: Any) -> float:
        """Move; what reaching the goal now would pay."""
        self.steps += 1
        self.agent = np.clip(self.agent + MOVES[int(action)], 0, self.size - 1)
        return 1.0 - 0.9 * self.steps / self.max_steps

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        pay = self._move(action)
        reached = bool(np.array_equal(self.agent, self.goal))
        return (self._obs(), pay if reached else 0.0, reached,
                not reached and self.steps >= self.max_steps, {})


class GoalImageEnv(GoalGridEnv):
    """Walk to the goal, seeing yourself in an image (see the module docstring)."""

    def __init__(self, size: int = 5) -> None:
        super().__init__(size)
        self.observation_space = gym.spaces.Dict({
            "image": gym.spaces.Box(0, 255, (size, size, 1), np.uint8),
            "goal": gym.spaces.Box(0.0, 1.0, (2,), np.float32),
        })

    def _obs(self) -> dict[str, np.ndarray]:
        image = np.zeros((self.size, self.size, 1), np.uint8)
        image[self.agent[0], self.agent[1], 0] = 255
        return {"image": image, "goal": self._scaled(self.goal)}
