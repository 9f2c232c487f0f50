"""Behaviour cloning: supervised learning of pi(a|s) on an expert's demonstrations
(Pomerleau 1991; the notes' "No Reward" chapter).

Given demonstrated pairs D = {(s_i, a_i)}, minimize over minibatches B of D

    L(theta) = -1/|B| sum_{(s, a) in B} log pi_theta(a|s)  -  c_e 1/|B| sum_B H(pi_theta(.|s))

the cross-entropy for Discrete actions (one per component for MultiDiscrete and MultiBinary)
and the Gaussian negative log-likelihood for Box actions (the mean and the state-independent
log std are both learned; the mode, the mean, is what a deterministic evaluation plays).

A fraction ``holdout_fraction`` of the demonstrated episodes is held out whole. After every
epoch over the rest, the held-out NLL is measured (``losses/heldout_nll``); the best weights
so far are kept, and once ``patience`` epochs pass without a better held-out NLL training stops
and the best weights come back (also when the budget runs out first).

BC learns from no env step. Each ``collect`` runs the current policy once in each env (its
samples, not its mode): that shows the learner in the env (``charts/episodic_return``) and
paces the updates, ``gradient_steps`` minibatch steps per ``n_envs`` env steps. The learner
drifts from the expert's states, where it was never taught (compounding errors: a mistake's
cost can grow with the square of the horizon, Ross & Bagnell 2010); DAgger (``dagger``) asks
the expert about the states the learner reaches instead.

With ``normalize_obs`` the statistics are those of the demonstrations, fitted once and frozen
(the learner's own states would move the inputs the policy was taught on).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch.distributions import Distribution

from rlkit.approximators.heads import ActorCritic
from rlkit.config import TrainConfig
from rlkit.core.demonstrations import require_demonstrations
from rlkit.core.modes import eval_mode
from rlkit.core.optim import FlatOptimizer
from rlkit.core.rollout import EnvRunner, from_env_actions, mask_tensor, to_env_actions
from rlkit.errors import ConfigError
from rlkit.training.agent import PolicyAgent


@dataclass
class CloningConfig(TrainConfig):
    """What BC and DAgger share: the supervised step."""

    learning_rate: float = 1e-3
    """Adam step size"""
    batch_size: int = 64
    """(s, a) pairs per minibatch"""
    ent_coef: float = 0.0
    """c_e: an entropy bonus that keeps pi from collapsing onto the demonstrated actions"""
    log_std_init: float = 0.0
    """initial log std of the Gaussian policy (Box actions)"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"config key 'learning_rate' must be a finite number > 0, got "
                              f"{self.learning_rate}")
        if self.batch_size < 1:
            raise ConfigError(f"config key 'batch_size' must be >= 1, got {self.batch_size}")
        if not (math.isfinite(self.ent_coef) and self.ent_coef >= 0):
            raise ConfigError(f"config key 'ent_coef' must be a finite number >= 0, got "
                              f"{self.ent_coef}")
        if self.normalize_reward:
            raise ConfigError(f"{type(self).__name__[:-6].lower()} learns from no reward; set "
                              f"normalize_reward to false")


@dataclass
class BCConfig(CloningConfig):
    """Behaviour cloning hyperparameters (on top of the shared training settings)."""

    demos: str | None = None
    """the Minari dataset of demonstrations (a folder, or an id in Minari's local root)"""
    n_demos: int | None = None
    """learn from the dataset's first n episodes only (None: all of them)"""
    gradient_steps: int = 1
    """minibatch steps per update (one update per n_envs env steps)"""
    holdout_fraction: float = 0.2
    """the fraction of the episodes held out whole for early stopping (0: none held out, no
    early stopping, the last weights are kept)"""
    patience: int = 10
    """epochs without a better held-out NLL before training stops"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        if self.n_demos is not None and self.n_demos < 1:
            raise ConfigError(f"config key 'n_demos' must be >= 1 (or none), got {self.n_demos}")
        if self.gradient_steps < 1 or self.patience < 1:
            raise ConfigError("config keys 'gradient_steps' and 'patience' must be >= 1")
        if not 0.0 <= self.holdout_fraction < 1.0:
            raise ConfigError(f"config key 'holdout_fraction' must lie in [0, 1), got "
                              f"{self.holdout_fraction}")


def cloning_loss(dist: Distribution, actions: torch.Tensor, ent_coef: float
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L, NLL, mean entropy): L = -E[log pi(a|s)] - c_e E[H(pi(.|s))] on a minibatch."""
    nll = -dist.log_prob(actions).mean()
    entropy = dist.entropy().mean()
    loss = nll - ent_coef * entropy if ent_coef else nll
    return loss, nll, entropy


