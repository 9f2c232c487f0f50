"""rlkit: readable, fast reinforcement learning on Gymnasium and PyTorch.

>>> agent = rlkit.make("ppo", "CartPole-v1", seed=0)
>>> agent.learn(100_000)
>>> action = agent.predict(obs, deterministic=True)
>>> agent.save("ppo.pt"); agent = rlkit.load("ppo.pt")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlkit.errors import CheckpointError, ConfigError, RlkitError

__version__ = "0.1.0"
__all__ = ["make", "load", "RlkitError", "ConfigError", "CheckpointError", "__version__"]


def make(
    algo: str,
    env_id: str,
    seed: int | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
):
    """An agent for ``env_id`` with rlkit's tuned defaults, a config file and overrides.

    ``overrides`` are config keys (nested ones as dicts, e.g.
    ``approximator={"hidden_sizes": [128, 128]}``), checked like ``--set``.
    """
    from rlkit.config import resolve_config
    from rlkit.environment import check_env_id
    from rlkit.registry import agent_class

    cls = agent_class(algo)
    check_env_id(env_id)
    if seed is not None:
        overrides["seed"] = seed
    config = resolve_config(cls.Config, algo, env_id, config_file, overrides)
    try:
        return cls(env_id, config)
    except MemoryError:
        raise ConfigError(_too_big(config)) from None
    except RuntimeError as exc:  # torch's allocator: "DefaultCPUAllocator: can't allocate ..."
        if "allocate" not in str(exc):
            raise
        raise ConfigError(_too_big(config)) from None


def _too_big(config: Any) -> str:
    sizes = {key: getattr(config, key) for key in ("n_envs", "buffer_size", "n_steps")
             if hasattr(config, key)}
    sizes["approximator.hidden_sizes"] = config.approximator.hidden_sizes
    shown = ", ".join(f"{key}={value}" for key, value in sizes.items())
    return f"this config needs more memory than this machine has ({shown})"


def load(path: str | Path):
    """A ready agent from a checkpoint file or a run directory."""
    from rlkit.checkpoint import load_checkpoint
    from rlkit.config import from_dict
    from rlkit.registry import agent_class

    state = load_checkpoint(path)
    try:
        cls = agent_class(state["algo"])
    except (RlkitError, TypeError) as exc:
        raise CheckpointError(f"checkpoint '{path}' names no rlkit agent ({exc})") from None
    try:
        config = from_dict(cls.Config, state["config"])
        agent = cls(state["env_id"], config)
        agent.load_state_dict(state)
    except Exception as exc:  # noqa: BLE001 - a damaged file can fail anywhere in here
        first_line = str(exc).splitlines()[0][:160] if str(exc) else ""
        raise CheckpointError(
            f"checkpoint '{path}' does not match {state['algo']} or is damaged "
            f"({type(exc).__name__}: {first_line})"
        ) from None
    return agent
