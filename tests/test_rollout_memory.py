"""The rollout core with a memory torso: what collect stores, what the update replays, and the
state carried through predict, evaluation and checkpoints."""

import numpy as np
import pytest
import torch

import rlkit
from rlkit.buffers import SequenceBatch, minibatches

LSTM = {"type": "lstm", "hidden_size": 8}
SMALL = dict(n_envs=2, n_steps=8, batch_size=16, n_epochs=2, eval_freq=0, eval_episodes=2)


def _agent(env_id, algo="ppo", **overrides):
    return rlkit.make(algo, env_id, seed=0, **{**SMALL, "approximator": LSTM, **overrides})


def test_collect_flags_every_episode_start_autoreset_steps_included(counter):
    """Counter episodes of 3 steps: the step after the termination is the autoreset step (its
    input is the final obs, 3, and it is not learned from); the step after that sees the new
    episode's first obs and starts the episode: starts at t = 0 and 4 of every 4 steps."""
    agent = _agent(counter(terminate_at=3, max_steps=10), n_envs=1)
    agent.runner = agent.make_runner()
    agent.end_step = 10_000
    agent.collect()
    buffer = agent.buffer
    np.testing.assert_array_equal(buffer.obs[:, 0, 0], [0, 1, 2, 3, 0, 1, 2, 3])
    np.testing.assert_array_equal(buffer.valid[:, 0], [1, 1, 1, 0, 1, 1, 1, 0])
    np.testing.assert_array_equal(buffer.episode_starts[:, 0], [1, 0, 0, 0, 1, 0, 0, 0])
    initial = agent.policy.initial_state(1)
    for stored, zero in zip(buffer.memory, initial, strict=True):
        torch.testing.assert_close(stored, zero)  # the first rollout starts from zeros
    agent.collect()  # the next rollout starts from the state the first one ended in
    assert any(m.abs().sum() > 0 for m in buffer.memory)
    assert buffer.episode_starts[0, 0] == 1  # the autoreset at t = 7 made t = 8 a start


@pytest.mark.parametrize("kind", ["lstm", "gru", "attention"])
@pytest.mark.parametrize("share_torso", [False, True])
def test_the_update_replays_the_states_used_while_acting(kind, share_torso):
    """Before any gradient step, replaying the stored sequences from the stored state gives the
    log-probabilities that acting step by step recorded, for every valid step (CartPole ends
    episodes inside the rollout, so the resets are exercised), and the values of the collect
    pass. A replay that ignored the episode starts, or started from another state, would not."""
    agent = _agent("rlkit/CartPoleNoVel-v0", n_steps=64, share_torso=share_torso,
                   approximator={"type": kind, "hidden_size": 8, "context": 4})
    agent.runner = agent.make_runner()
    agent.end_step = 10_000
    agent.collect()
    agent.collect()  # a second rollout: it starts from a carried, non-zero state
    data = agent.buffer.get()
    assert isinstance(data, SequenceBatch) and data.starts[1:].any()
    with torch.no_grad():
        log_probs, _, values = agent.policy.evaluate(data)
    torch.testing.assert_close(log_probs, data.log_probs, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(values, data.values, rtol=1e-5, atol=1e-5)


def test_sequence_minibatches_split_by_env_and_keep_samples_aligned():
    """4 envs x 3 steps, env 1's step 2 invalid: a minibatch of envs [3, 1] holds their valid
    samples in (step, env) order, each flat field aligned with its (step, env)."""
    mask = torch.ones(3, 4, dtype=torch.bool)
    mask[2, 1] = False
    ids = torch.arange(12.0).view(3, 4)  # id = 4 t + env
    batch = SequenceBatch(ids[..., None], ids, torch.zeros(3, 4), mask,
                          (torch.zeros(1, 4, 2),), ids[mask], ids[mask], ids[mask], ids[mask])
    part = batch.envs(torch.tensor([3, 1]))
    assert part.returns.tolist() == [3.0, 1.0, 7.0, 5.0, 11.0]
    assert part.memory[0].shape == (1, 2, 2)
    pieces = list(minibatches(batch, 6, torch.Generator().manual_seed(0)))  # 6 // 3 = 2 envs
    assert len(pieces) == 2
    assert sorted(x for p in pieces for x in p.returns.tolist()) == sorted(ids[mask].tolist())


def test_predict_carries_the_state_and_resets_at_episode_starts():
    agent = _agent("rlkit/CartPoleNoVel-v0")
    obs = np.random.default_rng(0).normal(size=(3, 2)).astype(np.float32)
    first, state = agent.predict(obs)  # no state: every episode starts afresh
    again, _ = agent.predict(obs, state=None)
    np.testing.assert_array_equal(first, again)
    _, state2 = agent.predict(obs, state=state)
    assert not torch.allclose(state2[0], state[0])  # the state moved on
    restarted, state3 = agent.predict(obs, state=state2, episode_start=np.ones(3))
    torch.testing.assert_close(state3[0], state[0])  # a start forgets what came before
    single, _ = agent.predict(obs[0])
    assert np.ndim(single) == 0


@pytest.mark.numerics
@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_resume_of_a_recurrent_run_equals_the_uninterrupted_run(interrupt_and_resume, algo):
    """The checkpoint holds the runner's memory: a resumed run acts from the same state."""
    extra = {"batch_size": 16, "n_epochs": 2} if algo == "ppo" else {}
    full, resumed = interrupt_and_resume(
        lambda: rlkit.make(algo, "rlkit/CartPoleNoVel-v0", seed=1, n_envs=2, n_steps=8,
                           approximator=LSTM, eval_freq=64, eval_episodes=2, log_freq=32,
                           total_timesteps=256, **extra),
        at=5)
    for key, value in full.policy.state_dict().items():
        torch.testing.assert_close(resumed.policy.state_dict()[key], value, rtol=0, atol=0)


def test_reinforce_and_dqn_refuse_a_memory_torso_with_one_line():
    from rlkit.errors import ConfigError

    with pytest.raises(ConfigError, match="reinforce cannot use the memory torso 'lstm'"):
        rlkit.make("reinforce", "CartPole-v1", approximator=LSTM)
    with pytest.raises(ConfigError, match="or ppo or a2c for memory"):
        rlkit.make("dqn", "CartPole-v1", approximator=LSTM)
