"""Fixed-horizon tasks for imitation learning: episodes whose length the policy cannot change.

* :class:`CartPoleFixedHorizonEnv`: CartPole-v1's physics, never terminated, paid 1 for each
  step the pole is up and the cart within bounds (registered as
  ``rlkit/CartPoleFixedHorizon-v0``, truncated after 500 steps).

Why: in CartPole-v1 the episode ends when the pole falls, so its length *is* its return. An
imitation learner that never sees the true reward (GAIL, AIRL, ...) learns a reward of its own;
if that reward is positive at every step, merely making episodes last longer pays, and the
agent learns to balance without having learnt anything from the expert. The episode length
leaks the true reward. With a fixed horizon every episode has the same length whatever the
policy does, so only the reward tells a good policy from a bad one.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


def _wrap_angle(theta: float) -> float:
    """``theta`` brought into ``[-pi, pi)`` when outside ``[-pi, pi]``; left as it is (bit for
    bit) otherwise, so that inside CartPole's bounds nothing differs from CartPole-v1."""
    if abs(theta) <= math.pi:
        return theta
    return (theta + math.pi) % (2.0 * math.pi) - math.pi


class CartPoleFixedHorizonEnv(CartPoleEnv):
    """CartPole with a fixed horizon: never terminated, reward 1 while balanced, else 0.

    The dynamics, action space (``Discrete(2)``: push left, push right) and observation
    ``(x, x_dot, theta, theta_dot)`` (float32) are CartPole-v1's. The difference is what happens
    when the pole falls or the cart leaves the track: CartPole-v1 terminates the episode (and
    pays 1 for that last step); here the episode goes on, the pole swings under the cart as the
    same equations of motion say, and the reward at step ``t``, read on the state ``s_{t+1}``
    after the action, is

        r_t = 1   if |x_{t+1}| <= x_max and |theta_{t+1}| <= theta_max
        r_t = 0   otherwise

    with CartPole's own bounds ``x_max = 2.4`` and ``theta_max = 12 degrees`` (``<=``: the
    states CartPole-v1 does *not* terminate in pay 1 here). ``terminated`` is always False; the
    ``TimeLimit`` of the registration (500 steps, CartPole-v1's) truncates every episode at
    the same step, so the return is the number of balanced steps, 0 to 500.

    Why (the leak): when the episode ends on a fall, its length is its return, and an
    imitation learner (GAIL, AIRL) whose learnt reward is positive everywhere is paid for
    surviving whatever its discriminator says; with a fixed length that channel is closed.

    Design:

    * A subclass rather than a wrapper: ``step`` runs CartPole-v1's own physics
      (``CartPoleEnv.step``) and replaces its reward and ``terminated``. The parent counts the
      steps after its termination to warn about stepping a finished episode; that count is
      cleared after every step, so no "step() after terminated" warning is ever emitted.
    * The angle is wrapped into ``[-pi, pi)`` once ``|theta| > pi`` (the pole swinging over),
      in the state too, so that a pole brought back up after a full turn counts as upright.
      The equations use only ``sin`` and ``cos`` of the angle, so the wrap changes no motion.
      Inside ``[-pi, pi]`` the angle is left untouched, bit for bit.
    * Observation space: CartPole-v1's box stops at ``2 x_max`` and ``2 theta_max``, which
      only works because its episodes end there. Here the cart may roll off arbitrarily far
      and the pole swings all round, so ``x``, ``x_dot`` and ``theta_dot`` may take any
      finite float32 value (bounds ``±float32 max``; ``±inf`` would do as well but makes
      ``check_env`` warn) and ``theta`` lies in ``[-pi, pi]``: every observation is inside the
      space. (In 500 steps the speeds stay far below these bounds: the force is 10 N.)
    * ``CartPoleEnv``'s ``sutton_barto_reward`` option is not offered: the reward is fixed.
    """

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        big = np.finfo(np.float32).max  # not inf: check_env warns about infinite bounds
        high = np.array([big, big, np.pi, big], dtype=np.float32)
        self.observation_space = gym.spaces.Box(-high, high, dtype=np.float32)

    def _balanced(self) -> bool:
        x, _, theta, _ = self.state
        return bool(abs(x) <= self.x_threshold and abs(theta) <= self.theta_threshold_radians)

    def _observation(self) -> np.ndarray:
        self.state[2] = _wrap_angle(float(self.state[2]))
        return np.array(self.state, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        _, info = super().reset(seed=seed, options=options)
        return self._observation(), info

    def step(self, action):
        super().step(action)  # CartPole-v1's physics; its reward and terminated are dropped
        self.steps_beyond_terminated = None  # the episode never ends: nothing to warn about
        obs = self._observation()
        reward = 1.0 if self._balanced() else 0.0
        return obs, reward, False, False, {}
