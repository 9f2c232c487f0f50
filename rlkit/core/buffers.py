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

from rlkit.core.aligned import to_tensor


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


def reward_to_go(
    rewards: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float,
    bootstrap: np.ndarray | None = None,
) -> np.ndarray:
    """Discounted Monte-Carlo return of every step within its episode, arrays (T, n_envs).

    G_t = r_t + gamma * G_{t+1}, restarted at each episode end:
    G_t = r_t at a terminated step, G_t = r_t + gamma * bootstrap_t at a truncated one
    (``bootstrap_t`` = V of its true final observation; None scores a truncated episode as if
    it had terminated). This is GAE with lambda = 1 and V = 0 except at truncations, so the
    one recursion in :func:`gae_advantages` serves both. Steps after a column's last episode
    end get the partial sum up to the array's end: only complete episodes should be used.
    """
    zeros = np.zeros_like(rewards)
    next_values = zeros if bootstrap is None else np.where(truncated, bootstrap, 0.0)
    return gae_advantages(
        rewards, zeros, next_values, terminated, terminated | truncated, gamma, 1.0
    ).astype(rewards.dtype, copy=False)


@dataclass
class RolloutBatch:
    """Flat, valid-only samples of a rollout as torch tensors (first dim = samples)."""

    obs: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    action_masks: torch.Tensor | None = None
    """the valid actions where the env gave a mask (bool, one per logit); None: all"""

    def __getitem__(self, index: torch.Tensor) -> RolloutBatch:
        return RolloutBatch(*(None if (x := getattr(self, f.name)) is None else x[index]
                              for f in fields(self)))

    def __len__(self) -> int:
        return len(self.returns)


@dataclass
class SequenceBatch:
    """A rollout as whole-env sequences, for a torso with memory.

    ``obs``, ``actions``, ``starts`` (episode starts) and ``mask`` (valid steps) are
    time-major ``(T, envs, ...)``; ``memory`` is the torso state before step 0 (tensors with
    the env second). The per-sample fields (``log_probs``, ``values``, ``advantages``,
    ``returns``) are the valid steps flattened in (step, env) order, the order in which
    ``ActorCritic.evaluate`` returns its outputs.
    """

    obs: torch.Tensor
    actions: torch.Tensor
    starts: torch.Tensor
    mask: torch.Tensor
    memory: tuple[torch.Tensor, ...]
    log_probs: torch.Tensor
    values: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor
    action_masks: torch.Tensor | None = None
    """time-major like ``obs``; None: every action valid"""

    def envs(self, index: torch.Tensor) -> SequenceBatch:
        """The sequences of the envs in ``index``."""
        mask = self.mask[:, index]
        # position of every valid (step, env) sample in the flat fields
        flat = torch.full(self.mask.shape, -1, dtype=torch.long, device=self.mask.device)
        flat[self.mask] = torch.arange(int(self.mask.sum()), device=self.mask.device)
        rows = flat[:, index][mask]
        return SequenceBatch(
            self.obs[:, index], self.actions[:, index], self.starts[:, index], mask,
            tuple(m[:, index] for m in self.memory), self.log_probs[rows], self.values[rows],
            self.advantages[rows], self.returns[rows],
            None if self.action_masks is None else self.action_masks[:, index],
        )  # fmt: skip

    def __len__(self) -> int:
        return len(self.returns)


