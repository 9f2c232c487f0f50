"""DQN: targets and losses by hand, bad input, target updates, save/load, exact resume and a
learning test."""

import os
import signal

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.agents.dqn import (
    DQN,
    double_q_values,
    linear_schedule,
    max_q_values,
    q_loss,
    td_target,
)
from rlkit.cli import main
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError, RlkitError
from rlkit.metrics import read_metrics
from rlkit.networks import QNetwork
from rlkit.prioritized import PrioritizedReplayBuffer

SMALL = dict(learning_starts=64, train_freq=16, gradient_steps=4, batch_size=32,
             buffer_size=2000, target_update_interval=64, eval_freq=256, eval_episodes=2,
             log_freq=128, total_timesteps=1024, approximator={"hidden_sizes": [32]})


def linear_q(weight: list[list[float]]) -> QNetwork:
    """Q(s, .) = W s: a Q network with no hidden layer and hand-set weights."""
    net = QNetwork(gym.spaces.Box(-1, 1, (2,)), 3, ApproximatorConfig(hidden_sizes=[]))
    with torch.no_grad():
        net.head.q.weight.copy_(torch.tensor(weight))
        net.head.q.bias.zero_()
    return net


def test_double_q_target_on_a_hand_set_network():
    online = linear_q([[1, 0], [0, 1], [1, 1]])
    target = linear_q([[2, 0], [0, 3], [-1, 0]])
    next_obs = torch.tensor([[1.0, 2.0], [3.0, -1.0]])
    # online Q(s') = [1, 2, 3] and [3, -1, 2]  -> argmax: action 2 and action 0
    # target Q(s') = [2, 6, -1] and [6, -3, -3]
    with torch.no_grad():
        q_online, q_target = online(next_obs), target(next_obs)
    np.testing.assert_allclose(double_q_values(q_online, q_target).numpy(), [-1.0, 6.0])
    np.testing.assert_allclose(max_q_values(q_target).numpy(), [6.0, 6.0])
    # y = r + gamma (1 - terminated) V(s'), gamma = 0.5; the second transition terminated
    y = td_target(torch.tensor([1.0, 1.0]), double_q_values(q_online, q_target),
                  torch.tensor([0.0, 1.0]), 0.5)
    np.testing.assert_allclose(y.numpy(), [1 + 0.5 * -1.0, 1.0])
    # per-transition discounts (n-step): gamma^m
    y = td_target(torch.tensor([1.0, 2.0]), torch.tensor([4.0, 4.0]), torch.tensor([0.0, 0.0]),
                  torch.tensor([0.25, 0.125]))
    np.testing.assert_allclose(y.numpy(), [2.0, 2.5])


def test_losses_by_hand():
    q, y = torch.tensor([1.5, -1.0, 4.0]), torch.tensor([1.0, 1.0, 1.0])  # Q - y: 0.5, -2, 3
    # huber: 0.5 * 0.25 = 0.125, 2 - 0.5 = 1.5, 3 - 0.5 = 2.5
    assert q_loss(q, y, None, "huber").item() == pytest.approx((0.125 + 1.5 + 2.5) / 3)
    assert q_loss(q, y, None, "mse").item() == pytest.approx((0.25 + 4 + 9) / 3)
    w = torch.tensor([1.0, 0.5, 0.0])
    assert q_loss(q, y, w, "huber").item() == pytest.approx((0.125 + 0.75) / 3)
    assert q_loss(q, y, w, "mse").item() == pytest.approx((0.25 + 2) / 3)


def test_linear_schedule():
    assert linear_schedule(1.0, 0.1, 0.5, 0.0) == 1.0
    assert linear_schedule(1.0, 0.1, 0.5, 0.25) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 0.5, 0.9) == pytest.approx(0.1)


def test_continuous_action_space_fails_at_once_api_and_cli(capsys):
    with pytest.raises(RlkitError, match=r"dqn cannot handle action space Box.*supports: Discrete"):
        rlkit.make("dqn", "Pendulum-v1")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "dqn", "Pendulum-v1", "--wandb-mode", "disabled", "--no-progress"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: dqn cannot handle action space Box")


@pytest.mark.parametrize("override", [
    {"gradient_steps": 0}, {"tau": 0.0}, {"exploration_fraction": 0.0}, {"n_step": 0},
    {"batch_size": 4096, "buffer_size": 100}, {"per_alpha": -1.0}, {"loss": "l1"},
    {"max_grad_norm": -1.0}, {"learning_starts": -5},
])
def test_bad_config_values_are_one_line_errors(override):
    with pytest.raises(ConfigError):
        rlkit.make("dqn", "CartPole-v1", **override)


def test_bad_config_on_the_cli(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "dqn", "CartPole-v1", "--set", "train_freq=0", "--wandb-mode", "disabled"])
    assert exit_info.value.code == 2
    assert "train_freq" in capsys.readouterr().err


