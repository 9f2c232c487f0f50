"""DQN: targets and losses by hand, update() and collect() on hand-made transitions (importance
weights, priorities, double Q, truncation), bad input, target updates, save/load, exact resume
and a learning test."""


import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.agents.dqn import (
    double_q_values,
    linear_schedule,
    max_q_values,
    q_loss,
    td_target,
)
from rlkit.approximators.heads import QNetwork
from rlkit.cli import main
from rlkit.config import ApproximatorConfig
from rlkit.core.prioritized import PrioritizedReplayBuffer
from rlkit.errors import ConfigError, RlkitError

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
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=3, **{**SMALL, "n_step": 1})
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


class OffsetBandit(gym.Env):
    """One-step episodes with actions {-1, 0} (``Discrete(2, start=-1)``): action 0 pays 1,
    action -1 pays 0, and any other action raises, so an agent that forgets the offset anywhere
    (collecting, evaluating, predicting) cannot pass unnoticed."""

    observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2, start=-1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        return np.zeros(1, np.float32), float(action == 0), True, False, {}


def test_discrete_action_space_with_offset(register_env):
    env_id = register_env("test/OffsetBandit-v0", OffsetBandit)
    agent = rlkit.make("dqn", env_id, seed=0, n_envs=2, learning_starts=16, train_freq=4,
                       batch_size=8, buffer_size=64, gradient_steps=2, eval_freq=0,
                       eval_episodes=2, approximator={"hidden_sizes": []})
    assert agent.action_offset == -1
    agent.learn(64)  # collect, update and a final evaluation, all on the env itself
    assert agent.global_step == 64 and agent.n_updates > 0
    assert agent.last_eval["mean_length"] == 1.0
    # The buffer holds 0-based action indices, and the reward the env paid for each: index 1
    # is env action 0, the one that pays 1 (one-step episodes: every other step autoresets).
    n = len(agent.buffer)
    assert n == 32
    actions, rewards = agent.buffer.actions[:n], agent.buffer.rewards[:n]
    assert set(actions.tolist()) == {0, 1}
    np.testing.assert_array_equal(rewards, (actions == 1).astype(np.float32))
    np.testing.assert_array_equal(agent.buffer.terminated[:n], 1.0)
    # predict returns env actions: Q(s, .) = b (obs 0); the argmax index plus the offset
    obs = np.zeros((3, 1), np.float32)
    for bias, expected in (([0.0, 1.0], 0), ([1.0, 0.0], -1)):
        with torch.no_grad():
            agent.q_net.head.q.bias.copy_(torch.tensor(bias))
        np.testing.assert_array_equal(agent.predict(obs), [expected] * 3)
        assert agent.predict(obs[0]) == expected
    sampled = agent.predict(np.zeros((64, 1), np.float32), deterministic=False)
    assert set(sampled.tolist()) <= {-1, 0}


# --- update() and collect() on hand-made transitions ------------------------------------------
# A DQN whose Q network has no hidden layer, Q(s, .) = W s + b (W: 2 x 1, b: 2), on 1-d
# observations; its parameters are set by hand, transitions are put into its buffer by hand,
# and the loss, gradient and priorities of update() are compared with numbers worked out here.
# mse loss l(d) = d^2 and no gradient clipping keep the gradient 2 w (Q - y) / n; PER with
# alpha = 1 gives p = |delta| + eps. The gradient of the last gradient step stays in the
# parameters' .grad after update() (FlatOptimizer zeroes it before a step, not after).
LINEAR = dict(seed=0, buffer_size=16, batch_size=4, learning_starts=0, gradient_steps=1,
              target_update_interval=10_000, loss="mse", max_grad_norm=None, gamma=0.5,
              per_alpha=1.0, per_beta=1.0, per_eps=1e-6, eval_freq=0,
              approximator={"hidden_sizes": []})


def _linear_dqn(env_id, **overrides):
    """A DQN agent as above, ready to train: past learning_starts, no target update due."""
    agent = rlkit.make("dqn", env_id, **{**LINEAR, **overrides})
    agent.global_step = agent._collect_start = 1
    return agent


def _set_q(net, weight, bias):
    with torch.no_grad():
        net.head.q.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        net.head.q.bias.copy_(torch.tensor(bias, dtype=torch.float32))


def _add(agent, obs, actions, rewards, next_obs, terminated):
    """Store transitions with scalar observations."""
    def column(x):
        return np.asarray(x, np.float32)[:, None]

    agent.buffer.add(column(obs), np.asarray(actions, np.int64),
                     np.asarray(rewards, np.float32), column(next_obs),
                     np.asarray(terminated, np.float32))


def _grads(agent):
    head = agent.q_net.head.q
    return head.weight.grad.numpy().ravel(), head.bias.grad.numpy()