class RolloutBuffer:
    """On-policy storage: arrays shaped ``(n_steps, n_envs, ...)``, filled one step at a time.

    ``extras`` reserves more per-step arrays by name, e.g. ``{"hidden": ((2, 64), np.float32)}``
    for recurrent policies' hidden states. ``action_masks`` (the valid actions of each step,
    bool) is allocated at the first step that brings masks, and stays None for envs that give
    none.
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
        self.episode_starts = np.zeros(shape, dtype=bool)
        self.extras = {
            name: np.zeros((*shape, *s), dtype=dt) for name, (s, dt) in (extras or {}).items()
        }
        self.action_masks: np.ndarray | None = None
        # a memory torso's state before the first stored step; () without memory
        self.memory: tuple[torch.Tensor, ...] = ()
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
        episode_starts: np.ndarray | None = None,
        action_masks: np.ndarray | None = None,
        **extras: np.ndarray,
    ) -> None:
        t = self.pos
        if action_masks is not None:
            if self.action_masks is None:
                self.action_masks = np.ones((self.n_steps, self.n_envs,
                                             action_masks.shape[-1]), dtype=bool)
            self.action_masks[t] = action_masks
        if episode_starts is not None:
            self.episode_starts[t] = episode_starts
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

        ``last_values`` is V of the observation after the last stored step (the bootstrap),
        kept for :meth:`recompute_returns_and_advantages`.
        """
        self.last_values = np.array(last_values, copy=True)
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

    def recompute_returns_and_advantages(self, gamma: float, gae_lambda: float) -> None:
        """Advantages and returns again, after ``rewards`` changed (an imitation agent puts
        its learned rewards in place of the env's): V and the bootstrap stay as collected."""
        self.compute_returns_and_advantages(self.last_values, gamma, gae_lambda)

    def reset(self) -> None:
        self.pos = 0

    def get(self, device: torch.device | str = "cpu") -> RolloutBatch | SequenceBatch:
        """Every valid sample, flattened over (step, env); whole-env sequences (with the
        episode starts and the state before step 0) when the rollout was collected with
        memory."""
        if self.memory:
            return self.sequences(device)
        mask = self.valid.reshape(-1)

        def flat(x: np.ndarray) -> torch.Tensor:
            return to_tensor(x.reshape(-1, *x.shape[2:])[mask], device)

        return RolloutBatch(
            obs=flat(self.obs),
            actions=flat(self.actions),
            log_probs=flat(self.log_probs),
            values=flat(self.values),
            advantages=flat(self.advantages),
            returns=flat(self.returns),
            action_masks=None if self.action_masks is None else flat(self.action_masks),
        )

    def sequences(self, device: torch.device | str = "cpu") -> SequenceBatch:
        """The rollout as whole-env sequences (see :class:`SequenceBatch`)."""
        mask = torch.as_tensor(self.valid, device=device)

        def tensor(x: np.ndarray) -> torch.Tensor:
            return to_tensor(x, device)

        return SequenceBatch(
            tensor(self.obs), tensor(self.actions), tensor(self.episode_starts), mask,
            tuple(m.to(device) for m in self.memory), tensor(self.log_probs)[mask],
            tensor(self.values)[mask], tensor(self.advantages)[mask], tensor(self.returns)[mask],
            None if self.action_masks is None else tensor(self.action_masks),
        )  # fmt: skip


def normalize_advantages(advantages: torch.Tensor) -> torch.Tensor:
    """(A - mean(A)) / (std(A) + 1e-8), over a minibatch (a single sample is left as is)."""
    if len(advantages) < 2:
        return advantages
    return (advantages - advantages.mean()) / (advantages.std() + 1e-8)


