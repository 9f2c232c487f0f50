"""Prioritized replay: priorities, importance weights and sampling frequencies by hand."""

import numpy as np
import pytest
import torch

from rlkit.core.prioritized import PrioritizedReplayBuffer, importance_weights

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY


def filled(capacity: int, n: int, alpha: float = 1.0, eps: float = 1.0) -> PrioritizedReplayBuffer:
    """``n`` transitions whose obs (and reward) is their insertion number."""
    buf = PrioritizedReplayBuffer(capacity, (1,), (), alpha=alpha, eps=eps)
    obs = np.arange(n, dtype=np.float32)[:, None]
    buf.add(obs, np.zeros(n), obs[:, 0], obs + 1, np.zeros(n))
    return buf


def test_importance_weights_equal_the_formula_by_hand():
    # alpha = 1, eps = 1: |delta| = 0, 1, 3, 7 -> p = 1, 2, 4, 8, total 15, N = 4
    buf = filled(4, 4)
    buf.update_priorities(np.arange(4), np.array([0.0, -1.0, 3.0, -7.0]))
    np.testing.assert_allclose(buf.priorities(np.arange(4)), [1, 2, 4, 8])
    np.testing.assert_allclose(buf.probabilities(np.arange(4)), np.array([1, 2, 4, 8]) / 15)
    # beta = 0.5: w_i = (4 P_i)^-0.5 / max_j (4 P_j)^-0.5 = (p_i / p_min)^-0.5
    expected = {0: 1.0, 1: 2**-0.5, 2: 0.5, 3: 8**-0.5}
    batch = buf.sample(64, np.random.default_rng(0), beta=0.5)
    for i, w in zip(batch.indices, batch.weights.numpy(), strict=True):
        assert w == pytest.approx(expected[int(i)], rel=1e-6)
    # the formula itself, straight from (N P(i))^-beta / max_j w_j
    p = np.array([1.0, 2.0, 4.0, 8.0])
    raw = (4 * p / 15) ** -0.5
    np.testing.assert_allclose(importance_weights(p, 1.0, 0.5), raw / raw.max())
    # beta = 0: no correction; beta = 1: full correction w = p_min / p
    np.testing.assert_allclose(importance_weights(p, 1.0, 0.0), 1.0)
    np.testing.assert_allclose(importance_weights(p, 1.0, 1.0), 1.0 / p)


def test_priority_is_abs_td_error_plus_eps_to_the_alpha():
    buf = filled(3, 3, alpha=0.5, eps=0.25)
    buf.update_priorities(np.array([0, 2]), np.array([-0.0, 2.0]))
    np.testing.assert_allclose(buf.priorities(np.arange(3)), [0.5, 1.0, 1.5])
    assert buf.max_priority == pytest.approx(1.5)


def test_new_transitions_enter_at_the_max_priority_also_after_wraparound():
    buf = filled(4, 2)
    np.testing.assert_allclose(buf.priorities(np.arange(2)), [1, 1])  # initial max is 1
    buf.update_priorities(np.array([0, 1]), np.array([4.0, 0.5]))  # p = 5, 1.5
    buf.add(np.array([[2.0], [3.0], [4.0]]), np.zeros(3), np.zeros(3), np.zeros((3, 1)),
            np.zeros(3))
    # slots 2, 3 are new, slot 0 (p = 5) was overwritten by the fifth transition
    assert len(buf) == 4 and buf.obs[0, 0] == 4.0
    np.testing.assert_allclose(buf.priorities(np.arange(4)), [5, 1.5, 5, 5])
    buf.update_priorities(np.array([2]), np.array([1.0]))  # lowering one keeps the max
    assert buf.max_priority == 5.0


def test_alpha_zero_samples_uniformly_with_unit_weights():
    buf = filled(10, 6, alpha=0.0, eps=1e-6)
    buf.update_priorities(np.arange(6), np.array([100.0, 0.0, 3.0, 1e-3, 7.0, 50.0]))
    rng = np.random.default_rng(1)
    samples = np.concatenate([buf.sample(32, rng, beta=0.4).indices for _ in range(2000)])
    counts = np.bincount(samples, minlength=10)
    assert (counts[6:] == 0).all()  # empty slots are never drawn
    expected = samples.size / 6
    chi2 = float(((counts[:6] - expected) ** 2 / expected).sum())
    assert chi2 < 20.515  # 0.999 quantile of chi-square with 5 dof
    np.testing.assert_allclose(buf.sample(32, rng, beta=0.4).weights.numpy(), 1.0)


def test_sampling_frequencies_proportional_to_p_alpha():
    buf = filled(8, 8, alpha=0.5, eps=1e-6)
    td = np.array([0.0, 1.0, 4.0, 9.0, 16.0, 0.25, 2.25, 0.0])
    buf.update_priorities(np.arange(8), td)
    p = (np.abs(td) + 1e-6) ** 0.5
    rng = np.random.default_rng(12345)
    samples = np.concatenate([buf.sample(64, rng).indices for _ in range(3000)])
    counts = np.bincount(samples, minlength=8)
    expected = samples.size * p / p.sum()
    assert expected.min() > 5  # the two delta = 0 cells still have p = eps^alpha = 1e-3
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    # 0.999 quantile of chi-square with 7 dof is 24.322 (standard table)
    assert chi2 < 24.322, f"chi-square {chi2:.2f} with 7 dof"


