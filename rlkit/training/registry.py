"""Agents by name: ``make`` builds one from its tuned config, ``load`` one from a checkpoint.

An agent's module is imported only when asked for (by name, so the training layer names no
agent in its imports, and ``import rlkit`` stays light: config, env and torch come in with the
first ``make``).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

from rlkit.errors import CheckpointError, ConfigError, RlkitError

# name -> "module:Class"; a name shows up once its module exists.
_AGENTS: dict[str, str] = {
    "ppo": "rlkit.agents.ppo:PPO",
    "a2c": "rlkit.agents.a2c:A2C",
    "reinforce": "rlkit.agents.reinforce:Reinforce",
    "dqn": "rlkit.agents.dqn:DQN",
    "qlearning": "rlkit.agents.tabular:QLearning",
    "sarsa": "rlkit.agents.tabular:Sarsa",
    "expected_sarsa": "rlkit.agents.tabular:ExpectedSarsa",
    "td0": "rlkit.agents.tabular:TD0",
    "maxent_irl": "rlkit.agents.maxent_irl:MaxEntIRL",
    "bc": "rlkit.agents.bc:BC",
    "dagger": "rlkit.agents.dagger:DAgger",
    "gail": "rlkit.agents.gail:GAIL",
    "airl": "rlkit.agents.airl:AIRL",
}


def _available(target: str) -> bool:
    try:
        return importlib.util.find_spec(target.split(":")[0]) is not None
    except ModuleNotFoundError:
        return False


def agent_names() -> list[str]:
    return [name for name, target in _AGENTS.items() if _available(target)]


def agent_class(name: str) -> type:
    names = agent_names()
    if name not in names:
        raise RlkitError(f"unknown algorithm '{name}'; choose from: {', '.join(names)}")
    module, cls = _AGENTS[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make(
    algo: str,
    env_id: str,
    seed: int | None = None,
    config_file: str | Path | None = None,
    **overrides: Any,
):
    """An agent for ``env_id`` with rlkit's tuned defaults, a config file and overrides.

    ``overrides`` are config keys (nested ones as dicts, e.g.
    ``approximator={"hidden_sizes": [128, 128]}``), checked like ``--set``. Where neither an
    entry, the file nor the overrides pick a torso, frames get the CNN
    (:func:`rlkit.approximators.cnn.is_frames`) and anything else the MLP.
    """
    from rlkit.approximators.cnn import is_frames
    from rlkit.config import resolve_config
    from rlkit.training.environment import check_env_id, single_spaces

    def default_torso(env_kwargs: dict[str, Any]) -> str | None:
        return "cnn" if is_frames(single_spaces(env_id, env_kwargs)[0]) else None

    cls = agent_class(algo)
    check_env_id(env_id)
    if seed is not None:
        overrides["seed"] = seed
    config = resolve_config(cls.Config, algo, env_id, config_file, overrides, default_torso)
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
    from rlkit.config import from_dict
    from rlkit.training.checkpoint import load_checkpoint

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
