"""The numpy Q function agrees with the torch forward pass at float32 tolerance."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlkit import fast
from rlkit.approximators.heads import QNetwork
from rlkit.config import ApproximatorConfig

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY


@pytest.mark.parametrize("dueling", [False, True])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_numpy_q_function_matches_the_network_and_follows_its_weights(dueling, activation):
    torch.manual_seed(0)
    space = gym.spaces.Box(-1, 1, (2, 3), dtype=np.float64)  # flattened, cast to float32
    net = QNetwork(space, 3, ApproximatorConfig(hidden_sizes=(16, 16), activation=activation),
                   dueling=dueling)
    q_numpy = net.numpy_q_function()
    obs = np.random.default_rng(0).normal(size=(5, 2, 3))
    with torch.no_grad():
        expected = net(torch.as_tensor(obs, dtype=torch.float32)).numpy()
        np.testing.assert_allclose(q_numpy(obs), expected, rtol=1e-5, atol=1e-6)
        for p in net.parameters():  # an in-place update (what the optimizers do) is seen
            p.mul_(0.5).add_(0.1)
        expected = net(torch.as_tensor(obs, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(q_numpy(obs), expected, rtol=1e-5, atol=1e-6)


def test_numpy_q_function_by_hand():
    """One hidden ReLU unit: Q(s) = w2 * relu(w1 . s + b1) + b2, per action."""
    net = QNetwork(gym.spaces.Box(-1, 1, (2,)), 2, ApproximatorConfig(hidden_sizes=[1],
                                                                       activation="relu"))
    linear1, linear2 = net.torso.layers[0], net.head.q
    with torch.no_grad():
        linear1.weight[:] = torch.tensor([[1.0, -2.0]])
        linear1.bias[:] = 0.5
        linear2.weight[:] = torch.tensor([[2.0], [-1.0]])
        linear2.bias[:] = torch.tensor([0.0, 3.0])
    q = net.numpy_q_function()(np.array([[1.0, 0.0], [0.0, 1.0]], np.float32))
    # row 0: relu(1 + 0.5) = 1.5 -> (3, 1.5); row 1: relu(-2 + 0.5) = 0 -> (0, 3)
    np.testing.assert_allclose(q, [[3.0, 1.5], [0.0, 3.0]])


@pytest.mark.parametrize(
    ("space", "config"),
    [(gym.spaces.Discrete(4), ApproximatorConfig()),  # one-hot inputs
     (gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(layer_norm=True)),
     (gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(activation="elu"))],
)
def test_numpy_q_function_is_none_where_it_has_no_numpy_counterpart(space, config):
    assert QNetwork(space, 2, config).numpy_q_function() is None


@pytest.mark.parametrize("allowed", [True, False])
@pytest.mark.parametrize("dueling", [False, True])
def test_greedy_policy_picks_the_torch_argmax_through_numpy_where_allowed(allowed, dueling):
    torch.manual_seed(0)
    with fast.switch(allowed):
        net = QNetwork(gym.spaces.Box(-1, 1, (4,)), 3, ApproximatorConfig(), dueling=dueling)
    greedy = net.greedy_policy()
    assert ("numpy_q" in greedy.__code__.co_names or "numpy_q" in greedy.__code__.co_freevars
            ) == allowed
    obs = np.random.default_rng(1).normal(size=(256, 4)).astype(np.float32)
    with torch.no_grad():
        q = net(torch.from_numpy(obs))
    top2 = q.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1] > 1e-4).numpy()  # away from float32 near-ties
    assert clear.mean() > 0.9
    np.testing.assert_array_equal(greedy(obs)[clear], q.argmax(dim=1).numpy()[clear])
