"""Observation and reward normalization: statistics by hand, and the agents' switches."""

import numpy as np
import pytest

import rlkit
from rlkit.core.normalize import ObsNormalizer, RewardScaler


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


def test_obs_normalizer_defaults_clip_at_10_and_barely_shift_by_eps():
    """Default clip 10 and eps 1e-8: with mean 0, var 1 an observation 3 stays 3 (eps only
    moves it by 1.5e-8) and +-100 is clipped to +-10. The output is float32."""
    norm = ObsNormalizer((1,))
    norm.load_state_dict({"mean": np.array([0.0]), "var": np.array([1.0]), "count": 10.0})
    out = norm(np.array([[3.0], [100.0], [-100.0]]))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[3.0], [10.0], [-10.0]], rtol=1e-6)


def test_obs_normalizer_constant_feature_divides_by_sqrt_eps():
    """var 0 (a feature that never changed): x - mean is divided by sqrt(0 + 1e-8) = 1e-4, so
    the mean maps to 0 and anything else to the clip bound (not NaN)."""
    norm = ObsNormalizer((1,))
    norm.load_state_dict({"mean": np.array([5.0]), "var": np.array([0.0]), "count": 10.0})
    np.testing.assert_array_equal(norm(np.array([[5.0], [6.0], [4.0]])), [[0.0], [10.0], [-10.0]])


def test_obs_normalizer_moments_are_float64_even_for_float32_observations():
    """2^24 + (0, 2, 4, 6) are exact in float32 but their float32 mean is not: numpy gives
    16777218 and variance 6. In float64 the mean is 2^24 + 3 and the variance 5. From a loaded
    count of 0 the batch moments become the running ones exactly."""
    norm = ObsNormalizer((1,))
    norm.load_state_dict({"mean": [0], "var": [1], "count": 0})
    assert norm.rms.mean.dtype == np.float64 and norm.rms.var.dtype == np.float64
    norm.update(np.array([[2**24], [2**24 + 2], [2**24 + 4], [2**24 + 6]], dtype=np.float32))
    assert norm.rms.mean[0] == pytest.approx(2**24 + 3, rel=1e-12)
    assert norm.rms.var[0] == pytest.approx(5.0, rel=1e-9)


def test_reward_scaler_defaults_clip_at_10_and_output_float32():
    """gamma 0, loaded var 1 with a huge count: G = r, Var[G] stays ~1 + r^2 * 2 / 1e6 = 3, so
    +-1000 / sqrt(3) is clipped to the default +-10; 0.5 / sqrt(3) is not."""
    scaler = RewardScaler(3, gamma=0.0)
    scaler.load_state_dict({"mean": 0.0, "var": 1.0, "count": 1e6,
                            "discounted_return": np.zeros(3)})
    out = scaler(np.array([1000.0, -1000.0, 0.5]), np.array([False, False, False]))
    assert out.dtype == np.float32
    assert scaler.rms.var == pytest.approx(1.0 + 2e6 / 1e6, rel=1e-3)
    np.testing.assert_allclose(out, [10.0, -10.0, 0.5 / np.sqrt(scaler.rms.var)], rtol=1e-6)


def test_reward_scaler_zero_variance_divides_by_sqrt_eps():
    """Var[G] = 0 exactly (zero rewards on a zero-variance state): 0 / sqrt(0 + 1e-8) = 0."""
    scaler = RewardScaler(2, gamma=0.9)
    scaler.load_state_dict({"mean": 0.0, "var": 0.0, "count": 1e6,
                            "discounted_return": np.zeros(2)})
    out = scaler(np.zeros(2), np.array([False, False]))
    assert scaler.rms.var == 0.0
    np.testing.assert_array_equal(out, [0.0, 0.0])


def test_reward_scaler_load_state_dict_by_hand():
    """Loaded (from ints): mean 0, var 4, count 10, G = (1, 2). gamma 0.5, r = (1, 1):
    G = (1.5, 2.0), batch mean 1.75, batch var 0.0625, 2 samples, so count 12,
    mean 1.75 * 2 / 12 = 0.2916667 and var = (4 * 10 + 0.0625 * 2 + 1.75^2 * 10 * 2 / 12) / 12
    = 45.2291667 / 12 = 3.7690972; the rewards are divided by sqrt(3.7690972) = 1.9414163."""
    scaler = RewardScaler(2, gamma=0.5)
    scaler.load_state_dict({"mean": 0, "var": 4, "count": 10, "discounted_return": [1, 2]})
    assert scaler.rms.mean.dtype == np.float64 and scaler.rms.var.dtype == np.float64
    assert scaler.discounted_return.dtype == np.float64
    assert scaler.rms.count == 10.0
    out = scaler(np.array([1.0, 1.0]), np.array([False, True]))
    assert scaler.rms.count == 12.0
    assert scaler.rms.mean == pytest.approx(0.2916667, rel=1e-6)
    assert scaler.rms.var == pytest.approx(3.7690972, rel=1e-6)
    np.testing.assert_allclose(out, [1 / 1.9414163] * 2, rtol=1e-6)
    np.testing.assert_allclose(scaler.discounted_return, [1.5, 0.0])  # env 1 ended


def test_reward_scaler_state_dict_round_trip():
    a = RewardScaler(2, gamma=0.9)
    for r in ([1.0, 2.0], [0.5, -1.0], [3.0, 0.0]):
        a(np.array(r), np.array([False, True]))
    b = RewardScaler(2, gamma=0.9)
    b.load_state_dict(a.state_dict())
    r, dones = np.array([1.0, -2.0]), np.array([True, False])
    np.testing.assert_array_equal(b(r, dones), a(r, dones))
    np.testing.assert_array_equal(b.discounted_return, a.discounted_return)
    assert (b.rms.mean, b.rms.var, b.rms.count) == (a.rms.mean, a.rms.var, a.rms.count)
