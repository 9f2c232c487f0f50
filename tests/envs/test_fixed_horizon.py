"""rlkit/CartPoleFixedHorizon-v0: CartPole-v1's physics, 500 steps always, reward 1 while up."""

from __future__ import annotations

import math
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.envs.classic_control.cartpole import CartPoleEnv
from gymnasium.utils.env_checker import check_env

from rlkit.envs import CartPoleFixedHorizonEnv

ENV_ID = "rlkit/CartPoleFixedHorizon-v0"
X_MAX, THETA_MAX = 2.4, 12 * 2 * math.pi / 360


def test_registered_and_check_env_clean():
    assert gymnasium.spec(ENV_ID).max_episode_steps == 500
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gymnasium.make(ENV_ID).unwrapped)
    assert not [str(w.message) for w in caught]
    env, full = gymnasium.make(ENV_ID), gymnasium.make("CartPole-v1")
    assert env.action_space == full.action_space
    assert (env.observation_space.shape, env.observation_space.dtype) == ((4,), np.float32)
    # CartPole-v1's box stops x and theta at twice the failure bounds; here the cart may roll
    # anywhere and the pole swing all round: any finite float32 x and speed, theta in [-pi, pi]
    big = np.finfo(np.float32).max
    np.testing.assert_array_equal(env.observation_space.high, np.float32([big, big, np.pi, big]))
    np.testing.assert_array_equal(env.observation_space.low, np.float32([-big, -big, -np.pi, -big]))
    assert np.all(env.observation_space.high[[0, 2]] > full.observation_space.high[[0, 2]])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_episode_lasts_500_steps_never_terminated(seed):
    """The pole falls early under random actions; the episode still runs to step 500, where it
    is truncated, every observation stays inside the space, and nothing warns."""
    env = gymnasium.make(ENV_ID)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    steps = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(500):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            steps.append((reward, terminated, truncated))
            if terminated or truncated:
                break
    assert not [str(w.message) for w in caught]
    assert len(steps) == 500
    assert [s[1] for s in steps] == [False] * 500
    assert [s[2] for s in steps] == [False] * 499 + [True]
    rewards = [s[0] for s in steps]
    assert set(rewards) == {0.0, 1.0}  # the pole did fall: the length is not the return
    assert rewards[0] == 1.0


def test_constant_push_hand_worked_then_pole_falls_and_pays_zero():
    """From rest, push left (action 0, force -10 N). With m_c = 1, m_p = 0.1, l = 0.5, g = 9.8
    and theta = theta_dot = 0 (sin 0 = 0, cos 0 = 1):

        temp      = F / (m_c + m_p)                          = -100/11
        theta_acc = -temp / (l (4/3 - m_p / (m_c + m_p)))    = (100/11) / (41/66) = 600/41
        x_acc     = temp - m_p l theta_acc / (m_c + m_p)     = -100/11 - 300/451 = -400/41

    Euler with tau = 0.02 moves the positions by the old (zero) velocities, so after one step
    ``(x, x_dot, theta, theta_dot) = (0, -8/41, 0, 12/41)``, upright: reward 1. The pole then
    tips right (theta > 0); the first step with theta > 12 degrees pays 0, and does not end the
    episode; CartPole-v1 terminates at that very step."""
    env, full = CartPoleFixedHorizonEnv(), CartPoleEnv()
    env.reset(seed=0)
    full.reset(seed=0)
    env.state, full.state = np.zeros(4), np.zeros(4)

    obs, reward, terminated, truncated, _ = env.step(0)
    np.testing.assert_allclose(obs, [0.0, -8 / 41, 0.0, 12 / 41], rtol=1e-6)
    assert (reward, terminated, truncated) == (1.0, False, False)
    full.step(0)

    for t in range(2, 100):
        obs, reward, terminated, truncated, _ = env.step(0)
        _, _, full_terminated, _, _ = full.step(0)
        assert not terminated and not truncated
        if env.state[2] > THETA_MAX:
            fell_at = t
            break
        assert reward == 1.0 and not full_terminated
    else:
        pytest.fail("the pole never passed 12 degrees")
    assert reward == 0.0 and full_terminated
    assert 5 < fell_at < 50  # a few dozen steps, as in CartPole
    # it keeps falling: still 0 for the next steps, and never terminated
    for _ in range(10):
        obs, reward, terminated, _, _ = env.step(0)
        assert reward == 0.0 and not terminated and obs[2] > THETA_MAX


