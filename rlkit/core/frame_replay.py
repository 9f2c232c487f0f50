"""Replay of stacked-frame observations that stores each distinct frame once.

An Atari observation is a stack of the last k = 4 frames, (4, 84, 84) uint8, and consecutive
observations share k - 1 of them: a :class:`~rlkit.core.buffers.ReplayBuffer`, which keeps
``obs`` and ``next_obs`` whole, holds every frame 2k = 8 times (56 GB for 1M transitions).
:class:`FrameReplayBuffer` keeps the frames in one preallocated store, ``(n_frames, H, W)``,
and each transition keeps the store indices of its k ``obs`` and k ``next_obs`` frames; a batch
gathers the stacks back. Memory is about one frame per transition (7.6 GB for 1M; real Pong
points at 0.87 frames per transition, its screens repeat), as in Dopamine's replay, which
stores one frame per step and rebuilds stacks by looking back in time.

Deduplication here assumes nothing about where frames come from (envs, padding at episode
starts, n-step, autoreset rows left out): a frame is shared only with a stored frame of the
same bytes. A hash table over the live frames (open addressing, linear probing; keys are a
64-bit hash of the bytes, every hit compared byte for byte) finds it; a frame with no equal
live frame is copied into a free slot. A hash collision between different frames costs a
duplicate copy, never a wrong frame. Each stored frame counts the transition slots that point
at it: a transition overwritten by the ring releases its frames, and a frame whose count drops
to 0 leaves the table and returns to the free list, so no live transition can point at a
recycled frame.

Sizing: a stream of stacked frames brings one new frame per transition, plus the first frames
of each episode (one with Gymnasium's default "reset" padding, two with zero padding, whose
zero frame is shared by all episodes). The store starts with ``capacity + capacity // 16 + 64k``
frames, enough for episodes of 16 transitions or more (Atari's run to hundreds or thousands);
if a stream ever needs more (short episodes, observations that are not frame stacks) the store
grows by a quarter, with a warning, and stays exact.
"""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numba
import numpy as np
import torch

from rlkit.core.buffers import ReplayBuffer
from rlkit.core.prioritized import PrioritizedReplayBuffer
from rlkit.errors import ConfigError

_EMPTY = -1  # an empty hash-table slot


