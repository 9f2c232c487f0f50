"""The memory tasks: what each shows, and that a memoryless policy cannot do better."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlkit.envs import CartPoleNoVelEnv, PendulumNoVelEnv, RecallEnv  # noqa: F401  registers

IDS = {"rlkit/CartPoleNoVel-v0": 500, "rlkit/PendulumNoVel-v0": 200, "rlkit/Recall-v0": 1000}


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


def test_a_memoryless_policy_is_at_chance_on_recall():
    """The query observation is the same whatever the cue: any function of it answers one
    cue, right for about 1 / n_cues of the episodes (2 cues: 0.5)."""
    env = RecallEnv(delay=10, n_cues=2)
    rewards = []
    for seed in range(400):
        env.reset(seed=seed)
        for _ in range(11):
            env.step(0)
        rewards.append(env.step(0)[1])
    assert 0.42 < np.mean(rewards) < 0.58


def test_bad_recall_settings_fail_at_once():
    with pytest.raises(ValueError, match="delay >= 0 and n_cues >= 2"):
        RecallEnv(delay=-1)
