"""GAE and returns with numbers worked out by hand, and the buffers' Gymnasium conventions."""

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlkit.core.buffers import (
    EpisodeBuffer,
    ReplayBuffer,
    RolloutBuffer,
    gae_advantages,
    minibatches,
    normalize_advantages,
    reward_to_go,
)
from rlkit.core.rollout import EnvRunner, collect_rollout

GAMMA, LAM = 0.5, 0.5  # gamma * lambda = 0.25 keeps the hand arithmetic exact


def filled_buffer() -> RolloutBuffer:
    """Two envs, four steps.

    env 0: step 1 terminates (V of its final obs, 3, must be ignored); step 2 is the autoreset
           step (invalid).
    env 1: step 1 is truncated; the autoreset step 2 holds V(true final obs) = 4, which step 1
           must bootstrap from.
    """
    buf = RolloutBuffer(4, 2, obs_shape=(1,), action_shape=())
    rewards = np.array([[1, 1], [2, 1], [0, 0], [1, 1]], dtype=np.float32)
    values = np.array([[1, 1], [2, 2], [3, 4], [1, 2]], dtype=np.float32)
    terminated = np.array([[0, 0], [1, 0], [0, 0], [0, 0]], dtype=bool)
    truncated = np.array([[0, 0], [0, 1], [0, 0], [0, 0]], dtype=bool)
    valid = np.array([[1, 1], [1, 1], [0, 0], [1, 1]], dtype=bool)
    for t in range(4):
        buf.add(
            np.full((2, 1), t, np.float32), np.zeros(2), rewards[t], terminated[t],
            truncated[t], valid[t], values[t], np.zeros(2),
        )
    buf.compute_returns_and_advantages(np.array([2.0, 0.0]), GAMMA, LAM)
    return buf


def test_gae_across_terminated_truncated_and_autoreset_steps():
    buf = filled_buffer()
    # env 0: deltas [1, 0 (terminated: no bootstrap), -2.5 (invalid), 1]
    #        A3 = 1, A2 = -2.5 + .25 * 1 = -2.25, A1 = 0 (episode ends), A0 = 1 + .25 * 0 = 1
    # env 1: deltas [1, 1 + .5 * 4 - 2 = 1 (truncated: bootstraps V(final obs)), -3, 1 - 2 = -1]
    #        A3 = -1, A2 = -3.25, A1 = 1, A0 = 1 + .25 * 1 = 1.25
    np.testing.assert_allclose(buf.advantages[:, 0], [1, 0, -2.25, 1])
    np.testing.assert_allclose(buf.advantages[:, 1], [1.25, 1, -3.25, -1])
    np.testing.assert_allclose(buf.returns[[0, 1, 3]], [[2, 2.25], [2, 3], [2, 1]])


def test_rollout_get_drops_autoreset_steps():
    batch = filled_buffer().get()
    assert len(batch) == 6
    assert 2.0 not in batch.obs  # step 2 (autoreset) was never returned
    np.testing.assert_allclose(batch.advantages.numpy(), [1, 1.25, 0, 1, 1, -1])


def test_lambda_one_gives_discounted_returns():
    rewards = np.array([[1.0], [1.0], [1.0]])
    values = np.zeros((3, 1))
    no = np.zeros((3, 1), dtype=bool)
    adv = gae_advantages(rewards, values, np.zeros((3, 1)), no, no, 0.9, 1.0)
    np.testing.assert_allclose(adv[:, 0], [1 + 0.9 + 0.81, 1.9, 1.0])


def test_minibatches_cover_every_sample_once():
    batch = filled_buffer().get()
    seen = torch.cat([mb.obs for mb in minibatches(batch, 4, torch.Generator().manual_seed(0))])
    assert sorted(seen.flatten().tolist()) == sorted(batch.obs.flatten().tolist())


class ValueIsTenTimesObs:
    """A stand-in policy: action 0, V(s) = 10 * s, log-prob 0."""

    def sample(self, obs, action_masks=None):
        return torch.zeros(len(obs), dtype=torch.long), torch.zeros(len(obs))

    def get_value(self, obs):
        return 10 * obs[:, 0]