class Cloning(PolicyAgent):
    """pi on a feed-forward torso, fitted to (s, a) pairs by :func:`cloning_loss`."""

    Config: ClassVar[type[CloningConfig]] = CloningConfig
    config: CloningConfig

    def build_policy(self) -> None:
        cfg = self.config
        # pi's torso and head; the ActorCritic's value head is never trained (one torso, so no
        # second one is built for it): the policy acts like every rollout agent's.
        self.policy = ActorCritic(self.input_space, self.action_space, cfg.approximator,
                                  share_torso=True, log_std_init=cfg.log_std_init).to(self.device)
        if self.policy.has_memory:
            raise ConfigError(f"{self.name} fits single (s, a) pairs and cannot unroll a memory "
                              f"torso ('{cfg.approximator.type}') yet; use mlp, cnn or linear")
        self.optimizer = FlatOptimizer(self.policy, torch.optim.Adam, lr=cfg.learning_rate)
        self.order: torch.Tensor | None = None  # this epoch's shuffled order of the pairs
        self.cursor = 0  # where the next minibatch begins in ``order``
        self.epochs = 0

    def modules(self) -> dict[str, Any]:
        return {"policy": self.policy, "optimizer": self.optimizer}

    def pairs(self, rows: np.ndarray, env_actions: np.ndarray
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """Stored observation rows and env actions -> (what pi reads, what it scores)."""
        obs = self.preprocess(rows)
        actions = torch.as_tensor(from_env_actions(env_actions, self.action_space),
                                  device=self.device)
        return obs, actions

    def next_minibatch(self, n: int) -> tuple[torch.Tensor, bool]:
        """Indices of the next minibatch of an epoch over n pairs, and whether it ends one."""
        if self.order is None or self.cursor >= len(self.order):
            self.order = torch.randperm(n, generator=self.generator)
            self.cursor = 0
        batch = self.order[self.cursor:self.cursor + self.config.batch_size]
        self.cursor += len(batch)
        return batch, self.cursor >= len(self.order)

    def step_on(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """One Adam step on the minibatch; returns (NLL, entropy) before the step, detached."""
        loss, nll, entropy = cloning_loss(self.policy.distribution(obs), actions,
                                          self.config.ent_coef)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        self.n_updates += 1
        return torch.stack([nll, entropy]).detach()

    def nll_of(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[float, float | None]:
        """The mean NLL of pairs, and for discrete actions the fraction pi's mode gets right."""
        with torch.no_grad(), eval_mode(self.policy):
            dist = self.policy.distribution(obs)
            nll = float(-dist.log_prob(actions).mean())
            if isinstance(self.action_space, gym.spaces.Box):
                return nll, None
            mode = self.policy.policy.mode(dist)
            right = (mode == actions).reshape(len(actions), -1).all(dim=1)
            return nll, float(right.float().mean())

    def collect(self) -> None:
        """One step of the learner's own (sampled) actions in every env."""
        runner = self.runner
        with torch.inference_mode(), eval_mode(self.policy):
            masks = mask_tensor(runner.action_masks(), self.device)
            actions = self.act(self.preprocess(runner.obs), False, masks)
        runner.step(to_env_actions(actions.cpu().numpy(), self.action_space))
        self.global_step += runner.n_envs

    def cloning_state(self) -> dict[str, Any]:
        return {"order": self.order, "cursor": self.cursor, "epochs": self.epochs}

    def load_cloning_state(self, state: dict[str, Any]) -> None:
        self.order, self.cursor, self.epochs = state["order"], state["cursor"], state["epochs"]


class BC(Cloning):
    name = "bc"
    Config = BCConfig
    config: BCConfig

    def setup(self) -> None:
        cfg = self.config
        self.build_policy()
        demos = require_demonstrations(cfg.demos, self.observation_space, self.action_space,
                                       self.name, cfg.n_demos)
        if self.obs_normalizer is not None:  # the demonstrations' statistics, frozen
            self.obs_normalizer.update(demos.obs)
        held = None
        if cfg.holdout_fraction > 0:
            # its own generator: the split depends on the seed alone, never on the draws
            demos, held = demos.split(cfg.holdout_fraction, np.random.default_rng(cfg.seed))
        self.train_obs, self.train_actions = self.pairs(demos.obs, demos.actions)
        self.heldout = None if held is None else self.pairs(held.obs, held.actions)
        self.best_nll = math.inf
        self.best_weights: dict[str, torch.Tensor] | None = None
        self.bad_epochs = 0
        self.stopped = False
        self.last_heldout: tuple[float, float | None] | None = None

    def make_runner(self) -> EnvRunner:
        # the runner would update the statistics with the learner's states: it gets none
        normalizer, self.obs_normalizer = self.obs_normalizer, None
        try:
            return super().make_runner()
        finally:
            self.obs_normalizer = normalizer

    @property
    def can_collect(self) -> bool:
        return super().can_collect and not self.stopped

    def end_epoch(self) -> None:
        """Measure the held-out NLL; keep the best weights; stop after ``patience`` epochs
        without a better one."""
        self.epochs += 1
        if self.heldout is None:
            return
        self.last_heldout = self.nll_of(*self.heldout)
        if self.last_heldout[0] < self.best_nll:
            self.best_nll, self.bad_epochs = self.last_heldout[0], 0
            self.best_weights = {k: v.clone() for k, v in self.policy.state_dict().items()}
        else:
            self.bad_epochs += 1
            if self.bad_epochs >= self.config.patience:
                self.stop()

    def stop(self) -> None:
        """End training with the best held-out weights."""
        self.stopped = True
        if self.best_weights is not None:
            self.policy.load_state_dict(self.best_weights)

    def update(self) -> dict[str, Any]:
        stats = []
        for _ in range(self.config.gradient_steps):
            if self.stopped:
                break
            batch, epoch_ends = self.next_minibatch(len(self.train_obs))
            stats.append(self.step_on(self.train_obs[batch], self.train_actions[batch]))
            if epoch_ends:
                self.end_epoch()
        if not self.stopped and self.global_step + self.steps_per_collect > self.end_step:
            self.stop()  # the budget is spent: the best weights are the result
        out: dict[str, Any] = {"bc/epochs": float(self.epochs),
                               "bc/stopped": float(self.stopped)}
        if stats:
            nll, entropy = torch.stack(stats).mean(0)
            out["losses/bc_nll"], out["losses/entropy"] = nll, entropy
        if self.last_heldout is not None:
            out["losses/heldout_nll"] = self.last_heldout[0]
            out["bc/best_heldout_nll"] = self.best_nll
            if self.last_heldout[1] is not None:
                out["bc/heldout_accuracy"] = self.last_heldout[1]
        return out

    def extra_state(self) -> dict[str, Any]:
        return {**self.cloning_state(), "best_nll": self.best_nll,
                "best_weights": self.best_weights, "bad_epochs": self.bad_epochs,
                "stopped": self.stopped, "last_heldout": self.last_heldout}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "order" not in state:
            return
        self.load_cloning_state(state)
        self.best_nll, self.best_weights = state["best_nll"], state["best_weights"]
        self.bad_epochs, self.stopped = state["bad_epochs"], state["stopped"]
        self.last_heldout = state["last_heldout"]
