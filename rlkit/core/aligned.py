"""Numpy arrays into torch's own memory before they reach a network.

MKL and oneDNN choose how a matrix product groups its additions by the memory alignment of
its operands (Intel's "Getting reproducible results with Intel MKL": "array alignment can
determine how internal loops order floating-point operations"), so the same numbers at
another address may round differently in the last bits. torch allocates every tensor
64-byte aligned; numpy's arrays come from malloc, 16-byte aligned at addresses that depend
on what the process allocated before. A tensor sharing a numpy array's memory
(``torch.from_numpy``, ``torch.as_tensor``) thus made a product's result depend on the
process's history: a resumed run, which has allocated otherwise, drifted from the
uninterrupted run in the last bits wherever the CPU's kernels are alignment-sensitive.

Every array bound for a network (observations to act on, rollouts and replay samples to
learn from) goes through :func:`to_tensor`: a copy in torch's memory, whatever the array's
address. The copy keeps the array's strides, so the products see the same layout as before
(layout matters as much: Gymnasium's vectorized CartPole returns Fortran-ordered observations,
and :func:`rlkit.training.checkpoint.encode` keeps that order for the observation a resumed run acts
on first). Only the arrays a product reads are copied; rewards, actions and flags meet
elementwise operations, which torch computes alike at any address.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def to_tensor(array: Any, device: torch.device | str = "cpu") -> torch.Tensor:
    """``array`` (a numpy array, or anything ``torch.as_tensor`` takes) as a tensor in memory
    torch allocated on ``device``: always a copy, never a view of numpy's memory."""
    if isinstance(array, np.ndarray) and array.flags.writeable:
        source = torch.from_numpy(array)  # a view (no copy yet): a fraction of as_tensor's cost
    elif isinstance(array, torch.Tensor):
        source = array
    else:
        source = torch.as_tensor(np.array(array) if isinstance(array, np.ndarray) else array)
    if getattr(device, "type", device) == "cpu":
        return source.clone()  # keeps the strides; cheaper than .to(device, copy=True)
    return source.to(device)  # a copy in that device's memory

