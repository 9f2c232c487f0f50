"""Demonstrations: recorded episodes as Minari datasets, and as flat arrays for learning.

`Minari <https://minari.farama.org>`_ is Farama's format for offline RL data. A dataset is a
folder ``DIR`` holding ``DIR/data/metadata.json`` (the spaces, counts and free-form keys) and
``DIR/data/main_data.hdf5`` (one group per episode: its T + 1 observations, the final one
included, and its T actions, rewards, terminations and truncations). Minari's own root
(``MINARI_DATASETS_PATH``, else ``~/.minari/datasets``) keeps each dataset at ``ROOT/<id>/``,
so a folder written here can be moved there and loaded by its id.

* :class:`Episode` is one episode as the env gave it; :func:`write_minari` writes episodes as a
  Minari dataset, with their returns and the caller's keys in ``metadata.json``.
* :func:`load_demonstrations` reads any Minari dataset (a folder, or an id in the local root;
  never a download) into :class:`Demonstrations`: preallocated arrays over every transition,
  the observations as the rows the agents read (:mod:`rlkit.core.observations`).

Every problem with a dataset is a one-line :class:`DemonstrationsError`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from rlkit.core.observations import PackedObservations, network_observation_space
from rlkit.errors import RlkitError

MINARI_KEYS = frozenset({"dataset_id", "observation_space", "action_space", "env_spec",
                                 "data_format", "minari_version", "total_episodes",
                                 "total_steps"})
"""metadata.json keys that Minari itself writes: a caller's metadata may not set them"""

ACTION_SPACES = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete,
                 gym.spaces.MultiBinary)
"""the action spaces demonstrations may have (those rlkit's agents act in)"""


class DemonstrationsError(RlkitError):
    """A dataset that is missing, is no Minari dataset, is damaged, is empty, or does not
    fit the env."""


@dataclass
class Episode:
    """One recorded episode as the env gave it: T actions, rewards and end flags, and the
    T + 1 observations around them (the first from ``reset``, the last the true final one)."""

    observations: list[Any]
    """the env's own observations (a dict for a Dict space), T + 1 of them"""
    actions: list[Any] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminations: list[bool] = field(default_factory=list)
    truncations: list[bool] = field(default_factory=list)
    seed: int | None = None
    """the seed of the ``reset`` that began it (None: not seeded)"""

    def step(self, action: Any, next_obs: Any, reward: float, terminated: bool,
             truncated: bool) -> None:
        """Append one env step: the action taken and what the env returned for it."""
        self.actions.append(action)
        self.observations.append(next_obs)
        self.rewards.append(float(reward))
        self.terminations.append(bool(terminated))
        self.truncations.append(bool(truncated))

    def __len__(self) -> int:
        return len(self.actions)

    @property
    def total_return(self) -> float:
        """The undiscounted return: the sum of the rewards."""
        return float(np.sum(self.rewards, dtype=np.float64))