def minibatches(
    batch: RolloutBatch, batch_size: int, generator: torch.Generator
) -> Iterator[RolloutBatch]:
    """Shuffled minibatches of ``batch_size`` (the last one may be smaller).

    Sequences (a memory torso's rollout) are split by env, never in time, so that every
    minibatch replays its envs' whole rollout from the stored state: ``batch_size // T``
    envs per minibatch (at least one).
    """
    if isinstance(batch, SequenceBatch):
        steps, n_envs = batch.mask.shape
        per_batch = max(1, batch_size // steps)
        if per_batch >= n_envs:
            yield batch
            return
        order = torch.randperm(n_envs, generator=generator)
        for start in range(0, n_envs, per_batch):
            yield batch.envs(order[start : start + per_batch])
        return
    if batch_size >= len(batch):  # one minibatch: its order cannot matter
        yield batch
        return
    order = torch.randperm(len(batch), generator=generator)
    for start in range(0, len(batch), batch_size):
        yield batch[order[start : start + batch_size]]


@dataclass
class EpisodeBatch:
    """Rows of an :class:`EpisodeBuffer` as time-major numpy arrays ``(T, n_envs, ...)``.

    ``mask`` marks the steps to learn from: valid steps of complete episodes. The other rows
    are context: the autoreset row after a truncation holds the true final observation (to
    bootstrap from), and columns whose episodes are still running contribute nothing.
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode_starts: np.ndarray
    mask: np.ndarray
    n_episodes: int
    action_masks: np.ndarray | None = None
    """the valid actions of each step, where the env gives masks"""


class EpisodeBuffer:
    """Steps of ``n_envs`` envs kept until their episodes are complete (Monte-Carlo methods).

    Time-major arrays grow as rollouts are appended; column j holds env j's steps in order and
    ``start[j]`` is its first step not handed out yet. An episode is complete once its last
    step (terminated or truncated) AND the row after it are stored: with next-step autoreset
    that row's observation is the episode's true final observation. :meth:`take_complete`
    hands out every complete episode and keeps the running ones for later. The steps' action
    masks join ``fields`` once a rollout brings them.
    """

    FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "episode_starts", "valid")

    def __init__(
        self,
        n_envs: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: np.dtype = np.float32,
        action_dtype: np.dtype = np.int64,
        capacity: int = 256,
    ) -> None:
        self.n_envs = n_envs
        self._specs = {
            "obs": (obs_shape, obs_dtype),
            "actions": (action_shape, action_dtype),
            "rewards": ((), np.float32),
            "terminated": ((), bool),
            "truncated": ((), bool),
            "episode_starts": ((), bool),  # what a memory torso needs to replay the episodes
            "valid": ((), bool),
        }
        self.fields: tuple[str, ...] = self.FIELDS
        self.action_masks: np.ndarray | None = None
        self.capacity = 0
        self.size = 0
        self.start = np.zeros(n_envs, dtype=np.int64)
        self._reserve(capacity)

    def _keep_masks(self, size: int) -> None:
        """Store ``size`` action-mask flags per step from now on."""
        if self.action_masks is None:
            self._specs["action_masks"] = ((size,), bool)
            self.action_masks = np.ones((self.capacity, self.n_envs, size), dtype=bool)
            self.fields = (*self.FIELDS, "action_masks")

    def _reserve(self, rows: int) -> None:
        """Make room for ``rows`` more steps (doubling, so appends stay amortized O(1))."""
        if self.size + rows <= self.capacity:
            return
        capacity = max(2 * self.capacity, self.size + rows)
        for name, (shape, dtype) in self._specs.items():
            grown = np.zeros((capacity, self.n_envs, *shape), dtype=dtype)
            if self.capacity:
                grown[: self.size] = getattr(self, name)[: self.size]
            setattr(self, name, grown)
        self.capacity = capacity

    def extend(self, rollout: RolloutBuffer) -> None:
        """Append the ``rollout.pos`` steps a :class:`RolloutBuffer` holds."""
        n = rollout.pos
        if rollout.action_masks is not None:
            self._keep_masks(rollout.action_masks.shape[-1])
        self._reserve(n)
        for name in self.fields:
            source = getattr(rollout, name)
            getattr(self, name)[self.size : self.size + n] = True if source is None else source[:n]
        self.size += n

    def _ends(self) -> np.ndarray:
        """(size - 1, n_envs): last steps of complete episodes not handed out yet."""
        n = max(self.size - 1, 0)
        rows = np.arange(n)[:, None]
        return (self.terminated[:n] | self.truncated[:n]) & (rows >= self.start)

    def n_complete(self) -> int:
        """Complete episodes waiting to be handed out."""
        return int(self._ends().sum())

    def take_complete(self) -> EpisodeBatch | None:
        """Every complete episode (None if there is none); running episodes stay stored."""
        ends = self._ends()
        if not ends.any():
            return None
        # per column: the row of its last complete episode's end (start - 1 if it has none)
        last = np.where(ends.any(0), len(ends) - 1 - np.argmax(ends[::-1], axis=0), self.start - 1)
        lo, hi = int(self.start.min()), int(last.max()) + 2  # + the row after the last end
        rows = np.arange(lo, hi)[:, None]
        mask = (rows >= self.start) & (rows <= last) & self.valid[lo:hi]
        batch = EpisodeBatch(
            obs=self.obs[lo:hi].copy(),
            actions=self.actions[lo:hi].copy(),
            rewards=self.rewards[lo:hi].copy(),
            terminated=self.terminated[lo:hi].copy(),
            truncated=self.truncated[lo:hi].copy(),
            episode_starts=self.episode_starts[lo:hi].copy(),
            mask=mask,
            n_episodes=int(ends.sum()),
            action_masks=None if self.action_masks is None else self.action_masks[lo:hi].copy(),
        )
        self.start = last + 1
        self._drop_front(int(self.start.min()))
        return batch

    def _drop_front(self, k: int) -> None:
        if k > 0:
            for name in self.fields:
                array = getattr(self, name)
                array[: self.size - k] = array[k : self.size].copy()
            self.size -= k
            self.start -= k

    def clear(self) -> None:
        """Drop every stored step (their episodes are gone: the envs start anew)."""
        self.size = 0
        self.start[:] = 0

    def state_dict(self) -> dict:
        state = {name: getattr(self, name)[: self.size].copy() for name in self.fields}
        state["start"] = self.start.copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.size = 0
        n = len(state["rewards"])
        if "action_masks" in state:
            self._keep_masks(np.shape(state["action_masks"])[-1])
        self._reserve(n)
        for name in self.fields:
            if name in state:  # checkpoints before memory torsos have no episode_starts
                getattr(self, name)[:n] = np.asarray(state[name])
        self.size = n
        self.start = np.asarray(state["start"], dtype=np.int64).copy()


@dataclass
class ReplayBatch:
    """A sample of transitions as torch tensors; ``indices`` locate them in the buffer."""

    obs: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    indices: np.ndarray
    discounts: torch.Tensor | None = None
    """per-transition bootstrap discount gamma^m (n-step returns); None: use the agent's gamma"""
    weights: torch.Tensor | None = None
    """importance-sampling weights (prioritized replay); None: all ones"""


class ReplayBuffer:
    """Uniform circular replay memory of ``capacity`` transitions, preallocated.

    Transitions are stored flat: each vector-env step writes its valid transitions (the
    autoreset step of an env is skipped) at ``(pos + arange(k)) % capacity``. ``next_obs`` of a
    truncated step is the true final observation, and ``terminated`` alone cuts the bootstrap.

    With ``store_discounts`` each transition also keeps its own bootstrap discount (``gamma^m``
    for an m-step return, see :mod:`rlkit.core.nstep`), returned as ``ReplayBatch.discounts``.
    """

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: np.dtype = np.float32,
        action_dtype: np.dtype = np.int64,
        store_discounts: bool = False,
    ) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.terminated = np.zeros(capacity, dtype=np.float32)
        self.discounts = np.zeros(capacity, dtype=np.float32) if store_discounts else None
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
        discounts: np.ndarray | None = None,
    ) -> np.ndarray:
        """Store a batch of transitions (rows where ``valid``); returns their indices.

        ``discounts`` is required when the buffer was built with ``store_discounts``.
        """
        if valid is not None and not valid.all():
            obs, actions, rewards = obs[valid], actions[valid], rewards[valid]
            next_obs, terminated = next_obs[valid], terminated[valid]
            if discounts is not None:
                discounts = discounts[valid]
        if self.discounts is not None and discounts is None:
            raise ValueError("this replay buffer stores discounts; pass discounts=")
        k = len(rewards)
        if self.pos + k <= self.capacity:  # no wrap-around: slice writes, cheaper than indices
            idx = np.arange(self.pos, self.pos + k)
            rows: slice | np.ndarray = slice(self.pos, self.pos + k)
        else:
            idx = rows = (self.pos + np.arange(k)) % self.capacity
        self._write_observations(rows, obs, next_obs)
        self.actions[rows] = actions
        self.rewards[rows] = rewards
        self.terminated[rows] = terminated
        if self.discounts is not None:
            self.discounts[rows] = discounts
        self.pos = (self.pos + k) % self.capacity
        self.size = min(self.size + k, self.capacity)
        return idx

    # How observations are kept: whole rows here; a subclass may store them otherwise
    # (rlkit.core.frame_replay shares the frames of stacked ones) by overriding these four.
    def _write_observations(self, rows: slice | np.ndarray, obs: np.ndarray,
                            next_obs: np.ndarray) -> None:
        self.obs[rows] = obs
        self.next_obs[rows] = next_obs

    def _observation_batch(self, indices: np.ndarray, device: torch.device | str
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        # what a network reads is copied into torch's memory (rlkit.core.aligned); the other
        # fields only meet elementwise operations, whose rounding ignores alignment
        return (to_tensor(self.obs.take(indices, axis=0), device),
                to_tensor(self.next_obs.take(indices, axis=0), device))

    def _observation_state(self) -> dict[str, np.ndarray]:
        n = self.size
        return {"obs": self.obs[:n].copy(), "next_obs": self.next_obs[:n].copy()}

    def _load_observations(self, state: dict, n: int) -> None:
        self.obs[:n] = np.asarray(state["obs"])
        self.next_obs[:n] = np.asarray(state["next_obs"])

    def batch(self, indices: np.ndarray, device: torch.device | str = "cpu") -> ReplayBatch:
        def t(x: np.ndarray) -> torch.Tensor:
            # take + from_numpy: a quarter of the cost of x[indices] + as_tensor for 64 rows
            return torch.from_numpy(x.take(indices, axis=0)).to(device)

        obs, next_obs = self._observation_batch(indices, device)
        return ReplayBatch(
            obs=obs,
            actions=t(self.actions),
            rewards=t(self.rewards),
            next_obs=next_obs,
            terminated=t(self.terminated),
            indices=indices,
            discounts=None if self.discounts is None else t(self.discounts),
        )

    def sample(
        self, batch_size: int, rng: np.random.Generator, device: torch.device | str = "cpu"
    ) -> ReplayBatch:
        """``batch_size`` transitions drawn uniformly with replacement."""
        return self.batch(rng.integers(0, self.size, size=batch_size), device)

    def state_dict(self) -> dict:
        n = self.size
        state = {
            **self._observation_state(),
            "actions": self.actions[:n].copy(),
            "rewards": self.rewards[:n].copy(),
            "terminated": self.terminated[:n].copy(),
            "pos": self.pos,
            "size": self.size,
        }
        if self.discounts is not None:
            state["discounts"] = self.discounts[:n].copy()
        return state

    def load_state_dict(self, state: dict) -> None:
        n = int(state["size"])
        self._load_observations(state, n)
        names = ["actions", "rewards", "terminated"]
        if self.discounts is not None:
            names.append("discounts")
        for name in names:
            getattr(self, name)[:n] = np.asarray(state[name])
        self.pos, self.size = int(state["pos"]), n
