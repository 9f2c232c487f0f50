"""The notes' autoencoder and variational autoencoder as torsos: the encoder is the torso, and a
decoder gives the agent an auxiliary loss that shapes the features.

    autoencoder:  z = f(x),                     L_aux = |g(z) - x|^2
    vae:          q(z|x) = N(mu(x), diag sigma^2(x)),  z = mu + sigma * eps, eps ~ N(0, I)
                  L_aux = |g(z) - x|^2 + beta * KL(q(z|x) || N(0, I)),
                  KL = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)

(sums over pixels and latent units, means over the batch: the negative ELBO of a unit-variance
Gaussian decoder, up to a constant, for beta = 1). x is what the encoder reads: frames scaled to
[0, 1] (uint8) or cast (bool), channels first; vectors flattened (one-hot for Discrete ids). The
encoder is an ``mlp`` for vectors and a ``cnn`` for frames (the same config keys), or
``encoder``. The decoder mirrors it: dense layers in reverse, or transposed convolutions.

The heads read the code's mean mu (z for the autoencoder), so acting is deterministic in the
features. A forward pass in train mode with gradients on keeps what ``auxiliary_loss`` needs, so
an agent adds ``aux_coef * torso.auxiliary_loss()`` to its loss after its own forward pass.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.approximators.base import ACTIVATIONS, FeedForward, orthogonal_init
from rlkit.approximators.cnn import CNN
from rlkit.approximators.mlp import MLP
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError


class AuxiliaryLoss(NamedTuple):
    loss: torch.Tensor
    """reconstruction + beta * KL: what the agent adds, times aux_coef"""
    reconstruction: torch.Tensor
    kl: torch.Tensor


def gaussian_kl(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per row: 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log
    sigma_j^2)."""
    return 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(-1)