@dataclass(eq=False)
class Demonstrations:
    """Every transition of a dataset's episodes, one after another, in preallocated arrays.

    N transitions in E episodes; episode ``e`` holds rows ``offsets[e]:offsets[e + 1]``.
    Observations are the rows the agents read, in ``input_space``: the env's own for a Box or a
    Discrete counted from 0, else packed into bytes by
    :class:`~rlkit.core.observations.PackedObservations` (a Dict, a Tuple, ...).
    """

    obs: np.ndarray
    """(N, *input_space.shape): the observation each action was taken in"""
    actions: np.ndarray
    """(N, *action_space.shape) in the action space's dtype, as the env takes them"""
    next_obs: np.ndarray
    """(N, *input_space.shape): what the env returned (the true final one at an episode end)"""
    rewards: np.ndarray
    """(N,) float64"""
    terminated: np.ndarray
    """(N,) bool"""
    truncated: np.ndarray
    """(N,) bool"""
    returns: np.ndarray
    """(E,) float64: each episode's undiscounted return"""
    lengths: np.ndarray
    """(E,) int64: each episode's number of transitions"""
    observation_space: gym.Space
    """the env's own observation space"""
    action_space: gym.Space
    env_id: str | None = None
    """the env the episodes come from, where the dataset says"""
    metadata: dict[str, Any] = field(default_factory=dict)
    """the dataset's metadata.json (its spaces left out): Minari's keys and the writer's own"""
    input_space: gym.Space = field(init=False)
    """the space of ``obs`` rows (``network_observation_space(observation_space)``)"""

    def __post_init__(self) -> None:
        self.input_space = network_observation_space(self.observation_space)
        n = int(self.lengths.sum())
        for name in ("obs", "actions", "next_obs", "rewards", "terminated", "truncated"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Demonstrations.{name} has {len(getattr(self, name))} rows; "
                                 f"the episode lengths add up to {n}")
        if len(self.returns) != len(self.lengths):
            raise ValueError(f"{len(self.returns)} returns for {len(self.lengths)} episodes")

    def __len__(self) -> int:
        """The number of transitions N."""
        return len(self.rewards)

    @property
    def n_episodes(self) -> int:
        return len(self.lengths)

    @property
    def offsets(self) -> np.ndarray:
        """(E + 1,) int64: where each episode's rows begin, and N at the end."""
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    @property
    def episode_starts(self) -> np.ndarray:
        """(N,) bool: True on each episode's first transition (a memory torso resets there)."""
        starts = np.zeros(len(self), dtype=bool)
        starts[self.offsets[:-1][self.lengths > 0]] = True
        return starts

    @property
    def episode_index(self) -> np.ndarray:
        """(N,) int64: the episode each transition belongs to."""
        return np.repeat(np.arange(self.n_episodes, dtype=np.int64), self.lengths)

    def select_episodes(self, episodes: Sequence[int] | np.ndarray) -> Demonstrations:
        """The demonstrations of the given episodes (indices into this set), in that order."""
        episodes = np.asarray(episodes, dtype=np.int64).reshape(-1)
        offsets = self.offsets
        rows = (np.concatenate([np.arange(offsets[e], offsets[e + 1]) for e in episodes])
                if len(episodes) else np.zeros(0, dtype=np.int64))
        return replace(self, obs=self.obs[rows], actions=self.actions[rows],
                       next_obs=self.next_obs[rows], rewards=self.rewards[rows],
                       terminated=self.terminated[rows], truncated=self.truncated[rows],
                       returns=self.returns[episodes], lengths=self.lengths[episodes])

    def take_episodes(self, k: int) -> Demonstrations:
        """The first ``k`` episodes (a study of how many demonstrations a learner needs)."""
        if not 1 <= k <= self.n_episodes:
            raise DemonstrationsError(f"cannot take {k} episodes of demonstrations that hold "
                                      f"{self.n_episodes}")
        return self.select_episodes(np.arange(k))

    def split(self, fraction: float, rng: np.random.Generator
              ) -> tuple[Demonstrations, Demonstrations]:
        """(kept, held out): ``fraction`` of the episodes, drawn by ``rng``, held out whole (a
        held-out loss on steps of episodes trained on would flatter the learner). At least one
        episode lands on each side; each side keeps the episodes' order."""
        if not 0.0 < fraction < 1.0:
            raise DemonstrationsError(f"a held-out fraction must be in (0, 1), got {fraction}")
        if self.n_episodes < 2:
            raise DemonstrationsError(f"a held-out split needs 2 or more episodes; the "
                                      f"demonstrations hold {self.n_episodes}")
        n_held = min(max(1, round(fraction * self.n_episodes)), self.n_episodes - 1)
        held = np.zeros(self.n_episodes, dtype=bool)
        held[rng.choice(self.n_episodes, size=n_held, replace=False)] = True
        return self.select_episodes(np.flatnonzero(~held)), self.select_episodes(
            np.flatnonzero(held))


# --- writing ---------------------------------------------------------------------------------

def _is_minari_image(space: gym.Space) -> bool:
    """Whether Minari decodes this space's values from JPEG when it reads them: a uint8 Box of
    2 or 3 dimensions, at least 32 x 32, bounded by 0 and 255."""
    return (isinstance(space, gym.spaces.Box) and len(space.shape) in (2, 3)
            and space.shape[0] >= 32 and space.shape[1] >= 32 and space.dtype == np.uint8
            and bool(np.all(space.low == 0)) and bool(np.all(space.high == 255)))