def test_defaults_turn_on_double_q_and_prioritized_replay():
    agent = rlkit.make("dqn", "CartPole-v1")
    assert agent.config.double_q and agent.config.prioritized
    assert isinstance(agent.buffer, PrioritizedReplayBuffer)
    assert agent.config.total_timesteps <= 100_000
    for env_id in ("Acrobot-v1", "MountainCar-v0"):
        assert rlkit.make("dqn", env_id).config.approximator.hidden_sizes == [256, 256]


@pytest.mark.parametrize("dueling", [False, True])
def test_target_network_hard_and_polyak_updates(dueling):
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, dueling=dueling, **SMALL)
    # the first weight of the head: a plain Q head or the dueling value stream
    online = next(agent.q_net.head.parameters())
    target = next(agent.q_target.head.parameters())
    torch.testing.assert_close(online, target)
    with torch.no_grad():
        online.add_(1.0)
    agent._collect_start, agent.global_step = 0, 63  # no interval crossed
    agent._update_target()
    torch.testing.assert_close(target, online - 1.0)
    agent.global_step = 64
    agent._update_target()
    torch.testing.assert_close(target, online)

    agent.config.tau = 0.5
    before = target.detach().clone()
    with torch.no_grad():
        online.add_(4.0)
    agent._collect_start, agent.global_step = 64, 64 * 3  # two intervals: 1 - 0.5^2 = 0.75
    agent._update_target()
    torch.testing.assert_close(target, before + 0.75 * 4.0)


def test_several_envs_fill_one_buffer_without_autoreset_steps():
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=3, **SMALL)
    agent.learn(300)
    runner = agent.runner
    assert agent.global_step == 300
    episodes = len(runner.episode_lengths)
    assert episodes > 0
    # every vector step stores one transition per env, except each env's autoreset steps
    # (not yet taken for an episode that ended on the last step)
    assert len(agent.buffer) == 300 - episodes + runner.autoreset.sum()
    terminal = agent.buffer.terminated[: len(agent.buffer)].sum()
    assert 0 < terminal <= episodes


def test_save_load_gives_identical_actions(tmp_path):
    agent = rlkit.make("dqn", "CartPole-v1", seed=3, dueling=True, **SMALL)
    agent.learn(512)
    loaded = rlkit.load(agent.save(tmp_path / "dqn.pt"))
    obs = np.random.default_rng(0).normal(size=(32, 4)).astype(np.float32)
    np.testing.assert_array_equal(agent.predict(obs), loaded.predict(obs))
    assert len(loaded.buffer) == len(agent.buffer)
    np.testing.assert_array_equal(
        loaded.buffer.priorities(np.arange(len(agent.buffer))),
        agent.buffer.priorities(np.arange(len(agent.buffer))),
    )


def test_discrete_action_space_with_offset():
    agent = DQN("CartPole-v1", rlkit.make("dqn", "CartPole-v1", **SMALL).config)
    agent.action_offset = 5
    actions = agent.act(torch.zeros(4, 4), deterministic=True)
    assert ((actions >= 5) & (actions < 7)).all()


@pytest.mark.numerics
@pytest.mark.parametrize("options", [
    {},  # PER + double Q
    {"n_step": 3, "prioritized": False, "dueling": True, "normalize_obs": True, "tau": 0.3},
])
def test_interrupt_then_resume_equals_uninterrupted_run(tmp_path, monkeypatch, options):
    full = rlkit.make("dqn", "CartPole-v1", seed=1, n_envs=2, **SMALL, **options)
    full.learn(run_dir=tmp_path / "full")

    part = rlkit.make("dqn", "CartPole-v1", seed=1, n_envs=2, **SMALL, **options)
    calls = {"n": 0}
    original = part.update

    def update_then_sigint():
        calls["n"] += 1
        if calls["n"] == 7:  # Ctrl-C once training has started
            os.kill(os.getpid(), signal.SIGINT)
        return original()

    monkeypatch.setattr(part, "update", update_then_sigint)
    part.learn(run_dir=tmp_path / "part")
    assert 0 < part.global_step < full.global_step and part.n_updates > 0

    resumed = rlkit.load(tmp_path / "part")
    resumed.learn(run_dir=tmp_path / "part")
    assert resumed.global_step == full.global_step
    assert resumed.n_updates == full.n_updates
    for key, value in full.q_net.state_dict().items():
        torch.testing.assert_close(resumed.q_net.state_dict()[key], value, rtol=0, atol=0)
    strip = ("charts/SPS",)
    rows_full = [{k: v for k, v in r.items() if k not in strip}
                 for r in read_metrics(tmp_path / "full")]
    rows_part = [{k: v for k, v in r.items() if k not in strip}
                 for r in read_metrics(tmp_path / "part")]
    assert rows_part == rows_full



@pytest.mark.slow
def test_dqn_learns_cartpole():
    """PER + double Q, seed 0, 20k steps: deterministic eval return far above random (~20).

    Seeds 0, 1, 2 reached 351, 168 and 356 with these settings.
    """
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, eval_freq=0, train_freq=64,
                       learning_rate=2.3e-3, gradient_steps=32, exploration_fraction=0.3,
                       anneal_lr=True,
                       approximator={"hidden_sizes": [64, 64]})
    agent.learn(20_000)
    assert agent.last_eval["mean_return"] >= 150
