"""Generative adversarial imitation learning, GAIL (Ho & Ermon 2016): inverse RL seen as a GAN,
the discriminator the reward, the policy the generator.

    for each rollout tau_i of pi_theta (``n_steps`` x ``n_envs`` steps)
        D_w: ``disc_steps`` Adam steps on
             L_D = -E_{pi_E}[log D(s, a)] - E_{tau_i}[log(1 - D(s, a))]
             (+ ``gradient_penalty`` x the R1 or WGAN-GP penalty: the notes' improved GANs)
        r(s, a) = -log(1 - D(s, a)) = softplus(l(s, a))             l: D's logit
        r <- r / std(r)            a running std over every learned reward (not centred)
        theta: PPO's update on the rollout (``generator: a2c``: A2C's), its advantages from r
               instead of the env's reward

D is :class:`~rlkit.approximators.gan.Discriminator`: a torso from the ``discriminator``
approximator config (mlp, cnn for frames, linear) and a logit, reading the observation and
the action as the env takes it (the policy's Box samples clipped into the bounds, as the
expert's were). Expert pairs are drawn uniformly from the demonstrations, the agent's from the
rollout just collected, ``disc_batch_size`` of each per step.

The reward is not centred because a centred reward can be negative, and on an env whose
episodes end when the agent fails (CartPole-v1) an agent that earns less than nothing a step
learns to fail early: the sign of the reward decides whether living pays. That is also how
GAIL leaks the true reward through episode lengths (the ``imitation`` library's warning):
rlkit/CartPoleFixedHorizon-v0 has the same dynamics and no early end.

``bc_warm_start`` minibatch steps of behaviour cloning (:func:`agents.bc.cloning_loss`) on
the demonstrations come before the first rollout, from the policy's own optimizer. The env's
reward is never learned from; it stays in ``charts/episodic_return`` beside what the learning
is judged by without it: ``gail/expert_accuracy`` and ``gail/agent_accuracy`` (D's, 0.5 each
where it cannot tell them apart) and ``gail/learned_reward`` (the mean r of the rollout before
scaling).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from gymnasium.wrappers.utils import RunningMeanStd

from rlkit.agents.a2c import A2C
from rlkit.agents.bc import cloning_loss
from rlkit.agents.ppo import PPO, PPOConfig
from rlkit.approximators.gan import Discriminator, gail_reward
from rlkit.config import ApproximatorConfig
from rlkit.core.demonstrations import require_demonstrations
from rlkit.core.optim import FlatOptimizer
from rlkit.core.rollout import from_env_actions, to_env_actions
from rlkit.errors import ConfigError


@dataclass
class GAILConfig(PPOConfig):
    """GAIL hyperparameters: PPO's (the generator) and the discriminator's."""

    demos: str | None = None
    """the Minari dataset of demonstrations (a folder, or an id in Minari's local root)"""
    n_demos: int | None = None
    """learn from the dataset's first n episodes only (None: all of them)"""
    discriminator: ApproximatorConfig = field(default_factory=ApproximatorConfig)
    """D's torso (mlp, cnn or linear), with a linear logit on top"""
    disc_learning_rate: float = 3e-4
    """D's Adam step size"""
    disc_steps: int = 4
    """D's Adam steps per rollout"""
    disc_batch_size: int = 256
    """expert pairs, and agent pairs, per D step"""
    gradient_penalty: float = 0.0
    """weight of the gradient penalty on D (0: none)"""
    penalty: Literal["r1", "wgan_gp"] = "r1"
    """R1 (||grad l||^2 on expert inputs) or WGAN-GP ((||grad l|| - 1)^2 between the two)"""
    normalize_learned_reward: bool = True
    """divide the learned rewards by their running standard deviation"""
    bc_warm_start: int = 0
    """behaviour-cloning minibatch steps (of ``batch_size``) on the demonstrations first"""
    generator: Literal["ppo", "a2c"] = "ppo"
    """the policy's update on the learned reward: PPO's, or A2C's (one gradient step a
    rollout on -log pi(a|s) A + c_v (V - R)^2 - c_e H, with this config's Adam; PPO's epochs,
    minibatches, clip range and target KL are then unused)"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        if self.n_demos is not None and self.n_demos < 1:
            raise ConfigError(f"config key 'n_demos' must be >= 1 (or none), got {self.n_demos}")
        for key in ("disc_steps", "disc_batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}' must be >= 1, got {getattr(self, key)}")
        if self.bc_warm_start < 0:
            raise ConfigError(f"config key 'bc_warm_start' must be >= 0, got "
                              f"{self.bc_warm_start}")
        if not self.disc_learning_rate > 0 or not self.gradient_penalty >= 0:
            raise ConfigError("config keys 'disc_learning_rate' must be > 0 and "
                              "'gradient_penalty' >= 0")
        if self.normalize_reward or self.clip_reward:
            name = type(self).__name__[:-6].lower()
            raise ConfigError(f"{name} replaces the env's reward by its learned one; set "
                              f"normalize_reward and clip_reward to false "
                              f"(normalize_learned_reward scales the learned one)")


class GAIL(PPO):
    name = "gail"
    Config = GAILConfig
    config: GAILConfig
    auxiliary_losses = False
    discriminator_parts: tuple[str, ...] = ("obs", "action")

    def setup(self) -> None:
        super().setup()
        cfg = self.config
        if self.policy.has_memory:
            raise ConfigError(f"{self.name}'s discriminator scores single transitions; a memory "
                              f"policy ('{cfg.approximator.type}') is not supported yet")
        self.demos = require_demonstrations(cfg.demos, self.observation_space,
                                            self.action_space, self.name, cfg.n_demos)
        self.discriminator = self.build_discriminator().to(self.device)
        self.disc_optimizer = FlatOptimizer(self.discriminator, torch.optim.Adam,
                                            lr=cfg.disc_learning_rate)
        self.reward_stats = RunningMeanStd(shape=())
        self.warm_started = cfg.bc_warm_start == 0
        self.last_obs: np.ndarray | None = None  # where the last rollout ended
        self.packed_expert: torch.Tensor | None = None  # their rows, where they never change

    def build_discriminator(self) -> torch.nn.Module:
        return Discriminator(self.observation_space, self.action_space,
                             self.config.discriminator, self.discriminator_parts)

    def modules(self) -> dict[str, Any]:
        return {**super().modules(), "discriminator": self.discriminator,
                "disc_optimizer": self.disc_optimizer}

    # --- the two sides' transitions --------------------------------------------------------
    def expert_rows(self) -> torch.Tensor:
        """Every demonstrated transition as D's packed rows (observations as the policy
        sees them: normalized with the current statistics where it normalizes)."""
        if self.packed_expert is not None:
            return self.packed_expert
        demos = self.demos
        rows = self.discriminator.pack(self.preprocess_array(demos.obs), demos.actions,
                                       self.preprocess_array(demos.next_obs))
        if self.obs_normalizer is None:
            self.packed_expert = rows
        return rows

    def rollout_transitions(self) -> tuple[np.ndarray, ...]:
        """The rollout's (s, a, s', terminated, log pi(a|s)), flat in (step, env) order, a as
        the env took it; s' of the last step is the observation the rollout ended on (an
        autoreset step's stored observation is its episode's true final one)."""
        buffer = self.buffer
        next_obs = np.concatenate([buffer.obs[1:], self.last_obs[None]])

        def flat(x: np.ndarray) -> np.ndarray:
            return x.reshape(-1, *x.shape[2:])

        return (flat(buffer.obs), to_env_actions(flat(buffer.actions), self.action_space),
                flat(next_obs), flat(buffer.terminated), flat(buffer.log_probs))

    def rollout_rows(self) -> torch.Tensor:
        """Every (step, env) of the rollout as D's packed rows."""
        obs, actions, next_obs, _, _ = self.rollout_transitions()
        return self.discriminator.pack(obs, actions, next_obs)

    def collect(self) -> None:
        if not self.warm_started:  # before the first rollout, which is then the cloned policy's
            self.bc_warm_start()
        super().collect()
        self.last_obs = self.preprocess_array(self.runner.obs)

    # --- learning --------------------------------------------------------------------------
    def discriminator_step(self, expert: torch.Tensor, agent: torch.Tensor) -> torch.Tensor:
        """One Adam step of D on the rows; (loss, penalty, expert and agent accuracy)."""
        cfg = self.config
        result = self.discriminator.loss(expert, agent, cfg.gradient_penalty, cfg.penalty,
                                         self.generator)
        self.disc_optimizer.zero_grad()
        result.loss.backward()
        self.disc_optimizer.step()
        return torch.stack([result.bce, result.penalty, result.expert_accuracy,
                            result.generated_accuracy])

    def train_discriminator(self, agent_rows: torch.Tensor) -> dict[str, float]:
        cfg = self.config
        expert_rows = self.expert_rows()
        stats = []
        for _ in range(cfg.disc_steps):
            expert = torch.randint(len(expert_rows), (cfg.disc_batch_size,),
                                   generator=self.generator)
            agent = torch.randint(len(agent_rows), (cfg.disc_batch_size,),
                                  generator=self.generator)
            stats.append(self.discriminator_step(expert_rows[expert], agent_rows[agent]))
        loss, penalty, expert_accuracy, agent_accuracy = torch.stack(stats).mean(0).tolist()
        return {"losses/disc_loss": loss, "losses/disc_penalty": penalty,
                f"{self.name}/expert_accuracy": expert_accuracy,
                f"{self.name}/agent_accuracy": agent_accuracy}

    def learned_rewards(self, rows: torch.Tensor) -> torch.Tensor:
        """r(s, a) = -log(1 - D(s, a)) of every row."""
        with torch.no_grad():
            return gail_reward(self.discriminator(rows))

    def reward_metrics(self, rows: torch.Tensor, valid: torch.Tensor) -> dict[str, Any]:
        """The mean learned reward of the rollout, before scaling."""
        return {"gail/learned_reward": float(self.learned_rewards(rows[valid]).mean())}

    def bc_warm_start(self) -> None:
        """``bc_warm_start`` minibatch steps of cloning_loss on the demonstrations."""
        cfg = self.config
        obs = self.preprocess(self.demos.obs)
        actions = torch.as_tensor(from_env_actions(self.demos.actions, self.action_space),
                                  device=self.device)
        for _ in range(cfg.bc_warm_start):
            batch = torch.randint(len(obs), (cfg.batch_size,), generator=self.generator)
            loss, _, _ = cloning_loss(self.policy.distribution(obs[batch]), actions[batch],
                                      cfg.ent_coef)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step(max_grad_norm=cfg.max_grad_norm)
        self.warm_started = True

    def update(self) -> dict[str, Any]:
        cfg, buffer = self.config, self.buffer
        # with anneal_lr D slows down with the policy: the game settles instead of going on
        self.disc_optimizer.set_lr(cfg.disc_learning_rate
                                   * (self.progress_remaining if cfg.anneal_lr else 1.0))
        rows, valid = self.rollout_rows(), buffer.valid.reshape(-1)
        on_device = torch.as_tensor(valid, device=self.device)
        disc_metrics = self.train_discriminator(rows[on_device])
        disc_metrics.update(self.reward_metrics(rows, on_device))
        rewards = self.learned_rewards(rows).cpu().numpy().astype(np.float64)
        if cfg.normalize_learned_reward:
            self.reward_stats.update(rewards[valid])
            rewards = rewards / math.sqrt(float(self.reward_stats.var) + 1e-8)
        buffer.rewards[:] = rewards.reshape(buffer.rewards.shape)
        buffer.recompute_returns_and_advantages(cfg.gamma, cfg.gae_lambda)
        out = (PPO.update if cfg.generator == "ppo" else A2C.update)(self)
        out.update(disc_metrics)
        return out

    def extra_state(self) -> dict[str, Any]:
        stats = self.reward_stats
        return {"reward_stats": {"mean": np.asarray(stats.mean), "var": np.asarray(stats.var),
                                 "count": float(stats.count)},
                "warm_started": self.warm_started}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if "reward_stats" in state:
            saved = state["reward_stats"]
            self.reward_stats.mean = np.asarray(saved["mean"], dtype=np.float64)
            self.reward_stats.var = np.asarray(saved["var"], dtype=np.float64)
            self.reward_stats.count = float(saved["count"])
            self.warm_started = bool(state["warm_started"])