def test_update_applies_importance_weights(bandit, monkeypatch):
    """PER: the step minimizes E[w_i (Q(s_i, a_i) - y_i)^2] with w_i = (p_i / min_j p_j)^-beta.

    Q = 0 everywhere, and every transition is (s = 1, a = 0, r = 1, terminal), so y = 1:
    L = mean_i w_i and dL/dW_00 = dL/db_0 = -2 mean_i w_i over the drawn batch. Priorities
    1, 3, 3, 3 (alpha = 1) give weights 1, 1/3, 1/3, 1/3 (beta = 1); the draw from the last
    of the 4 segments of the total priority 10, [7.5, 10), always hits the 4th transition, so
    some w_i is 1/3 and the unweighted loss (1) and gradient (-2) differ from the right ones.
    """
    agent = _linear_dqn(bandit)
    for net in (agent.q_net, agent.q_target):
        _set_q(net, [[0.0], [0.0]], [0.0, 0.0])
    _add(agent, [1] * 4, [0] * 4, [1] * 4, [0] * 4, [1] * 4)
    agent.buffer.update_priorities(np.arange(4), np.array([1.0, 3.0, 3.0, 3.0]))
    drawn = []
    sample = agent.buffer.sample

    def recording_sample(*args, **kwargs):
        drawn.append(sample(*args, **kwargs))
        return drawn[-1]

    monkeypatch.setattr(agent.buffer, "sample", recording_sample)
    out = agent.update()
    (batch,) = drawn
    w = np.where(batch.indices == 0, 1.0, 1.0 / 3.0)
    assert batch.indices[-1] == 3 and w.min() < 1.0
    np.testing.assert_allclose(batch.weights.numpy(), w, rtol=1e-5)
    assert float(out["losses/td_loss"]) == pytest.approx(w.mean(), rel=1e-5)
    weight_grad, bias_grad = _grads(agent)
    np.testing.assert_allclose(weight_grad, [-2 * w.mean(), 0.0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bias_grad, [-2 * w.mean(), 0.0], rtol=1e-5, atol=1e-7)


def test_update_writes_new_priorities(bandit):
    """After the step, the drawn transitions' priorities are (|Q(s, a) - y| + eps)^alpha with
    that step's TD errors; alpha = 0.5 here. Q = 0 and terminal transitions: |delta| = r, so
    rewards 4, 9, 16, 25 give priorities 2, 3, 4, 5. The four new transitions all enter with
    priority 1, and a batch of 4 then draws each of them exactly once."""
    agent = _linear_dqn(bandit, per_alpha=0.5)
    for net in (agent.q_net, agent.q_target):
        _set_q(net, [[0.0], [0.0]], [0.0, 0.0])
    _add(agent, [1] * 4, [0, 1, 0, 1], [4, 9, 16, 25], [0] * 4, [1] * 4)
    np.testing.assert_array_equal(agent.buffer.priorities(np.arange(4)), 1.0)
    agent.update()
    np.testing.assert_allclose(agent.buffer.priorities(np.arange(4)), [2, 3, 4, 5], rtol=1e-6)
    assert agent.buffer.max_priority == pytest.approx(5.0)


@pytest.mark.parametrize("prioritized", [True, False])
@pytest.mark.parametrize("double_q, y", [(True, 1.0), (False, 2.5)])
def test_update_uses_double_q_targets(bandit, prioritized, double_q, y):
    """At s' = 1 the online net, Q(s', .) = (1, -1), picks action 0 and the target net,
    Q_target(s', .) = (2, 5), says 2 for it: the double-Q value of s' is 2, the DQN value
    max_b Q_target(s', b) is 5. With r = 0, gamma = 0.5 and Q(s = 0, a = 0) = b_0 = 0,
    y = 1 (double Q) or 2.5 (DQN): L = y^2, dL/db_0 = -2 y (all transitions alike, all w = 1).
    """
    agent = _linear_dqn(bandit, prioritized=prioritized, double_q=double_q)
    _set_q(agent.q_net, [[1.0], [-1.0]], [0.0, 0.0])
    _set_q(agent.q_target, [[2.0], [5.0]], [0.0, 0.0])
    _add(agent, [0] * 4, [0] * 4, [0] * 4, [1] * 4, [0] * 4)
    out = agent.update()
    assert float(out["losses/td_loss"]) == pytest.approx(y * y, rel=1e-6)
    weight_grad, bias_grad = _grads(agent)
    np.testing.assert_allclose(bias_grad, [-2 * y, 0.0], rtol=1e-6)
    np.testing.assert_allclose(weight_grad, [0.0, 0.0])  # s = 0
    if prioritized:
        np.testing.assert_allclose(agent.buffer.priorities(np.arange(4)), y, rtol=1e-5)


# Counter env, reward 1 per step, obs = steps so far; 3-step episodes that end either in a
# time-limit truncation or in a termination; gamma = 0.5. Per stored transition (two episodes,
# the same three rows each): obs, G (discounted reward sum), next_obs, bootstrap discount.
COUNTER_ROWS = {
    1: dict(obs=[0, 1, 2], rewards=[1, 1, 1], next_obs=[1, 2, 3], discounts=[0.5, 0.5, 0.5]),
    # n = 3: every transition runs to the episode's end at obs 3:
    # G = 1 + .5 + .25, 1 + .5, 1 with discounts .5^3, .5^2, .5
    3: dict(obs=[0, 1, 2], rewards=[1.75, 1.5, 1], next_obs=[3, 3, 3],
            discounts=[0.125, 0.25, 0.5]),
}
# Priorities after one update with Q = 6 everywhere: |6 - (G + discount (1 - terminated) 6)|.
# A truncation bootstraps from V(final obs) = 6; a termination does not.
COUNTER_PRIORITIES = {
    (1, "truncated"): [2, 2, 2],  # 6 - (1 + 3)
    (1, "terminated"): [2, 2, 5],  # the last step: 6 - 1
    (3, "truncated"): [3.5, 3, 2],  # 6 - (1.75 + .75), 6 - (1.5 + 1.5), 6 - (1 + 3)
    (3, "terminated"): [4.25, 4.5, 5],  # 6 - 1.75, 6 - 1.5, 6 - 1
}


@pytest.mark.parametrize("n_step", [1, 3])
@pytest.mark.parametrize("end", ["truncated", "terminated"])
def test_collect_stores_truncation_as_non_terminal(counter, n_step, end):
    """A time limit is no terminal state: collect() stores terminated = 0 with the true final
    observation as next_obs, and update() bootstraps from it (1-step and n-step paths)."""
    if end == "truncated":
        env_id = counter(terminate_at=100, max_steps=3)
    else:
        env_id = counter(terminate_at=3, max_steps=100)
    agent = rlkit.make("dqn", env_id, **{**LINEAR, "n_envs": 1, "train_freq": 8,
                                         "batch_size": 6, "n_step": n_step})
    for net in (agent.q_net, agent.q_target):
        _set_q(net, [[0.0], [0.0]], [6.0, 6.0])
    agent.runner = agent.make_runner()
    agent.end_step = 8
    agent.collect()  # 8 steps: episodes on steps 1-3 and 5-7; steps 4 and 8 only reset
    assert agent.global_step == 8
    buffer, rows = agent.buffer, COUNTER_ROWS[n_step]
    assert len(buffer) == 6
    np.testing.assert_array_equal(buffer.obs[:6, 0], rows["obs"] * 2)
    np.testing.assert_array_equal(buffer.next_obs[:6, 0], rows["next_obs"] * 2)
    np.testing.assert_allclose(buffer.rewards[:6], rows["rewards"] * 2)
    if n_step > 1:
        np.testing.assert_allclose(buffer.discounts[:6], rows["discounts"] * 2)
    terminal = [0.0, 0.0, 1.0] if n_step == 1 else [1.0, 1.0, 1.0]
    expected = [0.0] * 3 if end == "truncated" else terminal
    np.testing.assert_array_equal(buffer.terminated[:6], expected * 2)

    # one gradient step on a batch of all 6 (equal priorities: each drawn once)
    agent.update()
    assert agent.n_updates == 1
    np.testing.assert_allclose(buffer.priorities(np.arange(6)),
                               COUNTER_PRIORITIES[n_step, end] * 2, rtol=1e-5)


@pytest.mark.numerics
@pytest.mark.parametrize("env_id, options", [
    ("CartPole-v1", {}),  # PER + double Q
    ("CartPole-v1", {"n_step": 3, "prioritized": False, "dueling": True, "normalize_obs": True,
                     "tau": 0.3}),
    ("rlkit/PixelGrid-v0", {"approximator": {"type": "cnn", "conv_layers": [[8, 4, 4]],
                                             "conv_dense": 32}}),
], ids=["mlp", "mlp-nstep-dueling-normalized", "cnn"])
def test_interrupt_then_resume_equals_uninterrupted_run(interrupt_and_resume, env_id, options):
    """Ctrl-C once training has started (the 7th update), then --resume: the replay buffer,
    n-step queue, target network and counters come back, and every metrics row, weight and
    optimizer state equals the uninterrupted run's bit for bit (the fixture's checks)."""
    full, resumed = interrupt_and_resume(
        lambda: rlkit.make("dqn", env_id, seed=1, n_envs=2, **{**SMALL, **options}), at=7)
    assert resumed.n_updates == full.n_updates



@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dqn_learns_cartpole(learns, seed):
    _learns_cartpole(learns, seed, fast_paths=True)


@pytest.mark.slow
def test_dqn_learns_cartpole_without_fast_paths(learns):
    _learns_cartpole(learns, 0, fast_paths=False)


def _learns_cartpole(learns, seed, fast_paths):
    """The shipped CartPole config (double Q, PER, dueling, 3-step returns), budget lowered
    from 100k to 50k steps (~50 s). Measured 2026-11-26 for seeds 0 / 1 / 2: untrained
    11.0 / 9.3 / 18.4, trained 500 / 500 / 500 (at 30k: 468 / 338 / 469). With rlkit.fast
    off on seed 0 only: the plain runs of seeds 1-2 (both passed on 2026-11-26) cost CI two
    minutes and test what tests/fast/ checks against torch at float32 tolerance."""
    learns("dqn", "CartPole-v1", seed=seed, bar=400, budget=50_000, fast_paths=fast_paths)


# --- every switch, through update() and the agent's own networks ------------------------------
@pytest.mark.parametrize("prioritized", [True, False])
def test_prioritized_key_picks_the_replay(bandit, prioritized):
    """PER on: a sum-tree buffer whose draws carry importance weights (and beta is annealed);
    off: uniform draws, no weights. The effect of the weights on the gradient is checked by
    test_update_applies_importance_weights."""
    agent = _linear_dqn(bandit, prioritized=prioritized)
    assert isinstance(agent.buffer, PrioritizedReplayBuffer) == prioritized
    _add(agent, [1] * 4, [0] * 4, [1] * 4, [0] * 4, [1] * 4)
    out = agent.update()
    assert ("charts/per_beta" in out) == prioritized


@pytest.mark.parametrize("loss, td_loss, grad", [("mse", 9.0, -6.0), ("huber", 2.5, -1.0)])
def test_loss_key_picks_huber_or_squared_error(bandit, loss, td_loss, grad):
    """Q = 0 and terminal transitions with r = 3: delta = Q - y = -3. Squared error: l = 9,
    dl/db_0 = 2 delta = -6. Huber (threshold 1): l = |delta| - 1/2 = 2.5, dl/db_0 =
    sign(delta) = -1. Every transition alike, so the batch means are these."""
    agent = _linear_dqn(bandit, loss=loss, prioritized=False)
    for net in (agent.q_net, agent.q_target):
        _set_q(net, [[0.0], [0.0]], [0.0, 0.0])
    _add(agent, [1] * 4, [0] * 4, [3] * 4, [0] * 4, [1] * 4)
    out = agent.update()
    assert float(out["losses/td_loss"]) == pytest.approx(td_loss, rel=1e-6)
    weight_grad, bias_grad = _grads(agent)
    np.testing.assert_allclose(bias_grad, [grad, 0.0], rtol=1e-6)
    np.testing.assert_allclose(weight_grad, [grad, 0.0], rtol=1e-6)  # s = 1


@pytest.mark.parametrize("max_grad_norm, grad", [(None, -6.0), (3.0, -3.0 / np.sqrt(2))])
def test_max_grad_norm_clips_the_update_gradient(bandit, max_grad_norm, grad):
    """As above with the squared error: g = (dW_00, db_0) = (-6, -6), ||g|| = 6 sqrt(2). A
    bound of 3 scales g by 3 / ||g|| before the step: each becomes -3 / sqrt(2)."""
    agent = _linear_dqn(bandit, max_grad_norm=max_grad_norm, prioritized=False)
    for net in (agent.q_net, agent.q_target):
        _set_q(net, [[0.0], [0.0]], [0.0, 0.0])
    _add(agent, [1] * 4, [0] * 4, [3] * 4, [0] * 4, [1] * 4)
    agent.update()
    weight_grad, bias_grad = _grads(agent)
    np.testing.assert_allclose(bias_grad, [grad, 0.0], rtol=1e-5)
    np.testing.assert_allclose(weight_grad, [grad, 0.0], rtol=1e-5)


@pytest.mark.parametrize("dueling", [True, False])
def test_dueling_head_is_v_plus_centred_advantages(bandit, dueling):
    """Dueling: Q(s, a) = V(s) + A(s, a) - mean_b A(s, b). With V = 10 and A = (1, 3) at
    s = 0: Q = (9, 11). Without it the head is a single linear layer, Q = b."""
    agent = _linear_dqn(bandit, dueling=dueling)
    head = agent.q_net.head
    with torch.no_grad():
        for layer in head.children():
            layer.weight.zero_()
        if dueling:
            head.value.bias.fill_(10.0)
            head.advantage.bias.copy_(torch.tensor([1.0, 3.0]))
        else:
            head.q.bias.copy_(torch.tensor([1.0, 3.0]))
        q = agent.q_net(torch.zeros(1, 1))
    np.testing.assert_allclose(q.numpy(), [[9.0, 11.0]] if dueling else [[1.0, 3.0]])
    assert agent.predict(np.zeros(1, np.float32)) == 1


def test_max_q_values_is_per_row():
    q = torch.tensor([[1.0, 2.0], [5.0, 0.0]])
    assert max_q_values(q).tolist() == [2.0, 5.0]


@pytest.mark.parametrize("n_step", [1, 3])
def test_checkpoint_modules_and_nstep_state(n_step):
    agent = rlkit.make("dqn", "CartPole-v1", n_step=n_step, eval_freq=0)
    assert set(agent.modules()) == {"q_net", "q_target", "optimizer"}
    state = agent.extra_state()
    assert (state["nstep"] is None) == (n_step == 1)
    # a checkpoint without n-step state (or from a 1-step agent) loads into either
    agent.load_extra_state({**state, "nstep": None})
    other = rlkit.make("dqn", "CartPole-v1", n_step=4 - n_step, eval_freq=0)
    agent.load_extra_state({**state, "nstep": other.extra_state()["nstep"]})


@pytest.mark.parametrize("fresh", ["env state not restorable", "checkpoint without episodes"])
def test_a_resume_with_fresh_episodes_drops_the_pending_n_step_transitions(
        tmp_path, monkeypatch, capsys, counter, fresh):
    """Checkpointed 4 steps into a Counter episode (obs = t), with the transitions from obs 2
    and 3 pending; the resumed run starts a new episode at obs 0. Those two are dropped, not
    completed with the new episode's rewards: every stored transition runs 3 steps on within
    one episode (next_obs = obs + 3, G = 1 + .5 + .25)."""
    from rlkit.core import env_state

    env_id = counter(terminate_at=100, max_steps=100)
    options = {**LINEAR, "n_envs": 1, "n_step": 3, "train_freq": 4, "learning_starts": 1000,
               "eval_episodes": 1}
    agent = rlkit.make("dqn", env_id, **options)
    agent.learn(4, run_dir=tmp_path)
    assert len(agent.buffer) == 2 and agent.nstep.length.tolist() == [2]
    if fresh == "env state not restorable":
        monkeypatch.setattr(env_state, "restore", lambda env, state: False)
    else:  # as train() writes it after an env failure: the runner dropped
        agent.runner = None
        agent.save(tmp_path / "checkpoint.pt")
    resumed = rlkit.load(tmp_path)
    assert resumed.nstep.length.tolist() == [2]  # the checkpoint holds them
    capsys.readouterr()
    resumed.learn(8)
    assert ("resuming with fresh episodes" in capsys.readouterr().out) == (
        fresh == "env state not restorable")
    buffer = resumed.buffer
    assert len(buffer) == 2 + 6  # the new episode's from obs 0-5 (6 and 7 still pending)
    np.testing.assert_array_equal(buffer.obs[:8, 0], [0, 1, 0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(buffer.next_obs[:8, 0] - buffer.obs[:8, 0], [3] * 8)
    np.testing.assert_allclose(buffer.rewards[:8], [1.75] * 8)


def test_a_resume_with_fresh_episodes_draws_new_thompson_weights(tmp_path):
    """Thompson exploration draws each env's weights at its episode starts: a resume that
    starts every env on a new episode draws them all anew."""
    agent = rlkit.make("dqn", "rlkit/Chain-v0", seed=0, n_envs=2, learning_starts=1000,
                       eval_episodes=1, eval_freq=0)
    agent.learn(4, run_dir=tmp_path)
    assert not agent.redraw.any()  # 4 steps into both envs' first episodes
    agent.runner = None
    agent.save(tmp_path / "checkpoint.pt")
    resumed = rlkit.load(tmp_path)
    assert not resumed.redraw.any()
    resumed.on_fresh_episodes()
    assert resumed.redraw.all()


def test_act_explores_with_the_agents_generator_and_is_greedy_when_deterministic():
    """Before training epsilon is exploration_initial_eps = 0.5: act() explores half the time
    with uniformly random actions, both drawn from the agent's generator (not torch's global
    one); deterministic=True takes argmax Q."""
    obs = torch.zeros(200, 4)
    draws = []
    for global_seed in (1, 2):
        agent = rlkit.make("dqn", "CartPole-v1", seed=0, exploration_initial_eps=0.5,
                           eval_freq=0)
        with torch.random.fork_rng():
            torch.manual_seed(global_seed)
            draws.append(agent.act(obs))
    assert torch.equal(draws[0], draws[1])
    assert set(draws[0].tolist()) == {0, 1}
    greedy = agent.q_net(obs).argmax(dim=1)
    assert torch.equal(agent.act(obs, deterministic=True), greedy)


def test_explore_is_epsilon_greedy_per_env():
    """A stand-in greedy policy always picks action 1. eps 0: all greedy. eps 0.5: about half
    the envs explore, each drawing its own uniform action, so action 0 has frequency 1/4.
    eps 1: frequency 1/2 (no greedy call at all)."""
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, eval_freq=0)
    calls = []

    def greedy(obs):
        calls.append(len(obs))
        return np.ones(len(obs), np.int64)

    obs = np.zeros((4000, 4), np.float32)
    assert agent._explore(obs, 0.0, greedy).tolist() == [1] * 4000
    zeros = np.count_nonzero(agent._explore(obs, 0.5, greedy) == 0)
    assert 800 < zeros < 1200
    calls.clear()
    zeros = np.count_nonzero(agent._explore(obs, 1.0, greedy) == 0)
    assert 1800 < zeros < 2200 and calls == []


def test_collect_steps_to_the_next_multiple_of_train_freq_within_the_budget():
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=1, train_freq=4,
                       learning_starts=1000, eval_freq=0)
    agent.runner = agent.make_runner()
    agent.global_step, agent.end_step = 1, 100
    agent.collect()
    assert agent.global_step == 4  # 3 steps to the round at step 4
    agent.end_step = 5
    agent.collect()
    assert agent.global_step == 5  # the budget leaves 1 step of the next 4


def test_collect_explores_fully_until_learning_starts(monkeypatch):
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=1, train_freq=4, learning_starts=2,
                       exploration_initial_eps=0.3, exploration_final_eps=0.3, eval_freq=0)
    agent.runner = agent.make_runner()
    agent.end_step = 100
    epsilons, original = [], agent._explore
    monkeypatch.setattr(agent, "_explore",
                        lambda obs, eps, greedy, masks: epsilons.append(eps)
                        or original(obs, eps, greedy, masks))
    agent.collect()
    assert epsilons == [1.0, 1.0, 0.3, 0.3]  # global steps 0 and 1 are before learning_starts


