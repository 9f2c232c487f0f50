"""The lean categorical is torch's Categorical: same log-probs, entropy and sampling law."""

import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from rlkit import fast
from rlkit.approximators.heads import CategoricalHead
from rlkit.fast.categorical import FastCategorical

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY


def test_fast_categorical_equals_torch_categorical():
    logits = torch.randn(64, 5)
    actions = torch.randint(0, 5, (64,))
    lean, ref = FastCategorical(logits), Categorical(logits=logits)
    torch.testing.assert_close(lean.log_prob(actions), ref.log_prob(actions))
    torch.testing.assert_close(lean.entropy(), ref.entropy())
    torch.testing.assert_close(lean.probs, ref.probs)


def test_fast_categorical_by_hand():
    dist = FastCategorical(torch.tensor([[0.0, np.log(3.0)]]))  # pi = (1/4, 3/4)
    torch.testing.assert_close(dist.log_prob(torch.tensor([1])), torch.tensor([np.log(0.75)]),
                               check_dtype=False)
    entropy = -(0.25 * np.log(0.25) + 0.75 * np.log(0.75))
    torch.testing.assert_close(dist.entropy(), torch.tensor([entropy]), check_dtype=False)


def test_fast_categorical_gumbel_max_samples_follow_the_probabilities():
    torch.manual_seed(0)
    probs = torch.tensor([0.5, 0.25, 0.15, 0.1, 0.0])  # the last action is impossible
    n = 100_000
    samples = FastCategorical(probs.log().expand(n, 5)).sample()
    counts = torch.bincount(samples, minlength=5).double()
    assert counts[4] == 0
    expected = n * probs[:4].double()
    chi_square = ((counts[:4] - expected) ** 2 / expected).sum().item()
    assert chi_square < 16.27  # chi-square, 3 degrees of freedom, p = 0.001


@pytest.mark.parametrize("allowed", [True, False])
def test_categorical_head_uses_the_lean_distribution_only_where_allowed(allowed):
    with fast.switch(allowed):
        head = CategoricalHead(3, 4)
    dist = head(torch.randn(2, 3))
    assert isinstance(dist, Categorical)
    assert isinstance(dist, FastCategorical) == allowed
