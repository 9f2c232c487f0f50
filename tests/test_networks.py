"""Heads: the lean categorical matches torch's, Gaussian log-probs, torso construction."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.distributions import Categorical

from rlkit.approximators import build_torso
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError
from rlkit.networks import ActorCritic, FastCategorical, QNetwork


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


@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_numpy_q_function_matches_the_network_and_follows_its_weights(dueling, activation):
    torch.manual_seed(0)
    space = gym.spaces.Box(-1, 1, (2, 3), dtype=np.float64)  # flattened, cast to float32
    net = QNetwork(space, 3, ApproximatorConfig(hidden_sizes=(16, 16), activation=activation),
                   dueling=dueling)
    q_numpy = net.numpy_forward()
    obs = np.random.default_rng(0).normal(size=(5, 2, 3))
    with torch.no_grad():
        expected = net(torch.as_tensor(obs, dtype=torch.float32)).numpy()
        np.testing.assert_allclose(q_numpy(obs), expected, rtol=1e-5, atol=1e-6)
        for p in net.parameters():  # an in-place update (what the optimizers do) is seen
            p.mul_(0.5).add_(0.1)
        expected = net(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(q_numpy(obs), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("space", "config"),
    [(gym.spaces.Discrete(4), ApproximatorConfig()),  # one-hot inputs
     (gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(layer_norm=True)),
     (gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(activation="elu"))],
)
def test_numpy_q_function_is_none_where_it_has_no_numpy_counterpart(space, config):
    assert QNetwork(space, 2, config).numpy_forward() is None
