"""Observation and reward normalization: statistics by hand, and the agents' switches."""

import numpy as np
import pytest

import rlkit
from rlkit.normalize import ObsNormalizer, RewardScaler


def test_obs_normalizer_by_hand():
    norm = ObsNormalizer((1,), clip=10.0, eps=0.0)
    norm.load_state_dict({"mean": np.array([2.0]), "var": np.array([4.0]), "count": 10.0})
    # (x - 2) / sqrt(4): 6 -> 2, 0 -> -1; +-100 -> +-49, clipped to +-10
    np.testing.assert_array_equal(norm(np.array([[6.0], [0.0], [100.0], [-100.0]])),
                                  [[2.0], [-1.0], [10.0], [-10.0]])


def test_obs_normalizer_statistics_follow_the_data():
    """From the prior (mean 0, var 1, count 1e-4) one batch all but replaces it: the moments
    become the batch's, mean(1, 3, 5, 7) = 4 and population variance 5."""
    norm = ObsNormalizer((1,))
    norm.update(np.array([[1.0], [3.0], [5.0], [7.0]]))
    assert norm.rms.mean[0] == pytest.approx(4.0, rel=1e-4)
    assert norm.rms.var[0] == pytest.approx(5.0, rel=1e-3)
    norm.update(np.array([[4.0], [4.0], [4.0], [4.0]]))  # 8 values now: mean 4, var 20 / 8
    assert norm.rms.mean[0] == pytest.approx(4.0, rel=1e-4)
    assert norm.rms.var[0] == pytest.approx(2.5, rel=1e-3)


def test_reward_scaler_by_hand():
    """gamma 0.5, two envs. Step 1: r = (1, 2), env 1 ends. G = (1, 2): Var[G] = 0.25, so the
    rewards are divided by 0.5. env 1's G restarts. Step 2: r = (1, 1): G = (1.5, 1) (without
    the restart env 1 would have 2). Var over (1, 2, 1.5, 1) = 2.0625 - 1.375^2 = 0.171875."""
    scaler = RewardScaler(2, gamma=0.5)
    out = scaler(np.array([1.0, 2.0]), np.array([False, True]))
    np.testing.assert_allclose(out, [2.0, 4.0], rtol=1e-3)
    out = scaler(np.array([1.0, 1.0]), np.array([False, False]))
    np.testing.assert_allclose(scaler.discounted_return, [1.5, 1.0])
    np.testing.assert_allclose(out, [1.0 / np.sqrt(0.171875)] * 2, rtol=1e-3)


@pytest.mark.parametrize("normalize", [True, False])
def test_normalize_obs_switch_changes_what_the_policy_sees(counter, normalize):
    """Counter observations are 0, 1, 2, ..., 31. Normalized by the running statistics of what
    came so far (x_t is the newest and largest), each stays near (t - t/2) / (t / sqrt(12)),
    under sqrt(3) = 1.73, instead of growing to 31."""
    agent = rlkit.make("ppo", counter(terminate_at=50, max_steps=100), seed=0, n_envs=1,
                       n_steps=32, batch_size=32, n_epochs=1, normalize_obs=normalize,
                       eval_freq=0, eval_episodes=1)
    agent.learn(32)
    stored = agent.buffer.obs[:, 0, 0]
    if normalize:
        assert stored.max() < 1.75 and stored[-1] > 1.6
        assert agent.obs_normalizer.rms.count > 32
    else:
        np.testing.assert_array_equal(stored, np.arange(32))


@pytest.mark.parametrize("normalize", [True, False])
def test_normalize_reward_switch_scales_the_stored_rewards(counter, normalize):
    agent = rlkit.make("a2c", counter(terminate_at=50, max_steps=100), seed=0, n_envs=1,
                       n_steps=8, normalize_reward=normalize, eval_freq=0, eval_episodes=1)
    agent.learn(8)
    rewards = agent.buffer.rewards[:, 0]
    if normalize:  # G grows 1, 1.99, 2.97, ...: its spread, not 1, sets the scale
        assert not np.allclose(rewards, 1.0) and (rewards > 0).all()
    else:
        np.testing.assert_array_equal(rewards, 1.0)