@pytest.mark.parametrize("terminate_at, max_steps", [(2, 10), (10, 2)])
def test_collect_rollout_through_a_real_vector_env(terminate_at, max_steps, counter):
    """Episodes of 2 steps, ended by termination or by the time limit (truncation)."""
    env = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec(counter(terminate_at, max_steps), 1, vectorization_mode="sync")
    )
    runner = EnvRunner(env, seed=0)
    buf = RolloutBuffer(4, 1, (1,), ())
    gamma = 0.5
    collect_rollout(runner, buf, ValueIsTenTimesObs(), torch.as_tensor, env.single_action_space,
                    gamma, gae_lambda=0.0)
    # obs 0, 1, 2 (final obs of the episode; its step is the autoreset step), 0 (reset obs)
    np.testing.assert_allclose(buf.obs[:, 0, 0], [0, 1, 2, 0])
    np.testing.assert_array_equal(buf.valid[:, 0], [True, True, False, True])
    truncated = terminate_at > max_steps
    np.testing.assert_array_equal(buf.truncated[:, 0], [False, truncated, False, False])
    np.testing.assert_array_equal(buf.terminated[:, 0], [False, not truncated, False, False])
    # lambda = 0: A_t = r + gamma * V(s') * (1 - terminated) - V(s)
    # step 0: 1 + .5 * 10 - 0 = 6;  step 1: 1 + .5 * 20 - 10 = 1 if truncated, 1 - 10 = -9 if not
    # step 3 (obs 0, next obs 1 bootstrapped from the last value): 1 + .5 * 10 - 0 = 6
    expected_1 = 1.0 if truncated else -9.0
    np.testing.assert_allclose(buf.advantages[[0, 1, 3], 0], [6, expected_1, 6])
    assert list(runner.episode_returns) == [2.0]


def test_replay_buffer_wraps_and_skips_invalid_rows():
    buf = ReplayBuffer(capacity=3, obs_shape=(1,), action_shape=())
    for t in range(3):
        obs = np.array([[t], [10 + t]], np.float32)
        valid = np.array([True, t != 1])  # env 1's step 1 is an autoreset step
        buf.add(obs, np.zeros(2), np.ones(2), obs + 1, np.zeros(2), valid)
    # rows written: 0, 10 | 1 | 2, 12  -> capacity 3 keeps the last three: 1, 2, 12 and 10
    # was overwritten by 12 (position 4 % 3 = 1), 0 by 2 (position 3 % 3 = 0)
    assert len(buf) == 3 and buf.pos == 2
    assert sorted(buf.obs[:, 0].tolist()) == [1, 2, 12]
    sample = buf.sample(64, np.random.default_rng(0))
    assert set(sample.obs[:, 0].tolist()) == {1.0, 2.0, 12.0}
    np.testing.assert_allclose(sample.next_obs - sample.obs, 1)


def test_reward_to_go_by_hand_with_and_without_bootstrap():
    """gamma = 0.5; two envs, five steps.

    env 0: terminates at step 1 (step 2 is its autoreset step); steps 3-4 are a running episode.
    env 1: truncated at step 2, whose true final observation has V = 6 (step 3 autoresets).
    """
    rewards = np.array([[1, 1], [2, 1], [0, 1], [4, 0], [8, 2]], dtype=np.float32)
    terminated = np.zeros((5, 2), bool)
    truncated = np.zeros((5, 2), bool)
    terminated[1, 0] = True
    truncated[2, 1] = True
    bootstrap = np.zeros((5, 2), np.float32)
    bootstrap[2, 1] = 6.0
    bootstrap[0, 0] = 100.0  # not a truncated step: must be ignored
    # env 0: G1 = 2 (terminated), G0 = 1 + .5 * 2 = 2; G4 = 8, G3 = 4 + .5 * 8 = 8 (partial)
    # env 1, no bootstrap: G2 = 1, G1 = 1 + .5 = 1.5, G0 = 1 + .75 = 1.75
    # env 1, bootstrap:    G2 = 1 + .5 * 6 = 4, G1 = 1 + 2 = 3, G0 = 1 + 1.5 = 2.5; G4 = 2
    plain = reward_to_go(rewards, terminated, truncated, 0.5)
    boot = reward_to_go(rewards, terminated, truncated, 0.5, bootstrap)
    np.testing.assert_allclose(plain[[0, 1, 3, 4], 0], [2, 2, 8, 8])
    np.testing.assert_allclose(boot[[0, 1, 3, 4], 0], [2, 2, 8, 8])
    np.testing.assert_allclose(plain[[0, 1, 2, 4], 1], [1.75, 1.5, 1, 2])
    np.testing.assert_allclose(boot[[0, 1, 2, 4], 1], [2.5, 3, 4, 2])
    assert plain.dtype == np.float32


def _chunk(obs, terminated=(), truncated=(), invalid=()):
    """A filled RolloutBuffer; obs is (steps, envs), the flags are lists of (step, env)."""
    obs = np.asarray(obs, np.float32)
    buf = RolloutBuffer(len(obs), obs.shape[1], obs_shape=(1,), action_shape=())
    flags = {name: np.zeros(obs.shape, bool) for name in ("terminated", "truncated", "invalid")}
    for name, cells in (("terminated", terminated), ("truncated", truncated), ("invalid", invalid)):
        for cell in cells:
            flags[name][cell] = True
    for t in range(len(obs)):
        buf.add(obs[t, :, None], obs[t], obs[t], flags["terminated"][t], flags["truncated"][t],
                ~flags["invalid"][t], np.zeros(obs.shape[1]), np.zeros(obs.shape[1]))
    return buf