# --- compiled kernels: the hash table, reference counts and free list -------------------------
@numba.njit(cache=True)
def _mix(h: np.uint64) -> np.uint64:
    """splitmix64's finalizer: every input bit reaches the low bits the table indexes by."""
    h = (h ^ (h >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    h = (h ^ (h >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return h ^ (h >> np.uint64(31))


@numba.njit(cache=True)
def _hash(words: np.ndarray, coeffs: np.ndarray) -> np.uint64:
    """A 64-bit hash of one frame's words: sum_i w_i c_i mod 2^64 with random odd c_i (two
    frames that differ collide with probability about 2^-64; a loop the compiler vectorizes),
    then mixed."""
    h = np.uint64(0)
    for i in range(words.size):
        h += np.uint64(words[i]) * coeffs[i]
    return _mix(h)


@numba.njit(cache=True)
def _find(table: np.ndarray, hashes: np.ndarray, store: np.ndarray, h: np.uint64,
          frame: np.ndarray) -> int:
    """The live frame with ``frame``'s bytes (-1: none)."""
    mask = table.size - 1
    slot = h & np.uint64(mask)
    while table[slot] != _EMPTY:
        fid = table[slot]
        if hashes[fid] == h:
            stored = store[fid]
            diff = stored[0] ^ stored[0]  # zero of the word type
            for i in range(frame.size):  # no early exit: the loop vectorizes
                diff |= stored[i] ^ frame[i]
            if diff == 0:
                return fid
        slot = (slot + np.uint64(1)) & np.uint64(mask)
    return -1


@numba.njit(cache=True)
def _insert(table: np.ndarray, hashes: np.ndarray, fid: int) -> None:
    mask = table.size - 1
    slot = hashes[fid] & np.uint64(mask)
    while table[slot] != _EMPTY:
        slot = (slot + np.uint64(1)) & np.uint64(mask)
    table[slot] = fid


@numba.njit(cache=True)
def _remove(table: np.ndarray, hashes: np.ndarray, fid: int) -> None:
    """Delete ``fid`` from the table, shifting back the entries probed past it (no tombstones)."""
    mask = table.size - 1
    i = hashes[fid] & np.uint64(mask)
    while table[i] != fid:
        i = (i + np.uint64(1)) & np.uint64(mask)
    j = i
    while True:
        j = (j + np.uint64(1)) & np.uint64(mask)
        if table[j] == _EMPTY:
            break
        home = hashes[table[j]] & np.uint64(mask)
        # the entry at j may move back to i unless its home lies cyclically in (i, j]
        if (i < j and i < home <= j) or (i > j and (home > i or home <= j)):
            continue
        table[i] = table[j]
        i = j
    table[i] = _EMPTY


@numba.njit(cache=True)
def _store_kernel(store: np.ndarray, hashes: np.ndarray, coeffs: np.ndarray, refs: np.ndarray,
                  table: np.ndarray, free: np.ndarray, n_free: np.ndarray,
                  frame_ids: np.ndarray, slots: np.ndarray, occupied: int, obs: np.ndarray,
                  next_obs: np.ndarray) -> int:
    """Write transition r's frame ids to row ``slots[r]`` of ``frame_ids`` (k obs, k next_obs),
    storing the frames no live frame equals, then release the ids the row held (rows below
    ``occupied`` hold a transition). Returns the rows done: fewer than all when the free list
    ran short (the caller grows the store and goes on from there)."""
    k = obs.shape[1]
    new = np.empty(2 * k, dtype=frame_ids.dtype)
    for r in range(slots.size):
        if n_free[0] < 2 * k:
            return r
        for j in range(2 * k):
            frame = obs[r, j] if j < k else next_obs[r, j - k]
            h = _hash(frame, coeffs)
            fid = _find(table, hashes, store, h, frame)
            if fid < 0:
                n_free[0] -= 1
                fid = free[n_free[0]]
                store[fid] = frame
                hashes[fid] = h
                _insert(table, hashes, fid)
            refs[fid] += 1
            new[j] = fid
        s = slots[r]
        if s < occupied:  # release the overwritten transition's frames (after taking the new)
            for j in range(2 * k):
                fid = frame_ids[s, j]
                refs[fid] -= 1
                if refs[fid] == 0:
                    _remove(table, hashes, fid)
                    free[n_free[0]] = fid
                    n_free[0] += 1
        frame_ids[s] = new
    return slots.size


@numba.njit(cache=True)
def _rebuild_kernel(store: np.ndarray, hashes: np.ndarray, coeffs: np.ndarray,
                    refs: np.ndarray, table: np.ndarray, free: np.ndarray) -> int:
    """Hash every referenced frame into an empty table and list the others as free."""
    n_free = 0
    for fid in range(refs.size - 1, -1, -1):  # the lowest free ids are taken first
        if refs[fid] > 0:
            hashes[fid] = _hash(store[fid], coeffs)
            _insert(table, hashes, fid)
        else:
            free[n_free] = fid
            n_free += 1
    return n_free


# --- the buffers ------------------------------------------------------------------------------
def _word_dtype(nbytes: int) -> np.dtype:
    """The widest unsigned integer that tiles a frame of ``nbytes`` (the kernels' word)."""
    for dtype in (np.uint64, np.uint32, np.uint16):
        if nbytes % np.dtype(dtype).itemsize == 0:
            return np.dtype(dtype)
    return np.dtype(np.uint8)


def _table_size(n_frames: int) -> int:
    """A power of two at least twice ``n_frames``: linear probing at a load of 1/2 or less."""
    return 1 << (2 * n_frames - 1).bit_length()


def default_n_frames(capacity: int, stack: int) -> int:
    """Store size for ``capacity`` transitions of ordinary frame stacks (module docstring)."""
    return capacity + capacity // 16 + 64 * stack


def layout(
    capacity: int,
    obs_shape: tuple[int, ...],
    action_shape: tuple[int, ...],
    obs_dtype: np.dtype = np.uint8,
    action_dtype: np.dtype = np.int64,
    store_discounts: bool = False,
    n_frames: int | None = None,
) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Every array a :class:`FrameReplayBuffer` allocates, as name -> (shape, dtype): its
    memory without allocating it (``sum(prod(shape) * itemsize)``)."""
    stack, *frame_shape = obs_shape
    n_frames = default_n_frames(capacity, stack) if n_frames is None else n_frames
    frame_bytes = int(np.prod(frame_shape)) * np.dtype(obs_dtype).itemsize
    arrays = {
        "frames": ((n_frames, *frame_shape), np.dtype(obs_dtype)),
        "frame_ids": ((capacity, 2 * stack), np.dtype(np.int32)),  # k obs, then k next_obs
        "actions": ((capacity, *action_shape), np.dtype(action_dtype)),
        "rewards": ((capacity,), np.dtype(np.float32)),
        "terminated": ((capacity,), np.dtype(np.float32)),
        "hashes": ((n_frames,), np.dtype(np.uint64)),
        "hash_coeffs": ((frame_bytes // _word_dtype(frame_bytes).itemsize,), np.dtype(np.uint64)),
        "refs": ((n_frames,), np.dtype(np.int32)),
        "free": ((n_frames,), np.dtype(np.int32)),
        "table": ((_table_size(n_frames),), np.dtype(np.int32)),
    }
    if store_discounts:
        arrays["discounts"] = ((capacity,), np.dtype(np.float32))
    return arrays


def layout_nbytes(arrays: dict[str, tuple[tuple[int, ...], np.dtype]]) -> int:
    """Bytes of the arrays of a :func:`layout`."""
    return sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in arrays.values())


class StackedFrames:
    """Read-only stand-in for ``ReplayBuffer.obs`` / ``next_obs``: indexing gathers the rows'
    stacks from the frame store, ``(capacity, k, H, W)`` (for inspection and tests; batches
    gather their own)."""

    def __init__(self, buffer: FrameReplayBuffer, ids: str) -> None:
        self.buffer, self.ids = buffer, ids

    @property
    def shape(self) -> tuple[int, ...]:
        buffer = self.buffer
        return (buffer.capacity, buffer.stack, *buffer.frames.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.buffer.frames.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        rows, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        ids = getattr(self.buffer, self.ids)[rows]
        stacks = self.buffer.frames[ids]
        return stacks[(slice(None),) * (ids.ndim - 1) + tuple(rest)]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        stacks = self[:]
        return stacks if dtype is None else stacks.astype(dtype)


class FrameReplayBuffer(ReplayBuffer):
    """A :class:`~rlkit.core.buffers.ReplayBuffer` for observations ``(k, H, W)`` whose first
    axis is a stack of frames: each distinct live frame is stored once (module docstring).

    The same transitions, the same indices, the same batches (every field, equal values and
    layout) as ``ReplayBuffer``. ``obs`` and ``next_obs`` are read-only views
    (:class:`StackedFrames`); ``n_frames`` overrides the store's initial size.
    """

    def __init__(  # no super().__init__(): ReplayBuffer would allocate whole stacks
        self,
        capacity: int,
        obs_shape: tuple[int, ...],
        action_shape: tuple[int, ...],
        obs_dtype: np.dtype = np.uint8,
        action_dtype: np.dtype = np.int64,
        store_discounts: bool = False,
        n_frames: int | None = None,
    ) -> None:
        if len(obs_shape) != 3:
            raise ValueError(f"frame sharing needs observations (stack, H, W), got {obs_shape}")
        self.capacity = capacity
        self.stack = obs_shape[0]
        self.pos = 0
        self.size = 0
        self.discounts: np.ndarray | None = None
        self._grown = False
        arrays = layout(capacity, obs_shape, action_shape, obs_dtype, action_dtype,
                        store_discounts, n_frames)
        for name, (shape, dtype) in arrays.items():
            setattr(self, name, np.zeros(shape, dtype))
        self._words = _word_dtype(self.frames[0].nbytes)
        # fixed, so that a restored buffer hashes alike (it rehashes its frames anyway)
        self.hash_coeffs[:] = np.random.default_rng(0).integers(
            0, 2**64, self.hash_coeffs.shape, np.uint64, endpoint=False) | np.uint64(1)
        self._reset_store()

    @property
    def obs_ids(self) -> np.ndarray:
        """(capacity, k) store indices of each transition's ``obs`` frames (a view)."""
        return self.frame_ids[:, : self.stack]

    @property
    def next_ids(self) -> np.ndarray:
        """(capacity, k) store indices of each transition's ``next_obs`` frames (a view)."""
        return self.frame_ids[:, self.stack :]

    @property
    def obs(self) -> StackedFrames:
        return StackedFrames(self, "obs_ids")

    @property
    def next_obs(self) -> StackedFrames:
        return StackedFrames(self, "next_ids")

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def live_frames(self) -> int:
        """Frames the stored transitions point at."""
        return self.n_frames - int(self._n_free[0])

    @property
    def nbytes(self) -> int:
        """Bytes of every array the buffer holds."""
        return sum(a.nbytes for a in vars(self).values() if isinstance(a, np.ndarray))

    # --- the frame store ------------------------------------------------------------------
    def _as_words(self, frames: np.ndarray) -> np.ndarray:
        """(..., H, W) frames as (..., words): the kernels hash and compare words. Frames of
        another dtype are cast first, as ReplayBuffer's assignment casts them."""
        frames = np.ascontiguousarray(frames, dtype=self.frames.dtype)
        *lead, height, width = frames.shape
        return frames.reshape(*lead, height * width).view(self._words)

    def _reset_store(self) -> None:
        """Rebuild the table, the free list and the torch view from ``refs`` and ``frames``."""
        self.table.fill(_EMPTY)
        self._n_free = np.array([_rebuild_kernel(self._as_words(self.frames), self.hashes,
                                                 self.hash_coeffs, self.refs, self.table,
                                                 self.free)], np.int64)
        self._frames_t = torch.from_numpy(self.frames)  # shares memory: batches gather from it

    def _grow(self, more: int) -> None:
        n = self.n_frames
        n_new = n + max(n // 4, more)
        if not self._grown:
            warnings.warn(
                f"FrameReplayBuffer: {n} frames for {self.capacity} transitions were not "
                f"enough, growing to {n_new}: these observations share fewer frames than "
                "stacked frames do (frame_sharing: off may suit them better)",
                RuntimeWarning, stacklevel=4)
        self._grown = True
        for name in ("frames", "hashes", "refs"):
            old = getattr(self, name)
            grown = np.zeros((n_new, *old.shape[1:]), old.dtype)
            grown[:n] = old
            setattr(self, name, grown)
        self.free = np.zeros(n_new, np.int32)
        self.table = np.zeros(_table_size(n_new), np.int32)
        self._reset_store()

    def _store(self, slots: np.ndarray, obs: np.ndarray, next_obs: np.ndarray) -> None:
        """Point rows ``slots`` at the frames of ``obs`` and ``next_obs``, storing new ones."""
        shape = (len(slots), self.stack, *self.frames.shape[1:])
        if np.shape(obs) != shape or np.shape(next_obs) != shape:
            raise ValueError(f"expected obs and next_obs of shape {shape}, got "
                             f"{np.shape(obs)} and {np.shape(next_obs)}")
        obs_w, next_w = self._as_words(obs), self._as_words(next_obs)
        done = 0
        while True:
            done += _store_kernel(self._as_words(self.frames), self.hashes, self.hash_coeffs,
                                  self.refs, self.table, self.free, self._n_free,
                                  self.frame_ids, slots[done:], self.size, obs_w[done:],
                                  next_w[done:])
            if done == len(slots):
                return
            self._grow(2 * self.stack * (len(slots) - done))

    # --- how ReplayBuffer keeps observations (its add, batch and checkpoints call these) ---
    def _write_observations(self, rows: slice | np.ndarray, obs: np.ndarray,
                            next_obs: np.ndarray) -> None:
        """Point ``rows`` at the frames of ``obs`` and ``next_obs``. More rows than slots (one
        add larger than the buffer): the last ``capacity`` stay, as ReplayBuffer's writes
        leave them."""
        if isinstance(rows, slice):
            rows = np.arange(rows.start, rows.stop)
        keep = slice(max(0, len(rows) - self.capacity), len(rows))
        self._store(rows[keep], obs[keep], next_obs[keep])

    def _stacks(self, ids: np.ndarray, device: torch.device | str) -> torch.Tensor:
        """Frames ``ids`` (B, k) as a (B, k, H, W) tensor in torch's own memory (the copy that
        ``rlkit.core.aligned.to_tensor`` makes of ReplayBuffer's rows)."""
        flat = torch.from_numpy(ids.astype(np.int64).reshape(-1))
        stacks = self._frames_t.index_select(0, flat).view(*ids.shape, *self.frames.shape[1:])
        return stacks if getattr(device, "type", device) == "cpu" else stacks.to(device)

    def _observation_batch(self, indices: np.ndarray, device: torch.device | str
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        # from the contiguous frame_ids: take() on the obs_ids view would copy all of it first
        ids = self.frame_ids.take(indices, axis=0)
        return (self._stacks(ids[:, : self.stack], device),
                self._stacks(ids[:, self.stack :], device))

    def _observation_state(self) -> dict[str, np.ndarray]:
        """Only the frames the stored transitions point at (renumbered), and their ids."""
        n = self.size
        live, ids = np.unique(self.frame_ids[:n], return_inverse=True)
        return {"frames": self.frames[live],
                "frame_ids": ids.reshape(n, 2 * self.stack).astype(np.int32)}

    def _load_observations(self, state: dict, n: int) -> None:
        frames = np.asarray(state["frames"])
        if len(frames) > self.n_frames:
            self._grow(len(frames) - self.n_frames)
        self.frames[: len(frames)] = frames
        self.frame_ids[:n] = np.asarray(state["frame_ids"])
        self.frame_ids[n:] = 0
        self.refs[:] = np.bincount(self.frame_ids[:n].ravel(), minlength=self.n_frames)
        self._reset_store()

    def load_state_dict(self, state: dict) -> None:
        """Also takes a ``ReplayBuffer``'s state (whole stacks), whose frames it shares anew."""
        if "frames" in state:
            super().load_state_dict(state)
            return
        # a ReplayBuffer's checkpoint: store its rows again, in slot order
        n = int(state["size"])
        self.pos = self.size = 0
        self.refs.fill(0)
        self._reset_store()
        for start in range(0, n, 4096):
            rows = slice(start, min(start + 4096, n))
            self.add(*(np.asarray(state[key][rows]) for key in
                       ("obs", "actions", "rewards", "next_obs", "terminated")),
                     discounts=None if self.discounts is None else state["discounts"][rows])
        self.pos = int(state["pos"])


class PrioritizedFrameReplayBuffer(PrioritizedReplayBuffer, FrameReplayBuffer):
    """Prioritized replay (:mod:`rlkit.core.prioritized`) on the frame-sharing storage: the
    priorities come from ``PrioritizedReplayBuffer``, the storage from ``FrameReplayBuffer``."""


# --- which buffer an agent gets ---------------------------------------------------------------
FRAME_SHARING = ("auto", "on", "off")
MAX_STACK = 16  # a first axis longer than this is no frame stack


def is_frame_stack(space: gym.Space, obs_dtype: np.dtype) -> bool:
    """Whether observations look like stacked frames: a Box (k, H, W) stored as uint8 with a
    short first axis (2 <= k <= 16, k < H, k < W), e.g. Atari's (4, 84, 84). CartPole's
    vectors and MinAtar's (10, 10, C) bool grids are not; nor is k = 3, which is far more often
    an RGB image channels first (its channels share nothing) than three grayscale frames."""
    if not isinstance(space, gym.spaces.Box) or len(space.shape) != 3:
        return False
    k, height, width = space.shape
    return (np.dtype(obs_dtype) == np.uint8 and 2 <= k <= MAX_STACK and k != 3
            and k < min(height, width))


def replay_buffer_class(
    space: gym.Space, obs_dtype: np.dtype, frame_sharing: str, prioritized: bool
) -> type[ReplayBuffer]:
    """The replay buffer for ``space``: frame-sharing where ``frame_sharing`` is "on", or
    "auto" and :func:`is_frame_stack`; else ``ReplayBuffer`` (prioritized or not)."""
    if frame_sharing not in FRAME_SHARING:
        raise ConfigError(f"config key 'frame_sharing' must be one of "
                          f"{', '.join(FRAME_SHARING)}; got {frame_sharing!r}")
    if frame_sharing == "on" and (not isinstance(space, gym.spaces.Box)
                                  or len(space.shape) != 3):
        raise ConfigError(f"frame_sharing: on needs observations (stack, H, W), got "
                          f"{getattr(space, 'shape', space)}")
    share = frame_sharing == "on" or (frame_sharing == "auto" and is_frame_stack(space, obs_dtype))
    if share:
        return PrioritizedFrameReplayBuffer if prioritized else FrameReplayBuffer
    return PrioritizedReplayBuffer if prioritized else ReplayBuffer
