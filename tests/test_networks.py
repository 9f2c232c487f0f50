"""Heads: the lean categorical matches torch's, Gaussian log-probs, torso construction."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from rlkit.approximators import build_torso
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError
from rlkit.networks import ActorCritic, FastCategorical
from rlkit.optim import FlatOptimizer


def test_fast_categorical_equals_torch_categorical():
    logits = torch.randn(64, 5)
    actions = torch.randint(0, 5, (64,))
    fast, ref = FastCategorical(logits), Categorical(logits=logits)
    torch.testing.assert_close(fast.log_prob(actions), ref.log_prob(actions))
    torch.testing.assert_close(fast.entropy(), ref.entropy())
    torch.testing.assert_close(fast.probs, ref.probs)
    counts = torch.bincount(FastCategorical(torch.tensor([[0.0, np.log(3.0)]]).expand(40_000, 2))
                            .sample(), minlength=2)
    assert abs(counts[1].item() / 40_000 - 0.75) < 0.01  # p = 3 / (1 + 3)


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


def test_gaussian_head_log_prob_and_mode():
    space = gym.spaces.Box(-1, 1, (2,))
    net = ActorCritic(gym.spaces.Box(-1, 1, (3,)), space, ApproximatorConfig(), log_std_init=-1.0)
    obs = torch.randn(4, 3)
    dist, _ = net(obs)
    a = dist.sample()
    # independent normals: log p = sum_i -(a_i - mu_i)^2 / (2 s^2) - log s - log sqrt(2 pi)
    mu, s = dist.mean, np.exp(-1.0)
    expected = (-(a - mu) ** 2 / (2 * s**2) - np.log(s) - 0.5 * np.log(2 * np.pi)).sum(-1)
    torch.testing.assert_close(dist.log_prob(a), expected)
    torch.testing.assert_close(net.deterministic_action(obs), mu)


def test_discrete_observations_are_one_hot_encoded():
    torso = build_torso(gym.spaces.Discrete(6), ApproximatorConfig(hidden_sizes=[8]))
    assert torso(torch.tensor([0, 5])).shape == (2, 8)


def test_unknown_torso_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown approximator 'transformer'"):
        build_torso(gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(type="transformer"))


@pytest.mark.parametrize(
    ("optimizer_cls", "kwargs"),
    [(torch.optim.Adam, dict(lr=0.01)), (torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
     (torch.optim.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-5)),
     (torch.optim.RMSprop, dict(lr=0.01, momentum=0.9)), (torch.optim.SGD, dict(lr=0.1))],
)
def test_flat_optimizer_matches_per_tensor_optimizer_and_clipping(optimizer_cls, kwargs):
    torch.manual_seed(0)
    make = lambda: torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(),  # noqa: E731
                                       torch.nn.Linear(8, 2))
    flat_net, ref_net = make(), make()
    ref_net.load_state_dict(flat_net.state_dict())
    flat = FlatOptimizer(flat_net, optimizer_cls, **kwargs)
    ref = optimizer_cls(ref_net.parameters(), **kwargs)
    x = torch.randn(16, 3)
    for i in range(6):
        lr = kwargs["lr"] * (1.0 - i / 10)  # a changing (annealed) learning rate
        flat.set_lr(lr)
        for group in ref.param_groups:
            group["lr"] = lr
        if i == 3:  # a checkpoint round trip in the middle
            flat.load_state_dict(flat.state_dict())
        flat.zero_grad()
        (flat_net(x) ** 2).sum().backward()
        norm = flat.clip_grad_norm(0.5)
        flat.step()
        ref.zero_grad()
        (ref_net(x) ** 2).sum().backward()
        ref_norm = torch.nn.utils.clip_grad_norm_(ref_net.parameters(), 0.5)
        ref.step()
        torch.testing.assert_close(norm, ref_norm)
        for a, b in zip(flat_net.parameters(), ref_net.parameters(), strict=True):
            torch.testing.assert_close(a, b)
