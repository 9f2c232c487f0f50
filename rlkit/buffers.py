"""Preallocated buffers and the return/advantage estimators they use.

Conventions shared by every buffer (Gymnasium 1.x, next-step autoreset):

* ``terminated`` cuts the bootstrap: the target after a terminal step is just ``r``.
* ``truncated`` (time limit) still bootstraps, from the value of the true final observation.
  With next-step autoreset that observation is the one returned by the truncating step, so the
  rollout buffer already holds its value at the following (autoreset) step.
* the autoreset step itself (the env only resets; reward 0) is stored with ``valid = False``
  and never learned from.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
import torch


def gae_advantages(
    rewards: np.ndarray,
    values: np.ndarray,
    next_values: np.ndarray,
    terminated: np.ndarray,
    episode_ends: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> np.ndarray:
    """Generalized advantage estimation (Schulman et al. 2016), arrays shaped (T, n_envs).

    delta_t = r_t + gamma * (1 - terminated_t) * V(s_{t+1}) - V(s_t)
    A_t     = delta_t + gamma * lambda * (1 - end_t) * A_{t+1}

    ``end_t`` is terminated or truncated: the recursion never crosses an episode boundary,
    while a truncated step still bootstraps through ``V(s_{t+1})`` (its true final
    observation). lambda = 1 gives Monte-Carlo returns minus V (bootstrapped at the rollout's
    end); lambda = 0 gives the one-step TD error.
    """
    deltas = rewards + gamma * np.where(terminated, 0.0, next_values) - values
    carry = gamma * gae_lambda * ~episode_ends
    advantages = np.empty_like(deltas)
    running = np.zeros_like(deltas[0])
    for t in range(len(deltas) - 1, -1, -1):
        running = deltas[t] + carry[t] * running
        advantages[t] = running
    return advantages


@dataclass
class RolloutBatch:
    """Flat, valid-only samples of a rollout as torch tensors (first dim = samples)."""

    obs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor

    def __getitem__(self, index: torch.Tensor) -> RolloutBatch:
        return RolloutBatch(*(getattr(self, f.name)[index] for f in fields(self)))

    def __len__(self) -> int:
        return len(self.returns)


class RolloutBuffer:
    """On-policy storage: arrays shaped ``(n_steps, n_envs, ...)``, filled one step at a time.

    ``extras`` reserves more per-step arrays by name, e.g. ``{"hidden": ((2, 64), np.float32)}``
    for recurrent policies' hidden states.
    """

    def __init__(
        self,
        n_steps: int,
        n_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: np.dtype = np.float32,
        action_dtype: np.dtype = np.int64,
        extras: dict[str, tuple[tuple[int, ...], np.dtype]] | None = None,
    ) -> None:
        self.n_steps, self.n_envs = n_steps, n_envs
        shape = (n_steps, n_envs)
        self.obs = np.zeros((*shape, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((*shape, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.values = np.zeros(shape, dtype=np.float32)
        self.log_probs = np.zeros(shape, dtype=np.float32)
        self.terminated = np.zeros(shape, dtype=bool)
        self.truncated = np.zeros(shape, dtype=bool)
        self.valid = np.zeros(shape, dtype=bool)
        self.advantages = np.zeros(shape, dtype=np.float32)
        self.returns = np.zeros(shape, dtype=np.float32)
        self.extras = {
            name: np.zeros((*shape, *s), dtype=dt) for name, (s, dt) in (extras or {}).items()
        }
        self.pos = 0

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        valid: np.ndarray,
        values: np.ndarray,
        log_probs: np.ndarray,
        **extras: np.ndarray,
    ) -> None:
        t = self.pos
        self.obs[t] = obs
        self.actions[t] = actions
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.valid[t] = valid
        self.values[t] = values
        self.log_probs[t] = log_probs
        for name, value in extras.items():
            self.extras[name][t] = value
        self.pos += 1

    @property
    def full(self) -> bool:
        return self.pos == self.n_steps

    def compute_returns_and_advantages(
        self, last_values: np.ndarray, gamma: float, gae_lambda: float
    ) -> None:
        """Fill ``advantages`` (GAE) and ``returns = advantages + values`` (TD(lambda) targets).

        ``last_values`` is V of the observation after the last stored step (the bootstrap).
        """
        next_values = np.concatenate([self.values[1:], last_values[None]], axis=0)
        self.advantages[:] = gae_advantages(
            self.rewards,
            self.values,
            next_values,
            self.terminated,
            self.terminated | self.truncated,
            gamma,
            gae_lambda,
        )
        self.returns[:] = self.advantages + self.values

    def reset(self) -> None:
        self.pos = 0

    def get(self, device: torch.device | str = "cpu") -> RolloutBatch:
        """Every valid sample, flattened over (step, env)."""
        mask = self.valid.reshape(-1)

        def flat(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x.reshape(-1, *x.shape[2:])[mask], device=device)

        return RolloutBatch(
            obs=flat(self.obs),
            actions=flat(self.actions),
            log_probs=flat(self.log_probs),
            values=flat(self.values),
            advantages=flat(self.advantages),
            returns=flat(self.returns),
        )


def minibatches(
    batch: RolloutBatch, batch_size: int, generator: torch.Generator
) -> Iterator[RolloutBatch]:
    """Shuffled minibatches of ``batch_size`` (the last one may be smaller)."""
    order = torch.randperm(len(batch), generator=generator)
    for start in range(0, len(batch), batch_size):
        yield batch[order[start : start + batch_size]]


@dataclass
class ReplayBatch:
    """A sample of transitions as torch tensors; ``indices`` locate them in the buffer."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    indices: np.ndarray


