"""Heads: Gaussian log-probs, torso construction."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlkit.approximators import build_torso
from rlkit.approximators.heads import ActorCritic
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError


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


@pytest.mark.parametrize("norm", ["none", "layer", "batch", "layer_norm: true"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "elu", "gelu", "leaky_relu", "sigmoid",
                                        "silu", "selu", "prelu", "softplus"])
def test_mlp_computes_the_configured_layers(activation, norm):
    """h = f(N(W x + b)) per hidden layer, f the named activation (PReLU's slope starts at
    0.25), N the norm: none; layer norm (zero mean, unit variance over the units, then its
    affine map, identity at init); batch norm in train mode (the same over the batch)."""
    functions = {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu,
                 "gelu": torch.nn.functional.gelu, "sigmoid": torch.sigmoid,
                 "leaky_relu": torch.nn.functional.leaky_relu, "silu": torch.nn.functional.silu,
                 "selu": torch.nn.functional.selu, "softplus": torch.nn.functional.softplus,
                 "prelu": lambda z: torch.where(z > 0, z, 0.25 * z)}
    keys = {"layer_norm": True} if norm == "layer_norm: true" else {"norm": norm}
    config = ApproximatorConfig(hidden_sizes=[6, 5], activation=activation, **keys)
    torso = build_torso(gym.spaces.Box(-1, 1, (3,)), config)
    x = torch.randn(4, 3)
    expected = x
    for linear in [m for m in torso.modules() if isinstance(m, torch.nn.Linear)]:
        z = expected @ linear.weight.T + linear.bias
        if norm in ("layer", "layer_norm: true"):
            z = (z - z.mean(-1, keepdim=True)) / torch.sqrt(z.var(-1, unbiased=False,
                                                               keepdim=True) + 1e-5)
        elif norm == "batch":
            z = (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + 1e-5)
        expected = functions[activation](z)
    with torch.no_grad():
        torch.testing.assert_close(torso(x), expected)
    assert torso.out_dim == 5


def _set_bias(head, bias):
    """A head whose logits ignore the features: zero weights, ``bias`` as the logits."""
    with torch.no_grad():
        head.logits.weight.zero_()
        head.logits.bias.copy_(torch.tensor(bias))


def test_multi_categorical_sums_log_probs_and_entropies_over_components():
    """MultiDiscrete([2, 3]), logits (0, ln 3) and (0, ln 2, 0): pi_0 = (1/4, 3/4), pi_1 =
    (1/4, 1/2, 1/4). a = (1, 2): log pi = ln 3/4 + ln 1/4. H = H(1/4, 3/4) + H(1/4, 1/2, 1/4)
    = (1/4 ln 4 + 3/4 ln 4/3) + (2 * 1/4 ln 4 + 1/2 ln 2). Mode (1, 1)."""
    net = ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiDiscrete([2, 3]),
                      ApproximatorConfig(hidden_sizes=[4]))
    _set_bias(net.policy, [0.0, np.log(3), 0.0, np.log(2), 0.0])
    obs = torch.randn(2, 3)
    dist, _ = net(obs)
    log_prob = dist.log_prob(torch.tensor([[1, 2], [0, 1]]))
    torch.testing.assert_close(log_prob, torch.tensor([np.log(3 / 4) + np.log(1 / 4),
                                                       np.log(1 / 4) + np.log(1 / 2)]).float())
    entropy = (0.25 * np.log(4) + 0.75 * np.log(4 / 3)) + (0.5 * np.log(4) + 0.5 * np.log(2))
    torch.testing.assert_close(dist.entropy(), torch.full((2,), entropy).float())
    assert net.deterministic_action(obs).tolist() == [[1, 1], [1, 1]]
    # the padding of the two-action component is never drawn
    assert dist.sample((500,))[..., 0].max() <= 1


def test_bernoulli_head_sums_log_probs_and_entropies_over_bits():
    """MultiBinary(2), logits (0, ln 3): p = (1/2, 3/4). a = (1, 0): log pi = ln 1/2 + ln 1/4.
    H = ln 2 + H(3/4) = ln 2 + (3/4 ln 4/3 + 1/4 ln 4). Mode (0, 1): a logit of 0 is no 1."""
    net = ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiBinary(2),
                      ApproximatorConfig(hidden_sizes=[4]))
    _set_bias(net.policy, [0.0, np.log(3)])
    obs = torch.randn(1, 3)
    dist, _ = net(obs)
    torch.testing.assert_close(dist.log_prob(torch.tensor([[1.0, 0.0]])),
                               torch.tensor([np.log(0.5) + np.log(0.25)]).float())
    torch.testing.assert_close(
        dist.entropy(), torch.tensor([np.log(2) + 0.75 * np.log(4 / 3) + 0.25 * np.log(4)]).float())
    assert net.deterministic_action(obs).tolist() == [[0.0, 1.0]]


def test_a_multi_dimensional_action_space_is_one_config_error():
    with pytest.raises(ConfigError, match="has 2 dimensions"):
        ActorCritic(gym.spaces.Box(-1, 1, (3,)), gym.spaces.MultiDiscrete([[2, 2], [3, 3]]),
                    ApproximatorConfig())