def test_gradient_steps_minus_one_trains_once_per_env_step(monkeypatch):
    """train_freq 4 vector steps of 2 envs: 8 env steps, so 8 gradient steps."""
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=2, train_freq=4, gradient_steps=-1,
                       learning_starts=0, batch_size=4, prioritized=False, n_step=1, eval_freq=0)
    agent.runner = agent.make_runner()
    agent.end_step = 100
    agent.collect()
    calls, original = [], agent._gradient_step
    monkeypatch.setattr(agent, "_gradient_step", lambda *args: calls.append(1) or original(*args))
    agent.update()
    assert len(calls) == 8


@pytest.mark.parametrize("anneal", [True, False])
def test_update_metrics_learning_rate_clip_and_count(monkeypatch, anneal):
    """After 4 of 16 steps: progress_remaining 0.75 (annealed lr 0.0075), epsilon
    1 + (0.1 - 1) * min(1, 0.25 / 0.5) = 0.55; 3 gradient steps, each clipped at 0.7."""
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=1, train_freq=4, gradient_steps=3,
                       learning_starts=0, batch_size=4, learning_rate=0.01, anneal_lr=anneal,
                       max_grad_norm=0.7, prioritized=False, n_step=1, eval_freq=0,
                       exploration_initial_eps=1.0, exploration_final_eps=0.1,
                       exploration_fraction=0.5)
    agent.runner = agent.make_runner()
    agent.end_step = 16
    agent.collect()
    clips, step = [], agent.optimizer.step
    monkeypatch.setattr(agent.optimizer, "step",
                        lambda max_grad_norm=None: clips.append(max_grad_norm) or step(
                            max_grad_norm=max_grad_norm))
    out = agent.update()
    assert set(out) == {"charts/epsilon", "charts/learning_rate", "losses/td_loss",
                        "losses/q_values"}
    assert out["charts/learning_rate"] == pytest.approx(0.01 * (0.75 if anneal else 1.0))
    assert out["charts/epsilon"] == pytest.approx(0.55)
    assert clips == [0.7] * 3 and agent.n_updates == 3