@pytest.mark.parametrize(("state", "reward"), [
    ([X_MAX, 0, 0, 0], 1.0),  # on the bound: CartPole-v1 does not terminate there either
    ([-X_MAX, 0, 0, 0], 1.0),
    ([X_MAX + 1e-6, 0, 0, 0], 0.0),
    ([-X_MAX - 1e-6, 0, 0, 0], 0.0),
    ([0, 0, THETA_MAX, 0], 1.0),
    ([0, 0, -THETA_MAX, 0], 1.0),
    ([0, 0, THETA_MAX + 1e-6, 0], 0.0),
    ([0, 0, -THETA_MAX - 1e-6, 0], 0.0),
    ([X_MAX + 1e-6, 0, THETA_MAX + 1e-6, 0], 0.0),
])
def test_reward_bounds_are_cartpoles_own(state, reward):
    """At rest, an Euler step leaves x and theta where they are (they move by the old, zero,
    velocities): the reward is read on exactly the given position. Reward 1 exactly where
    CartPole-v1 does not terminate."""
    env, full = CartPoleFixedHorizonEnv(), CartPoleEnv()
    env.reset(seed=0)
    full.reset(seed=0)
    env.state, full.state = np.array(state, dtype=np.float64), np.array(state, dtype=np.float64)
    _, got, terminated, _, _ = env.step(1)
    _, _, full_terminated, _, _ = full.step(1)
    assert env.state[0] == state[0] and env.state[2] == state[2]
    assert got == reward and not terminated
    assert full_terminated == (reward == 0.0)


@pytest.mark.parametrize(("theta", "wrapped", "reward"), [
    (2 * math.pi, 0.0, 1.0),  # a full turn: upright again
    (-2 * math.pi + 0.1, 0.1, 1.0),
    (math.pi + 0.5, -math.pi + 0.5, 0.0),  # past hanging down
])
def test_angle_is_wrapped_after_the_pole_swings_over(theta, wrapped, reward):
    env = CartPoleFixedHorizonEnv()
    env.reset(seed=0)
    env.state = np.array([0.0, 0.0, theta, 0.0])
    obs, got, terminated, _, _ = env.step(0)
    assert obs[2] == pytest.approx(wrapped, abs=1e-6)
    assert env.observation_space.contains(obs)
    assert got == reward and not terminated


@pytest.mark.parametrize("seed", [0, 5, 11])
def test_dynamics_match_cartpole_v1_while_balanced(seed):
    """Same seed, same actions: CartPole-v1's observations and rewards until it terminates; at
    that step the same observation, but reward 0 instead of 1 and no termination."""
    env, full = gymnasium.make(ENV_ID), gymnasium.make("CartPole-v1")
    obs, _ = env.reset(seed=seed)
    full_obs, _ = full.reset(seed=seed)
    np.testing.assert_allclose(obs, full_obs, rtol=1e-6, atol=1e-7)
    rng = np.random.default_rng(seed)
    for _ in range(500):
        action = int(rng.integers(2))
        obs, reward, terminated, truncated, _ = env.step(action)
        full_obs, full_reward, full_terminated, full_truncated, _ = full.step(action)
        np.testing.assert_allclose(obs, full_obs, rtol=1e-6, atol=1e-7)
        assert not terminated and truncated == full_truncated
        if full_terminated:
            assert (reward, full_reward) == (0.0, 1.0)
            break
        assert reward == full_reward == 1.0
    else:
        pytest.fail("CartPole-v1 never terminated under random actions")
