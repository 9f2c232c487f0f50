"""The memory tasks: what each shows, and that a memoryless policy cannot do better."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlkit.envs import CartPoleNoVelEnv, PendulumNoVelEnv, RecallEnv, TMazeEnv  # noqa: F401

IDS = {"rlkit/CartPoleNoVel-v0": 500, "rlkit/PendulumNoVel-v0": 200, "rlkit/Recall-v0": 1000,
       "rlkit/TMaze-v0": None}


@pytest.mark.parametrize("env_id", IDS)
def test_registered_and_check_env_clean(env_id):
    """No warning but the one Pendulum-v1 itself gets: its action range [-2, 2] (kept, so that
    the task is Pendulum's own) is not the [-1, 1] that check_env recommends."""
    assert gymnasium.spec(env_id).max_episode_steps == IDS[env_id]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gymnasium.make(env_id).unwrapped)
    others = [str(w.message) for w in caught
              if "symmetric and normalized space" not in str(w.message)]
    assert not others


@pytest.mark.parametrize(("env_id", "full_id", "visible"), [
    ("rlkit/CartPoleNoVel-v0", "CartPole-v1", [0, 2]),
    ("rlkit/PendulumNoVel-v0", "Pendulum-v1", [0, 1]),
])
def test_no_velocity_envs_show_part_of_the_full_state(env_id, full_id, visible):
    """Same seed, same actions: the same trajectory and rewards, with the velocities left out."""
    env, full = gymnasium.make(env_id), gymnasium.make(full_id)
    obs, _ = env.reset(seed=3)
    full_obs, _ = full.reset(seed=3)
    assert env.observation_space.shape == (2,)
    rng = np.random.default_rng(0)
    for _ in range(50):
        np.testing.assert_array_equal(obs, full_obs[visible])
        action = full.action_space.sample() if full_id == "Pendulum-v1" else int(rng.integers(2))
        obs, reward, terminated, truncated, _ = env.step(action)
        full_obs, full_reward, full_terminated, full_truncated, _ = full.step(action)
        assert (reward, terminated, truncated) == (full_reward, full_terminated, full_truncated)
        if terminated or truncated:
            break


@pytest.mark.parametrize("delay", [0, 3])
def test_recall_shows_the_cue_once_then_asks(delay):
    """Cue at step 0, ``delay`` blank steps, the query; the answer pays 1 if right, 0 if not."""
    env = RecallEnv(delay=delay, n_cues=3)
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        cue = int(np.argmax(obs[:3]))
        assert obs.sum() == 1.0 and obs[-1] == 0.0
        for _ in range(delay):
            obs, reward, terminated, _, _ = env.step(cue)  # actions before the query do nothing
            assert not obs.any() and reward == 0.0 and not terminated
        obs, reward, terminated, _, _ = env.step(0)
        np.testing.assert_array_equal(obs, [0, 0, 0, 1])
        assert reward == 0.0 and not terminated
        answer = cue if seed % 2 else (cue + 1) % 3
        _, reward, terminated, _, info = env.step(answer)
        assert terminated and reward == float(seed % 2) and info["cue"] == cue


@pytest.mark.parametrize("env, walk, answer, low, high", [
    (RecallEnv(delay=10, n_cues=2), 11, 0, 0.42, 0.58),
    (TMazeEnv(length=3, step_cost=0.0), 3, 1, -0.1, 0.1),
])
def test_a_memoryless_policy_is_at_chance(env, walk, answer, low, high):
    """The query (Recall) or the junction (T-maze) looks the same whatever the cue: a policy
    that acts on what it sees gets one cue right, about half the episodes with 2 cues: a mean
    return of 0.5 on Recall (1 or 0), 0 on the T-maze (1 or -1)."""
    returns = []
    for seed in range(400):
        env.reset(seed=seed)
        for _ in range(walk):
            env.step(0)
        returns.append(env.step(answer)[1])
    assert low < np.mean(returns) < high


def test_bad_recall_settings_fail_at_once():
    with pytest.raises(ValueError, match="delay >= 0 and n_cues >= 2"):
        RecallEnv(delay=-1)


@pytest.mark.parametrize("length", [1, 4])
def test_tmaze_cue_corridor_junction_and_the_turn(length):
    """The cue at the start, the corridor flag for length - 1 steps forward, the junction flag;
    a turn in the corridor changes nothing but costs its step, the turn at the junction pays 1
    (the cue's way: action 1 for cue 0, 2 for cue 1) or -1 and ends the episode."""
    env = TMazeEnv(length=length, step_cost=0.25)
    for seed in range(6):
        obs, _ = env.reset(seed=seed)
        cue = int(np.argmax(obs[:2]))
        np.testing.assert_array_equal(obs, np.eye(4)[cue])
        for position in range(1, length + 1):
            obs, reward, terminated, truncated, _ = env.step(1 + cue)  # into the wall
            assert reward == -0.25 and not terminated and not truncated
            obs, reward, terminated, truncated, _ = env.step(0)
            np.testing.assert_array_equal(obs, np.eye(4)[2 if position < length else 3])
            assert reward == -0.25 and not terminated
        obs, reward, terminated, _, _ = env.step(0)  # forward at the junction: it stays
        np.testing.assert_array_equal(obs, [0, 0, 0, 1])
        assert reward == -0.25
        right = seed % 2 == 1
        _, reward, terminated, _, info = env.step(1 + (cue if right else 1 - cue))
        assert terminated and reward == (1.0 if right else -1.0) and info["cue"] == cue


def test_tmaze_truncates_after_three_times_its_shortest_episode():
    env = TMazeEnv(length=2)
    env.reset(seed=0)
    flags = [env.step(1)[3] for _ in range(9)]  # walking into the wall at the start
    assert flags == [False] * 8 + [True]


def test_tmaze_waiting_at_the_junction_scores_below_a_memoryless_turn():
    """The default step cost (0.01) makes standing still until the truncation worth -0.21 at
    length 6, a memoryless turn at the junction -0.06 on average: waiting is no safe haven."""
    env = TMazeEnv()
    env.reset(seed=0)
    wait = [env.step(0) for _ in range(21)]
    assert sum(step[1] for step in wait) == pytest.approx(-0.21)
    assert wait[-1][3] and not any(step[2] for step in wait)
    env.reset(seed=0)
    walk = [env.step(0)[1] for _ in range(6)]
    assert sum(walk) == pytest.approx(-0.06)


@pytest.mark.parametrize("kwargs", [{"length": 0}, {"step_cost": -0.1},
                                    {"step_cost": float("nan")}])
def test_bad_tmaze_settings_fail_at_once(kwargs):
    with pytest.raises(ValueError, match="length >= 1 and a step cost >= 0"):
        TMazeEnv(**kwargs)
