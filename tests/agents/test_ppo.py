"""PPO: the clipped loss by hand, save/load, resume, reproducibility and a learning test."""


import numpy as np
import pytest
import torch

import rlkit
from rlkit.agents.ppo import clipped_surrogate_loss, value_loss
from rlkit.metrics import read_metrics

SMALL = dict(n_envs=2, n_steps=64, batch_size=64, n_epochs=2, eval_freq=256, eval_episodes=2,
             log_freq=128, total_timesteps=1024)


def test_clipped_surrogate_loss_by_hand():
    # eps = 0.2; terms min(rA, clip(r)A):
    #  r=0.5, A=+1: min(0.5, 0.8)   = 0.5   (unclipped, gradient -A/5 = -0.2)
    #  r=1.1, A=+1: min(1.1, 1.1)   = 1.1   (inside the range, gradient -0.2)
    #  r=1.5, A=+1: min(1.5, 1.2)   = 1.2   (clipped, no gradient)
    #  r=1.5, A=-1: min(-1.5, -1.2) = -1.5  (unclipped, gradient +0.2)
    #  r=0.5, A=-1: min(-0.5, -0.8) = -0.8  (clipped, no gradient)
    ratio = torch.tensor([0.5, 1.1, 1.5, 1.5, 0.5], requires_grad=True)
    advantages = torch.tensor([1.0, 1.0, 1.0, -1.0, -1.0])
    loss = clipped_surrogate_loss(ratio, advantages, 0.2)
    assert loss.item() == pytest.approx(-(0.5 + 1.1 + 1.2 - 1.5 - 0.8) / 5)
    loss.backward()
    np.testing.assert_allclose(ratio.grad.numpy(), [-0.2, -0.2, 0.0, 0.2, 0.0], atol=1e-7)


def test_value_loss_clipping_by_hand():
    values, old = torch.tensor([3.0, 0.0]), torch.tensor([1.0, 0.0])
    returns = torch.tensor([0.0, 1.0])
    # unclipped: (3 - 0)^2 = 9, (0 - 1)^2 = 1 -> mean 5
    assert value_loss(values, old, returns, None).item() == pytest.approx(5.0)
    # clip 0.5: V_clipped = 1 + clip(2, -.5, .5) = 1.5 -> max(9, 2.25) = 9; second max(1, 1) = 1
    assert value_loss(values, old, returns, 0.5).item() == pytest.approx(5.0)
    values = torch.tensor([1.2, 0.0])  # clipped 1.2 (inside), max(1.44, 1.44)
    returns = torch.tensor([3.0, 0.0])  # (1.2 - 3)^2 = 3.24, clipped 1.2 too -> 3.24 / 2
    assert value_loss(values, old, returns, 0.5).item() == pytest.approx(3.24 / 2)


def test_save_load_gives_identical_actions(tmp_path):
    agent = rlkit.make("ppo", "CartPole-v1", seed=3, **SMALL)
    agent.learn(512)
    path = agent.save(tmp_path / "ppo.pt")
    loaded = rlkit.load(path)
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    np.testing.assert_array_equal(agent.predict(obs), loaded.predict(obs))
    assert loaded.global_step == agent.global_step
    single = agent.predict(obs[0])
    assert np.ndim(single) == 0 and single == agent.predict(obs[:1])[0]


def test_continuous_actions_save_load_and_bounds(tmp_path):
    agent = rlkit.make("ppo", "Pendulum-v1", seed=0, normalize_obs=True, **SMALL)
    agent.learn(256)
    loaded = rlkit.load(agent.save(tmp_path / "ppo.pt"))
    obs = np.random.default_rng(1).normal(size=(16, 3)).astype(np.float32)
    np.testing.assert_array_equal(agent.predict(obs), loaded.predict(obs))
    sampled = agent.predict(obs * 100, deterministic=False)
    assert sampled.shape == (16, 1) and np.all(np.abs(sampled) <= 2.0)


@pytest.mark.numerics
def test_interrupt_then_resume_equals_uninterrupted_run(interrupt_and_resume):
    full, resumed = interrupt_and_resume(
        lambda: rlkit.make("ppo", "CartPole-v1", seed=1, **SMALL), at=3)
    for key, value in full.policy.state_dict().items():
        torch.testing.assert_close(resumed.policy.state_dict()[key], value, rtol=0, atol=0)


def test_same_seed_writes_identical_returns(tmp_path):
    def returns(run):
        agent = rlkit.make("ppo", "CartPole-v1", seed=7, **SMALL)
        agent.learn(run_dir=tmp_path / run)
        return [(r["global_step"], r.get("charts/episodic_return"), r.get("eval/mean_return"))
                for r in read_metrics(tmp_path / run)]

    first, second = returns("a"), returns("b")
    assert first == second
    assert any(ret is not None for _, ret, _ in first)


@pytest.mark.slow
def test_ppo_learns_cartpole():
    """Tuned CartPole config, seed 0: deterministic eval return near the 500 cap in 60k steps."""
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, eval_freq=0)
    agent.learn(60_000)
    assert agent.global_step == 59_904  # 234 rollouts of 8 x 32: the budget is never exceeded
    assert agent.last_eval["mean_return"] >= 450
