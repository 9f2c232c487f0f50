"""DAgger, dataset aggregation (Ross, Gordon & Bagnell 2011): behaviour cloning on the states
the learner itself reaches, labelled by an expert.

    D <- {}
    for round i = 0, 1, ...
        beta_i = max(0, 1 - i / beta_rounds)
        run pi_i = beta_i pi* + (1 - beta_i) pi_theta for round_steps env steps
            (in every step and env, the expert's action with probability beta_i)
        D <- D + {(s, pi*(s)) : s visited}           the expert labels every state
        theta <- BC on D for epochs_per_round epochs (:func:`agents.bc.cloning_loss`,
                 continuing from the last round's theta)

Round 0 is the expert's own demonstration (beta_0 = 1); from round ``beta_rounds`` on the
learner acts alone, so the states it is taught on are those its own mistakes lead to, and
its errors grow linearly in the horizon instead of quadratically as BC's. The expert is a
saved rlkit agent for the same env (``expert``: a run directory or checkpoint), asked for its
deterministic action; ``dagger/expert_labels`` counts the states it has labelled. The
learner's actions are samples of pi_theta (its mode in evaluations).

With ``normalize_obs`` the statistics follow the states visited, which are the data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlkit.agents.bc import Cloning, CloningConfig
from rlkit.core.rollout import mask_tensor, stored_obs_dtype
from rlkit.errors import ConfigError
from rlkit.training.agent import Agent


@dataclass
class DAggerConfig(CloningConfig):
    """DAgger hyperparameters (on top of the shared training settings)."""

    expert: str | None = None
    """the expert: a saved rlkit agent for the same env (a run directory or a checkpoint)"""
    round_steps: int = 500
    """env steps per round (summed over the envs), each one an expert label"""
    beta_rounds: int = 1
    """rounds over which beta, the chance that the expert acts, falls linearly from 1 to 0
    (1: the expert acts in round 0 only)"""
    epochs_per_round: int = 20
    """BC epochs over the aggregate after each round"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        for key in ("round_steps", "beta_rounds", "epochs_per_round"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}' must be >= 1, got {getattr(self, key)}")
        if self.round_steps % self.n_envs:
            raise ConfigError(f"config key 'round_steps' ({self.round_steps}) must be a "
                              f"multiple of n_envs ({self.n_envs})")


class LabelledStates:
    """(s, a*) pairs in preallocated arrays that double when full (the aggregate grows)."""

    def __init__(self, obs_shape: tuple[int, ...], obs_dtype: np.dtype,
                 action_shape: tuple[int, ...], action_dtype: np.dtype,
                 capacity: int = 1024) -> None:
        self.obs = np.zeros((capacity, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((capacity, *action_shape), dtype=action_dtype)
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray) -> None:
        n = len(obs)
        if self.size + n > len(self.obs):
            grow = max(self.size + n, 2 * len(self.obs))
            for name in ("obs", "actions"):
                old = getattr(self, name)
                new = np.zeros((grow, *old.shape[1:]), dtype=old.dtype)
                new[:self.size] = old[:self.size]
                setattr(self, name, new)
        self.obs[self.size:self.size + n] = obs
        self.actions[self.size:self.size + n] = actions
        self.size += n

    def state_dict(self) -> dict[str, Any]:
        return {"obs": self.obs[:self.size].copy(), "actions": self.actions[:self.size].copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.size = 0
        self.add(np.asarray(state["obs"]), np.asarray(state["actions"]))


def load_expert(path: str | None, learner: Agent) -> Agent:
    """The saved agent at ``path``, checked to act in the learner's env without memory."""
    from rlkit.training.registry import load

    if path is None:
        raise ConfigError(f"{learner.name} needs an expert to label states: pass --expert RUN "
                          f"(a run directory or checkpoint of an agent trained on "
                          f"{learner.env_id})")
    if not Path(path).exists():
        raise ConfigError(f"expert '{path}' does not exist (give a run directory or checkpoint)")
    expert = load(path)
    if (expert.input_space, expert.action_space) != (learner.input_space, learner.action_space):
        raise ConfigError(f"expert '{path}' acts in {expert.env_id} ({expert.observation_space}, "
                          f"{expert.action_space}); {learner.env_id} has "
                          f"({learner.observation_space}, {learner.action_space})")
    if expert.has_memory:
        raise ConfigError(f"expert '{path}' has a memory torso; {learner.name} labels single "
                          f"states and needs an expert without memory")
    return expert


class DAgger(Cloning):
    name = "dagger"
    Config = DAggerConfig
    config: DAggerConfig

    def setup(self) -> None:
        cfg = self.config
        self.build_policy()
        self.expert = load_expert(cfg.expert, self)
        space = self.input_space
        action_dtype = np.dtype(self.action_space.dtype)
        self.data = LabelledStates(space.shape, stored_obs_dtype(space), self.action_space.shape,
                                   action_dtype)
        self.rounds = 0

    @property
    def steps_per_collect(self) -> int:
        return self.config.round_steps

    @property
    def beta(self) -> float:
        """The chance that the expert acts in the current round."""
        return max(0.0, 1.0 - self.rounds / self.config.beta_rounds)

    def collect(self) -> None:
        """One round: the mixture acts, the expert labels every state visited."""
        runner, beta = self.runner, self.beta
        for _ in range(self.config.round_steps // runner.n_envs):
            rows, masks = runner.obs, mask_tensor(runner.action_masks(), self.device)
            labels = self.expert.act_on_rows(rows, True, masks)
            actions = labels
            if beta < 1.0:
                own = self.act_on_rows(rows, False, masks)
                experts_turn = self.rng.random(runner.n_envs) < beta
                actions = np.where(experts_turn.reshape(-1, *[1] * (own.ndim - 1)), labels, own)
            step = runner.step(actions)
            # an autoreset step's observation is a finished episode's last: no decision there
            self.data.add(rows[step.valid], labels[step.valid])
        self.rounds += 1
        self.global_step += self.steps_per_collect

    def update(self) -> dict[str, Any]:
        obs, actions = self.pairs(self.data.obs[:len(self.data)],
                                  self.data.actions[:len(self.data)])
        self.order, stats = None, []  # the aggregate has grown: a fresh epoch
        for _ in range(self.config.epochs_per_round * math.ceil(len(obs) /
                                                               self.config.batch_size)):
            batch, epoch_ends = self.next_minibatch(len(obs))
            stats.append(self.step_on(obs[batch], actions[batch]))
            self.epochs += epoch_ends
        nll, entropy = torch.stack(stats).mean(0)
        return {"losses/bc_nll": nll, "losses/entropy": entropy,
                "dagger/expert_labels": float(len(self.data)), "dagger/rounds": float(self.rounds),
                "dagger/beta": self.beta, "bc/epochs": float(self.epochs)}

    def extra_state(self) -> dict[str, Any]:
        return {**self.cloning_state(), "data": self.data.state_dict(), "rounds": self.rounds}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "data" in state:
            self.load_cloning_state(state)
            self.data.load_state_dict(state["data"])
            self.rounds = state["rounds"]
