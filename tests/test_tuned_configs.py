"""Every per-env entry of ``configs/*.yaml`` is a valid config for its agent and env: its keys
and types pass the same checks as ``--set``, the agent handles the env's action space, and
every value of the entry reaches the agent's config. (Whether each entry learns is measured by
``benchmarks/tuned_configs.py``, not here: see ``benchmarks/TUNED.md``.)"""

import pytest

import rlkit
from rlkit.config import packaged_config, tuned_envs
from rlkit.registry import agent_names

# a wildcard entry is checked on one env it covers
REPRESENTATIVE = {"ALE/*": "ALE/Pong-v5", "MinAtar/*": "MinAtar/Breakout-v1"}
ENTRIES = [(algo, env) for algo in agent_names() for env in tuned_envs(algo)]


def leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict) and key != "env_kwargs":
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


@pytest.mark.parametrize("algo, env", ENTRIES, ids=[f"{a}-{e}" for a, e in ENTRIES])
def test_every_tuned_entry_is_a_valid_config_for_its_agent_and_env(algo, env):
    agent = rlkit.make(algo, REPRESENTATIVE.get(env, env), seed=0)
    for key, value in leaves(packaged_config(algo)["envs"][env]):
        got = agent.config
        for part in key.split("."):
            got = getattr(got, part)
        assert got == value or (isinstance(value, list) and list(got) == value), key


def test_the_entries_cover_what_rlkit_list_advertises():
    assert len(ENTRIES) >= 30 and ("dqn", "MountainCar-v0") in ENTRIES