class ReplayBuffer:
    """Uniform circular replay memory of ``capacity`` transitions, preallocated.

    Transitions are stored flat: each vector-env step writes its valid transitions (the
    autoreset step of an env is skipped) at ``(pos + arange(k)) % capacity``. ``next_obs`` of a
    truncated step is the true final observation, and ``terminated`` alone cuts the bootstrap.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: np.dtype = np.float32,
        action_dtype: np.dtype = np.int64,
    ) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.pos = 0
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        next_obs: np.ndarray,
        terminated: np.ndarray,
        valid: np.ndarray | None = None,
    ) -> np.ndarray:
        """Store a batch of transitions (rows where ``valid``); returns their indices."""
        if valid is not None and not valid.all():
            obs, actions, rewards = obs[valid], actions[valid], rewards[valid]
            next_obs, terminated = next_obs[valid], terminated[valid]
        k = len(rewards)
        idx = (self.pos + np.arange(k)) % self.capacity
        self.obs[idx] = obs
        self.actions[idx] = actions
        self.rewards[idx] = rewards
        self.next_obs[idx] = next_obs
        self.terminated[idx] = terminated
        self.pos = (self.pos + k) % self.capacity
        self.size = min(self.size + k, self.capacity)
        return idx

    def batch(self, indices: np.ndarray, device: torch.device | str = "cpu") -> ReplayBatch:
        def t(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x[indices], device=device)

        return ReplayBatch(
            obs=t(self.obs),
            actions=t(self.actions),
            rewards=t(self.rewards),
            next_obs=t(self.next_obs),
            terminated=t(self.terminated),
            indices=indices,
        )

    def sample(
        self, batch_size: int, rng: np.random.Generator, device: torch.device | str = "cpu"
    ) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        return self.batch(rng.integers(0, self.size, size=batch_size), device)

    def state_dict(self) -> dict:
        n = self.size
        return {
            "obs": self.obs[:n].copy(),
            "next_obs": self.next_obs[:n].copy(),
            "actions": self.actions[:n].copy(),
            "rewards": self.rewards[:n].copy(),
            "terminated": self.terminated[:n].copy(),
            "pos": self.pos,
            "size": self.size,
        }

    def load_state_dict(self, state: dict) -> None:
        n = int(state["size"])
        for name in ("obs", "next_obs", "actions", "rewards", "terminated"):
            getattr(self, name)[:n] = np.asarray(state[name])
        self.pos, self.size = int(state["pos"]), n
