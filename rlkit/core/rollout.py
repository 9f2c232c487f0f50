"""Stepping vector envs: the runner every agent collects with, and on-policy rollouts."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.core import env_faults, env_state
from rlkit.core.buffers import RolloutBuffer
from rlkit.core.modes import eval_mode
from rlkit.core.normalize import ObsNormalizer, RewardScaler
from rlkit.core.observations import PackedObservations


@dataclass
class Step:
    """What one vector-env step returns, with the autoreset step flagged invalid."""

    next_obs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    valid: np.ndarray


class EnvRunner:
    """Holds a vector env, its current observation and its episode statistics.

    ``valid`` is False for an env whose previous step ended its episode: with next-step
    autoreset that env's current step only resets it. ``infos`` is the vector env's info dict
    of the last reset or step (e.g. ``infos["action_mask"]`` for ``obs``); it is not saved in
    checkpoints and is empty after a restore.

    ``pack`` turns the env's structured observations into rows
    (:meth:`~rlkit.core.observations.PackedObservations.pack`): ``obs`` and ``next_obs`` are
    then those rows, and the rest of the core sees arrays only.
    """

    def __init__(
        self,
        env: gym.vector.VectorEnv,
        seed: int,
        obs_normalizer: ObsNormalizer | None = None,
        reward_scaler: RewardScaler | None = None,
        clip_reward: bool = False,
        pack: Callable[[Any], np.ndarray] | None = None,
    ) -> None:
        self.env = env
        self.pack = pack
        self.clip_reward = clip_reward
        self.n_envs = env.num_envs
        self.steps_taken = 0  # env steps stepped by this runner (not saved: a count for reports)
        self.obs_normalizer = obs_normalizer
        self.reward_scaler = reward_scaler
        obs, self.infos = env.reset(seed=seed)
        self.obs = pack(obs) if pack is not None else obs
        if obs_normalizer is not None:
            obs_normalizer.update(self.obs)
        self.autoreset = np.zeros(self.n_envs, dtype=bool)
        # whether ``obs`` is the first of an episode (after a reset or an autoreset step),
        # and a memory torso's state for the envs (None: the initial state)
        self.episode_start = np.ones(self.n_envs, dtype=bool)
        self.memory: tuple[torch.Tensor, ...] | None = None
        # Episode statistics are kept here rather than by Gymnasium's RecordEpisodeStatistics
        # wrapper: that wrapper costs more per step than a CartPole step itself.
        self.episode_return = np.zeros(self.n_envs)
        self.episode_length = np.zeros(self.n_envs, dtype=np.int64)
        self.episode_returns: deque[float] = deque(maxlen=100)
        self.episode_lengths: deque[int] = deque(maxlen=100)
        self.finished: list[tuple[float, int]] = []  # episodes since the last metrics row

    def step(self, actions: np.ndarray) -> Step:
        valid = ~self.autoreset
        self.steps_taken += self.n_envs  # the failing step included, for the loop's report
        try:
            next_obs, rewards, terminated, truncated, infos = self.env.step(actions)
        except Exception as exc:  # the env's own bug: the loop reports it with the step
            raise env_faults.EnvStepFailure(exc) from exc
        env_faults.check_env_values(next_obs, rewards)
        if self.pack is not None:
            next_obs = self.pack(next_obs)
        ends = terminated | truncated
        self.episode_return += rewards * valid  # an autoreset step is no part of any episode
        self.episode_length += valid
        if ends.any():
            for i in np.flatnonzero(ends):
                ret, length = float(self.episode_return[i]), int(self.episode_length[i])
                self.episode_returns.append(ret)
                self.episode_lengths.append(length)
                self.finished.append((ret, length))
            self.episode_return[ends] = 0.0
            self.episode_length[ends] = 0
        if self.obs_normalizer is not None:
            self.obs_normalizer.update(next_obs)
        rewards = rewards.astype(np.float32, copy=False)
        if self.clip_reward:  # after the episode statistics, which keep the game's score
            rewards = np.sign(rewards)
        if self.reward_scaler is not None:
            rewards = self.reward_scaler(rewards, ends)
        self.episode_start = ~valid  # an autoreset step returns a new episode's first obs
        self.autoreset = ends
        self.obs = next_obs
        self.infos = infos
        return Step(next_obs, rewards, terminated, truncated, valid)

    def action_masks(self) -> np.ndarray | None:
        """The valid actions of ``obs`` from ``infos["action_mask"]`` (n_envs, n) bool, as
        sb3-contrib's MaskablePPO reads them (MultiDiscrete: the components' masks side by
        side); None when no env gives one. An env without one this step, or whose mask allows
        nothing (a state no action leaves), allows every action."""
        return action_masks_of(self.infos, self.n_envs)

    def pop_finished(self) -> list[tuple[float, int]]:
        finished, self.finished = self.finished, []
        return finished

    def state_dict(self) -> dict[str, Any]:
        return {
            "obs": np.array(self.obs),
            "autoreset": self.autoreset.copy(),
            "episode_start": self.episode_start.copy(),
            "memory": None if self.memory is None else [m.cpu() for m in self.memory],
            "episode_return": self.episode_return.copy(),
            "episode_length": self.episode_length.copy(),
            "episode_returns": list(self.episode_returns),
            "episode_lengths": list(self.episode_lengths),
            "finished": [list(x) for x in self.finished],
            "env": env_state.snapshot(self.env),
        }

    def load_state_dict(self, state: dict[str, Any]) -> bool:
        """Restore; False when the env itself could not be restored (fresh episodes then)."""
        self.episode_returns.extend(state["episode_returns"])
        self.episode_lengths.extend(state["episode_lengths"])
        self.finished = [(float(r), int(n)) for r, n in state["finished"]]
        if not env_state.restore(self.env, state["env"]):
            return False
        self.obs = np.asarray(state["obs"])
        self.infos = {}  # the infos of the restored step were not saved
        self.autoreset = np.asarray(state["autoreset"], dtype=bool)
        if "episode_start" in state:
            self.episode_start = np.asarray(state["episode_start"], dtype=bool)
        if state.get("memory") is not None:
            self.memory = tuple(torch.as_tensor(m) for m in state["memory"])
        self.episode_return = np.array(state["episode_return"], dtype=np.float64)
        self.episode_length = np.array(state["episode_length"], dtype=np.int64)
        return True


def action_masks_of(infos: dict[str, Any], n_envs: int) -> np.ndarray | None:
    """See :meth:`EnvRunner.action_masks` (a vector env's ``infos``)."""
    masks = infos.get("action_mask")
    if masks is None:
        return None
    masks = np.asarray(masks).astype(bool).reshape(n_envs, -1)
    present = np.asarray(infos.get("_action_mask", np.ones(n_envs, dtype=bool)), dtype=bool)
    return masks | ~(present & masks.any(axis=1))[:, None]


def mask_tensor(masks: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    """Action masks (n_envs, n) bool as a tensor on ``device``; None stays None."""
    return None if masks is None else torch.as_tensor(masks, device=device)


def stored_obs_dtype(observation_space: gym.Space, normalized: bool = False) -> np.dtype:
    """The dtype a buffer keeps observations in: integer ids for Discrete; frames stay uint8
    or bool (a quarter of float32's bytes or less; the torso scales them) unless normalized;
    anything else float32. Packed rows stay bytes (normalized ones too: the normalizer writes
    its float32 values into them)."""
    if isinstance(observation_space, PackedObservations):
        return np.dtype(np.uint8)
    if not observation_space.shape:
        return np.dtype(np.int64)
    if not normalized and observation_space.dtype in (np.uint8, np.bool_):
        return np.dtype(observation_space.dtype)
    return np.dtype(np.float32)


def rollout_shapes(
    observation_space: gym.Space, action_space: gym.Space, normalize_obs: bool = False
) -> dict[str, Any]:
    """Per-step shapes and dtypes for buffers: float actions for Box and MultiBinary (a
    Bernoulli's samples), integer ids for Discrete and MultiDiscrete."""
    float_actions = isinstance(action_space, gym.spaces.Box | gym.spaces.MultiBinary)
    return {
        "obs_shape": observation_space.shape,
        "action_shape": action_space.shape,
        "obs_dtype": stored_obs_dtype(observation_space, normalize_obs),
        "action_dtype": np.float32 if float_actions else np.int64,
    }


def make_rollout_buffer(
    observation_space: gym.Space,
    action_space: gym.Space,
    n_steps: int,
    n_envs: int,
    normalize_obs: bool = False,
) -> RolloutBuffer:
    """A rollout buffer with the dtypes the spaces need (see :func:`stored_obs_dtype`)."""
    shapes = rollout_shapes(observation_space, action_space, normalize_obs)
    return RolloutBuffer(n_steps, n_envs, **shapes)


def to_env_actions(actions: np.ndarray, action_space: gym.Space) -> np.ndarray:
    """The policy's actions as the env takes them: Gaussian samples clipped into a Box's bounds
    (the unclipped sample is what was learned), MultiBinary's 0./1. as the space's integers,
    Discrete and MultiDiscrete ids shifted by the space's ``start``."""
    if isinstance(action_space, gym.spaces.Box):
        return np.clip(actions, action_space.low, action_space.high)
    if isinstance(action_space, gym.spaces.MultiBinary):
        return actions.astype(action_space.dtype)
    if isinstance(action_space, gym.spaces.MultiDiscrete) and np.any(action_space.start):
        return (actions + action_space.start).astype(action_space.dtype)
    if isinstance(action_space, gym.spaces.Discrete) and int(action_space.start):
        return actions + int(action_space.start)
    return actions


def from_env_actions(actions: np.ndarray, action_space: gym.Space) -> np.ndarray:
    """Actions as an env takes them (an expert's, a dataset's) -> as the policy's distribution
    scores them: Discrete and MultiDiscrete ids counted from 0 (int64), Box and MultiBinary
    values as float32. The inverse of :func:`to_env_actions` inside a Box's bounds."""
    actions = np.asarray(actions)
    if isinstance(action_space, gym.spaces.Box | gym.spaces.MultiBinary):
        return actions.astype(np.float32)
    start = np.asarray(action_space.start, dtype=np.int64)
    return actions.astype(np.int64) - start


def collect_rollout(
    runner: EnvRunner,
    buffer: RolloutBuffer,
    policy: Any,
    preprocess: Callable[[np.ndarray], torch.Tensor],
    action_space: gym.Space,
    gamma: float,
    gae_lambda: float,
) -> None:
    """Fill ``buffer`` with ``n_steps`` vector steps of ``policy``, then compute GAE.

    ``policy.sample(obs) -> (actions, log_probs)`` acts; ``policy.get_value(obs)`` gives V.
    The policy does not change during a rollout, so V of every stored observation (and of the
    bootstrap observation after the last step) comes from one batched forward pass at the end
    instead of one per step, except where pi and V share their torso (``policy.share_torso``):
    then the features computed to act give V too (``policy.act``), which saves a second
    pass of the torso (a CNN's, for one) over the rollout.
    """
    if getattr(policy, "has_memory", False):
        collect_with_memory(runner, buffer, policy, preprocess, action_space, gamma, gae_lambda)
        return
    shared = getattr(policy, "share_torso", False)
    buffer.reset()
    with torch.inference_mode(), eval_mode(policy):
        for _ in range(buffer.n_steps):
            obs = preprocess(runner.obs)
            masks = runner.action_masks()
            if shared:
                actions, values, log_probs = policy.act(obs, mask_tensor(masks, obs.device))
                values = values.cpu().numpy()
            else:
                actions, log_probs = policy.sample(obs, mask_tensor(masks, obs.device))
                values = 0.0
            actions = actions.cpu().numpy()
            step = runner.step(to_env_actions(actions, action_space))
            buffer.add(
                obs.cpu().numpy(),
                actions,
                step.rewards,
                step.terminated,
                step.truncated,
                step.valid,
                values,
                log_probs.cpu().numpy(),
                action_masks=masks,
            )
        last_obs = preprocess(runner.obs)
        if shared:
            last_values = policy.get_value(last_obs).cpu().numpy()
        else:
            all_obs = torch.cat([torch.as_tensor(buffer.obs, device=last_obs.device)
                                 .flatten(0, 1), last_obs])
            values = policy.get_value(all_obs).cpu().numpy()
            n = buffer.n_steps * buffer.n_envs
            buffer.values[:] = values[:n].reshape(buffer.n_steps, buffer.n_envs)
            last_values = values[n:]
    buffer.compute_returns_and_advantages(last_values, gamma, gae_lambda)


def collect_with_memory(
    runner: EnvRunner,
    buffer: RolloutBuffer,
    policy: Any,
    preprocess: Callable[[np.ndarray], torch.Tensor],
    action_space: gym.Space,
    gamma: float,
    gae_lambda: float,
) -> None:
    """:func:`collect_rollout` for a torso with memory.

    The buffer keeps the state before the first step and every step's episode-start flag, all
    an update needs to replay the rollout. The state of an env is reset wherever its episode
    starts (autoreset steps included) inside the torso's ``unroll``. pi's state advances step
    by step while acting; V of the whole rollout (and V's state) comes from one pass at the end.
    """
    buffer.reset()
    device = next(policy.parameters()).device
    if runner.memory is None:
        runner.memory = policy.initial_state(runner.n_envs)
    buffer.memory = state = tuple(m.to(device) for m in runner.memory)
    with torch.inference_mode(), eval_mode(policy):
        for _ in range(buffer.n_steps):
            obs = preprocess(runner.obs)
            starts, masks = runner.episode_start, runner.action_masks()
            actions, log_probs, state = policy.step(
                obs, state, torch.as_tensor(starts, device=device),
                action_masks=mask_tensor(masks, device))
            actions = actions.cpu().numpy()
            step = runner.step(to_env_actions(actions, action_space))
            buffer.add(obs.cpu().numpy(), actions, step.rewards, step.terminated, step.truncated,
                       step.valid, 0.0, log_probs.cpu().numpy(), episode_starts=starts,
                       action_masks=masks)
        sequence = buffer.sequences(device)
        values, valued = policy.rollout_values(sequence.obs, buffer.memory, sequence.starts)
        state = policy.merge_state(state, valued)
        last_starts = torch.as_tensor(runner.episode_start, device=device)
        last_values, _ = policy.rollout_values(preprocess(runner.obs)[None], state,
                                               last_starts[None])
    runner.memory = state
    buffer.values[:] = values.cpu().numpy()
    buffer.compute_returns_and_advantages(last_values[0].cpu().numpy(), gamma, gae_lambda)