def test_no_update_until_past_learning_starts():
    """global_step 4 = learning_starts (and 4 >= batch_size stored): still no gradient step."""
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=1, train_freq=4, learning_starts=4,
                       batch_size=4, prioritized=False, n_step=1, eval_freq=0,
                       exploration_initial_eps=1.0)
    agent.runner = agent.make_runner()
    agent.end_step = 100
    agent.collect()
    assert agent.global_step == 4 and len(agent.buffer) == 4
    assert agent.update() == {"charts/epsilon": agent.epsilon}
    assert agent.n_updates == 0


def test_prioritized_beta_anneals_towards_one(monkeypatch):
    """per_beta 0.4 after 4 of 16 steps: beta = 0.4 + (1 - 0.4) * 0.25 = 0.55, reported and
    handed to every draw."""
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, n_envs=1, train_freq=4, gradient_steps=2,
                       learning_starts=0, batch_size=4, prioritized=True, per_beta=0.4,
                       n_step=1, eval_freq=0)
    agent.runner = agent.make_runner()
    agent.end_step = 16
    agent.collect()
    betas, sample = [], agent.buffer.sample
    monkeypatch.setattr(agent.buffer, "sample", lambda *args, **kwargs: betas.append(
        kwargs.get("beta")) or sample(*args, **kwargs))
    out = agent.update()
    assert out["charts/per_beta"] == pytest.approx(0.55)
    assert betas == [pytest.approx(0.55)] * 2