def _stacked(values: list[Any], space: gym.Space, name: str) -> Any:
    """One episode's values of ``space`` (one per step) in the form Minari's HDF5 storage
    keeps: a dict or tuple of arrays for a Dict or Tuple, strings for Text, else one array with
    a leading step axis (a list of rows where that array would be taken for images)."""
    if isinstance(space, gym.spaces.Dict):
        return {key: _stacked([v[key] for v in values], sub, f"{name}[{key!r}]")
                for key, sub in space.spaces.items()}
    if isinstance(space, gym.spaces.Tuple):
        return tuple(_stacked([v[i] for v in values], sub, f"{name}[{i}]")
                     for i, sub in enumerate(space.spaces))
    if isinstance(space, gym.spaces.Text):
        return [str(v) for v in values]
    array = np.stack([np.asarray(v, dtype=space.dtype) for v in values])
    if array.dtype != np.uint8:
        return array
    # Minari's HDF5 writer JPEG-encodes a uint8 array of 2 or 3 dimensions per value, and of
    # 3 with 1 or 3 channels last, but its reader decodes only what _is_minari_image accepts:
    # anything else would come back as JPEG bytes, or fails to encode (1 channel)
    if array.ndim <= 2:
        return list(array)  # vectors: a list of rows is stored as it is
    jpeg = array.ndim == 3 or (array.ndim == 4 and array.shape[-1] in (1, 3))
    if jpeg and (not _is_minari_image(space) or array.shape[-1] == 1):
        raise DemonstrationsError(f"Minari's HDF5 format cannot store {name} ({space}): it "
                                  f"JPEG-encodes uint8 arrays of that shape and cannot read "
                                  f"them back")
    return array  # images at least 32 x 32 (Minari keeps them as JPEG: lossy) or stacks


def _dataset_id(path: Path) -> str:
    """A Minari id for a dataset written to ``path``: its folder name where that is an id
    (``name-vN``), so that the folder moved into Minari's root loads by that id."""
    if re.fullmatch(r"[-\w]+-v\d+", path.name):
        return path.name
    return re.sub(r"[^-\w]", "_", path.name) + "-v0"