def test_episode_buffer_hands_out_complete_episodes_and_keeps_running_ones():
    episodes = EpisodeBuffer(2, obs_shape=(1,), action_shape=(), capacity=2)
    # env 0 terminates at step 1 (step 2 autoresets); env 1 keeps running
    episodes.extend(_chunk([[0, 10], [1, 11], [2, 12]], terminated=[(1, 0)], invalid=[(2, 0)]))
    assert episodes.n_complete() == 1
    batch = episodes.take_complete()
    assert batch.n_episodes == 1
    assert batch.obs[batch.mask].ravel().tolist() == [0, 1]
    assert episodes.take_complete() is None
    # env 0 is truncated on the last stored step: not complete until the next row (its final
    # obs) arrives. env 1 is truncated at step 3; step 4 holds its final observation 14.
    episodes.extend(_chunk([[3, 13], [4, 14], [5, 15]], truncated=[(2, 0), (0, 1)],
                           invalid=[(1, 1)]))
    assert episodes.n_complete() == 1
    batch = episodes.take_complete()
    assert batch.obs[batch.mask].ravel().tolist() == [10, 11, 12, 13]
    t, j = np.nonzero(batch.truncated & batch.mask)
    assert batch.obs[t + 1, j].ravel().tolist() == [14]  # the row after a truncation
    # the running part survives a checkpoint and completes with the next row
    restored = EpisodeBuffer(2, obs_shape=(1,), action_shape=())
    restored.load_state_dict(episodes.state_dict())
    restored.extend(_chunk([[6, 16]], invalid=[(0, 0)]))
    batch = restored.take_complete()
    assert batch.obs[batch.mask].ravel().tolist() == [3, 4, 5]  # step 2 was an autoreset step
    assert batch.truncated[batch.mask].tolist() == [False, False, True]
    # rows before env 1's running episode (autoreset row 4, then 15, 16) are dropped
    assert restored.size == 3 and restored.start.tolist() == [2, 0]


def test_reward_to_go_terminated_wins_over_truncated_with_a_bootstrap():
    """Gymnasium may set both flags (the time limit falls on the terminal step): the episode
    terminated, so G = r and the bootstrap value 5 is ignored."""
    out = reward_to_go(np.array([[1.0], [2.0]], np.float32), np.array([[False], [True]]),
                       np.array([[False], [True]]), GAMMA, bootstrap=np.full((2, 1), 5.0))
    np.testing.assert_allclose(out, [[2.0], [2.0]])  # 1 + .5 * 2, then 2


def test_normalize_advantages_adds_1e_8_to_the_std():
    """(0, 2e-8): mean 1e-8, sample std sqrt(2) * 1e-8, so +-1e-8 / (2.4142e-8) = +-0.41421."""
    out = normalize_advantages(torch.tensor([0.0, 2e-8], dtype=torch.float64))
    torch.testing.assert_close(out, torch.tensor([-0.41421356, 0.41421356], dtype=torch.float64))


def _numbered_batch(n):
    from rlkit.core.buffers import RolloutBatch

    x = torch.arange(n, dtype=torch.float32)
    return RolloutBatch(x, x, x, x, x, x)


def test_one_minibatch_of_the_whole_batch_keeps_its_order_and_the_generator():
    generator = torch.Generator().manual_seed(0)
    state = generator.get_state()
    (only,) = minibatches(_numbered_batch(6), 6, generator)
    assert only.obs.tolist() == list(range(6))
    assert torch.equal(generator.get_state(), state)  # no permutation was drawn


def test_minibatches_draw_their_order_from_the_given_generator():
    with torch.random.fork_rng():
        torch.manual_seed(123)  # the global generator must play no part
        got = torch.cat([mb.obs for mb in minibatches(_numbered_batch(8), 3,
                                                      torch.Generator().manual_seed(7))])
    expected = torch.randperm(8, generator=torch.Generator().manual_seed(7)).float()
    assert torch.equal(got, expected)


