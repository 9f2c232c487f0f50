"""Synchronous advantage actor-critic, A2C (Mnih et al. 2016, the synchronous variant of A3C).

Each iteration runs ``n_steps`` steps in each of ``n_envs`` envs, estimates advantages with
GAE(lambda) (lambda = 1: the plain n-step return minus V, as in the paper) and takes ONE
gradient step on

    L = -E[log pi(a|s) A] + c_v E[(V(s) - R)^2] - c_e E[H(pi(.|s))]

where R = A + V(s) is the n-step (TD(lambda)) return. Unlike PPO there is no ratio, no clipping
and no second pass over the data: the rollout is used once and thrown away. Discrete actions use
a categorical policy, Box actions a diagonal Gaussian (both from ``rlkit.approximators.heads``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from rlkit.approximators.heads import ActorCritic
from rlkit.config import PolicyGradientConfig
from rlkit.core.buffers import normalize_advantages
from rlkit.core.optim import FlatOptimizer
from rlkit.core.rollout import make_rollout_buffer
from rlkit.errors import ConfigError
from rlkit.training.agent import RolloutAgent


@dataclass
class A2CConfig(PolicyGradientConfig):
    """A2C hyperparameters (on top of the shared training settings)."""

    n_steps: int = 5
    """steps per env per rollout (the n of the n-step return)"""
    learning_rate: float = 7e-4
    """optimizer step size"""
    optimizer: Literal["rmsprop", "adam"] = "rmsprop"
    """RMSprop as in the A2C paper, or Adam"""
    rmsprop_alpha: float = 0.99
    """RMSprop smoothing constant of the squared-gradient average"""
    optimizer_eps: float = 1e-5
    """epsilon of RMSprop / Adam"""
    gae_lambda: float = 1.0
    """GAE lambda (1 = plain n-step returns, 0 = one-step TD error)"""
    normalize_advantage: bool = False
    """standardize the advantages of each rollout"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        if self.n_steps < 1:
            raise ConfigError(f"config key 'n_steps' must be >= 1, got {self.n_steps}")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ConfigError(f"config key 'gae_lambda' must lie in [0, 1], got {self.gae_lambda}")
        if self.learning_rate <= 0 or self.max_grad_norm <= 0:
            raise ConfigError("config keys 'learning_rate' and 'max_grad_norm' must be > 0")
        if not 0.0 <= self.rmsprop_alpha < 1.0:
            raise ConfigError(
                f"config key 'rmsprop_alpha' must lie in [0, 1), got {self.rmsprop_alpha}"
            )


def actor_critic_loss(
    log_probs: torch.Tensor,
    entropy: torch.Tensor,
    values: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    vf_coef: float,
    ent_coef: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """L = -E[log pi(a|s) A] + c_v E[(V(s) - R)^2] - c_e E[H(pi(.|s))].

    ``advantages`` and ``returns`` are constants (no gradient flows into the targets).
    Returns (L, policy loss, value loss, mean entropy).
    """
    policy_loss = -(log_probs * advantages).mean()
    value_loss = (values - returns).pow(2).mean()
    mean_entropy = entropy.mean()
    loss = policy_loss + vf_coef * value_loss
    if ent_coef:  # with a zero coefficient the entropy stays out of backward
        loss = loss - ent_coef * mean_entropy
    return loss, policy_loss, value_loss, mean_entropy


def make_optimizer(
    module: nn.Module, kind: str, lr: float, eps: float, alpha: float = 0.99
) -> FlatOptimizer:
    """RMSprop (alpha, eps as in the A2C paper / SB3) or Adam, on flat parameters."""
    if kind == "adam":
        return FlatOptimizer(module, torch.optim.Adam, lr=lr, eps=eps)
    return FlatOptimizer(module, torch.optim.RMSprop, lr=lr, alpha=alpha, eps=eps)


class A2C(RolloutAgent):
    name = "a2c"
    Config = A2CConfig
    config: A2CConfig
    auxiliary_losses = True

    def setup(self) -> None:
        cfg = self.config
        self.policy = ActorCritic.from_config(
            self.input_space, self.action_space, cfg
        ).to(self.device)
        self.optimizer = make_optimizer(
            self.policy,
            cfg.optimizer,
            cfg.learning_rate,
            cfg.optimizer_eps,
            cfg.rmsprop_alpha,
        )
        self.buffer = make_rollout_buffer(self.input_space, self.action_space,
                                          cfg.n_steps, cfg.n_envs, cfg.normalize_obs)

    def update(self) -> dict[str, Any]:
        cfg = self.config
        lr = cfg.learning_rate * (self.progress_remaining if cfg.anneal_lr else 1.0)
        self.optimizer.set_lr(lr)
        data = self.buffer.get(self.device)
        advantages = data.advantages
        if cfg.normalize_advantage:
            advantages = normalize_advantages(advantages)
        log_probs, entropy, values = self.policy.evaluate(data)
        loss, policy_loss, v_loss, mean_entropy = actor_critic_loss(
            log_probs, entropy, values, advantages, data.returns, cfg.vf_coef, cfg.ent_coef
        )
        aux = self.policy.auxiliary_loss()  # autoencoder torsos' decoders
        if aux is not None:
            loss = loss + cfg.approximator.aux_coef * aux.loss
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step(max_grad_norm=cfg.max_grad_norm)
        self.n_updates += 1
        # tensors, not floats: the loop converts only the rows it logs (no per-update sync)
        return {
            "losses/policy_loss": policy_loss.detach(),
            "losses/value_loss": v_loss.detach(),
            "losses/entropy": mean_entropy.detach(),
            "charts/learning_rate": lr,
            **({} if aux is None else
               {"losses/reconstruction": aux.reconstruction, "losses/kl": aux.kl}),
        }
