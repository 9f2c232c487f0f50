"""Tests for ``rlkit/RandomWalk-v0`` (Sutton & Barto Example 6.2)."""

from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlkit.envs import RandomWalkEnv  # importing rlkit.envs registers the ids

ENV_ID = "rlkit/RandomWalk-v0"


def run_episode(env: gymnasium.Env, action: int = 0) -> list[tuple[int, float, bool]]:
    """Steps until termination; returns (obs, reward, terminated) per step, reset obs first."""
    obs, _ = env.reset()
    trace = [(obs, 0.0, False)]
    terminated = truncated = False
    while not (terminated or truncated):
        obs, reward, terminated, truncated, _ = env.step(action)
        trace.append((obs, reward, terminated))
    assert terminated, "episode was truncated"
    return trace


def test_registered_with_time_limit() -> None:
    assert gymnasium.spec(ENV_ID).max_episode_steps == 1000


def test_check_env_unwrapped_has_no_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID).unwrapped)


def test_check_env_through_make() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gymnasium.make(ENV_ID))
    # check_env always notes that a made env is wrapped; anything else would be ours.
    others = [w for w in caught if "different from the unwrapped version" not in str(w.message)]
    assert not others, [str(w.message) for w in others]


def test_spaces_and_true_values() -> None:
    env = gymnasium.make(ENV_ID)
    assert env.observation_space == gymnasium.spaces.Discrete(5)
    assert env.action_space == gymnasium.spaces.Discrete(2)
    values = RandomWalkEnv.TRUE_VALUES
    assert isinstance(values, np.ndarray)
    np.testing.assert_allclose(values, np.arange(1, 6) / 6)


def test_starts_in_c() -> None:
    env = gymnasium.make(ENV_ID)
    for seed in range(20):
        obs, info = env.reset(seed=seed)
        assert obs == 2
        assert info == {}


def test_episodes_walk_by_one_and_reward_only_right_exit() -> None:
    env = RandomWalkEnv()
    env.reset(seed=123)
    exits = set()
    for _ in range(300):
        trace = run_episode(env)
        for (prev, _, _), (obs, reward, terminated) in zip(trace, trace[1:], strict=False):
            if terminated:
                # The observation stays at the last non-terminal state: E or A.
                assert obs == prev and obs in (0, 4)
                assert reward == (1.0 if obs == 4 else 0.0)
            else:
                assert abs(obs - prev) == 1
                assert reward == 0.0
        # Termination happens exactly once, on the last step.
        assert [t for _, _, t in trace].count(True) == 1
        exits.add(trace[-1][0])
    assert exits == {0, 4}


def test_dynamics_ignore_the_action() -> None:
    env = RandomWalkEnv()
    env.reset(seed=5)
    with_0 = [run_episode(env, action=0) for _ in range(20)]
    env.reset(seed=5)
    with_1 = [run_episode(env, action=1) for _ in range(20)]
    assert with_0 == with_1


def test_seeded_reset_is_reproducible() -> None:
    env = gymnasium.make(ENV_ID)
    env.reset(seed=42)
    first = [run_episode(env) for _ in range(10)]
    env.reset(seed=42)
    assert first == [run_episode(env) for _ in range(10)]


def test_right_exit_probability_from_c_is_one_half() -> None:
    # Monte-Carlo estimate of V(C) = P(right exit | start C) = 1/2 under gamma = 1.
    env = RandomWalkEnv()
    env.reset(seed=2024)
    n = 20_000
    right = 0
    for _ in range(n):
        env.reset()
        terminated = False
        while not terminated:
            _, reward, terminated, _, _ = env.step(0)
        right += reward == 1.0
    estimate = right / n
    p = RandomWalkEnv.TRUE_VALUES[2]
    std_err = math.sqrt(p * (1 - p) / n)
    # 4 standard errors: a false failure has probability < 1e-4 (and the seed is fixed).
    assert estimate == pytest.approx(p, abs=4 * std_err)


def test_invalid_action_raises() -> None:
    env = RandomWalkEnv()
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(2)


def test_render_ansi() -> None:
    env = gymnasium.make(ENV_ID, render_mode="ansi")
    env.reset(seed=0)
    assert env.render() == "| A  B [C] D  E |"