def test_state_dict_round_trip_samples_the_same():
    buf = filled(16, 10, alpha=0.6, eps=1e-6)
    buf.update_priorities(np.arange(5), np.arange(5.0))
    buf.add(np.ones((2, 1)), np.zeros(2), np.zeros(2), np.zeros((2, 1)), np.zeros(2))
    other = PrioritizedReplayBuffer(16, (1,), (), alpha=0.6, eps=1e-6)
    other.load_state_dict(buf.state_dict())
    a = buf.sample(32, np.random.default_rng(3), beta=0.7)
    b = other.sample(32, np.random.default_rng(3), beta=0.7)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.weights.numpy(), b.weights.numpy())
    assert other.max_priority == buf.max_priority


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        PrioritizedReplayBuffer(4, (1,), (), alpha=-1.0)
    with pytest.raises(ValueError):
        PrioritizedReplayBuffer(4, (1,), (), eps=0.0)


def test_update_priorities_rejects_bad_input_and_changes_nothing():
    buf = filled(4, 4)
    buf.update_priorities(np.arange(4), np.array([0.0, 1.0, 2.0, 3.0]))
    before = buf.priorities(np.arange(4)).copy()
    for indices, td_errors, error in [
        (np.array([0.0, 1.0]), np.array([1.0, 1.0]), TypeError),  # float indices
        (np.array([0, 4]), np.array([1.0, 1.0]), IndexError),
        (np.array([0, -1]), np.array([1.0, 1.0]), IndexError),
        (np.array([0, 1]), np.array([1.0]), ValueError),  # shapes differ
        (np.array([0, 1]), np.array([1.0, np.nan]), ValueError),
        (np.array([0, 1]), np.array([np.inf, 1.0]), ValueError),
    ]:
        with pytest.raises(error):
            buf.update_priorities(indices, td_errors)
        np.testing.assert_array_equal(buf.priorities(np.arange(4)), before)
    buf.update_priorities(np.array([], dtype=np.int64), np.array([]))  # nothing to do
    np.testing.assert_array_equal(buf.priorities(np.arange(4)), before)


def test_float32_td_errors_give_the_float64_formula():
    buf = filled(3, 3, alpha=0.6, eps=1e-6)
    td = np.array([-0.1, 2.5, 1e-8], dtype=np.float32)  # what the agent passes
    buf.update_priorities(np.arange(3), td)
    expected = (np.abs(td.astype(np.float64)) + 1e-6) ** 0.6
    np.testing.assert_array_equal(buf.priorities(np.arange(3)), expected)
    assert buf.max_priority == expected.max()


def test_sampling_an_empty_buffer_is_a_clear_error():
    buf = PrioritizedReplayBuffer(4, (1,), ())
    with pytest.raises(ValueError, match="total priority is zero"):
        buf.sample(8, np.random.default_rng(0))
    with pytest.raises(ValueError, match="batch_size"):
        filled(4, 2).sample(0, np.random.default_rng(0))


def test_importance_weights_divide_by_the_smallest_priority():
    """p = 2, 4 with p_min = 2, beta 0.5: (1, 2)^-0.5 = 1, 0.7071."""
    np.testing.assert_allclose(importance_weights(np.array([2.0, 4.0]), 2.0, 0.5),
                               [1.0, 2**-0.5])


def test_sample_corrects_fully_by_default():
    """beta defaults to 1: w_i = p_min / p_i (p = 1, 2, 4, 8 as above)."""
    buf = filled(4, 4)
    buf.update_priorities(np.arange(4), np.array([0.0, -1.0, 3.0, -7.0]))
    batch = buf.sample(32, np.random.default_rng(0))
    p = np.array([1.0, 2.0, 4.0, 8.0])[batch.indices]
    np.testing.assert_allclose(batch.weights.numpy(), 1.0 / p, rtol=1e-6)
    assert batch.weights.dtype == torch.float32


def test_update_priorities_wants_1d_indices():
    buf = filled(4, 4)
    with pytest.raises(ValueError):
        buf.update_priorities(np.array([[0], [1]]), np.array([[1.0], [2.0]]))


def test_default_alpha_and_eps():
    """alpha 0.6, eps 1e-6: |delta| = 3 -> (3 + 1e-6)^0.6 = 1.9331823."""
    buf = PrioritizedReplayBuffer(4, (1,), ())
    buf.add(np.zeros((1, 1)), np.zeros(1), np.zeros(1), np.zeros((1, 1)), np.zeros(1))
    buf.update_priorities(np.array([0]), np.array([3.0]))
    assert buf.priorities(np.array([0]))[0] == pytest.approx((3 + 1e-6) ** 0.6, rel=1e-12)
    assert (3 + 1e-6) ** 0.6 == pytest.approx(1.9331823, rel=1e-7)


def test_storage_dtypes_are_passed_on():
    buf = PrioritizedReplayBuffer(4, (2,), (), obs_dtype=np.uint8, action_dtype=np.int32)
    assert buf.obs.dtype == np.uint8 and buf.next_obs.dtype == np.uint8
    assert buf.actions.dtype == np.int32
