"""AIRL: the shaped discriminator f = g + gamma h' - h worked by hand, its logit and reward,
the absorbing state's logit, state-only g, and learning CartPole."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import rlkit
from rlkit.agents.airl import Transitions
from rlkit.errors import ConfigError

SMALL = {"approximator": {"hidden_sizes": [16]}, "discriminator": {"hidden_sizes": [16]},
         "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "disc_batch_size": 32,
         "anneal_lr": False}


def make_airl(demos, **overrides):
    return rlkit.make("airl", "CartPole-v1", seed=0, demos=demos, **{**SMALL, **overrides})


class FirstColumn(nn.Module):
    """A stand-in for g or h: the first entry of each row."""

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        return rows[:, 0].float()


def by_hand(agent, gamma=0.9):
    """g and h read the first entry of their rows; gamma 0.9."""
    shaping = agent.discriminator
    shaping.g, shaping.h, shaping.gamma = FirstColumn(), FirstColumn(), gamma
    return Transitions(g_rows=torch.tensor([[1.0], [2.0]]), h_rows=torch.tensor([[3.0], [4.0]]),
                       next_rows=torch.tensor([[5.0], [6.0]]),
                       continues=torch.tensor([1.0, 0.0]), log_probs=torch.tensor([-0.5, -0.2]))


def test_f_is_g_plus_the_discounted_potential_difference(cartpole_demos):
    """f = g + 0.9 (1 - terminated) h(s') - h(s): 1 + 0.9 x 5 - 3 = 2.5 on the going-on
    transition, 2 - 4 = -2 on the terminated one (no s' to shape with)."""
    agent = make_airl(cartpole_demos)
    batch = by_hand(agent)
    torch.testing.assert_close(agent.discriminator(batch), torch.tensor([2.5, -2.0]))


def test_the_reward_is_the_logit_and_an_end_adds_the_absorbing_states_worth(cartpole_demos):
    """r = f - log pi (+ gamma / (1 - gamma) l_abs where the episode ended): with l_abs = -1,
    gamma 0.9: 2.5 + 0.5 = 3.0 and -2 + 0.2 + 9 x (-1) = -10.8."""
    agent = make_airl(cartpole_demos, gamma=0.9)
    batch = by_hand(agent)
    agent.discriminator.absorbing.fill_(-1.0)
    torch.testing.assert_close(agent.learned_rewards(batch), torch.tensor([3.0, -10.8]))


def test_the_absorbing_logit_is_the_log_ratio_of_the_two_end_rates(cartpole_demos):
    """Expert: 0 ends in 9 transitions, (0 + 1) / 10; agent: 2 in 4, (2 + 1) / 5:
    l_abs = ln(0.1 / 0.6) = -1.791759."""
    agent = make_airl(cartpole_demos)
    agent.fit_absorbing_logit(np.zeros(9, dtype=bool), torch.tensor([True, False, True, False]))
    assert float(agent.discriminator.absorbing) == pytest.approx(math.log(0.1 / 0.6), abs=1e-6)


def test_the_discriminators_logit_subtracts_log_pi(cartpole_demos, monkeypatch):
    """The GAN loss is taken on l = f - log pi: a step on f alone would see other logits."""
    from rlkit.agents import airl

    agent = make_airl(cartpole_demos)
    batch = by_hand(agent)
    seen = []
    monkeypatch.setattr(airl, "discriminator_loss",
                        lambda e, a: seen.append((e.detach(), a.detach())) or (e.sum() * 0))
    with pytest.raises(RuntimeError):  # no parameter takes a gradient through the stand-ins
        agent.discriminator_step(batch, batch)
    torch.testing.assert_close(seen[0][0], torch.tensor([3.0, -1.8]))


@pytest.mark.parametrize("state_only, parts", [(False, ("obs", "action")), (True, ("obs",))])
def test_state_only_makes_g_a_function_of_the_state(cartpole_demos, state_only, parts):
    agent = make_airl(cartpole_demos, state_only=state_only)
    assert agent.discriminator.g.parts == parts
    assert agent.discriminator.h.parts == ("obs",)
    rows = agent.expert_rows()
    assert rows.g_rows.shape[1] == (16 if state_only else 24)


def test_one_rollout_trains_and_reports_g_and_the_absorbing_logit(cartpole_demos, tmp_path):
    from rlkit.training.metrics import read_metrics

    agent = make_airl(cartpole_demos, log_freq=128, eval_freq=0)
    agent.learn(256, run_dir=tmp_path)
    row = read_metrics(tmp_path)[-1]
    for key in ("airl/expert_accuracy", "airl/agent_accuracy", "airl/learned_reward",
                "airl/absorbing_logit"):
        assert key in row, key
    assert row["airl/absorbing_logit"] < 0  # the agent ends episodes, the expert never does


@pytest.mark.parametrize("key, value", [("gamma", 1.0), ("gradient_penalty", 1.0)])
def test_bad_values_are_config_errors(cartpole_demos, key, value):
    with pytest.raises(ConfigError, match=key):
        make_airl(cartpole_demos, **{key: value})


def test_resume_continues_bit_for_bit(cartpole_demos, interrupt_and_resume):
    interrupt_and_resume(lambda: make_airl(cartpole_demos, total_timesteps=768, eval_freq=256),
                         at=2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_airl_learns_cartpole_from_10_demonstrations(learns, cartpole_demos, seed):
    """The shipped CartPole entry at its full 150k steps (~30 s). Lowered to 100k it was 10 of
    10 natively, but 9 of 10 under MKL's COMPATIBLE path (seed 2: 286, still wandering), a
    budget with no margin; at 150k 10 of 10 under both (benchmarks/LEARNING.md)."""
    learns("airl", "CartPole-v1", seed=seed, bar=475, demos=cartpole_demos)
