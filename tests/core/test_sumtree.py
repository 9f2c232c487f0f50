"""Tests for rlkit.core.sumtree against brute-force numpy references."""

from __future__ import annotations

import numpy as np
import pytest

from rlkit.core.sumtree import MinTree, SumTree, stratified_sample, update_sum_and_min

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY

CAPACITIES = [1, 5, 7, 8, 1000]


def reference_prefix_sum(priorities: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Smallest i with cumsum(p)[i] > v, by brute force."""
    return np.searchsorted(np.cumsum(priorities), values, side="right")


def random_updates(tree, reference: np.ndarray, rng: np.random.Generator, rounds: int) -> None:
    """Apply random batch updates to ``tree`` and mirror them into ``reference`` in place."""
    capacity = reference.size
    for _ in range(rounds):
        k = int(rng.integers(1, 2 * capacity + 2))
        idx = rng.integers(0, capacity, size=k)
        values = rng.random(k) * 10.0
        values[rng.random(k) < 0.2] = 0.0
        tree.update(idx, values)
        for i, v in zip(idx, values, strict=True):  # sequential semantics: last write wins
            reference[i] = v


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_sumtree_matches_reference_after_random_updates(capacity: int) -> None:
    rng = np.random.default_rng(capacity)
    tree = SumTree(capacity)
    reference = np.zeros(capacity)
    assert tree.total == 0.0
    np.testing.assert_array_equal(tree[np.arange(capacity)], reference)

    for _ in range(10):
        random_updates(tree, reference, rng, rounds=3)
        np.testing.assert_array_equal(tree[np.arange(capacity)], reference)
        assert tree.total == pytest.approx(reference.sum(), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_find_prefix_sum_matches_searchsorted(capacity: int) -> None:
    rng = np.random.default_rng(100 + capacity)
    tree = SumTree(capacity)
    priorities = rng.random(capacity) + 0.01
    tree.update(np.arange(capacity), priorities)

    values = rng.random(20_000) * tree.total
    got = tree.find_prefix_sum(values)
    np.testing.assert_array_equal(got, reference_prefix_sum(priorities, values))
    assert got.dtype == np.int64


def test_find_prefix_sum_keeps_shape_and_handles_scalars() -> None:
    tree = SumTree(4)
    tree.update(np.arange(4), np.array([1.0, 2.0, 3.0, 4.0]))
    values = np.array([[0.0, 0.5], [1.0, 9.99]])
    np.testing.assert_array_equal(tree.find_prefix_sum(values), [[0, 0], [1, 3]])
    assert tree.find_prefix_sum(np.float64(3.0)) == 2  # boundary C_1 = 3 belongs to leaf 2


def test_duplicate_indices_last_write_wins() -> None:
    tree = SumTree(5)
    tree.update(np.array([2, 2, 4, 2, 4]), np.array([1.0, 5.0, 3.0, 7.0, 0.5]))
    np.testing.assert_array_equal(tree[np.arange(5)], [0.0, 0.0, 7.0, 0.0, 0.5])
    assert tree.total == 7.5

    # Overwriting the same leaf many times in one batch must not accumulate in the parents.
    tree.update(np.full(100, 2), np.full(100, 1.0))
    assert tree.total == 1.5
    assert tree[2] == 1.0


def test_duplicate_indices_min_tree() -> None:
    tree = MinTree(6)
    tree.update(np.array([1, 1, 3]), np.array([0.1, 4.0, 2.0]))
    assert tree.min == 2.0
    np.testing.assert_array_equal(tree[np.array([1, 3])], [4.0, 2.0])


def test_scalar_priority_is_broadcast() -> None:
    tree = SumTree(7)
    tree.update(np.arange(7), 2.0)
    assert tree.total == 14.0


def test_circular_buffer_wraparound() -> None:
    capacity = 7
    rng = np.random.default_rng(3)
    tree = SumTree(capacity)
    min_tree = MinTree(capacity)
    reference = np.zeros(capacity)
    pos = 0
    wrapped_batches = 0
    for k in [3, 5, 6, 4, 2, 7, 5]:
        indices = (pos + np.arange(k)) % capacity
        wrapped_batches += int(indices[-1] < indices[0])  # ran past the end, overwrote the oldest
        priorities = rng.random(k) + 0.1
        tree.update(indices, priorities)
        min_tree.update(indices, priorities)
        reference[indices] = priorities
        pos = (pos + k) % capacity

        np.testing.assert_array_equal(tree[np.arange(capacity)], reference)
        assert tree.total == pytest.approx(reference.sum(), rel=1e-12)
        written = np.isfinite(min_tree[np.arange(capacity)])
        assert min_tree.min == reference[written].min()

    assert wrapped_batches >= 3


def test_zero_priority_leaves_never_returned() -> None:
    capacity = 1000
    rng = np.random.default_rng(7)
    priorities = rng.random(capacity) * 10.0 ** rng.integers(-12, 3, size=capacity)
    zero = rng.random(capacity) < 0.5
    zero[:3] = True  # zeros at both ends and in runs
    zero[-3:] = True
    priorities[zero] = 0.0
    tree = SumTree(capacity)
    tree.update(np.arange(capacity), priorities)
    total = tree.total

    cumsum = np.cumsum(priorities)
    edges = np.array(
        [
            0.0,
            -1.0,  # clipped up to 0
            total,  # clipped down below total
            total * 2,
            np.nextafter(total, 0.0),
            total - 1e-12,
            total * (1 - 1e-15),
        ]
    )
    values = np.concatenate(
        [
            edges,
            rng.random(50_000) * total,
            cumsum,  # every prefix boundary and its float neighbours
            np.nextafter(cumsum, 0.0),
            np.nextafter(cumsum, np.inf),
        ]
    )
    leaves = tree.find_prefix_sum(values)
    assert leaves.min() >= 0 and leaves.max() < capacity
    assert (priorities[leaves] > 0).all()

    sampled = np.concatenate([stratified_sample(tree, 64, rng) for _ in range(200)])
    assert (priorities[sampled] > 0).all()
    sampled = stratified_sample(tree, 10_000, rng)
    assert (priorities[sampled] > 0).all()


def test_zero_leaf_guard_against_round_off() -> None:
    # Found by search: a descent that goes right whenever v >= left sum ends on the zero
    # leaf 3 for v = nextafter(total, 0), because v - left overshoots the right subtree's sum.
    priorities = np.array([7.427741655857992e-08, 0.07615010568024365, 0.572757668910246, 0.0])
    tree = SumTree(4)
    tree.update(np.arange(4), priorities)
    leaf = tree.find_prefix_sum(np.array([np.nextafter(tree.total, 0.0), tree.total]))
    np.testing.assert_array_equal(leaf, [2, 2])


def test_single_leaf_tree() -> None:
    tree = SumTree(1)
    tree.update(np.array([0]), np.array([0.25]))
    assert tree.total == 0.25
    np.testing.assert_array_equal(stratified_sample(tree, 8, np.random.default_rng(0)), 0)


def test_sampling_frequencies_proportional_to_priorities() -> None:
    priorities = np.array([0.5, 0.0, 3.0, 1.0, 0.0, 2.5, 0.25, 7.0, 0.0])  # capacity 9
    tree = SumTree(priorities.size)
    tree.update(np.arange(priorities.size), priorities)
    rng = np.random.default_rng(12345)

    batch_size, n_batches = 64, 3125  # 200_000 samples, drawn as a replay buffer would
    samples = np.concatenate([stratified_sample(tree, batch_size, rng) for _ in range(n_batches)])
    counts = np.bincount(samples, minlength=priorities.size)

    nonzero = priorities > 0
    assert (counts[~nonzero] == 0).all()
    expected = samples.size * priorities[nonzero] / priorities.sum()
    chi2 = float((((counts[nonzero] - expected) ** 2) / expected).sum())
    # Pearson's statistic with 6 cells has 5 degrees of freedom; the 0.999 quantile of
    # chi-square(5) is 20.515 (standard table), so chi2 < 20.515 <=> p-value > 0.001.
    # (scipy is not a dependency of the project, hence no scipy.stats.chisquare.)
    assert nonzero.sum() - 1 == 5
    assert chi2 < 20.515, f"chi-square {chi2:.2f} with 5 dof: frequencies not proportional"


def test_stratified_sample_covers_each_segment() -> None:
    tree = SumTree(8)
    tree.update(np.arange(8), np.ones(8))
    # With 8 equal priorities and 8 segments, segment j is exactly leaf j.
    np.testing.assert_array_equal(
        stratified_sample(tree, 8, np.random.default_rng(1)), np.arange(8)
    )


@pytest.mark.parametrize("capacity", CAPACITIES)
def test_mintree_matches_reference(capacity: int) -> None:
    rng = np.random.default_rng(200 + capacity)
    tree = MinTree(capacity)
    reference = np.full(capacity, np.inf)
    assert tree.min == np.inf
    for _ in range(10):
        random_updates(tree, reference, rng, rounds=3)
        np.testing.assert_array_equal(tree[np.arange(capacity)], reference)
        assert tree.min == np.min(reference)
        # Raise every leaf away from zero so the minimum has to move.
        tree.update(np.arange(capacity), reference + 1.0)
        reference += 1.0
        assert tree.min == np.min(reference)


def test_invalid_arguments_raise() -> None:
    with pytest.raises(ValueError):
        SumTree(0)
    tree = SumTree(5)
    with pytest.raises(ValueError, match="total priority is zero"):
        tree.find_prefix_sum(np.array([0.0]))
    with pytest.raises(IndexError):
        tree.update(np.array([5]), np.array([1.0]))
    with pytest.raises(IndexError):
        tree.update(np.array([-1]), np.array([1.0]))
    with pytest.raises(ValueError):
        tree.update(np.array([0]), np.array([-1.0]))
    with pytest.raises(ValueError):
        tree.update(np.array([0]), np.array([np.nan]))
    with pytest.raises(TypeError):
        tree.update(np.array([0.5]), np.array([1.0]))
    tree.update(np.array([0]), np.array([1.0]))
    with pytest.raises(ValueError):
        stratified_sample(tree, 0, np.random.default_rng(0))


def test_update_sum_and_min_equals_two_separate_updates() -> None:
    capacity = 37
    rng = np.random.default_rng(5)
    pair = SumTree(capacity), MinTree(capacity)
    apart = SumTree(capacity), MinTree(capacity)
    for _ in range(20):
        idx = rng.integers(0, capacity, size=int(rng.integers(1, 80)))  # with repeats
        values = rng.random(idx.size) * 10.0
        values[rng.random(idx.size) < 0.2] = 0.0
        update_sum_and_min(*pair, idx, values)
        apart[0].update(idx, values)
        apart[1].update(idx, values)
        np.testing.assert_array_equal(pair[0].nodes, apart[0].nodes)
        np.testing.assert_array_equal(pair[1].nodes, apart[1].nodes)
    with pytest.raises(ValueError, match="same capacity"):
        update_sum_and_min(SumTree(4), MinTree(5), np.array([0]), np.array([1.0]))


def test_rejected_update_changes_nothing() -> None:
    tree, min_tree = SumTree(6), MinTree(6)
    update_sum_and_min(tree, min_tree, np.arange(6), np.arange(1.0, 7.0))
    before = tree.nodes.copy(), min_tree.nodes.copy()
    # the bad entry comes last: the valid ones before it must not have been written either
    for idx, values, error in [
        (np.array([0, 1, 6]), np.array([9.0, 9.0, 9.0]), IndexError),
        (np.array([0, 1, 2]), np.array([9.0, 9.0, -1.0]), ValueError),
        (np.array([0, 1, 2]), np.array([9.0, 9.0, np.inf]), ValueError),
        (np.array([0, 1, 2]), np.array([9.0, 9.0, np.nan]), ValueError),
    ]:
        with pytest.raises(error):
            update_sum_and_min(tree, min_tree, idx, values)
        np.testing.assert_array_equal(tree.nodes, before[0])
        np.testing.assert_array_equal(min_tree.nodes, before[1])


def test_stratified_sample_can_return_the_priorities() -> None:
    priorities = np.array([0.5, 0.0, 3.0, 1.0, 2.5])
    tree = SumTree(priorities.size)
    tree.update(np.arange(priorities.size), priorities)
    leaves, sampled = stratified_sample(tree, 50, np.random.default_rng(2), return_priorities=True)
    np.testing.assert_array_equal(sampled, priorities[leaves])
    # the same draws as without priorities, for the same generator state
    np.testing.assert_array_equal(leaves, stratified_sample(tree, 50, np.random.default_rng(2)))


def test_reading_a_leaf_outside_the_capacity_raises() -> None:
    """Capacity 5 pads to 8 leaves: 5 .. 7 exist in storage but are no leaves of the tree."""
    tree = SumTree(5)
    tree.update(np.arange(5), np.ones(5))
    assert tree[np.array([0, 4])].tolist() == [1.0, 1.0]
    for bad in ([5], [-1], [0, 7]):
        with pytest.raises(IndexError):
            tree[np.array(bad)]


def test_stratified_sample_of_one() -> None:
    tree = SumTree(4)
    tree.update(np.arange(4), np.array([0.0, 1.0, 0.0, 0.0]))
    assert stratified_sample(tree, 1, np.random.default_rng(0)).tolist() == [1]


def test_capacity_must_be_an_integer() -> None:
    for bad in (4.0, True):
        with pytest.raises(TypeError):
            SumTree(bad)
    assert len(SumTree(np.int64(4))) == 4
