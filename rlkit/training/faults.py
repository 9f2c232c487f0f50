"""What a long run meets besides Ctrl-C: divergence, a failing env, a full disk, a second run
in the same directory. Each becomes one line for the user, and none costs a good checkpoint.

* :func:`check_update` looks at every update's losses, and at the gradients and parameters it
  left behind: a NaN or inf stops the run before a checkpoint can store it.
* :class:`EnvRunner` (``rlkit.core.rollout``) raises ``EnvStepFailure`` when the env raises,
  and ``NonFiniteEnvValue`` for a NaN or inf observation or reward (both in
  :mod:`rlkit.core.env_faults`); the loop turns both into one line with the env, the step and
  the cause.
* :class:`RunLock` keeps a second process out of a run directory (``.lock`` holds the owner's
  PID and host); a lock whose process is gone is taken over with a note.

``rlkit.core.env_faults.CHECK_FINITE = False`` turns the finiteness checks off
(``benchmarks/fault_checks.py`` measures what they cost).
"""

from __future__ import annotations

import errno
import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rlkit.core import env_faults
from rlkit.errors import RunError

LOCK_NAME = ".lock"
ADVICE = ("try a lower learning_rate, gradient clipping (max_grad_norm) or reward "
          "normalization (normalize_reward: true)")


def _modules(agent: Any) -> list[torch.nn.Module]:
    return [m for m in agent.modules().values() if isinstance(m, torch.nn.Module)]


def _total_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The 2-norm of all ``tensors`` together, in one fused call (inf or nan if any element
    is)."""
    total = getattr(torch.nn.utils, "get_total_norm", None)  # torch >= 2.6
    if total is not None:
        return total(tensors, error_if_nonfinite=False)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(tensors)))


def first_non_finite(agent: Any, metrics: dict[str, Any], weights: bool = True) -> str | None:
    """The first non-finite quantity after an update, named for the user (a loss's metric
    key, ``the gradient of <parameter>``, ``parameter <name>``), or None.

    The weights: one fused norm over every trained parameter and its gradient (a target
    network, which is not trained, is skipped); the search for the culprit runs only when
    that norm is not finite."""
    for key, value in metrics.items():
        scalar = float(value.item() if isinstance(value, torch.Tensor) else value)
        if not np.isfinite(scalar):
            return f"{key} = {scalar}"
    if not weights:
        return None
    named = [(f"{type(module).__name__}.{name}", p) for module in _modules(agent)
             for name, p in module.named_parameters() if p.requires_grad]
    tensors = [p for _, p in named] + [p.grad for _, p in named if p.grad is not None]
    if not tensors or bool(torch.isfinite(_total_norm(tensors))):
        return None
    for name, p in named:
        if p.grad is not None and not bool(p.grad.isfinite().all()):
            return f"the gradient of {name}"
    for name, p in named:
        if not bool(p.isfinite().all()):
            return f"parameter {name}"
    return None  # finite values whose norm overflows float32: not a divergence yet


def check_update(agent: Any, metrics: dict[str, Any], checkpoint_step: int | None,
                 weights: bool = True) -> None:
    """Raise RunError when the update left a non-finite loss (checked every update: a few
    floats), or, with ``weights``, a non-finite gradient or parameter (the loop asks for that
    with every metrics row and before every checkpoint: a NaN weight makes the next loss NaN
    anyway, and no checkpoint ever holds one)."""
    if not env_faults.CHECK_FINITE:
        return
    bad = first_non_finite(agent, metrics, weights)
    if bad is not None:
        raise RunError(f"training diverged at step {agent.global_step}: {bad} is not finite; "
                       f"{_kept(checkpoint_step)}; {ADVICE}", checkpoint_step)


def _kept(checkpoint_step: int | None) -> str:
    return ("no checkpoint was written" if checkpoint_step is None else
            f"the last good checkpoint (step {checkpoint_step}) is kept")


def env_failure(exc: Exception, env_id: str, step: int, checkpoint_step: int | None,
                resume_hint: str) -> RunError:
    """The one line for an env that raised or returned a non-finite value."""
    if isinstance(exc, env_faults.NonFiniteEnvValue):
        return RunError(f"env '{env_id}' returned a non-finite {exc.quantity} ({exc.value}) "
                        f"in env {exc.index} at step {step}; {_kept(checkpoint_step)}; check "
                        f"the env, or {ADVICE}", checkpoint_step)
    return RunError(f"env '{env_id}' raised at step {step}: {exc}; {resume_hint}",
                    checkpoint_step)


def write_error(exc: OSError, what: str, path: Path) -> RunError:
    """The one line for a write that failed (disk full, read-only directory, ...)."""
    reason = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
              errno.EACCES: "permission denied", errno.EPERM: "permission denied",
              errno.EDQUOT: "the disk quota is exceeded"}.get(exc.errno, exc.strerror or str(exc))
    return RunError(f"cannot write the {what} '{path}': {reason}; the previous one, if any, "
                    f"is intact")


class RunLock:
    """``run_dir/.lock``: one training process per run directory."""

    def __init__(self, run_dir: Path) -> None:
        self.path = Path(run_dir) / LOCK_NAME
        self.held = False

    def __enter__(self) -> RunLock:
        owner = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                other = self._read()
                if other is not None and self._alive(other):
                    raise RunError(
                        f"run directory '{self.path.parent}' is in use by another rlkit "
                        f"process (PID {other['pid']} on {other['host']}); wait for it to end, "
                        f"or train in another directory") from None
                pid = other["pid"] if other else "unknown"
                print(f"note: taking over the stale lock of PID {pid} in '{self.path.parent}' "
                      f"(that process is gone)")
                self.path.unlink(missing_ok=True)
                continue
            except OSError as exc:
                raise write_error(exc, "lock file", self.path) from None
            with os.fdopen(fd, "w") as handle:
                json.dump(owner, handle)
            self.held = True
            return self
        raise RunError(f"cannot lock run directory '{self.path.parent}'")

    def _read(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.path.read_text())
            return data if isinstance(data, dict) and isinstance(data.get("pid"), int) else None
        except (OSError, ValueError):
            return None  # half written, or garbage: nobody can own it

    @staticmethod
    def _alive(owner: dict[str, Any]) -> bool:
        if owner.get("host") != socket.gethostname():
            return True  # another machine's process: it cannot be checked from here
        if owner["pid"] == os.getpid():
            return False  # this process's own leftover (an earlier run in the same process)
        try:
            os.kill(owner["pid"], 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True  # exists, owned by someone else
        return True

    def __exit__(self, *exc: Any) -> None:
        if self.held:
            self.path.unlink(missing_ok=True)
            self.held = False
