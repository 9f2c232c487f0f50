"""What the training loop and the evaluation use of an agent.

:class:`rlkit.training.agent.Agent` has all of it; the loop and the evaluation are written
against this protocol instead of importing that class, because the class imports the loop
(``Agent.learn`` runs it). A newcomer's agent gets these from the base class for free.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rlkit.config import TrainConfig
from rlkit.core.normalize import ObsNormalizer
from rlkit.core.rollout import EnvRunner


class Trainable(Protocol):
    name: str
    env_id: str
    config: TrainConfig
    runner: EnvRunner | None
    obs_normalizer: ObsNormalizer | None
    # counters the loop advances and checkpoints (env steps)
    global_step: int
    end_step: int
    next_log: int
    next_eval: int
    last_eval: dict[str, Any] | None
    """the last evaluation's statistics, set when training returns"""
    keep_heap: bool
    """whether training keeps freed memory (``rlkit.fast.heap``)"""
    has_memory: bool

    @property
    def steps_per_collect(self) -> int: ...

    @property
    def can_collect(self) -> bool: ...

    def make_runner(self) -> EnvRunner: ...

    def on_fresh_episodes(self) -> None: ...

    def own_randomness(self) -> AbstractContextManager[None]: ...

    def collect(self) -> None: ...

    def update(self) -> dict[str, float]: ...

    def modules(self) -> dict[str, Any]: ...

    def preprocess(self, obs: np.ndarray) -> Any: ...

    def predict(self, obs: np.ndarray, deterministic: bool = True, state: tuple | None = None,
                episode_start: np.ndarray | None = None,
                action_masks: np.ndarray | None = None) -> Any: ...

    def save(self, path: str | Path) -> Path: ...

