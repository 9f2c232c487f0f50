"""The convolutional net of the notes, for image observations: convolutions (each followed by
an optional norm and the activation), flattened into one dense layer.

    x -> [Conv2d(c_i, k_i, s_i) -> norm -> act] * len(conv_layers) -> flatten -> Linear -> act

Frames arrive as uint8 (Atari), bool (MinAtar) or float, channels last (HWC, Gymnasium's image
convention) or first (CHW, e.g. after ``FrameStackObservation`` of grayscale frames). The torso
detects the order once, from the observation space, and scales uint8 by 1/255 inside, so that
buffers can keep the frames in their compact dtype.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit import fast
from rlkit.approximators.base import ACTIVATIONS, FeedForward, orthogonal_init
from rlkit.config import ApproximatorConfig
from rlkit.core.observations import is_frames
from rlkit.errors import ConfigError
from rlkit.fast.plain_conv import plain_convolution, worth_it

NATURE_CONV = [[32, 8, 4], [64, 4, 2], [64, 3, 1]]
"""Mnih et al. (2015)'s stack for 84x84 frames: [channels, kernel, stride] per layer."""
NATURE_DENSE = 512
SMALL_CONV = [[16, 3, 1], [32, 3, 1]]
"""For small grids (MinAtar's 10x10): 3x3 convolutions, stride 1, no downsampling."""
SMALL_DENSE = 128
SMALL_SIDE = 36
"""Frames smaller than this on either side (where the Nature stack would not fit) get the
small stack."""

__all__ = ["CNN", "image_layout", "is_frames"]  # is_frames: which spaces are frames (core)


def image_layout(
    space: gym.Space, channels_first: bool | None = None
) -> tuple[int, int, int, bool]:
    """(channels, height, width, channels_first) of an image observation space.

    A 2-D space is one channel. For 3-D, the channel axis is the smallest one at either end:
    (4, 84, 84) is CHW, (10, 10, 4) and (210, 160, 3) are HWC; a tie (MinAtar's (10, 10, 10))
    reads as HWC, Gymnasium's convention. ``channels_first`` overrides the guess.
    """
    if not isinstance(space, gym.spaces.Box) or len(space.shape) not in (2, 3):
        raise ConfigError(
            f"approximator 'cnn' needs an image observation space (a Box of shape (H, W), "
            f"(H, W, C) or (C, H, W)), got {space}; use 'mlp' for vector observations"
        )
    if len(space.shape) == 2:
        height, width = space.shape
        return 1, int(height), int(width), True
    first, _, last = space.shape
    if channels_first is None:
        channels_first = first < last
    if channels_first:
        return int(space.shape[0]), int(space.shape[1]), int(space.shape[2]), True
    return int(space.shape[2]), int(space.shape[0]), int(space.shape[1]), False


def conv_norm(kind: str, channels: int) -> nn.Module | None:
    """``batch``: BatchNorm2d; ``layer``: normalization over (C, H, W) of each sample, i.e.
    GroupNorm with one group; ``none``: nothing."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    return None


class CNN(FeedForward):
    """Image -> features of size ``conv_dense`` (see the module docstring)."""

    def __init__(self, obs_space: gym.Space, config: ApproximatorConfig) -> None:
        super().__init__()
        channels, height, width, self.channels_first = image_layout(
            obs_space, config.channels_first)
        self.image_ndim = len(obs_space.shape)
        self.scale = 1.0 / 255.0 if obs_space.dtype == np.uint8 else None
        small = min(height, width) < SMALL_SIDE
        conv_spec = config.conv_layers or (SMALL_CONV if small else NATURE_CONV)
        dense = config.conv_dense or (SMALL_DENSE if small else NATURE_DENSE)
        side_h, side_w = height, width
        for _, kernel, stride in conv_spec:
            side_h, side_w = (side_h - kernel) // stride + 1, (side_w - kernel) // stride + 1
            if min(side_h, side_w) < 1:
                raise ConfigError(f"the convolutions {conv_spec} leave nothing of a "
                                  f"{height}x{width} frame; use smaller kernels or strides")
        layers: list[nn.Module] = []
        self.feature_shapes = [(channels, height, width)]  # into each convolution, and out
        side_h, side_w = height, width
        for out_channels, kernel, stride in conv_spec:
            side_h, side_w = (side_h - kernel) // stride + 1, (side_w - kernel) // stride + 1
            self.feature_shapes.append((out_channels, side_h, side_w))
            conv = nn.Conv2d(channels, out_channels, kernel, stride)
            nn.init.orthogonal_(conv.weight, math.sqrt(2))
            nn.init.zeros_(conv.bias)
            layers.append(conv)
            norm = conv_norm(config.norm, out_channels)
            if norm is not None:
                layers.append(norm)
            layers.append(ACTIVATIONS[config.activation]())
            channels = out_channels
        self.conv = nn.Sequential(*layers, nn.Flatten())
        flat = channels * side_h * side_w
        self.dense = nn.Sequential(orthogonal_init(nn.Linear(flat, dense)),
                                   ACTIVATIONS[config.activation]())
        self.out_dim = dense
        _, first_h, first_w = self.feature_shapes[1]
        self.first_positions = first_h * first_w
        self.plain_conv = fast.enabled("plain_conv")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Frames (N, *obs_shape), any dtype -> features (N, out_dim)."""
        return self.encode_inputs(self.inputs(obs))

    def encode_inputs(self, x: torch.Tensor) -> torch.Tensor:
        """Float frames (N, C, H, W), scaled -> features (N, out_dim)."""
        if self.plain_conv and x.device.type == "cpu" and worth_it(len(x), self.first_positions):
            with plain_convolution():
                return self.dense(self.conv(x))
        return self.dense(self.conv(x))

    def inputs(self, obs: torch.Tensor) -> torch.Tensor:
        """Frames (N, *obs_shape), any dtype -> float (N, C, H, W), uint8 scaled to [0, 1].

        Channels-last frames are moved to a contiguous (N, C, H, W) copy while still in their
        compact dtype: fed a permuted view instead, the convolutions and their ReLUs run on
        mixed memory layouts, which made a training step of the small CNN about 25 % slower
        (MinAtar, batch 256, one thread).
        """
        if self.image_ndim == 2:
            obs = obs.unsqueeze(1)
        elif not self.channels_first:
            obs = obs.permute(0, 3, 1, 2).contiguous()
        x = obs.float()
        if self.scale is not None:
            x = x * self.scale
        return x
