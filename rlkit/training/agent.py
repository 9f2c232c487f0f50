"""The small protocol every agent implements, and what all agents share.

An agent file defines a config dataclass and a subclass of :class:`Agent` with:

* ``setup()``   build networks, optimizers and buffers (spaces and config are known);
* ``collect()`` gather experience from ``self.runner`` (advances ``global_step``);
* ``update()``  one learning step on what was collected; returns scalar metrics;
* ``act(obs, deterministic, action_masks)`` actions for a batch of preprocessed observations
  (only valid ones where ``action_masks``, bool per action, is given);
* ``modules()`` the ``nn.Module``/optimizer objects to checkpoint, by name.

Training, evaluation, checkpoints, normalization, logging and the CLI live here and in
``rlkit.training.loop``; an agent never touches them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from rlkit import fast
from rlkit.approximators.heads import check_action_space
from rlkit.config import TrainConfig, to_dict
from rlkit.core.aligned import to_tensor
from rlkit.core.modes import eval_mode
from rlkit.core.normalize import RewardScaler, make_obs_normalizer
from rlkit.core.observations import PackedObservations, network_observation_space
from rlkit.core.rollout import EnvRunner, collect_rollout, to_env_actions
from rlkit.errors import ConfigError
from rlkit.training import checkpoint as ckpt
from rlkit.training.environment import make_vec_env, seed_everything, single_spaces, torch_threads
from rlkit.training.loop import train


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device '{name}'; use cpu, cuda, cuda:N, mps or auto") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device '{name}' asked for, but torch sees no CUDA GPU; use cpu")
    return device


class Agent:
    """Base of every agent: owns spaces, counters, normalizers, the env runner and RNGs."""

    name: ClassVar[str]
    Config: ClassVar[type[TrainConfig]] = TrainConfig
    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (gym.spaces.Discrete, gym.spaces.Box)
    auxiliary_losses: ClassVar[bool] = False
    """whether update() adds a torso's auxiliary loss (autoencoder, vae) to the agent's loss"""
    packs_observations: ClassVar[bool] = False
    """whether a Dict, Tuple, MultiDiscrete or MultiBinary observation reaches the agent packed
    into a row of bytes (:mod:`rlkit.core.observations`), as the networks' multi-input encoder
    reads it; ``input_space`` is then the packed space"""

    def __init__(self, env_id: str, config: TrainConfig) -> None:
        self.env_id = env_id
        self.config = config
        self.device = resolve_device(config.device)
        self.observation_space, self.action_space = single_spaces(env_id, config.env_kwargs)
        # the rows the core stores and the networks read (the env's observations, or packed)
        self.input_space = (network_observation_space(self.observation_space)
                            if self.packs_observations else self.observation_space)
        if getattr(self.input_space, "ignored", ()):
            warnings.warn(f"{self.name} reads no text: observation entries "
                          f"{', '.join(self.input_space.ignored)} are left out", stacklevel=2)
        check_action_space(self.action_space, self.name, self.action_spaces)
        approximator = getattr(config, "approximator", None)
        if approximator is not None and approximator.type in ("autoencoder", "vae") \
                and not self.auxiliary_losses:
            raise ConfigError(f"{self.name} does not train an {approximator.type}'s decoder; "
                              f"use ppo or a2c with approximator.type: {approximator.type}")
        self.generator = torch.Generator().manual_seed(config.seed)  # minibatch shuffling
        self.rng = np.random.default_rng(config.seed)  # replay sampling, exploration
        # torch.distributions, dropout and nn.init draw from the global generators, which take
        # no generator argument: the agent keeps its own copy of their states and makes it the
        # global one only while it builds, trains or predicts (see own_randomness)
        self._random_depth = 0
        caller = ckpt.global_random_state()
        seed_everything(config.seed)
        self._random_state = ckpt.global_random_state()
        ckpt.set_global_random_state(caller)
        self.obs_normalizer = (
            make_obs_normalizer(self.input_space, clip=config.clip_obs)
            if config.normalize_obs
            else None
        )
        self.reward_scaler: RewardScaler | None = None
        self.runner: EnvRunner | None = None
        self.global_step = 0
        self.n_updates = 0
        self.end_step = 0  # global_step at which the current learn() call stops
        self.next_log = 0
        self.next_eval = 0
        with torch_threads(config.torch_threads), fast.switch(config.fast_paths), \
                self.own_randomness():
            self.setup()
            self.keep_heap = fast.enabled("heap")  # see rlkit/fast/heap.py; train() applies it

    # --- what each agent supplies -------------------------------------------------------
    def setup(self) -> None:
        raise NotImplementedError

    def collect(self) -> None:
        raise NotImplementedError

    def update(self) -> dict[str, float]:
        raise NotImplementedError

    def act(self, obs: torch.Tensor, deterministic: bool = False,
            action_masks: torch.Tensor | None = None) -> torch.Tensor:
        raise NotImplementedError

    def modules(self) -> dict[str, Any]:
        raise NotImplementedError

    def extra_state(self) -> dict[str, Any]:
        """Anything else to checkpoint (e.g. a replay buffer); plain data only."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def on_fresh_episodes(self) -> None:
        """Called when a new runner starts every env on a new episode that continues none of
        the earlier ones (a new run, or a resume whose env state cannot be restored, or after
        an env failure): drop whatever was kept from those episodes (DQN: its pending n-step
        transitions and Thompson draws; REINFORCE: its running episodes). Nothing by default."""

    # --- shared machinery ---------------------------------------------------------------
    @contextmanager
    def own_randomness(self) -> Iterator[None]:
        """Inside the block, Python's, numpy's and torch's global generators hold this agent's
        own states; after it, the caller's states are back and the agent's are kept for the
        next block. So what a caller draws between ``make`` and ``learn`` (or between two
        ``learn`` calls) changes nothing in training, and training changes nothing for it."""
        self._random_depth += 1
        if self._random_depth == 1:
            caller = ckpt.global_random_state()
            ckpt.set_global_random_state(self._random_state)
        try:
            yield
        finally:
            self._random_depth -= 1
            if self._random_depth == 0:
                self._random_state = ckpt.global_random_state()
                ckpt.set_global_random_state(caller)

    @property
    def steps_per_collect(self) -> int:
        """Env steps one ``collect()`` takes (a rollout for on-policy agents; override)."""
        return self.config.n_envs

    @property
    def can_collect(self) -> bool:
        """Whether another ``collect()`` fits in the budget: training never exceeds it."""
        return self.global_step + self.steps_per_collect <= self.end_step

    @property
    def progress_remaining(self) -> float:
        """1 at the start of training, 0 at ``end_step`` (for linear schedules)."""
        if self.end_step <= 0:
            return 1.0
        return max(0.0, 1.0 - self.global_step / self.end_step)

    def preprocess_array(self, obs: np.ndarray) -> np.ndarray:
        """Raw env observations -> what the networks see, as an array (normalized if configured)."""
        if self.obs_normalizer is not None:
            return self.obs_normalizer(obs)
        if isinstance(self.observation_space, gym.spaces.Box) and obs.dtype == np.float64:
            return obs.astype(np.float32)
        return obs

    def preprocess(self, obs: np.ndarray, update_stats: bool = False) -> torch.Tensor:
        """Raw env observations -> the tensor the networks see (normalized if configured), in
        torch's own memory: a view of numpy's would make the products' rounding depend on
        where numpy put the array (see :mod:`rlkit.core.aligned`)."""
        return to_tensor(self.preprocess_array(obs), self.device)

    def make_runner(self) -> EnvRunner:
        cfg = self.config
        env = make_vec_env(self.env_id, cfg.n_envs, cfg.seed, cfg.vectorization, cfg.env_kwargs)
        if cfg.normalize_reward and self.reward_scaler is None:
            self.reward_scaler = RewardScaler(cfg.n_envs, cfg.gamma)
        return EnvRunner(env, cfg.seed, self.obs_normalizer, self.reward_scaler,
                         cfg.clip_reward, pack=self.packer)

    @property
    def packer(self) -> Any:
        """The env's observations -> rows, where they arrive packed (else None)."""
        space = self.input_space
        return space.pack if isinstance(space, PackedObservations) else None

    def learn(
        self,
        total_timesteps: int | None = None,
        run_dir: str | Path | None = None,
        wandb_mode: str = "disabled",
        progress: bool = False,
    ) -> Agent:
        """Train for ``total_timesteps`` more env steps (default: the config's budget)."""
        train(self, total_timesteps, run_dir=run_dir, wandb_mode=wandb_mode, progress=progress)
        return self

    has_memory: bool = False
    """whether the agent's torso carries a state from step to step (see ``predict``)"""

    def act_with_memory(
        self, obs: torch.Tensor, state: tuple, starts: torch.Tensor, deterministic: bool,
        action_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple]:
        raise NotImplementedError

    def initial_state(self, n_envs: int) -> tuple:
        return ()

    def predict(
        self,
        obs: np.ndarray,
        deterministic: bool = True,
        state: tuple | None = None,
        episode_start: np.ndarray | None = None,
        action_masks: np.ndarray | None = None,
    ) -> np.ndarray | tuple[np.ndarray, tuple]:
        """Actions for a raw observation (or a batch of them), as the env accepts them.

        With a memory torso it returns ``(actions, state)``: pass the state back with the next
        observation, and ``episode_start`` (one flag per observation) where an episode begins;
        ``state=None`` starts every episode afresh. A Dict or Tuple observation is the env's
        own (a dict of arrays; a batch has a leading axis in each entry). ``action_masks``
        (bool, one per action; MultiDiscrete: the components' side by side, as the env's
        ``info["action_mask"]``) restricts the actions to the valid ones.
        """
        obs = self.packer(obs) if self.packer is not None else np.asarray(obs)
        single = obs.shape == self.input_space.shape
        batch = obs[None] if single else obs
        masks = None if action_masks is None else torch.as_tensor(
            np.asarray(action_masks, dtype=bool).reshape(len(batch), -1), device=self.device)
        if not self.has_memory:
            actions = self.act_on_rows(batch, deterministic, masks)
            return actions[0] if single else actions
        with torch.inference_mode(), eval_mode(*self.networks()), self.own_randomness():
            if state is None:
                state, episode_start = self.initial_state(len(batch)), np.ones(len(batch))
            starts = np.zeros(len(batch)) if episode_start is None else episode_start
            starts = torch.as_tensor(np.atleast_1d(starts), device=self.device).bool()
            actions, state = self.act_with_memory(
                self.preprocess(batch), state, starts, deterministic, masks)
        actions = to_env_actions(actions.cpu().numpy(), self.action_space)
        return (actions[0] if single else actions), state

    def networks(self) -> list[torch.nn.Module]:
        return [m for m in self.modules().values() if isinstance(m, torch.nn.Module)]

    def act_on_rows(self, rows: np.ndarray, deterministic: bool = True,
                    action_masks: torch.Tensor | None = None) -> np.ndarray:
        """Actions, as the env takes them, for a batch of observation rows as the core stores
        them (packed where the agent packs); an agent without memory only (an expert labelling
        states, ``predict``)."""
        with torch.inference_mode(), eval_mode(*self.networks()), self.own_randomness():
            actions = self.act(self.preprocess(rows), deterministic, action_masks)
        return to_env_actions(actions.cpu().numpy(), self.action_space)

    # --- checkpoints ----------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        states: dict[str, Any] = {}
        for key, module in self.modules().items():
            states[key] = module.state_dict()
        return {
            "algo": self.name,
            "env_id": self.env_id,
            "config": to_dict(self.config),
            "counters": {
                "global_step": self.global_step,
                "n_updates": self.n_updates,
                "end_step": self.end_step,
                "next_log": self.next_log,
                "next_eval": self.next_eval,
            },
            "modules": states,
            "obs_normalizer": self.obs_normalizer.state_dict() if self.obs_normalizer else None,
            "reward_scaler": self.reward_scaler.state_dict() if self.reward_scaler else None,
            "rng": {
                **ckpt.rng_states(None if self._random_depth else self._random_state),
                "generator": self.generator.get_state(),
                "agent_numpy": self.rng.bit_generator.state,
            },
            "runner": self.runner.state_dict() if self.runner is not None else None,
            "extra": self.extra_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, module in self.modules().items():
            module.load_state_dict(state["modules"][key])
        for key, value in state["counters"].items():
            setattr(self, key, int(value))
        if self.obs_normalizer is not None and state["obs_normalizer"] is not None:
            self.obs_normalizer.load_state_dict(state["obs_normalizer"])
        if state.get("reward_scaler") is not None:
            self.reward_scaler = RewardScaler(self.config.n_envs, self.config.gamma)
            self.reward_scaler.load_state_dict(state["reward_scaler"])
        self._random_state = ckpt.random_state_from(state["rng"])
        if self._random_depth:
            ckpt.set_global_random_state(self._random_state)
        self.generator.set_state(state["rng"]["generator"])
        self.rng.bit_generator.state = state["rng"]["agent_numpy"]
        self.load_extra_state(state.get("extra") or {})
        self._pending_runner_state = state.get("runner")

    def save(self, path: str | Path) -> Path:
        """Write a checkpoint (weights, optimizer, config, counters, statistics, RNG states)."""
        return ckpt.save_checkpoint(self.state_dict(), path)


class PolicyAgent(Agent):
    """An agent that acts by ``self.policy``, an :class:`~rlkit.approximators.heads.ActorCritic`
    (its pi; V where the agent learns one): sampling, the mode, and a memory torso's state."""

    action_spaces: ClassVar[tuple[type[gym.Space], ...]] = (
        gym.spaces.Discrete, gym.spaces.Box, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)
    packs_observations = True

    def act(self, obs: torch.Tensor, deterministic: bool = False,
            action_masks: torch.Tensor | None = None) -> torch.Tensor:
        if deterministic:
            return self.policy.deterministic_action(obs, action_masks)
        return self.policy.sample(obs, action_masks)[0]

    @property
    def has_memory(self) -> bool:
        return self.policy.has_memory

    def initial_state(self, n_envs: int) -> tuple:
        return self.policy.initial_state(n_envs)

    def act_with_memory(
        self, obs: torch.Tensor, state: tuple, starts: torch.Tensor, deterministic: bool,
        action_masks: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, tuple]:
        actions, _, state = self.policy.step(obs, state, starts, deterministic, action_masks)
        return actions, state


class RolloutAgent(PolicyAgent):
    """An actor-critic agent (``self.policy``, ``self.optimizer``) that learns from rollouts.

    PPO and A2C differ only in ``setup`` details and their ``update``; acting, collecting
    n-step rollouts into ``self.buffer`` and what to checkpoint are these few lines. REINFORCE
    collects whole episodes instead (its own ``collect``) and adds its value optimizer.
    """

    @property
    def steps_per_collect(self) -> int:
        return self.config.n_steps * self.config.n_envs

    def modules(self) -> dict[str, Any]:
        return {"policy": self.policy, "optimizer": self.optimizer}

    def collect(self) -> None:
        cfg = self.config
        collect_rollout(self.runner, self.buffer, self.policy, self.preprocess,
                        self.action_space, cfg.gamma, cfg.gae_lambda)
        self.global_step += self.steps_per_collect
