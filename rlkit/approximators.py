"""Torsos: function approximators that map observations to a feature vector.

Every agent picks its torso from the ``approximator`` config entry and puts its heads on top,
so the same MLP (later: linear, Bayesian linear, CNN, LSTM/GRU, attention, VAE) serves every
algorithm. A torso is an ``nn.Module`` with an ``out_dim`` attribute.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
}


def orthogonal_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights and constant bias, the usual policy-gradient initialization."""
    if isinstance(layer, nn.Linear):
        nn.init.orthogonal_(layer.weight, gain)
        nn.init.constant_(layer.bias, bias)
    return layer


def flat_obs_dim(space: gym.Space) -> int:
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape))
    raise ConfigError(
        f"observation space {space} is not supported by the torsos yet (supported: Box, Discrete)"
    )


class MLP(nn.Module):
    """x -> [Linear -> (LayerNorm) -> activation -> (Dropout)] * len(hidden_sizes)."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__()
        self.one_hot = int(obs_space.n) if isinstance(obs_space, gym.spaces.Discrete) else 0
        in_dim = flat_obs_dim(obs_space)
        layers: list[nn.Module] = []
        for width in config.hidden_sizes:
            layers.append(orthogonal_init(nn.Linear(in_dim, width)))
            if config.layer_norm:
                layers.append(nn.LayerNorm(width))
            layers.append(ACTIVATIONS[config.activation]())
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            in_dim = width
        self.layers = nn.Sequential(*layers)
        self.out_dim = in_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.one_hot:  # Discrete observations arrive as integer ids
            obs = nn.functional.one_hot(obs.long(), self.one_hot).float()
        x = obs.flatten(1) if obs.dim() != 2 else obs
        x = x.float() if x.dtype != torch.float32 else x
        # Each layer's forward is called directly: nn.Module.__call__'s hook dispatch costs a
        # few microseconds per call, as much as the arithmetic of a 64-unit layer on a small
        # batch (hooks on the layers inside a torso are therefore not run).
        for layer in self.layers:
            x = layer.forward(x)
        return x


TORSOS: dict[str, Callable[[gym.Space, ApproximatorConfig], nn.Module]] = {"mlp": MLP}


def build_torso(obs_space: gym.Space, config: ApproximatorConfig) -> nn.Module:
    """The torso named by ``config.type`` for ``obs_space``."""
    if config.type not in TORSOS:
        raise ConfigError(
            f"unknown approximator '{config.type}'; choose from: {', '.join(sorted(TORSOS))}"
        )
    return TORSOS[config.type](obs_space, config)
