"""Adversarial inverse RL, AIRL (Fu, Luo & Levine 2018): GAIL whose discriminator has the
form that recovers a reward, not only a policy.

    f(s, a, s') = g(s, a) + gamma (1 - terminated) h(s') - h(s)
    D(s, a, s') = exp f / (exp f + pi(a|s)),  so its logit is  l = f(s, a, s') - log pi(a|s)

g is the reward (``state_only``: g(s), the form that transfers to other dynamics), h a
shaping potential that absorbs what depends on the dynamics. The loop is GAIL's
(:mod:`agents.gail`): D on expert against rollout transitions by the GAN loss on l (log pi of
the expert's actions under the current policy, of the agent's as sampled: the policy has not
moved since), then PPO on the reward

    r(s, a, s') = log D - log(1 - D) = l = f(s, a, s') - log pi(a|s)

(entropy-regularized RL on f), scaled by its running std. A terminated transition has no
next state to shape with (its h(s') term is 0); a truncated one uses its true final
observation. ``airl/learned_reward`` is the mean g of the rollout, the reward that is kept:
``benchmarks/airl_transfer.py`` trains a fresh PPO on g alone (:class:`LearnedReward`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.agents.gail import GAIL, GAILConfig
from rlkit.approximators.gan import Discriminator, discriminator_loss
from rlkit.config import ApproximatorConfig
from rlkit.core.aligned import to_tensor
from rlkit.core.rollout import from_env_actions
from rlkit.errors import ConfigError


@dataclass
class AIRLConfig(GAILConfig):
    """AIRL hyperparameters: GAIL's, and the form of g."""

    state_only: bool = False
    """g(s) instead of g(s, a)"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        if not self.gamma < 1.0:
            raise ConfigError(f"config key 'gamma' must be < 1 for airl (an episode's end leads "
                              f"to an absorbing state worth r_abs / (1 - gamma)), got "
                              f"{self.gamma}")
        if self.gradient_penalty:
            raise ConfigError("airl has no gradient penalty (its logit subtracts log pi); set "
                              "gradient_penalty to 0")


class RewardShaping(nn.Module):
    """f(s, a, s') = g(s, a) + gamma (1 - terminated) h(s') - h(s), g and h each a
    :class:`~rlkit.approximators.gan.Discriminator`'s torso and logit (one output)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space,
                 config: ApproximatorConfig, gamma: float, state_only: bool) -> None:
        super().__init__()
        self.gamma = gamma
        self.g = Discriminator(observation_space, action_space, config,
                               ("obs",) if state_only else ("obs", "action"))
        self.h = Discriminator(observation_space, None, config, ("obs",))
        # the logit of the absorbing state a terminated episode stays in (see
        # AIRL.fit_absorbing_logit); a buffer, so that checkpoints keep it
        self.register_buffer("absorbing", torch.zeros(()))

    def forward(self, batch: Transitions) -> torch.Tensor:
        return (self.g(batch.g_rows) + self.gamma * batch.continues * self.h(batch.next_rows)
                - self.h(batch.h_rows))


@dataclass
class Transitions:
    """A batch of (s, a, s') as the two networks read them, with log pi(a|s)."""

    g_rows: torch.Tensor
    h_rows: torch.Tensor
    next_rows: torch.Tensor
    continues: torch.Tensor
    """1 - terminated (float)"""
    log_probs: torch.Tensor

    def __len__(self) -> int:
        return len(self.g_rows)

    def __getitem__(self, index: torch.Tensor) -> Transitions:
        return Transitions(*(x[index] for x in (self.g_rows, self.h_rows, self.next_rows,
                                                 self.continues, self.log_probs)))


