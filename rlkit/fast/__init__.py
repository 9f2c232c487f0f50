"""rlkit's fast paths, and the one switch that turns them all off.

Each fast path computes what torch computes, at less cost on the small networks RL uses: three
are written by hand (the TD-loss gradient, DQN's numpy forward pass, the categorical
distribution), one picks torch's plain convolution kernel over oneDNN's for a few small
frames, and one keeps freed tensor memory in the process (``heap``: glibc's malloc
thresholds, fixed when training starts). Each is kept only while it saves 5 % or more of the
wall time of a benchmark it serves (``benchmarks/fast_paths.py`` measures it; the README has
the table). They agree with torch at float32 tolerance: numpy's BLAS and torch's kernels
(picked per CPU at run time) round differently, so nothing may rely on their last bits. (The
TD-loss gradient calls autograd's own kernels, so it equals autograd's bit for bit in the same
process; ``heap`` changes no arithmetic, only where freed memory goes.)

The switch: the config key ``fast_paths`` (default true) and the environment variable
``RLKIT_FAST_PATHS``; both must allow a path for it to be used. The variable is ``0`` (all
off), ``1`` (all on, as when unset), a comma-separated list of paths to keep
(``td_gradient,categorical``) or of paths to turn off (``-numpy_acting``). Whether a path is
used is decided when an agent builds its networks (``Agent.__init__`` runs ``setup`` inside
:func:`switch`), and agent files never name a fast path: the networks (and for ``heap``, the
training loop) pick them.

May import: ``rlkit.errors``, torch and numpy only: the kernels take plain layers
(``nn.Linear``, activations), and the networks above decide which of theirs qualify.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager

from rlkit.errors import ConfigError

#: name -> what it replaces
PATHS: dict[str, str] = {
    "td_gradient": "autograd for DQN's TD-loss gradient on a plain MLP Q network",
    "numpy_acting": "torch's one-row forward pass when DQN acts greedily",
    "categorical": "torch.distributions.Categorical's sample, log_prob and entropy",
    "plain_conv": "oneDNN's convolution when a CNN acts on a few small frames",
    "heap": "glibc's return of freed tensor memory to the kernel while training",
}
ENV_VAR = "RLKIT_FAST_PATHS"

_config_allows: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "rlkit_fast_paths", default=True
)


def env_allowed(value: str | None = None) -> frozenset[str]:
    """The paths ``RLKIT_FAST_PATHS`` (or ``value``) allows."""
    value = os.environ.get(ENV_VAR) if value is None else value
    text = (value or "").strip().lower()
    if text in ("", "1", "true", "on", "all"):
        return frozenset(PATHS)
    if text in ("0", "false", "off", "none"):
        return frozenset()
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [n for n in names if n.lstrip("-") not in PATHS]
    if unknown:
        raise ConfigError(f"{ENV_VAR} names unknown fast paths {', '.join(unknown)}; "
                          f"known: {', '.join(PATHS)} (or 0 / 1)")
    if all(n.startswith("-") for n in names):
        return frozenset(PATHS) - {n[1:] for n in names}
    if any(n.startswith("-") for n in names):
        raise ConfigError(f"{ENV_VAR} is either paths to keep or -paths to drop, not both")
    return frozenset(names)


def enabled(path: str) -> bool:
    """Whether fast path ``path`` may be used here (config key and environment variable)."""
    if path not in PATHS:
        raise KeyError(path)
    return _config_allows.get() and path in env_allowed()


@contextmanager
def switch(config_allows: bool) -> Iterator[None]:
    """Inside the block, :func:`enabled` also obeys the config key ``fast_paths``."""
    token = _config_allows.set(config_allows)
    try:
        yield
    finally:
        _config_allows.reset(token)