def test_q_loss_defaults_to_huber():
    q, y = torch.tensor([0.0]), torch.tensor([3.0])  # |Q - y| = 3: huber 3 - 0.5, mse 9
    assert q_loss(q, y, None).item() == pytest.approx(2.5)


def test_target_update_counts_intervals_crossed_from_a_mid_interval_start():
    """Interval 64, tau 0.5: a collect from step 32 to 64 crosses one boundary (64 // 64 -
    32 // 64 = 1), so the target moves halfway to the online net."""
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, **SMALL)
    online = next(agent.q_net.head.parameters())
    target = next(agent.q_target.head.parameters())
    agent.config.tau = 0.5
    before = target.detach().clone()
    with torch.no_grad():
        online.add_(4.0)
    agent._collect_start, agent.global_step = 32, 64
    agent._update_target()
    torch.testing.assert_close(target, before + 0.5 * 4.0)


def test_setup_builds_what_the_config_and_the_spaces_ask_for():
    """Dueling head, Adam's eps, PER's eps, n-step from n_step=2 (with stored discounts), a
    frozen target network, and buffer dtypes per observation space (float32 Box, uint8 Box,
    integer ids for Discrete) in both the replay buffer and the n-step accumulator."""
    from rlkit.approximators.heads import DuelingQHead

    agent = rlkit.make("dqn", "CartPole-v1", seed=0, **{
        **SMALL, "dueling": True, "adam_eps": 1e-3, "prioritized": True, "per_eps": 0.25,
        "n_step": 2})
    assert isinstance(agent.q_net.head, DuelingQHead)
    assert agent.optimizer.param_groups[0]["eps"] == 1e-3
    assert agent.buffer.eps == 0.25
    assert agent.nstep is not None and agent.buffer.discounts is not None
    assert not any(p.requires_grad for p in agent.q_target.parameters())
    spaces = [(agent.observation_space, np.float32), (gym.spaces.Discrete(5), np.int64),
              (gym.spaces.Box(0, 255, (4,), np.uint8), np.uint8)]
    for space, dtype in spaces:
        agent.input_space = space
        agent.setup()
        assert agent.buffer.obs.dtype == dtype and agent.nstep.obs.dtype == dtype


