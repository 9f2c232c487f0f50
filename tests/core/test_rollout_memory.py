"""The rollout core with a memory torso: what collect stores, what the update replays, and the
state carried through predict, evaluation and checkpoints."""

import numpy as np
import pytest
import torch

import rlkit
from rlkit.core.buffers import SequenceBatch, minibatches

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
@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
def test_resume_of_a_recurrent_run_equals_the_uninterrupted_run(interrupt_and_resume, algo,
                                                                kind):
    """The checkpoint holds the runner's memory (and REINFORCE's running episodes): a resumed
    run acts from the same state, and ends with the weights, optimizer states and metrics rows
    of the uninterrupted run bit for bit (the fixture's checks)."""
    extra = {"ppo": {"n_steps": 8, "batch_size": 16, "n_epochs": 2}, "a2c": {"n_steps": 8},
             "reinforce": {"rollout_steps": 8, "batch_episodes": 2}}[algo]
    interrupt_and_resume(
        lambda: rlkit.make(algo, "rlkit/CartPoleNoVel-v0", seed=1, n_envs=2,
                           approximator={**LSTM, "type": kind}, eval_freq=64, eval_episodes=2,
                           log_freq=32, total_timesteps=256, **extra),
        at=3)


def _record_acting_log_probs(agent):
    """Wrap the policy's step: every call's log pi(a|s), stacked (steps, n_envs) on demand."""
    recorded, original = [], agent.policy.step

    def step(*args, **kwargs):
        actions, log_probs, state = original(*args, **kwargs)
        recorded.append(log_probs.clone())
        return actions, log_probs, state

    agent.policy.step = step
    return lambda: torch.stack(recorded)


@pytest.mark.parametrize("kind", ["lstm", "attention"])
def test_reinforce_replays_its_episodes_with_the_states_used_while_acting(kind):
    """REINFORCE keeps steps until their episodes end, across chunks and updates, and replays
    each complete episode from the initial state at its start: before any gradient step the
    log-probabilities equal those acting recorded. The second batch begins with a column whose
    first rows were handed out already, so a replay that carried state across that boundary,
    or ignored the episode starts, would differ."""
    agent = rlkit.make("reinforce", "rlkit/CartPoleNoVel-v0", seed=0, n_envs=3,
                       rollout_steps=8, batch_episodes=4, eval_freq=0,
                       approximator={"type": kind, "hidden_size": 8, "context": 4})
    agent.runner = agent.make_runner()
    agent.end_step = 100_000
    acted = _record_acting_log_probs(agent)
    for _ in range(2):
        agent.collect()
        episodes = agent.episodes
        offset = len(acted()) - episodes.size  # recorded row of the buffer's row 0
        lo = offset + int(episodes.start.min())
        batch = episodes.take_complete()
        with torch.no_grad():
            log_probs, _, _ = agent._evaluate(batch)
        expected = acted()[lo : lo + len(batch.mask)][torch.as_tensor(batch.mask)]
        assert batch.n_episodes >= 4 and len(log_probs) == batch.mask.sum()
        torch.testing.assert_close(log_probs, expected, rtol=1e-5, atol=1e-5)


def test_reinforce_bootstraps_a_truncation_from_the_episodes_memory(counter):
    """Counter episodes truncated after 4 steps: the bootstrap V(s_T+1) of each equals the
    critic unrolled over that episode alone, from the initial state, to its final obs."""
    agent = rlkit.make("reinforce", counter(terminate_at=100, max_steps=4), seed=0, n_envs=2,
                       rollout_steps=16, batch_episodes=2, eval_freq=0, approximator=LSTM)
    agent.runner = agent.make_runner()
    agent.end_step = 10_000
    agent.collect()
    batch = agent.episodes.take_complete()
    t, j = np.nonzero(batch.truncated & batch.mask)
    assert len(t) == 6  # 3 episodes per env: the later ones follow another in their column
    with torch.no_grad():
        got = agent._final_values(batch, t, j)
        for k, (row, env) in enumerate(zip(t, j, strict=True)):
            first = row - 3  # the episode's 4 steps, then its final obs
            assert batch.episode_starts[first, env]
            assert not batch.episode_starts[first + 1 : row + 2, env].any()
            obs = torch.as_tensor(batch.obs[first : row + 2, env])[:, None]
            values, _ = agent.policy.rollout_values(
                obs, agent.policy.initial_state(1), torch.zeros(len(obs), 1, dtype=torch.bool))
            torch.testing.assert_close(got[k], values[-1, 0], rtol=1e-5, atol=1e-5)


def test_reinforce_learns_through_a_memory_torso():
    """A few updates with an LSTM run end to end and change the recurrent weights."""
    agent = rlkit.make("reinforce", "rlkit/CartPoleNoVel-v0", seed=0, n_envs=2,
                       rollout_steps=16, batch_episodes=2, total_timesteps=256, eval_freq=0,
                       approximator=LSTM)
    before = {k: v.clone() for k, v in agent.policy.state_dict().items()}
    agent.learn()
    assert agent.n_updates > 0
    changed = [k for k, v in agent.policy.state_dict().items() if not torch.equal(v, before[k])]
    assert any("core" in k for k in changed)


def test_dqn_refuses_a_memory_torso_with_one_line():
    from rlkit.errors import ConfigError

    with pytest.raises(ConfigError, match="or ppo or a2c for memory"):
        rlkit.make("dqn", "CartPole-v1", approximator=LSTM)