def reparameterize(mean: torch.Tensor, log_var: torch.Tensor,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """z = mu + sigma * eps, eps ~ N(0, I): a sample of N(mu, sigma^2) that gradients flow
    through to mu and sigma."""
    eps = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
    return mean + (0.5 * log_var).exp() * eps


def is_image(space: gym.Space) -> bool:
    """Frames (a 3-D Box, or a 2-D one of uint8) go to a CNN, anything else to an MLP."""
    return isinstance(space, gym.spaces.Box) and (
        len(space.shape) == 3 or (len(space.shape) == 2 and space.dtype == np.uint8))


class ConvDecoder(nn.Module):
    """z -> dense -> the encoder's last feature map -> transposed convolutions in reverse order,
    each to exactly the size its convolution read (``output_size``), linear at the end."""

    def __init__(self, encoder: CNN, latent_dim: int, activation: str) -> None:
        super().__init__()
        convs = [m for m in encoder.conv if isinstance(m, nn.Conv2d)]
        self.shapes = list(encoder.feature_shapes)  # (C, H, W) into each conv, and out of it
        channels, height, width = self.shapes[-1]
        self.dense = nn.Sequential(
            orthogonal_init(nn.Linear(latent_dim, encoder.out_dim)), ACTIVATIONS[activation](),
            orthogonal_init(nn.Linear(encoder.out_dim, channels * height * width)),
            ACTIVATIONS[activation]())
        self.deconvs = nn.ModuleList(
            nn.ConvTranspose2d(conv.out_channels, conv.in_channels, conv.kernel_size, conv.stride)
            for conv in reversed(convs))
        self.activation = ACTIVATIONS[activation]()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.dense(z).view(len(z), *self.shapes[-1])
        targets = list(reversed(self.shapes[:-1]))
        for i, (deconv, shape) in enumerate(zip(self.deconvs, targets, strict=True)):
            x = deconv(x, output_size=shape[1:])
            if i < len(self.deconvs) - 1:
                x = self.activation(x)
        return x


def dense_decoder(latent_dim: int, hidden_sizes: list[int], out_dim: int,
                  activation: str) -> nn.Sequential:
    """z -> the encoder's hidden widths in reverse -> out_dim (linear)."""
    layers: list[nn.Module] = []
    width = latent_dim
    for hidden in reversed(hidden_sizes):
        layers += [orthogonal_init(nn.Linear(width, hidden)), ACTIVATIONS[activation]()]
        width = hidden
    layers.append(orthogonal_init(nn.Linear(width, out_dim), gain=1.0))
    return nn.Sequential(*layers)


class AutoencoderTorso(FeedForward):
    """obs -> encoder -> code (``latent_dim``); a decoder for the auxiliary loss (see the
    module docstring). ``config.type`` is ``autoencoder`` or ``vae``."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__()
        encoder_config = config.encoder or dataclasses.replace(
            config, type="cnn" if is_image(obs_space) else "mlp", encoder=None)
        if encoder_config.type == "cnn":
            self.encoder: CNN | MLP = CNN(obs_space, encoder_config)
            self.decoder: nn.Module = ConvDecoder(self.encoder, config.latent_dim,
                                                  encoder_config.activation)
        else:
            self.encoder = MLP(obs_space, encoder_config)
            if self.encoder.multi_input is not None and self.encoder.multi_input.cnns:
                raise ConfigError(f"an {config.type} reconstructs what its encoder reads, and "
                                  f"frames inside {obs_space.structure} are read through a "
                                  f"CNN; use an mlp")
            in_dim = self.encoder.in_dim
            self.decoder = dense_decoder(config.latent_dim, encoder_config.hidden_sizes, in_dim,
                                         encoder_config.activation)
        self.variational = config.type == "vae"
        code = config.latent_dim * (2 if self.variational else 1)
        self.code = orthogonal_init(nn.Linear(self.encoder.out_dim, code), gain=1.0)
        self.beta = config.beta
        self.out_dim = config.latent_dim
        self._saved: tuple[torch.Tensor, torch.Tensor, torch.Tensor | None] | None = None

    def encode(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(x, mu, log sigma^2): the encoder's input, the code's mean and (vae) log variance."""
        x = self.encoder.inputs(obs)
        code = self.code(self.encoder.encode_inputs(x))
        if not self.variational:
            return x, code, None
        mean, log_var = code.chunk(2, dim=-1)
        return x, mean, log_var.clamp(-20.0, 10.0)  # keeps exp(log_var) finite

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x, mean, log_var = self.encode(obs)
        if self.training and torch.is_grad_enabled():  # an update's forward pass
            self._saved = (x, mean, log_var)
        return mean

    def reconstruct(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, g(mu)): the encoder's input and the decoder's output from the code's mean."""
        x, mean, _ = self.encode(obs)
        return x, self.decoder(mean)

    def auxiliary_loss(self) -> AuxiliaryLoss:
        """Reconstruction error (+ beta KL for the vae) of the latest update's forward pass."""
        if self._saved is None:
            raise RuntimeError("auxiliary_loss needs a forward pass in train mode first")
        x, mean, log_var = self._saved
        self._saved = None
        z = mean if log_var is None else reparameterize(mean, log_var)
        error = (self.decoder(z) - x).pow(2)
        reconstruction = error.flatten(1).sum(1).mean()
        if log_var is None:
            kl = torch.zeros((), device=x.device)
            return AuxiliaryLoss(reconstruction, reconstruction.detach(), kl)
        kl = gaussian_kl(mean, log_var).mean()
        return AuxiliaryLoss(reconstruction + self.beta * kl, reconstruction.detach(),
                             kl.detach())


def auxiliary_loss(torsos: list[nn.Module]) -> AuxiliaryLoss | None:
    """The sum of the auxiliary losses of the distinct torsos that have one (None if none)."""
    losses = [t.auxiliary_loss() for t in dict.fromkeys(torsos) if hasattr(t, "auxiliary_loss")]
    if not losses:
        return None
    return AuxiliaryLoss(*(sum(parts) for parts in zip(*losses, strict=True)))

