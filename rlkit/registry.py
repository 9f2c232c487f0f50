"""Agent names -> classes, imported only when asked for."""

from __future__ import annotations

import importlib
import importlib.util

from rlkit.errors import RlkitError

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
