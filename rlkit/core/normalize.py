"""Observation and reward normalization from running statistics.

The statistics live with the agent (not in an env wrapper) so that ``predict`` on a raw
observation, evaluation with frozen statistics and checkpoints all see one object. Running
moments come from Gymnasium's ``RunningMeanStd``.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.wrappers.utils import RunningMeanStd

from rlkit.core.observations import PackedObservations


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


class PackedObsNormalizer(ObsNormalizer):
    """:class:`ObsNormalizer` for packed rows (:mod:`rlkit.core.observations`): the moments are
    those of the vector (``box``) entries side by side, so each entry is normalized on its
    own; frames, ids and binary entries pass through untouched."""

    def __init__(self, space: PackedObservations, clip: float = 10.0, eps: float = 1e-8) -> None:
        self.space, self.entries = space, space.box_entries
        self.sizes = [int(np.prod(e.shape, dtype=np.int64)) for e in self.entries]
        super().__init__((sum(self.sizes),), clip, eps)

    def _vectors(self, rows: np.ndarray) -> np.ndarray:
        """Rows (n, nbytes) -> the vector entries' values side by side (n, sum of sizes)."""
        return np.concatenate([self.space.entry_values(rows, e).reshape(len(rows), -1)
                               for e in self.entries], axis=1)

    def update(self, obs: np.ndarray) -> None:
        if self.entries:
            super().update(self._vectors(obs))

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        rows = np.array(obs, dtype=np.uint8, ndmin=2)  # a copy: the env's rows stay raw
        if self.entries:
            normalized = super().__call__(self._vectors(rows))
            column = 0
            for entry, size in zip(self.entries, self.sizes, strict=True):
                values = np.ascontiguousarray(normalized[:, column:column + size])
                rows[:, entry.offset:entry.offset + entry.nbytes] = values.view(np.uint8)
                column += size
        return rows.reshape(np.shape(obs))


def make_obs_normalizer(space: gym.Space, clip: float = 10.0) -> ObsNormalizer:
    """The normalizer for observations of ``space`` (packed rows: their vector entries)."""
    if isinstance(space, PackedObservations):
        return PackedObsNormalizer(space, clip)
    return ObsNormalizer(space.shape, clip)


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
