"""Proximal Policy Optimization with the clipped surrogate objective (Schulman et al. 2017).

For each rollout of ``n_steps`` x ``n_envs`` steps, compute GAE advantages A and returns R,
then for ``n_epochs`` over shuffled minibatches minimize

    L = -E[min(r A, clip(r, 1 - eps, 1 + eps) A)] + c_v E[(V(s) - R)^2] - c_e E[H(pi(.|s))]

with r = pi(a|s) / pi_old(a|s). Discrete actions use a categorical policy, Box actions a
diagonal Gaussian. An autoencoder or vae torso adds aux_coef * (its reconstruction error +
beta KL) to L.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rlkit.approximators.heads import ActorCritic
from rlkit.config import PolicyGradientConfig
from rlkit.core.buffers import minibatches, normalize_advantages
from rlkit.core.optim import FlatOptimizer
from rlkit.core.rollout import make_rollout_buffer
from rlkit.errors import ConfigError
from rlkit.training.agent import RolloutAgent


@dataclass
class PPOConfig(PolicyGradientConfig):
    """PPO hyperparameters (on top of the shared training settings)."""

    n_steps: int = 2048
    """steps per env per rollout"""
    batch_size: int = 64
    """minibatch size"""
    n_epochs: int = 10
    """passes over each rollout"""
    learning_rate: float = 3e-4
    """Adam step size"""
    adam_eps: float = 1e-5
    """Adam epsilon"""
    gae_lambda: float = 0.95
    """GAE lambda (1 = Monte-Carlo advantages, 0 = one-step TD error)"""
    clip_range: float = 0.2
    """eps in clip(r, 1 - eps, 1 + eps)"""
    anneal_clip_range: bool = False
    """decay clip_range linearly to 0 over training"""
    clip_range_vf: float | None = None
    """clip the value update around the old value by this much (None: no clipping)"""
    normalize_advantage: bool = True
    """standardize advantages in each minibatch"""
    target_kl: float | None = None
    """stop the epochs early once approx KL exceeds 1.5 x this (None: never)"""

    def validate(self) -> None:  # pragma: no mutate block (config validation: tests/MUTANTS.md)
        super().validate()
        for key in ("n_steps", "batch_size", "n_epochs"):
            if getattr(self, key) < 1:
                raise ConfigError(f"config key '{key}' must be >= 1, got {getattr(self, key)}")
        if not 0.0 <= self.gae_lambda <= 1.0:
            raise ConfigError(f"config key 'gae_lambda' must lie in [0, 1], got {self.gae_lambda}")
        if self.clip_range <= 0 or self.learning_rate <= 0:
            raise ConfigError("config keys 'clip_range' and 'learning_rate' must be > 0")


def clipped_surrogate_loss(
    ratio: torch.Tensor, advantages: torch.Tensor, clip_range: float
) -> torch.Tensor:
    """-E[min(r A, clip(r, 1 - eps, 1 + eps) A)]."""
    unclipped = ratio * advantages
    clipped = torch.clamp(ratio, 1.0 - clip_range, 1.0 + clip_range) * advantages
    return -torch.min(unclipped, clipped).mean()


def value_loss(
    values: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    clip_range_vf: float | None,
) -> torch.Tensor:
    """E[(V - R)^2], or with clipping E[max((V - R)^2, (V_old + clip(V - V_old) - R)^2)]."""
    if clip_range_vf is None:
        return (values - returns).pow(2).mean()
    clipped = old_values + torch.clamp(values - old_values, -clip_range_vf, clip_range_vf)
    return torch.max((values - returns).pow(2), (clipped - returns).pow(2)).mean()


class PPO(RolloutAgent):
    name = "ppo"
    Config = PPOConfig
    config: PPOConfig
    auxiliary_losses = True

    def setup(self) -> None:
        cfg = self.config
        self.policy = ActorCritic.from_config(
            self.input_space, self.action_space, cfg
        ).to(self.device)
        self.optimizer = FlatOptimizer(self.policy, torch.optim.Adam, lr=cfg.learning_rate,
                                       eps=cfg.adam_eps)
        self.buffer = make_rollout_buffer(self.input_space, self.action_space,
                                          cfg.n_steps, cfg.n_envs, cfg.normalize_obs)

    def update(self) -> dict[str, Any]:
        cfg = self.config
        remaining = self.progress_remaining
        lr = cfg.learning_rate * (remaining if cfg.anneal_lr else 1.0)
        self.optimizer.set_lr(lr)
        clip_range = cfg.clip_range * (remaining if cfg.anneal_clip_range else 1.0)
        data = self.buffer.get(self.device)
        # One minibatch per epoch (batch_size >= rollout): every epoch would normalize the same
        # advantages, so normalize them once here.
        normalize_once = cfg.normalize_advantage and cfg.batch_size >= len(data)
        if normalize_once:
            data.advantages = normalize_advantages(data.advantages)
        stats: list[torch.Tensor] = []
        aux_stats: list[torch.Tensor] = []
        for _ in range(cfg.n_epochs):
            epoch_kl = []
            for batch in minibatches(data, cfg.batch_size, self.generator):
                log_probs, entropy, values = self.policy.evaluate(batch)
                advantages = batch.advantages
                if cfg.normalize_advantage and not normalize_once:
                    advantages = normalize_advantages(advantages)
                log_ratio = log_probs - batch.log_probs
                ratio = log_ratio.exp()
                policy_loss = clipped_surrogate_loss(ratio, advantages, clip_range)
                v_loss = value_loss(values, batch.values, batch.returns, cfg.clip_range_vf)
                entropy_loss = -entropy.mean()
                loss = policy_loss + cfg.vf_coef * v_loss
                if cfg.ent_coef:  # with a zero coefficient the entropy stays out of backward
                    loss = loss + cfg.ent_coef * entropy_loss
                aux = self.policy.auxiliary_loss()  # autoencoder torsos' decoders
                if aux is not None:
                    loss = loss + cfg.approximator.aux_coef * aux.loss
                    aux_stats.append(torch.stack([aux.reconstruction, aux.kl]))

                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step(max_grad_norm=cfg.max_grad_norm)
                self.n_updates += 1

                with torch.no_grad():
                    # k3 estimator of KL(pi_old || pi): E[(r - 1) - log r]
                    approx_kl = ((ratio - 1.0) - log_ratio).mean()
                    clip_fraction = ((ratio - 1.0).abs() > clip_range).float().mean()
                    stats.append(
                        torch.stack([policy_loss, v_loss, -entropy_loss, approx_kl, clip_fraction])
                    )
                epoch_kl.append(approx_kl)
            if cfg.target_kl is not None and torch.stack(epoch_kl).mean() > 1.5 * cfg.target_kl:
                break
        means = torch.stack(stats).mean(0).tolist()
        explained_var = 1.0 - (data.returns - data.values).var() / (data.returns.var() + 1e-8)
        metrics = dict(
            zip(
                ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"),
                means,
                strict=True,
            )
        )
        out = {f"losses/{key}": value for key, value in metrics.items()}
        out["losses/explained_variance"] = float(explained_var)
        out["charts/learning_rate"] = lr
        out["charts/clip_range"] = clip_range
        if aux_stats:
            reconstruction, kl = torch.stack(aux_stats).mean(0).tolist()
            out["losses/reconstruction"], out["losses/kl"] = reconstruction, kl
        return out
