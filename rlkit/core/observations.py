"""Observations as the core keeps them: frames, and structured observations packed into rows.

The env runner, the rollout and replay buffers, n-step queues and checkpoints hold each
observation as one array row. A Box or Discrete observation is that row already. A Dict,
Tuple, MultiDiscrete or MultiBinary observation space becomes :class:`PackedObservations`:
each entry (a leaf of the nested Dict/Tuple) is laid down in its own dtype, one after the other
in one row of bytes, like a numpy structured dtype:

* ``frames`` (:func:`is_frames`): uint8 or bool, as the env gives them (a quarter of float32's
  bytes or less);
* ``box`` (any other Box): float32, the entries observation normalization applies to;
* ``discrete``, ``multi_discrete``: int64 ids counted from 0 (the space's ``start`` removed);
* ``binary`` (MultiBinary): uint8 0/1.

A Text entry (MiniGrid's ``mission``, say) has no numbers for a network to read: it is left
out, and ``ignored`` names it.

Every entry starts at a multiple of 8 bytes, so that a slice of a row can be read back as its
dtype without a copy (``numpy.ndarray.view``, ``torch.Tensor.view(dtype)``). The networks'
multi-input encoder (:mod:`rlkit.approximators.multi_input`) reads the entries back and
encodes each by its kind; a buffer stores the bytes and never needs to know.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rlkit.errors import ConfigError

FRAME_CHANNELS = (1, 3, 4)
"""Channel counts of frames (grayscale, RGB, RGBA or 4 stacked grayscale frames)."""

ALIGN = 8
"""Every entry starts at a multiple of this many bytes (the largest itemsize stored)."""


def is_frames(space: gym.Space) -> bool:
    """Whether observations are frames that a CNN reads when no config picks a torso. SB3's
    rule: a uint8 Box of three dimensions, bounded by 0 and 255, with 1, 3 or 4 channels first
    or last. And MinAtar's grids: a three-dimensional bool Box (4 to 10 channels)."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 3:
        return False
    if space.dtype == np.bool_:
        return True
    return (space.dtype == np.uint8 and bool(np.all(space.low == 0))
            and bool(np.all(space.high == 255))
            and (space.shape[0] in FRAME_CHANNELS or space.shape[-1] in FRAME_CHANNELS))


@dataclass(frozen=True)
class Entry:
    """One leaf of a structured observation: where its bytes lie in a packed row."""

    path: tuple[str | int, ...]
    """the keys (Dict) and positions (Tuple) that lead to it from the top"""
    space: gym.Space
    kind: str
    """frames, box, discrete, multi_discrete or binary"""
    dtype: np.dtype
    shape: tuple[int, ...]
    offset: int
    nbytes: int

    @property
    def name(self) -> str:
        return ".".join(str(key) for key in self.path) or "obs"


def _kind_and_dtype(space: gym.Space, path: tuple) -> tuple[str, np.dtype]:
    if isinstance(space, gym.spaces.Box):
        if is_frames(space):
            return "frames", np.dtype(space.dtype)
        return "box", np.dtype(np.float32)
    if isinstance(space, gym.spaces.Discrete):
        return "discrete", np.dtype(np.int64)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return "multi_discrete", np.dtype(np.int64)
    if isinstance(space, gym.spaces.MultiBinary):
        return "binary", np.dtype(np.uint8)
    where = f" (entry '{'.'.join(map(str, path))}')" if path else ""
    raise ConfigError(f"observation space {space}{where} is not supported (supported: Box, "
                      f"Discrete, MultiDiscrete, MultiBinary, and Dict or Tuple of them)")


def _leaves(space: gym.Space, path: tuple = ()) -> list[tuple[tuple, gym.Space]]:
    if isinstance(space, gym.spaces.Dict):
        return [leaf for key, sub in space.spaces.items() for leaf in _leaves(sub, (*path, key))]
    if isinstance(space, gym.spaces.Tuple):
        return [leaf for i, sub in enumerate(space.spaces) for leaf in _leaves(sub, (*path, i))]
    return [(path, space)]


class PackedObservations(gym.spaces.Box):
    """A structured observation space seen as rows of bytes (see the module docstring).

    ``structure`` is the env's own space; ``entries`` its leaves in order. :meth:`pack` turns
    the env's observations (one, or a batch as a vector env returns them) into rows.
    """

    def __init__(self, structure: gym.Space) -> None:
        entries, ignored, offset = [], [], 0
        for path, space in _leaves(structure):
            if isinstance(space, gym.spaces.Text):
                ignored.append(".".join(map(str, path)))
                continue
            kind, dtype = _kind_and_dtype(space, path)
            shape = tuple(space.shape) if kind != "discrete" else ()
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            entries.append(Entry(path, space, kind, dtype, shape, offset, nbytes))
            offset += -(-nbytes // ALIGN) * ALIGN
        if not entries:
            raise ConfigError(f"observation space {structure} has no entries a network can "
                              f"read")
        super().__init__(0, 255, shape=(offset,), dtype=np.uint8)
        self.structure = structure
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.ignored: tuple[str, ...] = tuple(ignored)

    def __repr__(self) -> str:
        return f"PackedObservations({self.structure})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PackedObservations) and other.structure == self.structure

    __hash__ = None  # type: ignore[assignment]  # like Box: mutable, compared by value

    @staticmethod
    def _leaf(obs: Any, path: tuple) -> Any:
        for key in path:
            obs = obs[key]
        return obs

    def pack(self, obs: Any) -> np.ndarray:
        """The env's observation -> a row of bytes (nbytes,); a batch (a vector env's: each
        leaf with a leading env axis) -> rows (n, nbytes)."""
        first = self.entries[0]
        leaf = np.asarray(self._leaf(obs, first.path))
        single = leaf.shape == first.shape
        n = 1 if single else len(leaf)
        rows = np.zeros((n, self.shape[0]), dtype=np.uint8)
        for entry in self.entries:
            value = np.asarray(self._leaf(obs, entry.path))
            if entry.kind in ("discrete", "multi_discrete"):
                value = value - entry.space.start
            value = np.ascontiguousarray(value, dtype=entry.dtype).reshape(n, -1)
            rows[:, entry.offset:entry.offset + entry.nbytes] = value.view(np.uint8)
        return rows[0] if single else rows

    def entry_values(self, rows: np.ndarray, entry: Entry) -> np.ndarray:
        """Entry ``entry`` of packed rows (..., nbytes), as its dtype and shape: a view."""
        flat = rows[..., entry.offset:entry.offset + entry.nbytes].view(entry.dtype)
        return flat.reshape((*rows.shape[:-1], *entry.shape))

    @property
    def box_entries(self) -> tuple[Entry, ...]:
        """The vector entries (float32): what observation normalization applies to."""
        return tuple(e for e in self.entries if e.kind == "box")


def network_observation_space(space: gym.Space) -> gym.Space:
    """The space of the rows the core stores for an env's ``space``: a Box, and a Discrete
    counted from 0, as they are; anything else packed (:class:`PackedObservations`, which
    counts a Discrete(n, start) from 0 too)."""
    if isinstance(space, gym.spaces.Box) or (isinstance(space, gym.spaces.Discrete)
                                             and int(space.start) == 0):
        return space
    return PackedObservations(space)