def write_minari(
    path: str | Path,
    episodes: Sequence[Episode],
    observation_space: gym.Space,
    action_space: gym.Space,
    *,
    env_id: str | None = None,
    env_spec: EnvSpec | None = None,
    metadata: Mapping[str, Any] | None = None,
    dataset_id: str | None = None,
) -> Path:
    """Write ``episodes`` as a Minari dataset in the folder ``path`` (new, or empty); return it.

    ``metadata.json`` gets Minari's own keys (``dataset_id``: ``dataset_id`` or one from the
    folder's name; ``env_spec`` where ``env_spec`` serializes, so that Minari can rebuild the
    env) and rlkit's: ``env_id``, ``episode_returns`` and ``episode_lengths``, then the keys of
    ``metadata`` (JSON values; Minari's keys are refused). Each episode's seed is Minari's
    per-episode ``seed``. The folder appears whole or not at all: it is written beside
    ``path`` and renamed.
    """
    import minari
    from minari.data_collector import EpisodeBuffer
    from minari.dataset.minari_storage import MinariStorage

    path = Path(path)
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise DemonstrationsError(f"'{path}' already exists; write the dataset to a new or "
                                  f"empty folder")
    if not episodes:
        raise DemonstrationsError("no episodes to write")
    for i, episode in enumerate(episodes):
        n = len(episode.actions)
        if not (n >= 1 and len(episode.observations) == n + 1 and len(episode.rewards) == n
                and len(episode.terminations) == n and len(episode.truncations) == n):
            raise ValueError(f"episode {i} is not T >= 1 actions, rewards and flags with "
                             f"T + 1 observations")
    extra = dict(metadata or {})
    if MINARI_KEYS & extra.keys():
        raise ValueError(f"metadata keys {sorted(MINARI_KEYS & extra.keys())} are "
                         f"Minari's own")
    keys = {
        "dataset_id": dataset_id or _dataset_id(path),
        "minari_version": minari.__version__,
        "env_id": env_id,
        "episode_returns": [episode.total_return for episode in episodes],
        "episode_lengths": [len(episode) for episode in episodes],
        **extra,
    }
    json.dumps(keys)  # a value JSON cannot hold fails here, before anything is written
    buffers = [EpisodeBuffer(
        seed=episode.seed,
        observations=_stacked(episode.observations, observation_space, "observations"),
        actions=_stacked(episode.actions, action_space, "actions"),
        rewards=np.asarray(episode.rewards, dtype=np.float64),
        terminations=np.asarray(episode.terminations, dtype=bool),
        truncations=np.asarray(episode.truncations, dtype=bool),
    ) for episode in episodes]
    if env_spec is not None:
        try:  # an env made with a callable in its kwargs has a spec JSON cannot hold
            env_spec.to_json()
        except (TypeError, ValueError):
            env_spec = None
    path.parent.mkdir(parents=True, exist_ok=True)
    # absolute: Minari sizes the files by joining its folder to paths that already hold it
    staging = path.parent.absolute() / f".{path.name}.writing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        storage = MinariStorage.new(staging / "data", observation_space=observation_space,
                                    action_space=action_space, env_spec=env_spec,
                                    data_format="hdf5")
        storage.update_metadata(keys)
        storage.update_episodes(buffers)
        if path.exists():
            path.rmdir()  # empty (checked above)
        staging.rename(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


# --- reading ---------------------------------------------------------------------------------

def minari_root() -> Path:
    """Minari's local datasets folder: ``MINARI_DATASETS_PATH``, else ``~/.minari/datasets``
    (worked out here because Minari's own helper creates the folder as it looks)."""
    root = os.environ.get("MINARI_DATASETS_PATH")
    return Path(root) if root else Path.home() / ".minari" / "datasets"


def _data_path(source: str | Path) -> Path:
    """The folder holding ``source``'s metadata.json: ``source`` itself or its ``data/``, or
    ``<root>/<id>/data`` for a dataset id in Minari's local root."""
    path = Path(source).expanduser()
    if not path.exists():
        local = minari_root() / str(source) / "data"
        if (local / "metadata.json").is_file():
            return local
        raise DemonstrationsError(
            f"demonstrations '{source}' not found: no such folder, and no Minari dataset of "
            f"that id in {minari_root()} (rlkit downloads none: `minari download ID` does)")
    if not path.is_dir():
        raise DemonstrationsError(f"demonstrations '{source}' is a file, not a Minari "
                                  f"dataset's folder")
    for candidate in (path / "data", path):
        if (candidate / "metadata.json").is_file():
            return candidate
    raise DemonstrationsError(f"'{source}' is not a Minari dataset: no metadata.json in it or "
                              f"in its data/ folder")


def _damaged(source: str | Path, exc: BaseException) -> DemonstrationsError:
    first_line = str(exc).splitlines()[0][:160] if str(exc) else ""
    return DemonstrationsError(f"Minari dataset '{source}' cannot be read "
                               f"({type(exc).__name__}: {first_line})")


def _rows(values: Any, input_space: gym.Space, count: int) -> np.ndarray:
    """An episode's ``count`` observations (as Minari gives them) as rows of ``input_space``."""
    if isinstance(input_space, PackedObservations):
        rows = input_space.pack(values)
        return rows.reshape(count, -1)
    return np.asarray(values, dtype=input_space.dtype).reshape(count, *input_space.shape)


def load_demonstrations(
    source: str | Path,
    observation_space: gym.Space | None = None,
    action_space: gym.Space | None = None,
) -> Demonstrations:
    """The demonstrations in ``source``: a Minari dataset's folder (``DIR`` or ``DIR/data``,
    written by rlkit or any other tool), or the id of a dataset in Minari's local root
    (:func:`minari_root`; nothing is downloaded).

    Given the env's ``observation_space`` and ``action_space``, the dataset's must equal them.
    Raises :class:`DemonstrationsError` for a missing source, a folder that is no Minari
    dataset or is damaged, a dataset without episodes and spaces that do not match.
    """
    from minari import MinariDataset

    data_path = _data_path(source)
    try:
        dataset = MinariDataset(data_path)
        n_steps, n_episodes = int(dataset.total_steps), int(dataset.total_episodes)
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail anywhere in Minari
        raise _damaged(source, exc) from None
    if n_episodes == 0:
        raise DemonstrationsError(f"Minari dataset '{source}' has no episodes")
    obs_space, act_space = dataset.observation_space, dataset.action_space
    for what, theirs, ours in (("observation", obs_space, observation_space),
                               ("action", act_space, action_space)):
        if ours is not None and theirs != ours:
            raise DemonstrationsError(f"demonstrations '{source}' have {what} space {theirs}, "
                                      f"but the env's is {ours}")
    if not isinstance(act_space, ACTION_SPACES):
        raise DemonstrationsError(f"demonstrations '{source}' have action space {act_space}; "
                                  f"supported: Box, Discrete, MultiDiscrete, MultiBinary")
    input_space = network_observation_space(obs_space)
    act_dtype = np.dtype(act_space.dtype)
    obs = np.empty((n_steps, *input_space.shape), dtype=input_space.dtype)
    next_obs = np.empty_like(obs)
    actions = np.empty((n_steps, *act_space.shape), dtype=act_dtype)
    rewards = np.empty(n_steps, dtype=np.float64)
    terminated = np.empty(n_steps, dtype=bool)
    truncated = np.empty(n_steps, dtype=bool)
    lengths = np.empty(n_episodes, dtype=np.int64)
    returns = np.empty(n_episodes, dtype=np.float64)
    start, e = 0, -1
    try:
        for e, episode in enumerate(dataset.iterate_episodes()):
            t = len(episode.rewards)
            if start + t > n_steps or e >= n_episodes:
                raise ValueError(f"more steps than the {n_steps} its metadata counts")
            rows = _rows(episode.observations, input_space, t + 1)
            stop = start + t
            obs[start:stop], next_obs[start:stop] = rows[:-1], rows[1:]
            actions[start:stop] = np.asarray(episode.actions, dtype=act_dtype).reshape(
                t, *act_space.shape)
            rewards[start:stop] = episode.rewards
            terminated[start:stop] = episode.terminations
            truncated[start:stop] = episode.truncations
            lengths[e], returns[e] = t, float(np.sum(rewards[start:stop]))
            start = stop
        if start != n_steps or e + 1 != n_episodes:
            raise ValueError(f"{start} steps in {e + 1} episodes; its metadata counts "
                             f"{n_steps} in {n_episodes}")
    except Exception as exc:  # noqa: BLE001 - as above, and arrays of the wrong shape
        raise _damaged(source, exc) from None
    metadata = {key: value for key, value in dataset.storage.metadata.items()
                if key not in ("observation_space", "action_space")}
    env_id = metadata.get("env_id") or (dataset.env_spec.id if dataset.env_spec else None)
    return Demonstrations(obs=obs, actions=actions, next_obs=next_obs, rewards=rewards,
                          terminated=terminated, truncated=truncated, returns=returns,
                          lengths=lengths, observation_space=obs_space, action_space=act_space,
                          env_id=env_id, metadata=metadata)


def require_demonstrations(
    source: str | Path | None,
    observation_space: gym.Space,
    action_space: gym.Space,
    algo: str,
    n_episodes: int | None = None,
) -> Demonstrations:
    """:func:`load_demonstrations` for an agent that cannot learn without them: a one-line
    error when ``source`` is None, and the first ``n_episodes`` episodes when that is given."""
    if source is None:
        raise DemonstrationsError(f"{algo} learns from demonstrations: pass --demos DIR (a "
                                  f"Minari dataset; `rlkit record RUN --episodes N --out DIR` "
                                  f"writes one from a trained agent)")
    demos = load_demonstrations(source, observation_space, action_space)
    return demos if n_episodes is None else demos.take_episodes(n_episodes)
