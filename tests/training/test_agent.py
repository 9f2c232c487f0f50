"""rlkit/training/agent.py: what every agent shares. Here: an agent's randomness is its own."""

import random

import numpy as np
import pytest
import torch

import rlkit

SMALL = {
    "ppo": dict(n_envs=2, n_steps=32, batch_size=32, n_epochs=2, ent_coef=0.01),
    "a2c": dict(n_envs=2, n_steps=8),
    "reinforce": dict(n_envs=2, batch_episodes=2, rollout_steps=8),
    "dqn": dict(learning_starts=64, train_freq=16, gradient_steps=2, batch_size=32,
                buffer_size=1000, n_envs=2),
}


def _unrelated_random_work() -> None:
    """What a user's script may do between make() and learn(): draw from every global
    generator, and reseed one."""
    torch.rand(1000)
    np.random.rand(10)
    random.random()
    torch.manual_seed(1234)


def _parameters(agent) -> list[torch.Tensor]:
    return [tensor.clone() for module in agent.modules().values()
            if isinstance(module, torch.nn.Module) for tensor in module.state_dict().values()]


@pytest.mark.parametrize("algo", sorted(SMALL))
def test_draws_between_make_and_learn_change_nothing(algo):
    """make, learn == make, unrelated draws from the global generators, learn: acting and
    minibatch sampling draw only from the agent's own generators (dropout on, so its masks
    count too)."""
    def trained(between):
        agent = rlkit.make(algo, "CartPole-v1", seed=3, eval_freq=0, log_freq=64,
                           approximator={"dropout": 0.1}, **SMALL[algo])
        between()
        agent.learn(512)
        between()
        agent.learn(256)  # a second call continues the agent's own streams
        return agent

    quiet, disturbed = trained(lambda: None), trained(_unrelated_random_work)
    assert quiet.global_step == disturbed.global_step == 768
    for expected, got in zip(_parameters(quiet), _parameters(disturbed), strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_training_leaves_the_callers_generators_where_they_were():
    """The caller's global streams continue after make() and learn() as if neither ran."""
    def draws(with_agent):
        torch.manual_seed(7)
        np.random.seed(7)
        random.seed(7)
        if with_agent:
            agent = rlkit.make("ppo", "CartPole-v1", seed=0, eval_freq=0, **SMALL["ppo"])
            agent.learn(128)
            agent.predict(np.zeros(4, np.float32), deterministic=False)
        return torch.rand(3), np.random.rand(3), random.random()

    alone, beside_an_agent = draws(False), draws(True)
    torch.testing.assert_close(beside_an_agent[0], alone[0], rtol=0, atol=0)
    np.testing.assert_array_equal(beside_an_agent[1], alone[1])
    assert beside_an_agent[2] == alone[2]
