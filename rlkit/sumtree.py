"""Segment trees for prioritized experience replay (Schaul et al., 2016).

Prioritized replay samples transition ``i`` with probability

    P(i) = p_i / sum_k p_k,

where ``p_i >= 0`` is its priority (usually ``(|td_error| + eps) ** alpha``). The bias this
introduces is corrected with importance weights

    w_i = (N * P(i)) ** -beta / max_j w_j,

and ``max_j w_j`` is attained at the smallest priority, ``min_j P(j)``.

Both quantities are served by an array-based complete binary tree over the priorities:

* :class:`SumTree` keeps every internal node equal to the sum of its two children, so the root
  is ``sum_k p_k`` and a single root-to-leaf descent finds the leaf whose cumulative-sum interval
  contains a given value (inverse-CDF sampling) in O(log n).
* :class:`MinTree` keeps the minimum instead, so the root is ``min_k p_k``.

Layout: the tree lives in one flat array of length ``2 * size`` where ``size`` is ``capacity``
rounded up to a power of two. Node 1 is the root, node ``j`` has children ``2j`` and ``2j + 1``,
and leaf ``i`` is node ``size + i``. The padding leaves ``capacity .. size - 1`` hold the
reduction's neutral element (0 for sums, +inf for minima), so they never affect the root.
Node 0 is unused.

Every operation is vectorized over a batch: updates and descents loop over the tree depth
(``log2(size)`` iterations), never over the elements of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MinTree", "SumTree", "assign_all", "stratified_sample"]

# Batches of tree nodes larger than this are deduplicated while propagating an update.
_DEDUP_MIN_SIZE = 256


class _SegmentTree:
    """Complete binary tree whose internal nodes hold ``op(left child, right child)``.

    ``op`` must be an associative, commutative binary numpy ufunc with ``neutral`` as its
    identity element (``np.add`` with 0, ``np.minimum`` with +inf).
    """

    def __init__(self, capacity: int, op: np.ufunc, neutral: float) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)):
            raise TypeError(f"capacity must be an int, got {type(capacity).__name__}")
        if capacity < 1:
            raise ValueError(f"capacity must be positive, got {capacity}")
        self._capacity = int(capacity)
        self._depth = (self._capacity - 1).bit_length()  # levels below the root
        self._size = 1 << self._depth  # number of leaves, padded to a power of two
        self._op = op
        self._neutral = float(neutral)
        # Every node starts at the neutral element, which is consistent: op(n, n) == n.
        self._tree = np.full(2 * self._size, self._neutral, dtype=np.float64)

    @property
    def capacity(self) -> int:
        """Number of usable leaves."""
        return self._capacity

    def __len__(self) -> int:
        return self._capacity

    def _check_indices(self, indices: np.ndarray) -> None:
        if indices.dtype.kind not in "iu":
            raise TypeError(f"indices must be integers, got dtype {indices.dtype}")
        if indices.size and (indices.min() < 0 or indices.max() >= self._capacity):
            raise IndexError(f"leaf indices must lie in [0, {self._capacity})")

    def _check_values(self, values: np.ndarray) -> None:
        if np.isnan(values).any():
            raise ValueError("priorities must not be NaN")

    def __getitem__(self, indices: np.ndarray | int) -> np.ndarray | float:
        """Return the leaf values at ``indices`` (same shape; a scalar for an int index)."""
        idx = np.asarray(indices)
        self._check_indices(idx)
        return self._tree[self._size + idx]

    def update(self, indices: np.ndarray, priorities: np.ndarray | float) -> None:
        """Set leaf ``indices[j]`` to ``priorities[j]`` and repair the ancestors.

        ``priorities`` is broadcast against ``indices``. When an index occurs more than once,
        the last occurrence wins. Cost: O(k log k) to deduplicate plus O(k log n) to propagate,
        for ``k = len(indices)`` and ``n = capacity``.
        """
        self.assign(*self.prepare(indices, priorities))

    def prepare(
        self, indices: np.ndarray, priorities: np.ndarray | float
    ) -> tuple[np.ndarray, np.ndarray]:
        """Checked, deduplicated ``(leaves, values)`` for :meth:`assign` (last write wins).

        Trees over the same leaves (a sum and a min tree) can share one preparation.
        """
        idx, values = np.broadcast_arrays(
            np.asarray(indices), np.asarray(priorities, dtype=np.float64)
        )
        idx = idx.ravel()
        values = values.ravel()
        self._check_indices(idx)
        self._check_values(values)
        # Keep the last write per leaf: np.unique on the reversed batch reports, for each
        # distinct index, its first position in the reversal, i.e. its last one in the batch.
        # Fancy assignment with repeated indices has no documented order, hence this step.
        leaves, first_in_reversed = np.unique(idx[::-1], return_index=True)
        return leaves, values[::-1][first_in_reversed]

    def assign(self, leaves: np.ndarray, values: np.ndarray) -> None:
        """Set sorted, distinct ``leaves`` (from :meth:`prepare`) to ``values``; fix ancestors."""
        assign_all((self,), leaves, values)

    def _root(self) -> float:
        return float(self._tree[1])


class SumTree(_SegmentTree):
    """Sum tree over ``capacity`` non-negative float64 priorities, all zero initially.

    ``total`` is ``sum_k p_k`` and :meth:`find_prefix_sum` inverts the cumulative sum, which
    together give sampling with ``P(i) = p_i / sum_k p_k``.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, np.add, 0.0)

    def _check_values(self, values: np.ndarray) -> None:
        if not np.isfinite(values).all() or (values < 0).any():
            raise ValueError("SumTree priorities must be finite and non-negative")

    @property
    def total(self) -> float:
        """Sum of all priorities, ``sum_k p_k``."""
        return self._root()

    def find_prefix_sum(self, values: np.ndarray) -> np.ndarray:
        """Map each value ``v`` in ``[0, total)`` to the smallest ``i`` with ``C_i > v``.

        Here ``C_i = p_0 + ... + p_i`` is the inclusive cumulative sum, so leaf ``i`` owns the
        interval ``[C_{i-1}, C_i)`` of length ``p_i``. A value drawn uniformly from
        ``[0, total)`` therefore selects leaf ``i`` with probability ``p_i / total``.

        Values are clipped into ``[0, total)``. The result never names a zero-priority leaf,
        even when float round-off makes the running remainder overshoot the sum stored in a
        subtree: the descent only enters a child whose sum is positive (it goes right only if
        ``v >= left sum`` *and* ``right sum > 0``). Since the root is positive and each step
        enters a positive child, the leaf reached is positive. In exact arithmetic the
        ``right sum > 0`` guard never changes the outcome, because it only fires when ``v``
        is already at or past the end of the current subtree.

        Runs in O(m log n) for ``m = values.size``, with one Python loop over the tree depth.
        Returns an int64 array with the shape of ``values``.
        """
        total = self.total
        if not total > 0.0:
            raise ValueError("cannot sample from a SumTree whose total priority is zero")
        v = np.asarray(values, dtype=np.float64)
        if np.isnan(v).any():
            raise ValueError("find_prefix_sum values must not be NaN")
        shape = v.shape
        v = np.clip(v.ravel(), 0.0, np.nextafter(total, 0.0))

        leaves = self._descend(v.copy(), guard=False)
        # Round-off can only matter next to a zero-priority subtree; the rare values that end
        # on a zero leaf take the guarded descent, so the common path has fewer operations.
        bad = self._tree[leaves + self._size] <= 0.0
        if bad.any():
            leaves[bad] = self._descend(v[bad], guard=True)
        return leaves.reshape(shape)

    def _descend(self, v: np.ndarray, guard: bool) -> np.ndarray:
        """Leaf index reached from the root by each value (``v`` is consumed)."""
        tree = self._tree
        nodes = np.ones(v.shape, dtype=np.int64)
        for _ in range(self._depth):
            left = 2 * nodes
            left_sum = tree[left]
            go_right = v >= left_sum
            if guard:
                go_right &= tree[left + 1] > 0.0
            v -= left_sum * go_right  # exact: subtracts either left_sum or 0.0
            nodes = left + go_right
        return nodes - self._size


