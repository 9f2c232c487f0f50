"""What every torso shares: initialization, activations, the input size of an observation
space, and the protocol for memory."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.errors import ConfigError

State = tuple[torch.Tensor, ...]
"""A torso's memory for a batch of envs: () for a feed-forward torso; otherwise tensors whose
second dimension is the env: (layers, n_envs, hidden) for a recurrent one (h, or h and c for an
LSTM), the recent steps' tokens for attention."""

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
    "selu": nn.SELU,
    "prelu": nn.PReLU,  # one learned slope per layer, initialized at 0.25
    "softplus": nn.Softplus,
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


class FeedForward(nn.Module):
    """The memory protocol for a torso without memory: an empty state, and ``unroll`` maps
    every step on its own. Subclasses define ``forward(obs) -> features`` and ``out_dim``."""

    def initial_state(self, n_envs: int) -> State:
        return ()

    def unroll(
        self, obs: torch.Tensor, state: State, episode_starts: torch.Tensor,
        with_state: bool = True,
    ) -> tuple[torch.Tensor, State]:
        """features of obs (T, B, ...) -> (T, B, out_dim); the state stays empty.

        A torso with memory returns its state after step T - 1 too; ``with_state=False`` tells
        it the caller drops that state (a recurrent torso then skips computing it)."""
        steps, batch = obs.shape[:2]
        return self(obs.flatten(0, 1)).view(steps, batch, -1), state
