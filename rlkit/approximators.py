"""Torsos: function approximators that map observations to a feature vector.

Every agent picks its torso from the ``approximator`` config entry and puts its heads on top,
so the same MLP (later: linear, Bayesian linear, CNN, LSTM/GRU, attention, VAE) serves every
algorithm. A torso is an ``nn.Module`` with an ``out_dim`` attribute.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError

NumpyFunction = Callable[[np.ndarray], np.ndarray]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "silu": nn.SiLU,
}


# In-place numpy versions of the activations, for numpy_linear_stack.
NUMPY_ACTIVATIONS: dict[type[nn.Module], NumpyFunction] = {
    nn.ReLU: lambda x: np.maximum(x, 0.0, out=x),
    nn.Tanh: lambda x: np.tanh(x, out=x),
}


def numpy_linear_stack(layers: Iterable[nn.Module]) -> NumpyFunction | None:
    """``layers`` (Linear layers and ReLU/Tanh) as one numpy function of float32 rows.

    The function reads the layers' weights through numpy views of their memory, so it always
    computes with the current parameters; build it again if parameters are moved or replaced.
    It agrees with the torch forward pass to float32 rounding (a different BLAS sums in a
    different order). Why: acting with one env needs a one-row forward pass per step, where
    torch's dispatch costs about four times numpy's (50 vs 14 microseconds for a
    4-256-256-2 MLP) and is a quarter of DQN's wall time on CartPole. None when a layer has no
    numpy counterpart here (or the parameters are not float32 on the CPU).
    """
    steps: list[NumpyFunction] = []
    for layer in layers:
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            weight, bias = layer.weight.detach(), layer.bias.detach()
            if weight.device.type != "cpu" or weight.dtype != torch.float32:
                return None
            steps.append(_numpy_linear(weight.numpy().T, bias.numpy()))
        elif type(layer) in NUMPY_ACTIVATIONS:
            steps.append(NUMPY_ACTIVATIONS[type(layer)])
        else:
            return None

    def forward(x: np.ndarray) -> np.ndarray:
        for step in steps:
            x = step(x)
        return x

    return forward


def _numpy_linear(weight_t: np.ndarray, bias: np.ndarray) -> NumpyFunction:
    """x -> x W^T + b on views of a Linear layer's parameters."""

    def linear(x: np.ndarray) -> np.ndarray:
        out = x @ weight_t
        out += bias
        return out

    return linear


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

    def numpy_forward(self) -> NumpyFunction | None:
        """This torso as a numpy function of raw observation rows (see numpy_linear_stack)."""
        if self.one_hot:
            return None
        layers = numpy_linear_stack(self.layers)
        if layers is None:
            return None

        def forward(obs: np.ndarray) -> np.ndarray:
            x = obs.reshape(len(obs), -1)
            return layers(x if x.dtype == np.float32 else x.astype(np.float32))

        return forward


TORSOS: dict[str, Callable[[gym.Space, ApproximatorConfig], nn.Module]] = {"mlp": MLP}


def build_torso(obs_space: gym.Space, config: ApproximatorConfig) -> nn.Module:
    """The torso named by ``config.type`` for ``obs_space``."""
    if config.type not in TORSOS:
        raise ConfigError(
            f"unknown approximator '{config.type}'; choose from: {', '.join(sorted(TORSOS))}"
        )
    return TORSOS[config.type](obs_space, config)
