"""GAIL: the learned reward in place of the env's, the advantages recomputed from it, the
discriminator's step, every switch, and learning CartPole from 10 demonstrations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

import rlkit
from rlkit.core.buffers import gae_advantages
from rlkit.errors import ConfigError, RlkitError

SMALL = {"approximator": {"hidden_sizes": [16]}, "discriminator": {"hidden_sizes": [16]},
         "n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1, "disc_batch_size": 32,
         "anneal_lr": False, "bc_warm_start": 0}


def make_gail(demos=None, algo="gail", env_id="CartPole-v1", **overrides):
    return rlkit.make(algo, env_id, seed=0, demos=demos, **{**SMALL, **overrides})


def one_rollout(agent):
    agent.learn(agent.steps_per_collect)
    return agent


def test_the_env_reward_is_replaced_by_softplus_of_the_logit_over_its_running_std(
        cartpole_demos, monkeypatch):
    """r = -log(1 - D) = softplus(l), divided by sqrt(var + 1e-8) of every learned reward so
    far (not centred: all >= 0), and GAE is recomputed from it with V and the bootstrap as
    collected."""
    agent = make_gail(cartpole_demos)
    collected = {}
    update = agent.update

    def update_after_a_look():
        collected["last_values"] = agent.buffer.last_values.copy()
        return update()

    monkeypatch.setattr(agent, "update", update_after_a_look)
    one_rollout(agent)
    buffer = agent.buffer
    valid = buffer.valid.reshape(-1)
    with torch.no_grad():
        raw = F.softplus(agent.discriminator(agent.rollout_rows())).double().numpy()
    stats = agent.reward_stats
    assert float(stats.var) == pytest.approx(np.var(raw[valid]), rel=1e-3)  # RMS's prior: 1e-4
    expected = (raw / math.sqrt(float(stats.var) + 1e-8)).reshape(buffer.rewards.shape)
    np.testing.assert_allclose(buffer.rewards, expected, rtol=1e-5)
    assert (buffer.rewards >= 0).all() and not np.allclose(buffer.rewards, 1.0)  # not CartPole's
    assert np.abs(collected["last_values"]).min() > 0
    next_values = np.concatenate([buffer.values[1:], collected["last_values"][None]])
    advantages = gae_advantages(buffer.rewards, buffer.values, next_values, buffer.terminated,
                                buffer.terminated | buffer.truncated, agent.config.gamma,
                                agent.config.gae_lambda)
    np.testing.assert_allclose(buffer.advantages, advantages, rtol=1e-5, atol=1e-6)


def test_normalize_learned_reward_off_keeps_softplus_of_the_logit(cartpole_demos):
    agent = one_rollout(make_gail(cartpole_demos, normalize_learned_reward=False))
    with torch.no_grad():
        raw = F.softplus(agent.discriminator(agent.rollout_rows())).numpy()
    np.testing.assert_allclose(agent.buffer.rewards.reshape(-1), raw, rtol=1e-5)


def test_a_discriminator_step_raises_the_experts_logits_and_lowers_the_agents(cartpole_demos):
    agent = one_rollout(make_gail(cartpole_demos, disc_learning_rate=1e-2))
    expert, mine = agent.expert_rows()[:256], agent.rollout_rows()[:128]
    with torch.no_grad():
        before = agent.discriminator(expert).mean(), agent.discriminator(mine).mean()
    agent.discriminator_step(expert, mine)
    with torch.no_grad():
        after = agent.discriminator(expert).mean(), agent.discriminator(mine).mean()
    assert after[0] > before[0] and after[1] < before[1]


def test_disc_steps_and_disc_batch_size_set_the_discriminators_work(cartpole_demos,
                                                                   monkeypatch):
    agent = make_gail(cartpole_demos, disc_steps=3, disc_batch_size=17)
    sizes = []
    step = agent.discriminator_step
    monkeypatch.setattr(agent, "discriminator_step",
                        lambda e, a: (sizes.append((len(e), len(a))), step(e, a))[1])
    one_rollout(agent)
    assert sizes == [(17, 17)] * 3


@pytest.mark.parametrize("penalty", ["r1", "wgan_gp"])
def test_the_gradient_penalty_enters_the_discriminators_loss(cartpole_demos, penalty):
    def discriminator_after(weight):
        agent = one_rollout(make_gail(cartpole_demos, gradient_penalty=weight, penalty=penalty))
        return torch.cat([p.detach().ravel() for p in agent.discriminator.parameters()])

    assert not torch.allclose(discriminator_after(0.0), discriminator_after(10.0))


def test_the_penalty_key_picks_the_penalty(cartpole_demos):
    def discriminator_after(penalty):
        agent = one_rollout(make_gail(cartpole_demos, gradient_penalty=10.0, penalty=penalty))
        return torch.cat([p.detach().ravel() for p in agent.discriminator.parameters()])

    assert not torch.allclose(discriminator_after("r1"), discriminator_after("wgan_gp"))


def test_bc_warm_start_clones_the_demonstrations_first(cartpole_demos):
    def nll_after(steps):
        agent = make_gail(cartpole_demos, bc_warm_start=steps, n_epochs=1, learning_rate=1e-3)
        agent.learn(agent.steps_per_collect)
        obs = torch.as_tensor(agent.demos.obs)
        actions = torch.as_tensor(agent.demos.actions)
        with torch.no_grad():
            return float(-agent.policy.distribution(obs).log_prob(actions).mean()), agent

    cold, _ = nll_after(0)
    warm, agent = nll_after(300)
    assert warm < cold - 0.1 and agent.warm_started  # 0.47 against 0.69 (ln 2)


def test_the_warm_start_comes_before_the_first_rollout(cartpole_demos, monkeypatch):
    """The first rollout is the cloned policy's: when the first update begins, the policy
    that collected it (its stored log-probs are the policy's as it is) already imitates."""
    agent = make_gail(cartpole_demos, bc_warm_start=300)
    update, seen = agent.update, []
    demos = torch.as_tensor(agent.demos.obs), torch.as_tensor(agent.demos.actions)

    def update_after_a_look():
        batch = agent.buffer.get()
        with torch.no_grad():
            seen.append((batch.log_probs,
                         agent.policy.distribution(batch.obs).log_prob(batch.actions),
                         -agent.policy.distribution(demos[0]).log_prob(demos[1]).mean()))
        return update()

    monkeypatch.setattr(agent, "update", update_after_a_look)
    one_rollout(agent)
    stored, now, nll = seen[0]
    torch.testing.assert_close(stored, now)
    assert nll < 0.6  # cloned (ln 2 = 0.69 untrained; 0.47 after the 300 steps)


def test_anneal_lr_slows_the_discriminator_with_the_policy(cartpole_demos):
    for anneal, expected in ((True, 0.5), (False, 1.0)):
        agent = make_gail(cartpole_demos, anneal_lr=anneal, disc_learning_rate=1e-3)
        agent.learn(agent.steps_per_collect)
        agent.end_step, agent.global_step = 2 * agent.steps_per_collect, agent.steps_per_collect
        agent.collect()
        agent.global_step = agent.steps_per_collect
        agent.update()
        lr = agent.disc_optimizer.optimizer.param_groups[0]["lr"]
        assert lr == pytest.approx(1e-3 * expected)


def test_box_actions_reach_the_discriminator_clipped_as_the_env_took_them(tmp_path):
    """Pendulum's torque lies in [-2, 2]: a Gaussian sample of 5 is the action 2 the env
    took, as in the expert's data; D must not tell the two apart by the unclipped value."""
    import gymnasium as gym

    from rlkit.core.demonstrations import Episode, write_minari

    env = gym.make("Pendulum-v1")
    obs, _ = env.reset(seed=0)
    episode = Episode([obs])
    for _ in range(5):
        action = np.array([2.0], dtype=np.float32)
        obs, reward, terminated, truncated, _ = env.step(action)
        episode.step(action, obs, reward, terminated, truncated)
    demos = write_minari(tmp_path / "pendulum", [episode, episode], env.observation_space,
                         env.action_space, env_id="Pendulum-v1")
    agent = make_gail(str(demos), env_id="Pendulum-v1", n_steps=8)
    agent.learn(agent.steps_per_collect)
    agent.buffer.actions[:] = 5.0
    rows = agent.rollout_rows()
    packed = agent.discriminator.pack(agent.buffer.obs.reshape(-1, 3),
                                      np.full((16, 1), 2.0, dtype=np.float32))
    torch.testing.assert_close(rows, packed)


def test_metrics_judge_training_without_the_env_reward(cartpole_demos, tmp_path):
    from rlkit.training.metrics import read_metrics

    agent = make_gail(cartpole_demos, log_freq=128, eval_freq=0)
    agent.learn(512, run_dir=tmp_path)
    rows = read_metrics(tmp_path)
    row = rows[-1]
    for key in ("gail/expert_accuracy", "gail/agent_accuracy", "gail/learned_reward",
                "losses/disc_loss", "eval/mean_return"):
        assert key in row, key
    assert any("charts/episodic_return" in row for row in rows)  # the env's, beside them
    assert 0.0 <= row["gail/expert_accuracy"] <= 1.0


@pytest.mark.parametrize("key, value", [("demos", None),
                                        ("normalize_reward", True), ("clip_reward", True),
                                        ("disc_steps", 0), ("disc_batch_size", 0),
                                        ("bc_warm_start", -1),
                                        ("disc_learning_rate", float("nan"))])
def test_bad_values_are_config_errors(cartpole_demos, key, value):
    with pytest.raises(RlkitError, match=key):  # ConfigError; DemonstrationsError for demos
        make_gail(**{"demos": cartpole_demos, key: value})


@pytest.mark.parametrize("generator, steps", [("ppo", 3 * 2), ("a2c", 1)])
def test_the_generator_key_picks_the_policys_update(cartpole_demos, generator, steps):
    """A rollout of 128 valid steps: PPO takes 3 epochs of 2 minibatches of 64; A2C one
    gradient step on the whole rollout."""
    agent = one_rollout(make_gail(cartpole_demos, generator=generator, n_epochs=3))
    assert agent.n_updates == steps


def test_n_demos_takes_the_first_episodes(cartpole_demos):
    assert len(make_gail(cartpole_demos, n_demos=3).expert_rows()) == 1500


@pytest.mark.parametrize("algo", ["gail", "airl"])
def test_the_discriminator_key_builds_ds_torso(cartpole_demos, algo):
    """D's torso follows ``discriminator``, not the policy's ``approximator``."""
    agent = make_gail(cartpole_demos, algo=algo, approximator={"hidden_sizes": [16]},
                      discriminator={"hidden_sizes": [7], "activation": "relu",
                                     "norm": "layer"})
    for network in ([agent.discriminator] if algo == "gail"
                    else [agent.discriminator.g, agent.discriminator.h]):
        layers = list(network.torso.modules())
        assert any(isinstance(m, torch.nn.ReLU) for m in layers)
        assert any(isinstance(m, torch.nn.LayerNorm) for m in layers)
        assert not any(isinstance(m, torch.nn.Tanh) for m in layers)
        assert network.torso.out_dim == 7
    linear = make_gail(cartpole_demos, algo=algo, discriminator={"type": "linear"})
    network = linear.discriminator if algo == "gail" else linear.discriminator.g
    assert type(network.torso).__name__ == "LinearFeatures"


def test_a_memory_policy_is_a_one_line_error(cartpole_demos):
    with pytest.raises(ConfigError, match="memory policy"):
        make_gail(cartpole_demos, approximator={"type": "lstm"})


def test_resume_continues_bit_for_bit(cartpole_demos, interrupt_and_resume):
    interrupt_and_resume(lambda: make_gail(cartpole_demos, total_timesteps=768, eval_freq=256,
                                           bc_warm_start=10), at=2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gail_learns_cartpole_from_10_demonstrations(learns, cartpole_demos, seed):
    """The shipped CartPole entry (a BC warm start), its budget lowered to 50k steps
    (benchmarks/LEARNING.md: 10 of 10 seeds at 500 at 50k, and at the shipped 100k)."""
    learns("gail", "CartPole-v1", seed=seed, bar=475, budget=50_000, demos=cartpole_demos)