class MinTree(_SegmentTree):
    """Min tree over ``capacity`` float64 priorities, all +inf initially.

    ``min`` is ``min_k p_k``; a leaf that was never written (or was reset to +inf) is ignored.
    Used for the largest importance weight, ``max_j w_j = (N * min_j P(j)) ** -beta``.
    """

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity, np.minimum, np.inf)

    @property
    def min(self) -> float:
        """Minimum over all leaves (+inf while no leaf has been written)."""
        return self._root()


def assign_all(trees: Sequence[_SegmentTree], leaves: np.ndarray, values: np.ndarray) -> None:
    """:meth:`_SegmentTree.assign` on trees of one capacity, sharing the index arithmetic."""
    if leaves.size == 0:
        return
    depth, size = trees[0]._depth, trees[0]._size
    nodes = leaves + size
    for tree in trees:
        tree._tree[nodes] = values
    # Walk up one level at a time, recomputing each parent from both of its children.
    # Recomputing rather than incrementing means siblings that share a parent cannot
    # double-count: the parent just receives the same value twice. Small batches therefore skip
    # deduplication, which would cost more numpy calls than it saves; large ones (e.g. a full
    # rebuild) shrink level by level. ``nodes`` stays sorted, so deduplicating is a neighbour
    # comparison. Levels with no more nodes than the batch are recomputed whole: one contiguous
    # operation each instead of five gathers and scatters.
    level = depth
    while level > 0 and (1 << level) > nodes.size:
        nodes = nodes >> 1
        level -= 1
        if nodes.size > _DEDUP_MIN_SIZE:
            nodes = nodes[np.concatenate(([True], nodes[1:] != nodes[:-1]))]
        left = 2 * nodes
        right = left + 1
        for tree in trees:
            tree._tree[nodes] = tree._op(tree._tree[left], tree._tree[right])
    for upper in range(level - 1, -1, -1):  # level ``l`` holds nodes 2^l .. 2^(l+1) - 1
        first, end = 1 << upper, 2 << upper
        for tree in trees:
            t = tree._tree
            tree._op(t[2 * first : 2 * end : 2], t[2 * first + 1 : 2 * end : 2], out=t[first:end])


def stratified_sample(tree: SumTree, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``batch_size`` leaf indices, leaf ``i`` with marginal probability ``p_i / total``.

    ``[0, total)`` is split into ``batch_size`` equal segments
    ``[j * total / B, (j + 1) * total / B)`` for ``j = 0 .. B - 1``; one value is drawn uniformly
    in each and mapped to a leaf with :meth:`SumTree.find_prefix_sum`. Every leaf is hit with
    expected count ``B * p_i / total``, as with i.i.d. sampling, but the batch covers the whole
    priority range more evenly (lower variance). Returns int64 indices in segment order.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    segment = tree.total / batch_size
    values = (np.arange(batch_size) + rng.random(batch_size)) * segment
    return tree.find_prefix_sum(values)
