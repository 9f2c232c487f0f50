"""Actions of several parts: a keypad (MultiDiscrete) and a row of switches (MultiBinary).

:class:`KeypadEnv` (``rlkit/Keypad-v0``): every step shows a code of ``digits`` digits, each in
0, ..., ``base`` - 1, one-hot (``digits * base`` floats), and the action types one digit per
key (``MultiDiscrete([base] * digits)``). The reward is the fraction of digits typed right, and
a new code shows at once; episodes last ``length`` steps (16). The best return is ``length``,
a uniformly random policy's ``length / base``. With ``binary=True`` (``rlkit/Switches-v0``) the
code is ``digits`` bits (0./1.) and the action sets a row of switches to match
(``MultiBinary(digits)``): random play scores ``length / 2``.

A policy must set every part from the part of the observation that belongs to it: what the
independent categoricals (or Bernoullis) of a multi-part action head are for.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class KeypadEnv(gym.Env):
    """Type the code shown (see the module docstring)."""

    metadata = {"render_modes": []}

    def __init__(self, digits: int = 3, base: int = 4, length: int = 16,
                 binary: bool = False) -> None:
        if digits < 1 or length < 1 or (not binary and base < 2):
            raise ValueError(f"Keypad needs digits >= 1, base >= 2, length >= 1; got "
                             f"{digits}, {base}, {length}")
        self.digits, self.length, self.binary = digits, length, binary
        self.base = 2 if binary else base
        if binary:
            self.observation_space = gym.spaces.Box(0.0, 1.0, (digits,), np.float32)
            self.action_space = gym.spaces.MultiBinary(digits)
        else:
            self.observation_space = gym.spaces.Box(0.0, 1.0, (digits * base,), np.float32)
            self.action_space = gym.spaces.MultiDiscrete([base] * digits)
        self.code = np.zeros(digits, np.int64)
        self.steps = 0

    def _obs(self) -> np.ndarray:
        if self.binary:
            return self.code.astype(np.float32)
        obs = np.zeros((self.digits, self.base), np.float32)
        obs[np.arange(self.digits), self.code] = 1.0
        return obs.reshape(-1)

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        self.code = self.np_random.integers(0, self.base, self.digits)
        return self._obs(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        typed = np.asarray(action, dtype=np.int64).reshape(self.digits)
        reward = float(np.mean(typed == self.code))
        self.steps += 1
        self.code = self.np_random.integers(0, self.base, self.digits)
        return self._obs(), reward, False, self.steps >= self.length, {}