def test_update_before_any_collect_only_reports_epsilon():
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, **SMALL)
    assert agent.update() == {"charts/epsilon": 1.0}


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dqn_with_a_linear_fourier_q_function_learns_mountain_car(learns, seed):
    """Q(s, .) linear in a Fourier basis of order 3 (16 features of position and velocity)
    on the shipped MountainCar-v0 entry: -150 or better (issue 14's bar). 2026-11-26, seeds
    0-4: -134.6, -131.6, -120.4, -121.0, -134.0 (about 50 s each; the entry's 1-step returns
    then, 3-step since 2026-11-27, when seeds 0-2 passed again); untrained: -200."""
    learns("dqn", "MountainCar-v0", seed=seed, bar=-150,
           approximator={"type": "linear", "features": "fourier", "order": 3})


# --- bayes_linear Q head and Thompson exploration (BDQN) -------------------------------------
def chain_agent(**overrides) -> rlkit.agents.dqn.DQN:
    """DQN on a 3-state chain with one-hot features (the linear raw torso: no weights to train,
    the posterior is the whole learner), a nearly flat prior and tight noise."""
    settings = dict(q_head="bayes_linear", approximator={"type": "linear"}, gamma=0.5,
                    prior_std=1.0, noise_std=1e-3, prioritized=False, double_q=False,
                    buffer_size=64, batch_size=4, env_kwargs={"n": 3})
    return rlkit.make("dqn", "rlkit/Chain-v0", seed=0, **{**settings, **overrides})


def fill_chain(agent, terminal_only: bool = False) -> None:
    """Both actions from every state: s0 -> s1 -> s2, then s2 ends the episode with reward 1.
    ``terminal_only``: two terminal transitions from s0 with action 1, rewards 1 and 3."""
    eye = np.eye(3, dtype=np.float32)
    if terminal_only:
        agent.buffer.add(eye[[0, 0]], np.array([1, 1]), np.array([1.0, 3.0]), eye[[1, 1]],
                         np.array([1.0, 1.0]))
        return
    states, next_states = [0, 0, 1, 1, 2, 2], [1, 1, 2, 2, 2, 2]
    agent.buffer.add(eye[states], np.array([0, 1] * 3), np.array([0, 0, 0, 0, 1.0, 1.0]),
                     eye[next_states], np.array([0, 0, 0, 0, 1.0, 1.0]))


def test_posterior_refit_is_the_closed_form_on_terminal_targets():
    """phi = [one-hot s0, 1] = v twice, targets 1 and 3 (terminal: y = r), sigma_n = sigma_p =
    1: A = I + 2 v v^T has A v = (1 + 2 |v|^2) v = 5 v, so mu = A^-1 Phi^T y = A^-1 (4 v) =
    0.8 v and Q(s0, 1) = mu^T v = 1.6; action 0 has no data: mu = 0, Q = 0."""
    agent = chain_agent(noise_std=1.0)
    fill_chain(agent, terminal_only=True)
    agent.refit_posterior()
    torch.testing.assert_close(agent.posterior.mean[1], torch.tensor([0.8, 0, 0, 0.8]))
    torch.testing.assert_close(agent.posterior.mean[0], torch.zeros(4))
    q = agent.q_net(torch.eye(3)[:1])  # the head holds the posterior mean
    torch.testing.assert_close(q, torch.tensor([[0.0, 1.6]]))
    assert agent.posterior_step == agent.global_step