class AIRL(GAIL):
    name = "airl"
    Config = AIRLConfig
    config: AIRLConfig

    def build_discriminator(self) -> nn.Module:
        cfg = self.config
        return RewardShaping(self.observation_space, self.action_space, cfg.discriminator,
                             cfg.gamma, cfg.state_only)

    def transitions(self, obs: np.ndarray, env_actions: np.ndarray, next_obs: np.ndarray,
                    terminated: np.ndarray, log_probs: torch.Tensor) -> Transitions:
        g, h = self.discriminator.g, self.discriminator.h
        return Transitions(g.pack(obs, env_actions), h.pack(obs), h.pack(next_obs),
                           torch.as_tensor(~terminated, dtype=torch.float32, device=self.device),
                           log_probs)

    def expert_rows(self) -> Transitions:
        """The demonstrations, log pi(a|s) of their actions under the current policy."""
        demos = self.demos
        obs = self.preprocess_array(demos.obs)
        with torch.no_grad():
            actions = torch.as_tensor(from_env_actions(demos.actions, self.action_space),
                                      device=self.device)
            log_probs = self.policy.distribution(to_tensor(obs, self.device)).log_prob(actions)
        return self.transitions(obs, demos.actions, self.preprocess_array(demos.next_obs),
                                demos.terminated, log_probs)

    def rollout_rows(self) -> Transitions:
        obs, actions, next_obs, terminated, log_probs = self.rollout_transitions()
        return self.transitions(obs, actions, next_obs, terminated,
                                torch.as_tensor(log_probs, device=self.device))

    def discriminator_step(self, expert: Transitions, agent: Transitions) -> torch.Tensor:
        expert_logits = self.discriminator(expert) - expert.log_probs
        agent_logits = self.discriminator(agent) - agent.log_probs
        loss = discriminator_loss(expert_logits, agent_logits)
        self.disc_optimizer.zero_grad()
        loss.backward()
        self.disc_optimizer.step()
        return torch.stack([loss.detach(), torch.zeros(()), (expert_logits > 0).float().mean(),
                            (agent_logits < 0).float().mean()])

    def train_discriminator(self, agent_rows: Transitions) -> dict[str, float]:
        metrics = super().train_discriminator(agent_rows)
        self.fit_absorbing_logit(self.demos.terminated, agent_rows.continues == 0)
        metrics["airl/absorbing_logit"] = float(self.discriminator.absorbing)
        return metrics

    def fit_absorbing_logit(self, expert_ends: np.ndarray, agent_ends: torch.Tensor) -> None:
        """l_abs = log p_E(end) - log p_A(end), each side's rate of terminated transitions
        with one end added to each side (Laplace's rule: finite when one side never ends).

        Every terminated transition leads to the absorbing state: D sees it as often as each
        side terminates, and the logit minimizing the GAN loss on those samples alone is the
        log-ratio of the two rates. It is set in closed form rather than learned because the
        step-size-bound Adam would move it by about disc_learning_rate a step, far too slowly
        (an agent that learns to end its episodes early (its learned rewards are negative
        where D tells it apart) would find ending free for most of training)."""
        expert_rate = (float(np.sum(expert_ends)) + 1) / (len(expert_ends) + 1)
        agent_rate = (float(agent_ends.sum()) + 1) / (len(agent_ends) + 1)
        self.discriminator.absorbing.fill_(np.log(expert_rate) - np.log(agent_rate))

    def learned_rewards(self, rows: Transitions) -> torch.Tensor:
        """r = f(s, a, s') - log pi(a|s), D's logit; a terminated transition adds what the
        absorbing state pays from then on, gamma / (1 - gamma) r_abs (r_abs its logit)."""
        gamma = self.config.gamma
        with torch.no_grad():
            after_end = gamma / (1 - gamma) * self.discriminator.absorbing
            return self.discriminator(rows) - rows.log_probs + (1 - rows.continues) * after_end

    def reward_metrics(self, rows: Transitions, valid: torch.Tensor) -> dict[str, Any]:
        with torch.no_grad():
            g = self.discriminator.g(rows.g_rows[valid])
        return {"airl/learned_reward": float(g.mean())}


class LearnedReward(gym.Wrapper):
    """An env whose reward is the one an AIRL run recovered: g(s, a) (g(s) when state-only)
    for every step (``shaped``: f = g + gamma h(s') - h(s)), plus gamma / (1 - gamma) r_abs on
    a terminated step (the absorbing state it leads to, worth its logit r_abs a step; see
    :meth:`AIRL.fit_absorbing_logit`). The
    env's own reward is kept in ``info["true_reward"]``. A fresh agent trained on it shows
    whether the reward transfers (``benchmarks/airl_transfer.py``)."""

    def __init__(self, env: gym.Env, airl: AIRL, shaped: bool = False) -> None:
        super().__init__(env)
        self.shaped = shaped
        if (airl.observation_space, airl.action_space) != (env.observation_space,
                                                           env.action_space):
            raise ConfigError(f"the AIRL run learned on {airl.env_id}, whose spaces differ "
                              f"from this env's")
        self.airl = airl
        self.obs: Any = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        self.obs, info = self.env.reset(**kwargs)
        return self.obs, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        airl = self.airl
        rows = airl.packer(self.obs) if airl.packer is not None else np.asarray(self.obs)[None]
        shaping = airl.discriminator
        with torch.no_grad():
            obs_rows = airl.preprocess_array(rows)
            learned = float(shaping.g(shaping.g.pack(obs_rows, np.asarray(action)[None]))[0])
            if self.shaped:  # + gamma h(s') - h(s): f, the potential-shaped reward
                next_rows = airl.packer(obs) if airl.packer is not None else np.asarray(obs)[None]
                h = shaping.h
                learned -= float(h(h.pack(obs_rows))[0])
                if not terminated:
                    learned += airl.config.gamma * float(h(h.pack(airl.preprocess_array(
                        next_rows)))[0])
            if terminated:
                gamma = airl.config.gamma
                learned += gamma / (1 - gamma) * float(shaping.absorbing)
        self.obs = obs
        return obs, learned, terminated, truncated, {**info, "true_reward": reward}
