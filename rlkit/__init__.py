"""rlkit: readable, fast reinforcement learning on Gymnasium and PyTorch.

>>> agent = rlkit.make("ppo", "CartPole-v1", seed=0)
>>> agent.learn(100_000)
>>> action = agent.predict(obs, deterministic=True)
>>> agent.save("ppo.pt"); agent = rlkit.load("ppo.pt")

The package is in layers (ARCHITECTURE.md): this module and ``rlkit.cli`` are the entry points
on top; ``make`` and ``load`` live in :mod:`rlkit.training.registry`.
"""

from __future__ import annotations

from rlkit.errors import CheckpointError, ConfigError, RlkitError
from rlkit.training.registry import load, make

__version__ = "0.1.0"
__all__ = ["make", "load", "RlkitError", "ConfigError", "CheckpointError", "__version__"]
