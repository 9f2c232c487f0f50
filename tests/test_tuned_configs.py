"""Every per-env entry of ``configs/*.yaml`` is a valid config for its agent and env: its keys
and types pass the same checks as ``--set``, the agent handles the env's action space, and
every value of the entry reaches the agent's config. The same holds for the entries waiting in
``benchmarks/candidates/`` (through ``--config``). (Whether each entry learns is measured by
``benchmarks/tuned_configs.py``, not here: see ``benchmarks/TUNED.md``.)"""

from pathlib import Path

import pytest

import rlkit
from rlkit.config import has_tuned_entry, packaged_config, read_yaml, tuned_envs
from rlkit.training.registry import agent_names

# a wildcard entry is checked on one env it covers
REPRESENTATIVE = {"ALE/*": "ALE/Pong-v5", "MinAtar/*": "MinAtar/Breakout-v1"}
ENTRIES = [(algo, env) for algo in agent_names() for env in tuned_envs(algo)]
CANDIDATES = Path(__file__).parents[1] / "benchmarks" / "candidates"
CANDIDATE_ENTRIES = [(path, env) for path in sorted(CANDIDATES.glob("*.yaml"))
                     for env in read_yaml(path)["envs"]]


def leaves(tree: dict, prefix: str = ""):
    for key, value in tree.items():
        if isinstance(value, dict) and key != "env_kwargs":
            yield from leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


NEEDS_DEMOS = ("bc", "gail", "airl")


def random_demos(env_id: str, path: Path) -> str:
    """Two 5-step episodes of random actions: a dataset with the env's spaces."""
    import gymnasium as gym

    from rlkit.core.demonstrations import Episode, write_minari

    env = gym.make(env_id)
    episodes = []
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        episode = Episode([obs])
        for _ in range(5):
            action = env.action_space.sample()
            obs, reward, terminated, truncated, _ = env.step(action)
            episode.step(action, obs, reward, terminated, truncated)
        episodes.append(episode)
    return str(write_minari(path, episodes, env.observation_space, env.action_space))


@pytest.mark.parametrize("algo, env", ENTRIES, ids=[f"{a}-{e}" for a, e in ENTRIES])
def test_every_tuned_entry_is_a_valid_config_for_its_agent_and_env(algo, env, tmp_path):
    env_id = REPRESENTATIVE.get(env, env)
    demos = {"demos": random_demos(env_id, tmp_path / "demos")} if algo in NEEDS_DEMOS else {}
    agent = rlkit.make(algo, env_id, seed=0, **demos)
    assert_entry_reaches_the_agent(packaged_config(algo)["envs"][env], agent)


def assert_entry_reaches_the_agent(entry: dict, agent) -> None:
    for key, value in leaves(entry):
        got = agent.config
        for part in key.split("."):
            got = getattr(got, part)
        assert got == value or (isinstance(value, list) and list(got) == value), key


@pytest.mark.parametrize("path, env", CANDIDATE_ENTRIES,
                         ids=[f"{p.stem}-{e}" for p, e in CANDIDATE_ENTRIES])
def test_every_candidate_is_a_valid_config_and_not_applied_without_its_file(path, env):
    algo, env_id = path.stem, REPRESENTATIVE.get(env, env)
    agent = rlkit.make(algo, env_id, seed=0, config_file=path)
    assert_entry_reaches_the_agent(read_yaml(path)["envs"][env], agent)
    # a candidate is not advertised as tuned: configs/ has no entry that would serve its env
    assert not has_tuned_entry(algo, env_id)


def test_the_entries_cover_what_rlkit_list_advertises():
    assert len(ENTRIES) >= 30 and ("dqn", "MountainCar-v0") in ENTRIES
