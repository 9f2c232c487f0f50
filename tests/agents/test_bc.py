"""Behaviour cloning: its loss worked by hand, the held-out split and early stopping, every
switch, and learning CartPole from 10 demonstrations."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.distributions import Categorical, Independent, Normal

import rlkit
from rlkit.agents.bc import cloning_loss
from rlkit.core.demonstrations import DemonstrationsError
from rlkit.core.rollout import from_env_actions, to_env_actions
from rlkit.errors import ConfigError


def test_cloning_loss_is_the_cross_entropy_minus_the_entropy_bonus():
    """pi = softmax([0, ln 3]) = [1/4, 3/4] in both states; actions 1 and 0:
    NLL = -(ln 3/4 + ln 1/4) / 2 = 0.836988, H = -(1/4 ln 1/4 + 3/4 ln 3/4) = 0.562335."""
    dist = Categorical(logits=torch.tensor([[0.0, math.log(3)]] * 2))
    actions = torch.tensor([1, 0])
    loss, nll, entropy = cloning_loss(dist, actions, ent_coef=0.0)
    assert float(nll) == pytest.approx(0.836988, abs=1e-6)
    assert float(entropy) == pytest.approx(0.562335, abs=1e-6)
    assert float(loss) == pytest.approx(0.836988, abs=1e-6)
    loss, _, _ = cloning_loss(dist, actions, ent_coef=0.1)
    assert float(loss) == pytest.approx(0.836988 - 0.0562335, abs=1e-6)


def test_cloning_loss_of_box_actions_is_the_gaussian_nll():
    """N(0, 1) per dimension, action (1, 0): NLL = ln(2 pi) + 1/2 = 2.337877 (two dims)."""
    dist = Independent(Normal(torch.zeros(1, 2), torch.ones(1, 2)), 1)
    _, nll, _ = cloning_loss(dist, torch.tensor([[1.0, 0.0]]), ent_coef=0.0)
    assert float(nll) == pytest.approx(math.log(2 * math.pi) + 0.5, abs=1e-6)


@pytest.mark.parametrize("space, env_actions, policy_actions", [
    (gym.spaces.Discrete(3, start=-1), np.array([-1, 1]), np.array([0, 2])),
    (gym.spaces.MultiDiscrete([2, 3], start=[1, -1]), np.array([[1, 1]]), np.array([[0, 2]])),
    (gym.spaces.MultiBinary(2), np.array([[1, 0]], dtype=np.int8), np.array([[1.0, 0.0]])),
    (gym.spaces.Box(-1, 1, (2,)), np.array([[0.5, -1.0]]), np.array([[0.5, -1.0]])),
])
def test_env_actions_come_back_as_the_policy_scores_them(space, env_actions, policy_actions):
    got = from_env_actions(env_actions, space)
    np.testing.assert_array_equal(got, policy_actions)
    np.testing.assert_array_equal(to_env_actions(got, space), env_actions)


def make_bc(demos, **overrides):
    return rlkit.make("bc", "CartPole-v1", seed=0, demos=demos,
                      **{"approximator": {"hidden_sizes": [16]}, **overrides})


def test_whole_episodes_are_held_out(cartpole_demos):
    """10 episodes of 500 steps, 0.2 held out: 2 episodes (1,000 pairs) against 8."""
    agent = make_bc(cartpole_demos)
    assert len(agent.train_obs) == 4000 and len(agent.heldout[0]) == 1000
    assert make_bc(cartpole_demos, holdout_fraction=0.0).heldout is None


def test_n_demos_takes_the_first_episodes(cartpole_demos):
    assert len(make_bc(cartpole_demos, n_demos=3, holdout_fraction=0.0).train_obs) == 1500


def test_an_epoch_is_every_training_pair_once(cartpole_demos):
    """4,000 pairs in minibatches of 1,000: an epoch every 4 steps, a held-out NLL after each."""
    agent = make_bc(cartpole_demos, batch_size=1000, gradient_steps=4)
    agent.learn(2)
    assert agent.n_updates == 8 and agent.epochs == 2
    # the budget's end restored the best weights: their held-out NLL is the best one
    assert agent.best_nll == pytest.approx(agent.nll_of(*agent.heldout)[0])


def test_gradient_steps_is_the_number_of_minibatch_steps_an_update(cartpole_demos):
    agent = make_bc(cartpole_demos, gradient_steps=3)
    agent.learn(1)
    assert agent.n_updates == 3


def test_training_stops_after_patience_epochs_without_a_better_heldout_nll(
        cartpole_demos, monkeypatch):
    """Held-out NLLs 3, 2, 2.5, 2.5, 2.5: best after epoch 2; with patience 3 training stops
    after epoch 5, and the weights of epoch 2 come back."""
    agent = make_bc(cartpole_demos, batch_size=4000, patience=3, total_timesteps=100)
    nlls = iter([3.0, 2.0, 2.5, 2.5, 2.5])
    weights = {}

    def nll_of(obs, actions):
        weights[agent.epochs] = {k: v.clone() for k, v in agent.policy.state_dict().items()}
        return next(nlls), None

    monkeypatch.setattr(agent, "nll_of", nll_of)
    agent.learn()
    assert agent.stopped and agent.epochs == 5 and agent.global_step == 5
    state = agent.policy.state_dict()
    for key, value in state.items():
        torch.testing.assert_close(value, weights[2][key])
    assert any(not torch.equal(value, weights[5][key]) for key, value in state.items())


def test_without_a_heldout_split_the_whole_budget_trains(cartpole_demos):
    agent = make_bc(cartpole_demos, batch_size=5000, holdout_fraction=0.0, patience=1,
                    total_timesteps=20)
    agent.learn()
    assert agent.epochs == 20 and agent.global_step == 20


def test_ent_coef_adds_the_entropy_bonus_to_the_loss(cartpole_demos):
    def one_step(ent_coef):
        agent = make_bc(cartpole_demos, ent_coef=ent_coef)
        agent.learn(1)
        return torch.cat([p.detach().ravel() for p in agent.policy.parameters()])

    assert not torch.allclose(one_step(0.0), one_step(1.0))


def test_demonstrations_are_required_and_must_fit_the_env(cartpole_demos):
    with pytest.raises(DemonstrationsError, match="bc learns from demonstrations: pass --demos"):
        rlkit.make("bc", "CartPole-v1")
    with pytest.raises(DemonstrationsError, match="observation space"):
        rlkit.make("bc", "MountainCar-v0", demos=cartpole_demos)


def test_a_memory_torso_is_a_one_line_error(cartpole_demos):
    with pytest.raises(ConfigError, match="cannot unroll a memory torso"):
        make_bc(cartpole_demos, approximator={"type": "lstm"})


@pytest.mark.parametrize("key, value", [("holdout_fraction", 1.0), ("patience", 0),
                                        ("learning_rate", float("nan")), ("n_demos", 0),
                                        ("normalize_reward", True)])
def test_bad_values_are_config_errors(cartpole_demos, key, value):
    with pytest.raises(ConfigError, match=key):
        make_bc(cartpole_demos, **{key: value})


def test_normalize_obs_uses_the_demonstrations_statistics_frozen(cartpole_demos):
    from rlkit.core.demonstrations import load_demonstrations

    agent = make_bc(cartpole_demos, normalize_obs=True, holdout_fraction=0.0)
    demos = load_demonstrations(cartpole_demos)
    np.testing.assert_allclose(agent.obs_normalizer.rms.mean, demos.obs.mean(0), atol=1e-6)
    before = agent.obs_normalizer.rms.count
    agent.learn(50)
    assert agent.obs_normalizer.rms.count == before  # the learner's states change nothing
    torch.testing.assert_close(agent.train_obs, torch.as_tensor(agent.obs_normalizer(demos.obs)))


def test_resume_continues_bit_for_bit(cartpole_demos, interrupt_and_resume):
    interrupt_and_resume(lambda: make_bc(cartpole_demos, total_timesteps=600, eval_freq=200,
                                         batch_size=256, patience=2), at=300)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bc_learns_cartpole_from_10_demonstrations(learns, cartpole_demos, seed):
    """The shipped defaults, 10 expert episodes (normalized score 1.0 at 500)."""
    learns("bc", "CartPole-v1", seed=seed, bar=475, demos=cartpole_demos)
