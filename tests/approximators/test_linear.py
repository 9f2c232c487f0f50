"""The linear approximator's feature maps, worked out by hand, and its place under the heads."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.approximators import LinearFeatures, build_torso
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError

BOX2 = gym.spaces.Box(np.array([-1.0, 0.0], np.float32), np.array([1.0, 4.0], np.float32))


def features(kind: str, space: gym.Space = BOX2, **keys) -> LinearFeatures:
    return build_torso(space, ApproximatorConfig(type="linear", features=kind, **keys))


def test_raw_features_are_the_observation_and_one_hot_ids():
    torso = features("raw")
    x = torch.tensor([[0.5, 3.0]])
    torch.testing.assert_close(torso(x), x)
    assert torso.out_dim == 2 and not list(torso.parameters())
    ids = features("raw", gym.spaces.Discrete(3))
    torch.testing.assert_close(ids(torch.tensor([2, 0])), torch.tensor([[0., 0., 1.],
                                                                        [1., 0., 0.]]))


def test_polynomial_features_of_degree_2_by_hand():
    """(x, y) = (0.5, 3): (x, y, x^2, xy, y^2) = (0.5, 3, 0.25, 1.5, 9)."""
    torso = features("poly", degree=2)
    got = torso(torch.tensor([[0.5, 3.0]]))
    torch.testing.assert_close(got, torch.tensor([[0.5, 3.0, 0.25, 1.5, 9.0]]))
    assert torso.out_dim == 5
    assert features("poly", degree=3).out_dim == 9  # + x^3, x^2 y, x y^2, y^3


def test_fourier_features_of_order_1_by_hand():
    """Bounds [-1, 1] x [0, 4]: s = (0.5, 3) scales to u = (0.75, 0.75); c in {0, 1}^2 in
    the order (0,0), (0,1), (1,0), (1,1): cos(0), cos(0.75 pi), cos(0.75 pi), cos(1.5 pi)."""
    torso = features("fourier", order=1)
    got = torso(torch.tensor([[0.5, 3.0]]))
    c = math.cos(0.75 * math.pi)
    torch.testing.assert_close(got, torch.tensor([[1.0, c, c, math.cos(1.5 * math.pi)]]))
    assert features("fourier", order=3).out_dim == 16


def test_fourier_features_squash_unbounded_dimensions():
    """CartPole's velocities are unbounded: u = 1 / (1 + e^-s) there, so s = 0 gives 0.5."""
    space = gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)
    got = features("fourier", space, order=2)(torch.zeros(1, 1))
    torch.testing.assert_close(got, torch.tensor([[1.0, math.cos(0.5 * math.pi), -1.0]]))


def test_bad_linear_settings_are_one_config_error():
    with pytest.raises(ConfigError, match="need a Box"):
        features("poly", gym.spaces.Discrete(4))
    with pytest.raises(ConfigError, match="lower 'order'"):
        features("fourier", gym.spaces.Box(0, 1, (12,)), order=3)
    with pytest.raises(ConfigError, match="'degree' and 'latent_dim' must be >= 1"):
        ApproximatorConfig(type="linear", features="poly", degree=0).validate()


@pytest.mark.parametrize("algo", ["ppo", "a2c", "dqn"])
def test_every_head_is_linear_in_the_features(algo):
    """Under PPO, A2C and DQN heads the whole network is w^T phi(s) + b: its output at
    phi(s1) + phi(s2) - phi(s3) equals out(s1) + out(s2) - out(s3) for raw features."""
    agent = rlkit.make(algo, "CartPole-v1", seed=0, approximator={"type": "linear"})
    network = agent.q_net if algo == "dqn" else agent.policy
    assert isinstance(network.torso if algo == "dqn" else network.actor_torso, LinearFeatures)
    s1, s2, s3 = torch.randn(3, 1, 4)
    out = (lambda s: network(s)) if algo == "dqn" else (lambda s: network(s)[1])
    with torch.no_grad():
        torch.testing.assert_close(out(s1 + s2 - s3), out(s1) + out(s2) - out(s3))


def test_features_key_picks_the_map():
    x = torch.tensor([[0.5, 3.0]])
    maps = {kind: features(kind)(x) for kind in ("raw", "poly", "fourier")}
    assert [m.shape[1] for m in maps.values()] == [2, 5, 16]
