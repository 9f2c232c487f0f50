"""The tabular defaults on an env nobody tuned: seeded random slippery lakes, 4x4 to 8x8.

FrozenLake8x8-v1 has no entry in configs/qlearning.yaml, so an agent made for it with a map in
``env_kwargs`` runs on the ``defaults:`` section alone. Success rates are computed exactly from
the lake's transition table (``env.unwrapped.P``), not sampled: the probability of reaching the
goal within the env's time limit, for the greedy policy and for the best policy there is.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.envs.toy_text.frozen_lake import generate_random_map

import rlkit
from rlkit.config import tuned_envs
from rlkit.core.rollout import Step

ENV_ID = "FrozenLake8x8-v1"  # a time limit of 200 steps, whatever the map's size
BAR = 0.8  # the greedy policy must reach 80 % of the optimal success rate


def _lake(size: int, map_seed: int) -> dict:
    return {"desc": generate_random_map(size, seed=map_seed), "is_slippery": True}


# --- oracles: exact success rates by dynamic programming on the lake's transition table ----
def _tables(env: gym.Env) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R[s, a] (expected reward), P[s, a, s'] and the start distribution.

    P leaves out the transitions that end the episode (a hole, the goal): nothing follows them,
    so the value of what comes after is 0 there.
    """
    lake = env.unwrapped
    n_states, n_actions = lake.observation_space.n, lake.action_space.n
    rewards = np.zeros((n_states, n_actions))
    moves = np.zeros((n_states, n_actions, n_states))
    for s in range(n_states):
        for a in range(n_actions):
            for prob, s_next, reward, terminated in lake.P[s][a]:
                rewards[s, a] += prob * reward
                if not terminated:
                    moves[s, a, s_next] += prob
    return rewards, moves, np.asarray(lake.initial_state_distrib)


def optimal_success(env: gym.Env, horizon: int) -> float:
    """The best probability of reaching the goal within ``horizon`` steps.

    Finite-horizon value iteration with gamma = 1: the only reward is 1 on reaching the goal,
    so V_k(s) is the best chance to get there from s in k steps (V_0 = 0).
    """
    rewards, moves, start = _tables(env)
    values = np.zeros(len(start))
    for _ in range(horizon):
        values = (rewards + moves @ values).max(axis=1)
    return float(start @ values)


def policy_success(env: gym.Env, actions: np.ndarray, horizon: int) -> float:
    """The probability that the deterministic policy ``actions[s]`` reaches the goal in time."""
    rewards, moves, start = _tables(env)
    states = np.arange(len(start))
    values = np.zeros(len(start))
    for _ in range(horizon):
        values = rewards[states, actions] + moves[states, actions] @ values
    return float(start @ values)


def test_oracles_by_hand():
    # One row "SG", slippery: pressing right moves right with 1/3 and bumps into the top or
    # bottom wall (staying put) with 2/3, so the goal is reached within k steps with
    # 1 - (2/3)^k: 1/3, 5/9, 19/27. Left (0) never moves right: 0.
    env = gym.make("FrozenLake-v1", desc=["SG"], is_slippery=True)
    for horizon, expected in [(1, 1 / 3), (2, 5 / 9), (3, 19 / 27)]:
        assert optimal_success(env, horizon) == pytest.approx(expected)
        assert policy_success(env, np.array([2, 2]), horizon) == pytest.approx(expected)
        assert policy_success(env, np.array([0, 0]), horizon) == 0.0
    # "SHG": every way to the goal crosses the hole, and a hole ends the episode.
    assert optimal_success(gym.make("FrozenLake-v1", desc=["SHG"]), 100) == 0.0
    # The 4x4 slippery lake: 0.74 within FrozenLake-v1's 100 steps (configs/qlearning.yaml).
    assert optimal_success(gym.make("FrozenLake-v1"), 100) == pytest.approx(0.74, abs=0.005)


# --- optimistic initial values ---------------------------------------------------------------
@pytest.mark.parametrize("algo", ["qlearning", "sarsa", "expected_sarsa"])
def test_untuned_envs_get_the_defaults(algo):
    assert ENV_ID not in tuned_envs(algo)
    agent = rlkit.make(algo, ENV_ID, seed=0, env_kwargs=_lake(5, 5))
    assert agent.config.initial_value == 1.0 and agent.config.n_envs == 16
    assert (agent.table.values == 1.0).all()
    # td0 estimates values, where optimism has nothing to do: its table starts at 0.
    assert (rlkit.make("td0", ENV_ID, env_kwargs=_lake(5, 5)).table.values == 0.0).all()


def test_optimism_wears_off_by_gamma_per_visit():
    # Lake 5/5 starts "SH": from S (state 0), down (1) may reach state 5 (ice) and right (2)
    # the hole at state 1. Every Q starts at 1; the first step has eta = 0.5 (linear decay,
    # nothing done yet) and gamma = 0.995 (configs/qlearning.yaml). No reward, non-terminal
    # s' (Q(5, .) = 1): y = 0.995 -> Q(0, 1) = 1 + 0.5 * (0.995 - 1) = 0.9975. Into the hole
    # (terminated): y = 0 -> Q(0, 2) = 1 + 0.5 * (0 - 1) = 0.5. The untried actions (0, 3) keep
    # their 1, so the greedy action is one of them.
    agent = rlkit.make("qlearning", ENV_ID, seed=0, env_kwargs=_lake(5, 5), eval_freq=0)
    agent.end_step = 1000
    step = Step(np.array([5, 1]), np.zeros(2, np.float32), np.array([False, True]),
                np.array([False, False]), np.array([True, True]))
    agent.transition = (np.array([0, 0]), np.array([1, 2]), step)
    agent.update()
    np.testing.assert_allclose(agent.table.values[0], [1.0, 0.9975, 0.5, 1.0])
    assert (agent.table.values[1:] == 1.0).all()
    assert agent.predict(0) in (0, 3)


# --- acceptance: learning on lakes nobody tuned for ------------------------------------------
# (size, map seed): one map of each size 4..8 and the 8x8 map of the issue report (seed 0,
# where the best policy succeeds only 14 % of the time); each with the agent seeds 0-2.
# Measured 2026-12-07 with the defaults' 400k steps, as a fraction of the optimal success rate
# over agent seeds 0-9 (benchmarks/LEARNING.md): untrained 0.0 on every map and seed; trained
# lowest 1.00 (4x4), 0.99 (5x5, 6x6, the 8x8 of map seed 8), 0.88 (7x7) and 0.83 (the 8x8 of
# map seed 0). At 200k the 7x7 lake fell to 0.67 on agent seed 4.
LAKES = [(4, 4), (5, 5), (6, 6), (7, 7), (8, 8), (8, 0)]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("size, map_seed", LAKES)
def test_qlearning_defaults_reach_80_percent_of_optimal_on_random_lakes(size, map_seed, seed):
    env_kwargs = _lake(size, map_seed)
    agent = rlkit.make("qlearning", ENV_ID, seed=seed, env_kwargs=env_kwargs, eval_freq=0)
    env = gym.make(ENV_ID, **env_kwargs)
    horizon, states = env.spec.max_episode_steps, np.arange(size * size)
    best = optimal_success(env, horizon)
    assert best > 0.1
    # The untrained table's greedy policy fails the bar, so passing it takes learning.
    assert policy_success(env, agent.predict(states), horizon) < BAR * best
    agent.learn()
    success = policy_success(env, agent.predict(states), horizon)
    assert success >= BAR * best, f"{success:.3f} < {BAR} * {best:.3f} on the {size}x{size} lake"