def test_episode_buffer_grows_only_when_full_and_then_doubles():
    episodes = EpisodeBuffer(1, obs_shape=(1,), action_shape=(), capacity=4)
    episodes.extend(_chunk([[0], [1], [2], [3]]))
    assert episodes.capacity == 4  # 0 + 4 rows fit exactly
    episodes.extend(_chunk([[4], [5]]))
    assert episodes.capacity == 8  # max(2 * 4, 6)
    assert episodes.obs[:6, 0, 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_episode_buffer_one_step_episode_at_the_first_row_and_dropping_one_row():
    """env 0's first stored step terminates (an episode of one step, ending on row start = 0);
    row 1 is its autoreset row. Taking it moves start to 1 and drops that one row."""
    episodes = EpisodeBuffer(1, obs_shape=(1,), action_shape=())
    episodes.extend(_chunk([[0], [1]], terminated=[(0, 0)], invalid=[(1, 0)]))
    assert episodes.n_complete() == 1
    batch = episodes.take_complete()
    assert batch.obs.shape == (2, 1, 1)  # the episode's row and the row after it, no more
    assert batch.mask.tolist() == [[True], [False]]
    assert episodes.size == 1 and episodes.start.tolist() == [0]
    assert episodes.obs[0, 0, 0] == 1.0


def test_episode_buffer_state_keeps_int64_starts_and_the_capacity():
    episodes = EpisodeBuffer(2, obs_shape=(1,), action_shape=(), capacity=4)
    assert episodes.state_dict()["start"].dtype == np.int64
    episodes.extend(_chunk([[0, 10], [1, 11], [2, 12], [3, 13]], terminated=[(0, 0)]))
    state = episodes.state_dict()
    state["start"] = state["start"].astype(np.int32)
    restored = EpisodeBuffer(2, obs_shape=(1,), action_shape=(), capacity=4)
    restored.load_state_dict(state)
    assert restored.start.dtype == np.int64
    assert restored.capacity == 4 and restored.size == 4  # 4 rows fit without growing
    assert restored.n_complete() == 1


def test_loading_an_empty_state_leaves_no_complete_episode():
    """Rows beyond ``size`` are stale, not data: after loading an empty buffer's state the
    terminal flag left in row 0 must not count."""
    episodes = EpisodeBuffer(1, obs_shape=(1,), action_shape=())
    episodes.extend(_chunk([[0], [1]], terminated=[(0, 0)]))
    episodes.load_state_dict(EpisodeBuffer(1, obs_shape=(1,), action_shape=()).state_dict())
    assert episodes.size == 0
    assert episodes.n_complete() == 0 and episodes.take_complete() is None


def test_gae_over_a_single_step_is_the_td_error():
    """T = 1: A_0 = r + gamma V(s_1) - V(s_0) = 1 + 0.5 * 4 - 1 = 2."""
    adv = gae_advantages(np.array([[1.0]]), np.array([[1.0]]), np.array([[4.0]]),
                         np.array([[False]]), np.array([[False]]), GAMMA, LAM)
    np.testing.assert_allclose(adv, [[2.0]])


def test_rollout_buffer_stores_extras_per_step():
    buf = RolloutBuffer(2, 3, obs_shape=(1,), action_shape=(),
                        extras={"hidden": ((2,), np.float32)})
    for t in range(2):
        buf.add(np.zeros((3, 1)), np.zeros(3), np.zeros(3), np.zeros(3, bool), np.zeros(3, bool),
                np.ones(3, bool), np.zeros(3), np.zeros(3), hidden=np.full((3, 2), t + 1.0))
    assert buf.extras["hidden"].shape == (2, 3, 2)
    np.testing.assert_array_equal(buf.extras["hidden"][:, 0, 0], [1.0, 2.0])


def test_replay_add_returns_the_rows_written_and_keeps_discounts_of_valid_rows():
    buf = ReplayBuffer(8, obs_shape=(1,), action_shape=(), store_discounts=True)
    obs = np.arange(3, dtype=np.float32)[:, None]
    idx = buf.add(obs, np.zeros(3), np.zeros(3), obs, np.zeros(3),
                  valid=np.array([True, False, True]), discounts=np.array([0.5, 0.25, 0.125]))
    assert idx.tolist() == [0, 1]
    np.testing.assert_array_equal(buf.discounts[:2], [0.5, 0.125])
    idx = buf.add(obs, np.zeros(3), np.zeros(3), obs, np.zeros(3), discounts=np.ones(3))
    assert idx.tolist() == [2, 3, 4]
    batch = buf.batch(np.array([0, 4]))  # default device: cpu
    assert batch.obs.device.type == "cpu" and batch.discounts.tolist() == [0.5, 1.0]


def test_buffers_allocate_the_dtypes_they_are_given():
    buf = RolloutBuffer(2, 3, obs_shape=(1,), action_shape=(2,), obs_dtype=np.uint8,
                        action_dtype=np.float32, extras={"hidden": ((2,), np.float16)})
    assert buf.obs.dtype == np.uint8 and buf.actions.dtype == np.float32
    assert buf.extras["hidden"].dtype == np.float16
    for name in ("rewards", "values", "log_probs", "advantages", "returns"):
        assert getattr(buf, name).dtype == np.float32, name
    for name in ("terminated", "truncated", "valid"):
        assert getattr(buf, name).dtype == bool, name
    replay = ReplayBuffer(4, obs_shape=(1,), action_shape=(), store_discounts=True)
    for name in ("rewards", "terminated", "discounts"):
        assert getattr(replay, name).dtype == np.float32, name
