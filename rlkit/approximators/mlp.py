"""The multilayer perceptron of the notes: affine maps and nonlinearities, with optional layer
or batch norm and dropout."""

from __future__ import annotations

import gymnasium as gym
import torch
from torch import nn

from rlkit.approximators.base import ACTIVATIONS, FeedForward, flat_obs_dim, orthogonal_init
from rlkit.approximators.cnn import CNN
from rlkit.approximators.multi_input import MultiInput
from rlkit.config import ApproximatorConfig
from rlkit.core.observations import PackedObservations


class MLP(FeedForward):
    """x -> [Linear -> (LayerNorm | BatchNorm) -> activation -> (Dropout)] * len(hidden_sizes).

    x is the observation flattened, one-hot for Discrete ids, or the multi-input encoder's
    features for a packed (Dict, Tuple, ...) observation."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__()
        self.one_hot = int(obs_space.n) if isinstance(obs_space, gym.spaces.Discrete) else 0
        self.multi_input = (MultiInput(obs_space, config)
                            if isinstance(obs_space, PackedObservations) else None)
        in_dim = self.in_dim = (self.multi_input.out_dim if self.multi_input is not None
                                else flat_obs_dim(obs_space))
        layers: list[nn.Module] = []
        for width in config.hidden_sizes:
            layers.append(orthogonal_init(nn.Linear(in_dim, width)))
            if config.norm == "layer" or config.layer_norm:
                layers.append(nn.LayerNorm(width))
            elif config.norm == "batch":
                layers.append(nn.BatchNorm1d(width))
            layers.append(ACTIVATIONS[config.activation]())
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            in_dim = width
        self.layers = nn.Sequential(*layers)
        self.out_dim = in_dim

    def inputs(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations -> the rows the first layer reads: flattened float32 (one-hot ids)."""
        if self.multi_input is not None:
            return self.multi_input(obs)
        if self.one_hot:  # Discrete observations arrive as integer ids
            obs = nn.functional.one_hot(obs.long(), self.one_hot).float()
        x = obs.flatten(1) if obs.dim() != 2 else obs
        return x.float() if x.dtype != torch.float32 else x

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.encode_inputs(self.inputs(obs))

    @property
    def reads_rows(self) -> bool:
        """Whether the first layer reads the observation rows as they are (a Box's floats):
        what ``rlkit.fast``'s written-out layers need."""
        return not self.one_hot and self.multi_input is None

    def encode_inputs(self, x: torch.Tensor) -> torch.Tensor:
        # Each layer's forward is called directly: nn.Module.__call__'s hook dispatch costs a
        # few microseconds per call, as much as the arithmetic of a 64-unit layer on a small
        # batch (hooks on the layers inside a torso are therefore not run).
        for layer in self.layers:
            x = layer.forward(x)
        return x


class MemoryInput(nn.Module):
    """What a memory torso reads at each step: its ``encoder``'s features (an MLP, or a CNN
    for frames) when the config names one, else the observation itself (one-hot for Discrete
    ids, flattened for a Box, the multi-input encoder's features for a packed observation)."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__()
        self.encoder: nn.Module | None = None
        if config.encoder is not None:
            packed = isinstance(obs_space, PackedObservations)
            encoder_class = CNN if config.encoder.type == "cnn" and not packed else MLP
            self.encoder = encoder_class(obs_space, config.encoder)
        elif isinstance(obs_space, PackedObservations):
            self.encoder = MultiInput(obs_space, config)
        self.one_hot = int(obs_space.n) if isinstance(obs_space, gym.spaces.Discrete) else 0
        self.in_dim = self.encoder.out_dim if self.encoder is not None else flat_obs_dim(obs_space)

    def _encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations (N, ...) -> inputs (N, in_dim)."""
        if self.encoder is not None:
            return self.encoder(obs)
        if self.one_hot:
            return nn.functional.one_hot(obs.long(), self.one_hot).float()
        return obs.flatten(1).float()
