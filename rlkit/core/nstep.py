"""n-step transitions for replay buffers, built from the 1-step ones a vector env produces.

The n-step transition that starts at step t of an episode is

    (s_t, a_t, G_t, s_{t+m}, terminated, gamma^m),   G_t = sum_{k=0}^{m-1} gamma^k r_{t+k},

with m = n, or fewer when the episode ends first at step t + m - 1. Its TD target is
``G_t + gamma^m (1 - terminated) max_b Q(s_{t+m}, b)``:

* a *terminated* episode end cuts the bootstrap (``terminated`` is stored as 1);
* a *truncated* end (time limit) still bootstraps, from the true final observation that the
  truncating step returned, with discount ``gamma^m``;
* the autoreset step that follows an episode end (``valid = False``) is never part of a
  transition: the env only resets there.

:class:`NStepAccumulator` keeps, per env, the last ``n - 1`` unfinished transitions in a ring
indexed by time and emits each one when it is n steps old or its episode ends; all work is
vectorized over envs and ring slots (no Python loop over either).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class NStepTransitions:
    """A batch of finished n-step transitions, ready for ``ReplayBuffer.add``."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    """the discounted reward sums G_t"""
    next_obs: np.ndarray
    terminated: np.ndarray
    discounts: np.ndarray
    """gamma^m, the discount of the bootstrap value"""
    next_action_masks: np.ndarray | None = None
    """the valid actions at next_obs, where the env gives masks"""


class NStepAccumulator:
    """Turns a stream of vector-env steps into n-step transitions (see the module docstring).

    Transitions pending for env ``e`` sit in ring slots ``(t - k) % n`` for
    ``k < length[e]``, where ``t`` counts vector steps. An env's pending transitions are always
    consecutive in time, because an episode end flushes them all and the only step an env
    skips (the invalid autoreset step) comes right after one.
    """

    def __init__(
        self,
        n_envs: int,
        n_step: int,
        gamma: float,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: np.dtype = np.float32,
        action_dtype: np.dtype = np.int64,
    ) -> None:
        if n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {n_step}")
        self.n, self.gamma, self.n_envs = n_step, gamma, n_envs
        self.obs = np.zeros((n_step, n_envs, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((n_step, n_envs, *action_shape), dtype=action_dtype)
        self.returns = np.zeros((n_step, n_envs), dtype=np.float64)
        self.length = np.zeros(n_envs, dtype=np.int64)  # pending transitions per env
        self.t = 0
        self._powers = gamma ** np.arange(n_step + 1, dtype=np.float64)
        self._slots = np.arange(n_step)

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        valid: np.ndarray,
        next_action_masks: np.ndarray | None = None,
    ) -> NStepTransitions | None:
        """Record one vector step; returns the transitions it completes (None if none).
        ``next_action_masks`` (the valid actions at ``next_obs``) go with the transitions that
        bootstrap from there."""
        n = self.n
        slot = self.t % n
        self.t += 1
        self.obs[slot] = obs
        self.actions[slot] = actions
        self.returns[slot] = 0.0
        self.length += valid
        age = (slot - self._slots) % n  # age of each ring slot: 0 = this step
        pending = age[:, None] < self.length[None, :]  # (n, n_envs)
        # G_{t-age} += gamma^age * r_t for every pending transition
        self.returns += np.where(pending, self._powers[age][:, None] * rewards[None, :], 0.0)

        ends = (terminated | truncated) & valid
        full = self.length == n
        emit = pending & (ends[None, :] | (full[None, :] & (age == n - 1)[:, None]))
        self.length[full] = n - 1
        self.length[ends] = 0
        if not emit.any():
            return None
        by_age = (slot - self._slots[::-1]) % n  # ring slots, oldest first
        rows, envs = np.nonzero(emit[by_age])
        slots = by_age[rows]
        return NStepTransitions(
            obs=self.obs[slots, envs],
            actions=self.actions[slots, envs],
            rewards=self.returns[slots, envs].astype(np.float32),
            next_obs=next_obs[envs],
            terminated=terminated[envs],
            discounts=self._powers[age[slots] + 1].astype(np.float32),
            next_action_masks=None if next_action_masks is None else next_action_masks[envs],
        )

    def clear(self) -> None:
        """Drop every pending transition (their episodes are gone: the envs start anew)."""
        self.length[:] = 0

    def state_dict(self) -> dict[str, Any]:
        return {
            "obs": self.obs.copy(),
            "actions": self.actions.copy(),
            "returns": self.returns.copy(),
            "length": self.length.copy(),
            "t": self.t,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.obs[:] = np.asarray(state["obs"])
        self.actions[:] = np.asarray(state["actions"])
        self.returns[:] = np.asarray(state["returns"])
        self.length[:] = np.asarray(state["length"])
        self.t = int(state["t"])
