"""DAgger: who acts in each round, what the expert labels, the aggregate, every switch, and
learning CartPole from the shipped expert."""

from __future__ import annotations

import math

import numpy as np
import pytest

import rlkit
from rlkit.errors import ConfigError


def make_dagger(expert, **overrides):
    return rlkit.make("dagger", "CartPole-v1", seed=0, expert=str(expert),
                      **{"approximator": {"hidden_sizes": [16]}, **overrides})


def record_actions(agent):
    """Wrap the runner's step: every action the env gets, (steps, envs)."""
    taken = []
    step = agent.runner.step

    def recording(actions):
        taken.append(np.array(actions))
        return step(actions)

    agent.runner.step = recording
    return taken


@pytest.mark.parametrize("beta_rounds, betas", [(1, [1, 0, 0]), (3, [1, 2 / 3, 1 / 3, 0, 0])])
def test_beta_falls_linearly_from_one_to_zero_over_beta_rounds(cartpole_expert, beta_rounds,
                                                               betas):
    agent = make_dagger(cartpole_expert, beta_rounds=beta_rounds)
    for rounds, beta in enumerate(betas):
        agent.rounds = rounds
        assert agent.beta == pytest.approx(beta)


def test_the_expert_acts_in_round_zero_and_the_learner_after_beta_rounds(cartpole_expert):
    """The learner's policy is replaced by one that always pushes left (0): in round 0 every
    action is the expert's label; in round 1 (beta = 0) every action is 0 while the expert's
    labels are still what is stored."""
    agent = make_dagger(cartpole_expert, round_steps=100, n_envs=2, total_timesteps=200)
    agent.learn(100)
    taken = record_actions(agent)
    labels_before = len(agent.data)
    agent.act_on_rows = lambda rows, deterministic=True, masks=None: np.zeros(len(rows), int)
    agent.collect()
    assert all((actions == 0).all() for actions in taken) and len(taken) == 50
    stored = agent.data.actions[labels_before:len(agent.data)]
    assert 0 < stored.sum() < len(stored)  # the expert's labels, both directions


def test_round_zero_is_the_expert_demonstrating(cartpole_expert):
    agent = make_dagger(cartpole_expert, round_steps=300, total_timesteps=300)
    agent.learn()
    data = agent.data
    expert_actions = agent.expert.act_on_rows(data.obs[:len(data)])
    np.testing.assert_array_equal(data.actions[:len(data)], expert_actions)
    assert len(data) == 300  # the expert balances: no episode ends, no step skipped


def test_autoreset_steps_are_not_labelled(cartpole_expert):
    """The learner (beta 0 from round 1, an untrained policy) ends episodes; the steps after
    an episode's end only reset the env: every stored state is one a decision was made in."""
    agent = make_dagger(cartpole_expert, round_steps=400, total_timesteps=800)
    agent.learn()
    ends = agent.runner.steps_taken - len(agent.data)
    assert len(agent.data) < 800 and ends > 0
    episodes = agent.runner.episode_lengths
    assert sum(episodes) <= len(agent.data)


def test_epochs_per_round_passes_over_the_aggregate(cartpole_expert):
    """300 labels in minibatches of 64: 5 steps an epoch, 3 epochs = 15 Adam steps."""
    agent = make_dagger(cartpole_expert, round_steps=300, epochs_per_round=3, total_timesteps=300)
    agent.learn()
    assert agent.n_updates == 3 * math.ceil(len(agent.data) / 64) == 15
    assert agent.epochs == 3


def test_the_expert_is_required_and_must_fit(cartpole_expert, tmp_path):
    with pytest.raises(ConfigError, match="needs an expert to label states: pass --expert"):
        rlkit.make("dagger", "CartPole-v1")
    with pytest.raises(ConfigError, match="does not exist"):
        make_dagger(tmp_path / "nothing")
    with pytest.raises(ConfigError, match="acts in CartPole-v1"):
        rlkit.make("dagger", "Acrobot-v1", expert=str(cartpole_expert))


def test_an_expert_with_memory_is_refused(tmp_path):
    ppo = rlkit.make("ppo", "CartPole-v1", approximator={"type": "lstm", "hidden_size": 8},
                     n_envs=2, n_steps=16, batch_size=32)
    ppo.save(tmp_path / "lstm.pt")
    with pytest.raises(ConfigError, match="has a memory torso"):
        make_dagger(tmp_path / "lstm.pt")


@pytest.mark.parametrize("key, value", [("round_steps", 0), ("beta_rounds", 0),
                                        ("epochs_per_round", 0), ("round_steps", 3)])
def test_bad_values_are_config_errors(cartpole_expert, key, value):
    with pytest.raises(ConfigError, match=key):
        make_dagger(cartpole_expert, n_envs=2, **{key: value})


def test_resume_continues_bit_for_bit(cartpole_expert, interrupt_and_resume):
    interrupt_and_resume(lambda: make_dagger(cartpole_expert, round_steps=200, eval_freq=400,
                                             epochs_per_round=2, total_timesteps=1000), at=3)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dagger_learns_cartpole_from_the_expert(learns, cartpole_expert, seed):
    """The shipped defaults: 4 rounds of 500 steps, at most 2,000 labels (BC's 10
    demonstrations are 5,000)."""
    agent = learns("dagger", "CartPole-v1", seed=seed, bar=495, expert=str(cartpole_expert))
    assert len(agent.data) <= 2000
