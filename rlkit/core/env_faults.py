"""What the env runner raises when an env fails: the env raised inside ``step``, or returned a
NaN or inf. The training loop (:mod:`rlkit.training.faults`) turns both into one line.

``CHECK_FINITE = False`` turns every finiteness check off, these and the loop's checks of each
update (``benchmarks/fault_checks.py`` measures what they cost).
"""

from __future__ import annotations

from typing import Any

import numpy as np

CHECK_FINITE = True


class EnvStepFailure(Exception):
    """The vector env raised inside ``step``; ``cause`` is what it raised."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


class NonFiniteEnvValue(Exception):
    """The env returned a NaN or inf ``quantity`` (observation, reward) for env ``index``."""

    def __init__(self, quantity: str, index: int, value: float) -> None:
        super().__init__(f"{quantity} {value} from env {index}")
        self.quantity, self.index, self.value = quantity, index, value


def check_env_values(obs: Any, rewards: np.ndarray) -> None:
    """Raise NonFiniteEnvValue for a NaN or inf in float observations (every entry of a Dict or
    Tuple observation) or the rewards."""
    if not CHECK_FINITE:
        return
    if not np.isfinite(rewards).all():
        index = int(np.flatnonzero(~np.isfinite(rewards))[0])
        raise NonFiniteEnvValue("reward", index, float(rewards[index]))
    _check_observations(obs)


def _check_observations(obs: Any) -> None:
    if isinstance(obs, dict | tuple):  # a Dict or Tuple observation: each of its entries
        for entry in obs.values() if isinstance(obs, dict) else obs:
            _check_observations(entry)
    elif isinstance(obs, np.ndarray) and obs.dtype.kind == "f" and not np.isfinite(obs).all():
        bad = ~np.isfinite(obs.reshape(len(obs), -1))
        index = int(np.flatnonzero(bad.any(axis=1))[0])
        raise NonFiniteEnvValue("observation", index, float(obs.reshape(len(obs), -1)[bad][0]))
