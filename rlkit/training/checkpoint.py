"""Checkpoint files: one ``torch.save`` of plain data, loaded with ``weights_only=True``.

numpy arrays and scalars are turned into tensors and Python numbers on the way out and back
on the way in, so loading never needs pickle's arbitrary-object path.
"""

from __future__ import annotations

import os
import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlkit.errors import CheckpointError

FORMAT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


def encode(tree: Any) -> Any:
    """numpy -> torch/Python, recursively (for weights_only-safe files)."""
    if isinstance(tree, np.ndarray):
        if tree.dtype.kind in "US":
            return {"__nd_str__": tree.tolist()}
        # the layout travels too (torch.save keeps strides): a Fortran-ordered array, as
        # Gymnasium's vectorized CartPole returns its observations, comes back Fortran-ordered,
        # so the first step after a resume multiplies the same layout (MKL rounds a product
        # of a transposed operand differently)
        if not tree.flags.f_contiguous:
            tree = np.ascontiguousarray(tree)
        return {"__ndarray__": torch.from_numpy(tree).clone()}
    if isinstance(tree, np.generic):
        return tree.item()
    if isinstance(tree, dict):
        return {k: encode(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(encode(v) for v in tree)
    return tree


def decode(tree: Any) -> Any:
    """Inverse of :func:`encode`."""
    if isinstance(tree, dict):
        if "__ndarray__" in tree:
            return tree["__ndarray__"].numpy()
        if "__nd_str__" in tree:
            return np.asarray(tree["__nd_str__"])
        return {k: decode(v) for k, v in tree.items()}
    if isinstance(tree, list | tuple):
        return type(tree)(decode(v) for v in tree)
    return tree


GlobalRandomState = tuple[tuple, tuple, torch.Tensor]
"""Python's, numpy's and torch's global generator states, as each library gives them."""


def global_random_state() -> GlobalRandomState:
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def set_global_random_state(state: GlobalRandomState) -> None:
    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


def rng_states(state: GlobalRandomState | None = None) -> dict[str, Any]:
    """``state`` (default: the live global one) as checkpoint data."""
    py_state, np_state, torch_state = state or global_random_state()
    return {
        "python": [py_state[0], list(py_state[1]), py_state[2]],
        "numpy": [np_state[0], np_state[1], int(np_state[2]), int(np_state[3]), float(np_state[4])],
        "torch": torch_state,
    }


def random_state_from(states: dict[str, Any]) -> GlobalRandomState:
    """Inverse of :func:`rng_states`."""
    version, internal, gauss = states["python"]
    name, keys, pos, has_gauss, cached = states["numpy"]
    return ((version, tuple(internal), gauss),
            (name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached),
            states["torch"])


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write atomically (temp file + rename), so an interrupt never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    try:
        # through a Python file object: a full disk raises OSError (ENOSPC), where torch's own
        # writer would raise a RuntimeError that names no cause
        with open(tmp, "wb") as handle:
            torch.save(encode({"format_version": FORMAT_VERSION, **state}), handle)
        os.replace(tmp, path)
    except BaseException:  # a full disk, or a second Ctrl-C: no half file is left behind
        tmp.unlink(missing_ok=True)
        raise
    return path


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, or the ``checkpoint.pt`` inside a run directory."""
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"checkpoint '{path}' does not exist")
    return path


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint (file or run directory) with ``torch.load(weights_only=True)``."""
    path = resolve_checkpoint_path(path)
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles before refusing them
            warnings.simplefilter("ignore")
            raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for bad files
        raise CheckpointError(
            f"checkpoint '{path}' is corrupt or not an rlkit checkpoint "
            f"(torch.load(weights_only=True) failed: {type(exc).__name__})"
        ) from None
    if not isinstance(raw, dict) or "format_version" not in raw or "algo" not in raw:
        raise CheckpointError(f"checkpoint '{path}' is not an rlkit checkpoint")
    if raw["format_version"] > FORMAT_VERSION:
        raise CheckpointError(
            f"checkpoint '{path}' has format {raw['format_version']}; this rlkit reads up to "
            f"{FORMAT_VERSION} (upgrade rlkit)"
        )
    return decode(raw)