@pytest.mark.parametrize("sweeps, values", [
    (1, [0.0, 0.0, 1.0]),  # one backup from the prior mean 0: only the paying state is known
    (3, [0.25, 0.5, 1.0]),  # three: Q(s) = gamma^(2 - s) with gamma = 0.5, both actions
])
def test_posterior_sweeps_carry_values_back_along_the_chain(sweeps, values):
    agent = chain_agent(posterior_sweeps=sweeps)
    fill_chain(agent)
    agent.refit_posterior()
    q = agent.q_net(torch.eye(3))
    torch.testing.assert_close(q, torch.tensor(values).unsqueeze(1).expand(3, 2),
                               atol=1e-2, rtol=0)


def test_thompson_draws_one_weight_set_per_env_and_redraws_at_episode_ends():
    """Before any data every env's weights are a prior draw, so the envs act differently where
    epsilon-greedy on the (zero) posterior mean would all take action 0; an env whose episode
    ends gets new weights, the others keep theirs."""
    agent = rlkit.make("dqn", "rlkit/Chain-v0", seed=0, n_envs=16, learning_starts=0,
                       train_freq=1, env_kwargs={"n": 3, "max_steps": 2})
    assert agent.thompson and agent.epsilon == 0.0
    agent.runner = agent.make_runner()
    agent.end_step = 10_000
    agent.collect()  # one vector step: the first actions of every env
    first_actions = agent.buffer.actions[:16]
    assert 0 < first_actions.sum() < 16
    weights = agent.thompson_weights.clone()
    assert not agent.redraw.any()
    agent.collect()  # step 2 truncates every episode: all redraw before the next action
    assert agent.redraw.all()
    agent.collect()
    assert not torch.equal(agent.thompson_weights, weights)

    greedy = rlkit.make("dqn", "rlkit/Chain-v0", seed=0, n_envs=16, learning_starts=0,
                        train_freq=1, exploration="epsilon_greedy", exploration_initial_eps=0.0,
                        exploration_final_eps=0.0, env_kwargs={"n": 3})
    greedy.runner, greedy.end_step = greedy.make_runner(), 10_000
    greedy.collect()
    assert (greedy.buffer.actions[:16] == 0).all()


@pytest.mark.parametrize("override, message", [
    ({"exploration": "thompson"}, "q_head: bayes_linear"),
    ({"q_head": "bayes_linear", "dueling": True}, "dueling: false"),
    ({"posterior_sweeps": 0}, "posterior_sweeps"),
    ({"noise_std": 0.0}, "noise_std"),
])
def test_bayes_config_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        rlkit.make("dqn", "CartPole-v1", seed=0, **override)


def test_thompson_run_resumes_bit_identically(interrupt_and_resume):
    """The posterior, each env's draw and the redraw flags travel in the checkpoint (the Chain
    entry's q_head: bayes_linear), and the posterior's Cholesky solves get their operands as in
    the uninterrupted run (the fixture's checks)."""
    small = dict(total_timesteps=1200, eval_freq=400, posterior_update_interval=200,
                 learning_starts=100, n_envs=2)
    full, resumed = interrupt_and_resume(
        lambda: rlkit.make("dqn", "rlkit/Chain-v0", seed=1, **small), at=80)
    assert resumed.posterior_step > 0
    torch.testing.assert_close(resumed.posterior.mean, full.posterior.mean, rtol=0, atol=0)
    torch.testing.assert_close(resumed.thompson_weights, full.thompson_weights, rtol=0, atol=0)
    for key, value in full.q_net.state_dict().items():
        torch.testing.assert_close(resumed.q_net.state_dict()[key], value, rtol=0, atol=0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thompson_dqn_walks_the_chain_where_epsilon_greedy_hardly_gets_there(learns, seed):
    """The shipped rlkit/Chain-v0 entry (N = 20, 20k steps, ~12 s): the greedy policy walks to
    the far end (0.82, the optimum), and the same entry with epsilon-greedy exploration and a
    plain linear head does not learn to: its greedy policy stays below the bar, and in
    training it reaches the far end not a tenth as often as Thompson sampling does (which,
    once it found it, walks there every episode). 2026-11-26, seeds 0-4: Thompson 0.82 on
    all five (the end reached in 230-565 training episodes); epsilon-greedy 0 of 5. Since
    DQN's MLP torso starts from torch's init (2026-12-07), epsilon-greedy reached the end
    twice in 20k steps on seed 4, so "never" became "hardly": seeds 0-9 in
    benchmarks/LEARNING.md."""
    thompson = learns("dqn", "rlkit/Chain-v0", seed=seed, bar=0.8)
    dithering = rlkit.make("dqn", "rlkit/Chain-v0", seed=seed, eval_freq=0,
                           exploration="epsilon_greedy", q_head="linear")
    dithering.learn()
    assert dithering.last_eval["mean_return"] < 0.8

    def far_end_visits(agent):
        return int((agent.buffer.rewards[: len(agent.buffer)] > 0.5).sum())

    assert far_end_visits(dithering) * 10 < far_end_visits(thompson)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thompson_dqn_learns_cartpole(learns, seed):
    """The shipped CartPole entry with the README's Thompson switches (a Bayesian linear head,
    no dueling), budget lowered from 100k to 60k (~75 s). At 40k it was 8 of 10 on seeds 0-9
    (seeds 7, 8: 466.9, 423.3; seed 8 never evaluated above 423 in those 40k steps); at 60k
    500 on all ten (benchmarks/LEARNING.md, 2026-12-07); at 100k, 500 on seeds 0-4 and 7-8."""
    learns("dqn", "CartPole-v1", seed=seed, bar=475, budget=60_000, q_head="bayes_linear",
           exploration="thompson", dueling=False)


@pytest.mark.parametrize("dueling", [False, True])
def test_q_network_starts_from_torchs_default_linear_init(dueling):
    """An MLP Q network starts as SB3's DQN does: torch's default Linear init, weights and
    biases uniform in +-1/sqrt(fan_in), in the torso and the head. The orthogonal init of the
    policy-gradient torsos (gain sqrt 2, zero biases) left plain DQN's greedy policy unstable on
    CartPole (see QNetwork.reset_parameters): its biases are 0 and its first layer's weights
    spread a third as wide."""
    torch.manual_seed(0)
    net = QNetwork(gym.spaces.Box(-1, 1, (4,)), 2,
                   ApproximatorConfig(hidden_sizes=[256, 256], activation="relu"), dueling)
    linears = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linears) == (4 if dueling else 3)
    for layer in linears:
        bound = layer.in_features ** -0.5
        for param in (layer.weight, layer.bias):
            assert param.abs().max() <= bound
        assert (layer.bias != 0).all()
        assert layer.weight.std().item() == pytest.approx(bound / 3 ** 0.5, rel=0.15)


