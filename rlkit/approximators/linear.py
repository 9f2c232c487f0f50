"""Linear function approximation, as in the notes' linear regression: a fixed feature map
phi(s) under the agent's linear heads, so that pi's logits, V and Q are all w^T phi(s) + b.

The torso holds no parameters; it computes one of

* ``raw``: phi(s) = s (flattened; one-hot for Discrete observations);
* ``poly``: every monomial of s of degree 1 to ``degree`` (the heads add the constant), e.g.
  degree 2 of (x, y): (x, y, x^2, xy, y^2);
* ``fourier``: the Fourier basis of order n (Konidaris, Osentoski & Thomas, 2011),
  phi_c(s) = cos(pi c . u(s)) for every c in {0, ..., n}^d, with u(s) in [0, 1]^d: s scaled by
  the observation space's bounds where they are finite, squashed by the logistic function
  1 / (1 + e^-s) where they are not.
"""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.approximators.base import FeedForward, flat_obs_dim
from rlkit.approximators.multi_input import MultiInput
from rlkit.config import ApproximatorConfig
from rlkit.core.observations import PackedObservations
from rlkit.errors import ConfigError

MAX_FEATURES = 100_000


class LinearFeatures(FeedForward):
    """obs -> phi(obs), a fixed feature map (see the module docstring)."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__()
        self.kind = config.features
        self.one_hot = int(obs_space.n) if isinstance(obs_space, gym.spaces.Discrete) else 0
        self.multi_input = None
        if isinstance(obs_space, PackedObservations):
            self.multi_input = MultiInput(obs_space, config)
            if self.multi_input.cnns:  # a CNN has weights; phi(s) here has none
                raise ConfigError("linear features cannot read frames; use an mlp for "
                                  f"{obs_space.structure}")
        dim = self.multi_input.out_dim if self.multi_input is not None else flat_obs_dim(obs_space)
        if self.kind == "raw":
            self.out_dim = dim
            return
        if self.one_hot or self.multi_input is not None:
            raise ConfigError(f"'{self.kind}' features need a Box observation space; "
                              f"use features: raw for {obs_space}")
        if self.kind == "poly":
            # one row of exponents per monomial of degree 1..d
            terms = [combo for degree in range(1, config.degree + 1)
                     for combo in itertools.combinations_with_replacement(range(dim), degree)]
            exponents = torch.zeros(len(terms), dim)
            for row, combo in enumerate(terms):
                for index in combo:
                    exponents[row, index] += 1
        else:  # fourier: every coefficient vector c in {0..n}^d
            count = (config.order + 1) ** dim
            if count > MAX_FEATURES:
                raise ConfigError(f"a Fourier basis of order {config.order} on {dim} "
                                  f"dimensions has {count} features; lower 'order'")
            exponents = torch.tensor(list(itertools.product(range(config.order + 1),
                                                            repeat=dim)), dtype=torch.float32)
            low = np.asarray(obs_space.low, np.float64).reshape(-1)
            high = np.asarray(obs_space.high, np.float64).reshape(-1)
            bounded = np.isfinite(low) & np.isfinite(high)
            self.register_buffer("low", torch.tensor(np.where(bounded, low, 0.0),
                                                     dtype=torch.float32))
            self.register_buffer("span", torch.tensor(np.where(bounded, high - low, 1.0),
                                                      dtype=torch.float32))
            self.register_buffer("bounded", torch.tensor(bounded))
        if len(exponents) > MAX_FEATURES:
            raise ConfigError(f"a polynomial of degree {config.degree} on {dim} dimensions "
                              f"has {len(exponents)} features; lower 'degree'")
        self.register_buffer("exponents", exponents)
        self.out_dim = len(exponents)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.multi_input is not None:  # raw features of a packed observation
            return self.multi_input(obs)
        if self.one_hot:
            return nn.functional.one_hot(obs.long(), self.one_hot).float()
        s = obs.flatten(1).float()
        if self.kind == "raw":
            return s
        if self.kind == "poly":  # prod_i s_i^k_i per monomial
            return torch.prod(s.unsqueeze(1) ** self.exponents, dim=-1)
        unit = torch.where(self.bounded, (s - self.low) / self.span, torch.sigmoid(s))
        return torch.cos(math.pi * unit @ self.exponents.T)
