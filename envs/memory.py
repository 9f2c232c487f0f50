"""Partially observed tasks: a policy that sees only the current observation cannot solve them.

* :class:`CartPoleNoVelEnv`: CartPole with the cart position and pole angle only; the two
  velocities must be inferred from consecutive observations (as in sb3-contrib's benchmark).
* :class:`PendulumNoVelEnv`: Pendulum with ``(cos theta, sin theta)`` only, no angular velocity.
* :class:`RecallEnv`: a cue shown at the first step must be reported after ``delay`` blank
  steps; a memoryless policy is at chance level, ``1 / n_cues``.
* :class:`TMazeEnv`: Bakker's T-maze: a cue at the start says which way to turn at the end of
  a corridor; wrong turns cost as much as right ones pay.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.envs.classic_control.pendulum import PendulumEnv


class CartPoleNoVelEnv(CartPoleEnv):
    """CartPole-v1's dynamics and rewards; observation ``(x, theta)`` instead of
    ``(x, x_dot, theta, theta_dot)``."""

    VISIBLE = np.array([0, 2])

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        full = self.observation_space
        self.observation_space = gym.spaces.Box(
            full.low[self.VISIBLE], full.high[self.VISIBLE], dtype=np.float32
        )

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        return obs[self.VISIBLE], info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs[self.VISIBLE], reward, terminated, truncated, info


class PendulumNoVelEnv(PendulumEnv):
    """Pendulum-v1's dynamics and rewards; observation ``(cos theta, sin theta)`` without the
    angular velocity."""

    def __init__(self, render_mode: str | None = None, g: float = 10.0) -> None:
        super().__init__(render_mode=render_mode, g=g)
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = super().reset(seed=seed, options=options)
        return obs[:2], info

    def step(self, action):
        obs, reward, terminated, truncated, info = super().step(action)
        return obs[:2], reward, terminated, truncated, info


class RecallEnv(gym.Env):
    """Remember a cue for ``delay`` steps, then report it.

    Observation ``(c_1, ..., c_n, query)``: at step 0 the one-hot cue ``c``, then ``delay``
    blank steps (all zeros), then the query step (``query = 1``). The action taken at the query
    step is the answer: reward 1 and the episode ends if it names the cue, reward 0 and the
    episode ends otherwise. Actions before the query do nothing. An episode lasts
    ``delay + 2`` steps, its return is 1 or 0, so the mean return is the success rate.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, delay: int = 10, n_cues: int = 2) -> None:
        if delay < 0 or n_cues < 2:
            raise ValueError(f"RecallEnv needs delay >= 0 and n_cues >= 2, got {delay}, {n_cues}")
        self.delay, self.n_cues = delay, n_cues
        self.observation_space = gym.spaces.Box(0.0, 1.0, (n_cues + 1,), np.float32)
        self.action_space = gym.spaces.Discrete(n_cues)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_cues + 1, np.float32)
        if self.t == 0:
            obs[self.cue] = 1.0
        elif self.t == self.delay + 1:
            obs[-1] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.t = 0
        self.cue = int(self.np_random.integers(self.n_cues))
        return self._obs(), {}

    def step(self, action):
        if self.t == self.delay + 1:  # the query: the answer ends the episode
            return self._obs(), float(int(action) == self.cue), True, False, {"cue": self.cue}
        self.t += 1
        return self._obs(), 0.0, False, False, {}


class TMazeEnv(gym.Env):
    """Bakker's T-maze (2002): walk down a corridor, then turn the way a cue said at the start.

    Observation ``(cue_up, cue_down, corridor, junction)``: at the start (position 0) the
    one-hot cue, in the corridor (positions 1 to ``length - 1``) the corridor flag, at the
    junction (position ``length``) the junction flag. Actions: 0 walks forward (at the junction
    it stays), 1 turns up, 2 turns down. A turn at the junction ends the episode: reward 1 if
    it is the cue's way, -1 if not. A turn in the corridor walks into a wall: nothing happens.
    Every step that does not end the episode costs ``step_cost`` (0.01), as Bakker's walls and
    waits cost: without it, standing at the junction until the episode is truncated after
    ``3 (length + 1)`` steps scores 0 for sure, as much as a memoryless turn on average, and
    PPO (rlkit's or sb3-contrib's RecurrentPPO) settles there and never learns the turn. With
    it, waiting scores ``-3 (length + 1) step_cost`` (-0.21 at length 6), a memoryless turn
    ``-length step_cost`` on average (-0.06), the optimum ``1 - length step_cost`` (0.94).
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, length: int = 6, step_cost: float = 0.01) -> None:
        if length < 1 or not step_cost >= 0:
            raise ValueError(f"TMazeEnv needs a corridor length >= 1 and a step cost >= 0, "
                             f"got {length}, {step_cost}")
        self.length, self.step_cost = length, float(step_cost)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(3)

    def _obs(self) -> np.ndarray:
        obs = np.zeros(4, np.float32)
        if self.position == 0:
            obs[self.cue] = 1.0
        elif self.position < self.length:
            obs[2] = 1.0
        else:
            obs[3] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.position, self.t = 0, 0
        self.cue = int(self.np_random.integers(2))
        return self._obs(), {}

    def step(self, action):
        action, self.t = int(action), self.t + 1
        if action == 0:
            self.position = min(self.position + 1, self.length)
        elif self.position == self.length:  # a turn at the junction ends the episode
            right = action - 1 == self.cue
            return self._obs(), 1.0 if right else -1.0, True, False, {"cue": self.cue}
        truncated = self.t >= 3 * (self.length + 1)
        return self._obs(), -self.step_cost, False, truncated, {}
