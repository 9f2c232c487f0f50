"""Observation and reward normalization from running statistics.

The statistics live with the agent (not in an env wrapper) so that ``predict`` on a raw
observation, evaluation with frozen statistics and checkpoints all see one object. Running
moments come from Gymnasium's ``RunningMeanStd``.
"""

from __future__ import annotations

import numpy as np
from gymnasium.wrappers.utils import RunningMeanStd


class ObsNormalizer:
    """x_norm = clip((x - mean) / sqrt(var + eps), -clip, clip), moments updated while training."""

    def __init__(self, shape: tuple[int, ...], clip: float = 10.0, eps: float = 1e-8) -> None:
        self.rms = RunningMeanStd(shape=shape)
        self.clip, self.eps = clip, eps

    def update(self, obs: np.ndarray) -> None:
        self.rms.update(np.asarray(obs, dtype=np.float64))

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        scaled = (obs - self.rms.mean) / np.sqrt(self.rms.var + self.eps)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return {"mean": self.rms.mean.copy(), "var": self.rms.var.copy(), "count": self.rms.count}

    def load_state_dict(self, state: dict) -> None:
        self.rms.mean = np.asarray(state["mean"], dtype=np.float64)
        self.rms.var = np.asarray(state["var"], dtype=np.float64)
        self.rms.count = float(state["count"])


class RewardScaler:
    """r_scaled = r / sqrt(Var[G] + eps), where G_t = gamma * G_{t-1} + r_t per env.

    G restarts at every episode end (terminated or truncated), as in PPO's reference code.
    """

    def __init__(self, n_envs: int, gamma: float, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.rms = RunningMeanStd(shape=())
        self.discounted_return = np.zeros(n_envs)
        self.gamma, self.clip, self.eps = gamma, clip, eps

    def __call__(self, rewards: np.ndarray, dones: np.ndarray) -> np.ndarray:
        self.discounted_return = self.discounted_return * self.gamma + rewards
        self.rms.update(self.discounted_return)
        self.discounted_return[dones] = 0.0
        scaled = rewards / np.sqrt(self.rms.var + self.eps)
        return np.clip(scaled, -self.clip, self.clip).astype(np.float32)

    def state_dict(self) -> dict:
        return {
            "var": np.asarray(self.rms.var).copy(),
            "mean": np.asarray(self.rms.mean).copy(),
            "count": self.rms.count,
            "discounted_return": self.discounted_return.copy(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.rms.mean = np.asarray(state["mean"], dtype=np.float64)
        self.rms.var = np.asarray(state["var"], dtype=np.float64)
        self.rms.count = float(state["count"])
        self.discounted_return = np.asarray(state["discounted_return"], dtype=np.float64)
