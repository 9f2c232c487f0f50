"""Prioritized experience replay (Schaul et al., 2016) on the uniform buffer's storage.

Transition i is replayed with probability P(i) = p_i / sum_k p_k, where

    p_i = (|delta_i| + eps)^alpha

and delta_i is its latest TD error ("replay what surprised you"); alpha = 0 is uniform replay.
A transition that was never replayed enters with the largest priority seen so far, so it is
replayed at least once soon. The bias of non-uniform replay is corrected by weighting each
sampled loss term with

    w_i = (N * P(i))^(-beta) / max_j w_j = (p_i / min_j p_j)^(-beta),

N = number of stored transitions, with beta annealed towards 1 over training. A sum tree gives
sum_k p_k and sampling in O(log N); a min tree gives min_j p_j (so max_j w_j) in O(1).
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np
import torch

from rlkit.core.buffers import ReplayBatch, ReplayBuffer
from rlkit.core.sumtree import (
    _BAD_INDEX,
    MinTree,
    SumTree,
    _as_indices,
    _update_kernel,
    stratified_sample,
    update_sum_and_min,
)


def importance_weights(priorities: np.ndarray, min_priority: float, beta: float) -> np.ndarray:
    """w_i = (N P(i))^-beta / max_j w_j = (p_i / min_j p_j)^-beta.

    With P(i) = p_i / sum_k p_k, the largest weight belongs to the smallest priority, and N and
    sum_k p_k cancel in the ratio.
    """
    return (priorities / min_priority) ** -beta


@numba.njit(cache=True)
def _update_priorities_kernel(
    sums: np.ndarray, mins: np.ndarray, size: int, capacity: int, indices: np.ndarray,
    td_errors: np.ndarray, eps: float, alpha: float,
) -> tuple[int, float]:
    """p_i = (|delta_i| + eps)^alpha written to both trees; returns (status, max_i p_i).

    One compiled call per gradient step: a chain of small numpy calls here costs several
    microseconds each, because the network's update between two calls evicts them from cache.
    """
    priorities = (np.abs(td_errors.astype(np.float64)) + eps) ** alpha
    return _update_kernel(sums, mins, size, capacity, indices, priorities), priorities.max()


class PrioritizedReplayBuffer(ReplayBuffer):
    """A :class:`ReplayBuffer` that samples by priority and returns importance weights.

    ``sample(batch_size, rng, beta=...)`` draws stratified over ``batch_size`` equal segments
    of the total priority and fills ``ReplayBatch.weights``; the agent then calls
    ``update_priorities(batch.indices, td_errors)``.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: np.dtype = np.float32,
        action_dtype: np.dtype = np.int64,
        store_discounts: bool = False,
        alpha: float = 0.6,
        eps: float = 1e-6,
    ) -> None:
        super().__init__(capacity, obs_shape, action_shape, obs_dtype, action_dtype,
                         store_discounts)
        if alpha < 0 or eps <= 0:
            raise ValueError(f"need alpha >= 0 and eps > 0, got alpha={alpha}, eps={eps}")
        self.alpha, self.eps = alpha, eps
        self.sum_tree = SumTree(capacity)
        self.min_tree = MinTree(capacity)
        self.max_priority = 1.0  # largest p_i so far (already raised to alpha)
        # Indices added since the trees were last written: they all get max_priority, which
        # cannot change before the next sample/update, so writing them in one batch then is
        # exact and saves one O(log N) tree walk per env step.
        self._unwritten: list[np.ndarray] = []

    def add(self, *args: Any, **kwargs: Any) -> np.ndarray:
        idx = super().add(*args, **kwargs)
        if len(idx):
            self._unwritten.append(idx)
        return idx

    def _set(self, indices: np.ndarray, priorities: np.ndarray | float) -> None:
        """Write p_i to both trees."""
        update_sum_and_min(self.sum_tree, self.min_tree, indices, priorities)

    def _write_new(self) -> None:
        if self._unwritten:
            idx = np.concatenate(self._unwritten)
            self._unwritten = []
            self._set(idx, self.max_priority)

    def priorities(self, indices: np.ndarray) -> np.ndarray:
        """p_i of stored transitions."""
        self._write_new()
        return self.sum_tree[indices]

    def probabilities(self, indices: np.ndarray) -> np.ndarray:
        """P(i) = p_i / sum_k p_k."""
        return self.priorities(indices) / self.sum_tree.total

    def sample(
        self,
        batch_size: int,
        rng: np.random.Generator,
        device: torch.device | str = "cpu",
        beta: float = 1.0,
    ) -> ReplayBatch:
        """``batch_size`` transitions drawn with P(i), one per equal segment of sum_k p_k."""
        self._write_new()
        indices, priorities = stratified_sample(self.sum_tree, batch_size, rng,
                                                return_priorities=True)
        batch = self.batch(indices, device)
        weights = importance_weights(priorities, self.min_tree.min, beta)
        batch.weights = torch.from_numpy(weights.astype(np.float32)).to(device)
        return batch

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """p_i = (|delta_i| + eps)^alpha for the sampled ``indices`` (last write wins)."""
        self._write_new()
        indices, td_errors = _as_indices(indices), np.asarray(td_errors)
        if indices.shape != td_errors.shape or indices.ndim != 1:
            raise ValueError(f"need 1-d indices and td_errors of one shape, got "
                             f"{indices.shape} and {td_errors.shape}")
        if indices.size == 0:
            return
        status, max_priority = _update_priorities_kernel(
            self.sum_tree.nodes, self.min_tree.nodes, self.sum_tree._size, self.capacity,
            indices.astype(np.int64, copy=False), td_errors, self.eps, self.alpha)
        if status == _BAD_INDEX:
            raise IndexError(f"indices must lie in [0, {self.capacity})")
        if status != 0:
            raise ValueError("TD errors must be finite")
        self.max_priority = max(self.max_priority, max_priority)

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["priorities"] = self.priorities(np.arange(self.size))
        state["max_priority"] = self.max_priority
        return state

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self._unwritten = []
        self._set(np.arange(self.size), np.asarray(state["priorities"], dtype=np.float64))
        self.max_priority = float(state["max_priority"])
