"""The written-out TD-loss gradient equals autograd's to the last bit.

Bit-identity is asked for here because both sides run the same torch kernels in the same
process; CI runs this file under every ATEN_CPU_CAPABILITY.
"""

import gymnasium as gym
import pytest
import torch

from rlkit import fast
from rlkit.agents.dqn import q_loss
from rlkit.approximators.heads import QNetwork
from rlkit.config import ApproximatorConfig
from rlkit.core.optim import FlatOptimizer
from rlkit.fast.td_gradient import QLossGradient

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY


@pytest.mark.parametrize("loss", ["huber", "mse"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("hidden", "activation"),
                         [((32, 32), "relu"), ((16,), "tanh"), ((), "relu")])
def test_gradients_are_bit_identical_to_autograd(loss, weighted, hidden, activation):
    torch.manual_seed(0)
    space = gym.spaces.Box(-1, 1, (2, 3))  # flattened by the torso
    config = ApproximatorConfig(hidden_sizes=hidden, activation=activation)
    nets = [QNetwork(space, 3, config) for _ in range(2)]
    nets[1].load_state_dict(nets[0].state_dict())
    optimizers = [FlatOptimizer(net, torch.optim.Adam, lr=1e-3) for net in nets]
    explicit = QLossGradient.of(nets[1].plain_layers(), loss, lambda q, y, w: q_loss(q, y, w, loss))
    assert explicit is not None
    for _ in range(3):  # a few steps, so that the compared networks have moved
        obs = torch.randn(50, 2, 3) * 3  # 50 rows: a mean that is no power of two
        actions = torch.randint(0, 3, (50,))
        targets = torch.randn(50) * 4  # some |Q - y| beyond Huber's kink at 1
        weights = torch.rand(50) if weighted else None
        q = nets[0](obs).gather(1, actions.unsqueeze(1)).squeeze(1)
        errors = q_loss(q, targets, weights, loss)
        optimizers[0].zero_grad()
        errors.backward()
        loss_value, q_value = explicit(obs, actions, targets, weights)
        assert torch.equal(loss_value, errors.detach())
        assert torch.equal(q_value, q.detach())
        for p, r in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
            assert torch.equal(p.grad, r.grad)
        for opt in optimizers:
            opt.step(max_grad_norm=1.0)


@pytest.mark.parametrize(
    ("space", "config", "dueling"),
    [(gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(), True),
     (gym.spaces.Discrete(4), ApproximatorConfig(), False),
     (gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(layer_norm=True), False),
     (gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(dropout=0.1), False),
     (gym.spaces.Box(-1, 1, (3,)), ApproximatorConfig(activation="elu"), False)],
)
def test_other_networks_are_left_to_autograd(space, config, dueling):
    with fast.switch(True):
        net = QNetwork(space, 2, config, dueling)
    assert not isinstance(net.loss_gradient(q_loss, "huber"), QLossGradient)


@pytest.mark.parametrize("allowed", [True, False])
def test_q_network_takes_the_written_out_gradient_only_where_the_switch_allows(allowed):
    torch.manual_seed(0)
    with fast.switch(allowed):
        net = QNetwork(gym.spaces.Box(-1, 1, (3,)), 2, ApproximatorConfig(hidden_sizes=[8]))
    optimizer = FlatOptimizer(net, torch.optim.Adam, lr=1e-3)
    loss_gradient = net.loss_gradient(lambda q, y, w: q_loss(q, y, w, "mse"), "mse")
    assert isinstance(loss_gradient, QLossGradient) == allowed
    obs, actions, targets = torch.randn(4, 3), torch.tensor([0, 1, 1, 0]), torch.randn(4)
    optimizer.zero_grad()
    loss, q = loss_gradient(obs, actions, targets, None)
    expected_q = net(obs).gather(1, actions[:, None])[:, 0]
    torch.testing.assert_close(q, expected_q.detach())
    torch.testing.assert_close(loss, ((expected_q - targets) ** 2).mean().detach())
    assert optimizer.flat.grad.abs().sum() > 0
