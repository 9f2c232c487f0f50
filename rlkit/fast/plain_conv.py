"""torch's plain (im2col + GEMM) convolution instead of oneDNN's when a small CNN acts.

torch runs a float32 CPU convolution through oneDNN (``torch.backends.mkldnn``) whenever it is
available. For the few frames an agent acts on (one per env) of a small grid, oneDNN's fixed
cost per call outweighs its arithmetic: on MinAtar's 10x10 frames with the small stack, 8
frames took 0.21 ms through oneDNN and 0.14 ms through the plain kernel on an AVX-512 CPU
(0.24 / 0.14 with AVX2, 0.36 / 0.16 with SSE4.1), while from about 16 frames on, and in every
training step, oneDNN is as fast or faster. The plain kernel is torch's own; results agree
at float32 tolerance. (Off the CPU, e.g. on CUDA with cuDNN, this path stays out.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

MAX_POSITIONS = 640
"""Frames x output positions of the first convolution up to which the plain kernel is used
(8 or 10 MinAtar frames: 512 or 640; one 84x84 Atari frame stack under the Nature stack: 400)."""


def worth_it(frames: int, first_positions: int) -> bool:
    """Whether a gradient-free pass over ``frames`` frames should take the plain kernel."""
    return not torch.is_grad_enabled() and frames * first_positions <= MAX_POSITIONS


@contextmanager
def plain_convolution() -> Iterator[None]:
    """Inside the block, convolutions skip oneDNN (a process-wide torch flag, restored on exit;
    rlkit acts from one thread at a time)."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = False
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before
