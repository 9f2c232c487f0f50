"""rlkit/Chain-v0, worked by hand: only the far end pays, stepping right costs a little."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
from gymnasium.utils.env_checker import check_env

from rlkit.envs import ChainEnv


def test_registered_and_check_env_clean():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gymnasium.make("rlkit/Chain-v0").unwrapped)
    assert not caught
    assert gymnasium.make("rlkit/Chain-v0").observation_space.shape == (20,)


def test_always_right_reaches_the_far_end_and_pays_one():
    """n = 4: three steps right, the first two cost 0.01 each, the third pays 1 and ends;
    the return 0.98 = 1 - 0.01 (n - 2) is the best there is."""
    env = ChainEnv(n=4)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs, [1, 0, 0, 0])
    steps = [env.step(1) for _ in range(3)]
    assert [s[1] for s in steps] == [-0.01, -0.01, 1.0]
    assert [s[2] for s in steps] == [False, False, True]
    np.testing.assert_array_equal(steps[-1][0], [0, 0, 0, 1])


def test_staying_left_is_free_and_truncated_after_n_plus_9_steps():
    env = ChainEnv(n=4)
    env.reset(seed=0)
    steps = [env.step(0) for _ in range(13)]
    assert all(s[1] == 0.0 for s in steps) and env.position == 0
    assert [s[3] for s in steps] == [False] * 12 + [True]


def test_a_random_walk_rarely_reaches_the_end_of_20():
    env = ChainEnv(n=20)
    rng = np.random.default_rng(0)
    successes = 0
    for episode in range(2000):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
            done = terminated or truncated
        successes += terminated
    assert successes <= 2