def test_a_linear_q_function_and_a_bayesian_heads_torso_keep_their_own_init():
    """Only an MLP torso under a trained head takes torch's init: a linear Q function on
    Fourier features keeps the orthogonal head with zero biases that MountainCar's entry was
    tuned on, and the MLP torso under Thompson DQN's Bayesian head its orthogonal layers with
    zero biases (rlkit/Chain-v0's entry)."""
    net = QNetwork(gym.spaces.Box(-1, 1, (2,)), 3,
                   ApproximatorConfig(type="linear", features="fourier", order=3), False)
    assert (net.head.q.bias == 0).all()
    rows = net.head.q.weight @ net.head.q.weight.T  # orthogonal rows: W W^T = I
    torch.testing.assert_close(rows, torch.eye(3), atol=1e-5, rtol=0)
    thompson = QNetwork(gym.spaces.Box(-1, 1, (4,)), 2, ApproximatorConfig(hidden_sizes=[64]),
                        False, bayes=True)
    linears = [m for m in thompson.torso.modules() if isinstance(m, torch.nn.Linear)]
    assert linears and all((layer.bias == 0).all() for layer in linears)


@pytest.mark.parametrize("fast_paths", [True, False])
def test_plain_dqn_update_equals_sb3s_on_the_same_weights_and_minibatches(fast_paths):
    """rlkit's DQN (double Q, PER, n-step and dueling off) and SB3's DQN, given the same
    weights, the same replay contents and the same minibatch indices, end a training round of
    64 gradient steps with the same weights (float32 tolerance), the gradient norm clipped at
    0.5 (which it exceeds: the clip acts), the second round's rewards scaled by 300. Where
    ``rlkit compare`` finds the two apart on CartPole, the cause is then in neither update
    (issue 31: the collection was checked by hand, the seeds decide; README, "Plain DQN like
    for like")."""
    from stable_baselines3 import DQN as SB3DQN
    from torch import nn

    rounds, steps, batch = 2, 64, 32
    agent = rlkit.make("dqn", "CartPole-v1", seed=0, double_q=False, prioritized=False,
                       n_step=1, dueling=False, anneal_lr=False, learning_rate=1e-3,
                       batch_size=batch, gradient_steps=steps, max_grad_norm=0.5,
                       approximator={"hidden_sizes": [32, 32]}, fast_paths=fast_paths)
    sb3 = SB3DQN("MlpPolicy", gym.make("CartPole-v1"), learning_rate=1e-3, batch_size=batch,
                 learning_starts=0, gamma=0.99, policy_kwargs=dict(net_arch=[32, 32]),
                 max_grad_norm=0.5, device="cpu", seed=0)
    sb3._setup_learn(10_000)
    ours = [m for m in agent.q_net.modules() if isinstance(m, nn.Linear)]
    theirs = [m for m in sb3.q_net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for mine, other in zip(ours, theirs, strict=True):
            other.weight.copy_(mine.weight)
            other.bias.copy_(mine.bias)
    env, rng = gym.make("CartPole-v1"), np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    for _ in range(1000):  # random play; every step stored alike on both sides
        action = int(rng.integers(2))
        next_obs, reward, terminated, truncated, _ = env.step(action)
        agent.buffer.add(obs[None], np.array([action]), np.array([reward], np.float32),
                         next_obs[None], np.array([terminated]))
        sb3.replay_buffer.add(obs[None], next_obs[None], np.array([action]), np.array([reward]),
                              np.array([terminated or truncated]),
                              [{"TimeLimit.truncated": truncated and not terminated}])
        obs = env.reset()[0] if terminated or truncated else next_obs
    for round_ in range(rounds):
        if round_ == 1:  # large TD errors
            agent.buffer.rewards[:1000] *= 300
            sb3.replay_buffer.rewards[:1000] *= 300
        sb3.q_net_target.load_state_dict(sb3.q_net.state_dict())
        agent.q_target.load_state_dict(agent.q_net.state_dict())
        # rlkit draws a round's rows at once from agent.rng; SB3 gets the same rows in turn
        rows = np.random.default_rng(round_).integers(0, 1000, size=steps * batch)
        agent.rng = np.random.default_rng(round_)
        minibatches = iter(np.split(rows, steps))

        def sample(size, env=None, minibatches=minibatches):
            return sb3.replay_buffer._get_samples(next(minibatches), env)

        sb3.replay_buffer.sample = sample
        agent.global_step = agent._collect_start = 2000  # past learning_starts, no target sync
        agent.update()
        sb3.train(steps, batch)
        for mine, other in zip(ours, theirs, strict=True):
            torch.testing.assert_close(mine.weight, other.weight, rtol=1e-4, atol=1e-5)
            torch.testing.assert_close(mine.bias, other.bias, rtol=1e-4, atol=1e-5)
    assert any(mine.weight.grad.norm() > 0 for mine in ours)
