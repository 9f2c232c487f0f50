"""The frame-sharing replay buffer against ReplayBuffer, on streams from real vector envs.

Single frames come from a toy env wrapped in Gymnasium's FrameStackObservation (both its
paddings) inside a next-step-autoreset vector env, stepped by rlkit's EnvRunner: episode ends,
truncations and invalid autoreset rows as DQN sees them. With few pixel levels, equal frames
recur within and across episodes and envs, so frames are shared as often as possible.
"""

import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.core.buffers import ReplayBuffer
from rlkit.core.frame_replay import (
    FrameReplayBuffer,
    PrioritizedFrameReplayBuffer,
    is_frame_stack,
    layout,
    layout_nbytes,
)
from rlkit.core.nstep import NStepAccumulator
from rlkit.core.prioritized import PrioritizedReplayBuffer
from rlkit.core.rollout import EnvRunner
from rlkit.errors import ConfigError

STACK = 4


class Frames(gym.Env):
    """Random (H, W) uint8 frames of ``levels`` pixel values; ends with probability ``p_end``."""

    action_space = gym.spaces.Discrete(2)

    def __init__(self, shape=(3, 5), levels=2, p_end=0.2):
        self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)
        self.levels, self.p_end = levels, p_end

    def frame(self):
        return self.np_random.integers(0, self.levels, self.observation_space.shape, np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.frame(), {}

    def step(self, action):
        reward = float(action) + self.np_random.random()
        return self.frame(), reward, bool(self.np_random.random() < self.p_end), False, {}


def stacked_env(shape=(3, 5), levels=2, p_end=0.2, max_steps=6, padding="reset"):
    env = gym.wrappers.TimeLimit(Frames(shape, levels, p_end), max_steps)
    return gym.wrappers.FrameStackObservation(env, STACK, padding_type=padding)


def stream(steps, n_envs=3, seed=0, **env_kwargs):
    """(obs, actions, rewards, next_obs, terminated, truncated, valid) per vector step."""
    envs = gym.vector.SyncVectorEnv([lambda: stacked_env(**env_kwargs)] * n_envs,
                                    autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    runner, rng = EnvRunner(envs, seed=seed), np.random.default_rng(seed)
    for _ in range(steps):
        obs, actions = runner.obs, rng.integers(0, 2, n_envs)
        step = runner.step(actions)
        yield obs, actions, step.rewards, step.next_obs, step.terminated, step.truncated, step.valid
    envs.close()


def feed(buffers, steps, n_step=1, check=None, **stream_kwargs):
    """Feed one stream to every buffer (through an n-step accumulator if n_step > 1); after
    each add, ``check(buffers)``. Returns the number of vector steps with an episode end."""
    acc, ends = None, 0
    for obs, actions, rewards, next_obs, terminated, truncated, valid in stream(
            steps, **stream_kwargs):
        ends += bool((terminated | truncated).any())
        if n_step == 1:
            added = [b.add(obs, actions, rewards, next_obs, terminated, valid) for b in buffers]
        else:
            acc = acc or NStepAccumulator(len(obs), n_step, 0.9, obs.shape[1:], (), np.uint8)
            out = acc.add(obs, actions, rewards, next_obs, terminated, truncated, valid)
            if out is None:
                continue
            added = [b.add(out.obs, out.actions, out.rewards, out.next_obs, out.terminated,
                           discounts=out.discounts) for b in buffers]
        for idx in added[1:]:
            np.testing.assert_array_equal(idx, added[0])
        if check is not None:
            check(buffers)
    return ends


def assert_batches_equal(a, b):
    """Every field: values, dtypes and (for tensors) layout."""
    for name in ("obs", "actions", "rewards", "next_obs", "terminated", "discounts", "weights"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None) == (y is None), name
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape and x.stride() == y.stride(), name
            assert torch.equal(x, y), name
    np.testing.assert_array_equal(a.indices, b.indices)


def assert_consistent(buf: FrameReplayBuffer):
    """The store's bookkeeping: reference counts are those of the live transitions; the free
    list is exactly the unreferenced frames (so no live transition points at a frame that may
    be recycled); the hash table holds exactly the live frames; no two live frames are equal."""
    live_ids = buf.frame_ids[: len(buf)]
    np.testing.assert_array_equal(buf.refs, np.bincount(live_ids.ravel(), minlength=buf.n_frames))
    live = np.flatnonzero(buf.refs)
    free = buf.free[: buf.n_frames - len(live)]
    assert buf.live_frames == len(live)
    np.testing.assert_array_equal(np.sort(free), np.flatnonzero(buf.refs == 0))
    np.testing.assert_array_equal(np.sort(buf.table[buf.table >= 0]), live)
    assert len(np.unique(buf.frames[live].reshape(len(live), -1), axis=0)) == len(live)


def check_all(buffers):
    old, new = buffers[0], buffers[1]
    assert len(old) == len(new) and old.pos == new.pos
    every = np.arange(len(old))
    assert_batches_equal(old.batch(every), new.batch(every))
    assert_consistent(new)


@pytest.mark.parametrize("n_step", [1, 3])
@pytest.mark.parametrize("padding", ["reset", "zero"])
@pytest.mark.parametrize("capacity", [2, 5, 64, 1000])
def test_same_batches_as_replay_buffer(n_step, padding, capacity):
    """Episode ends, truncations and autoreset rows, with and without n-step, the ring
    wrapping (capacities 2 to 64; an add of 3 rows, or 9 with n-step, overfills 2) or not
    (1000): every batch equals ReplayBuffer's, after every add."""
    shape, discounts = (STACK, 3, 5), n_step > 1
    old = ReplayBuffer(capacity, shape, (), np.uint8, store_discounts=discounts)
    new = FrameReplayBuffer(capacity, shape, (), np.uint8, store_discounts=discounts,
                            n_frames=32 * capacity)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the store must not grow
        ends = feed([old, new], 150, n_step, check_all, padding=padding)
    assert ends > 20  # episode ends, among them truncations (6 steps) and terminations
    assert len(new) == min(capacity, len(new)) and new.live_frames < 4 * len(new) + 50


@pytest.mark.parametrize("n_step", [1, 3])
def test_prioritized_variant_samples_and_weighs_alike(n_step):
    shape, discounts = (STACK, 8, 8), n_step > 1
    old = PrioritizedReplayBuffer(50, shape, (), np.uint8, store_discounts=discounts)
    new = PrioritizedFrameReplayBuffer(50, shape, (), np.uint8, store_discounts=discounts)
    assert isinstance(new, FrameReplayBuffer)
    td = np.random.default_rng(1)

    def sample_and_update(buffers):
        batches = [b.sample(16, np.random.default_rng(len(b)), beta=0.5) for b in buffers]
        assert_batches_equal(*batches)
        errors = td.normal(size=16)
        for b, batch in zip(buffers, batches, strict=True):
            b.update_priorities(batch.indices, errors)
        check_all(buffers)

    feed([old, new], 120, n_step, sample_and_update, shape=(8, 8), levels=256, p_end=0.1,
         max_steps=20)
    np.testing.assert_array_equal(old.priorities(np.arange(50)), new.priorities(np.arange(50)))


def test_frames_of_a_long_stream_are_recycled_through_a_tiny_store():
    """Capacity 4, episodes of 1-2 steps, every frame distinct: hundreds of frames pass
    through a store of 40, and no live transition ever points at a recycled frame."""
    shape = (STACK, 8, 8)
    old = ReplayBuffer(4, shape, (), np.uint8)
    new = FrameReplayBuffer(4, shape, (), np.uint8, n_frames=40)
    stored = set()

    def check(buffers):
        check_all(buffers)
        for fid in np.flatnonzero(new.refs):
            stored.add(new.frames[fid].tobytes())

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed([old, new], 200, 1, check, n_envs=2, shape=(8, 8), levels=256, p_end=0.5,
             max_steps=2)
    assert len(stored) > 10 * new.n_frames == 400


def test_one_frame_per_transition_on_long_episodes():
    """Distinct frames, episodes of 50 steps: about one new frame per transition (the reset
    padding's first frame is shared by the stack), within the default store."""
    shape = (STACK, 8, 8)
    new = FrameReplayBuffer(400, shape, (), np.uint8)
    feed([new], 200, 1, n_envs=2, shape=(8, 8), levels=256, p_end=0.0, max_steps=50)
    assert len(new) == 394  # 2 envs x 200 steps, less 3 autoreset steps each
    # each of the 8 episodes (3 of 50 transitions and a running one per env) points at one
    # frame more than it has transitions
    assert new.live_frames == len(new) + 8 and new.n_frames == 400 + 25 + 64 * STACK


def test_the_store_grows_when_frames_are_not_shared():
    shape = (STACK, 6, 7)  # 42 bytes: the kernels read 2-byte words
    old = ReplayBuffer(20, shape, (), np.uint8)
    new = FrameReplayBuffer(20, shape, (), np.uint8, n_frames=4)
    with pytest.warns(RuntimeWarning, match="growing"):
        feed([old, new], 60, 1, check_all, shape=(6, 7), levels=256)
    assert new.n_frames > 4


def test_frames_are_compared_byte_for_byte_when_every_hash_collides():
    """With all hash coefficients 0 every frame hashes alike: the table can only tell frames
    apart by their bytes, and the batches are still ReplayBuffer's."""
    shape = (STACK, 3, 5)
    old, new = ReplayBuffer(16, shape, (), np.uint8), FrameReplayBuffer(16, shape, (), np.uint8)
    new.hash_coeffs[:] = 0
    feed([old, new], 40, 1, check_all)
    assert len(np.unique(new.hashes[new.refs > 0])) == 1


def test_frames_are_told_apart_by_their_bytes():
    """float32 frames: 0.0 and -0.0 compare equal but are different frames; NaNs compare
    unequal but are the same frame. The batch gives back the very bytes that were added."""
    frames = np.array([0.0, -0.0, np.nan, 1.0], np.float32)[:, None, None] * np.ones((1, 2, 2))
    obs = np.stack([frames, frames[::-1]]).astype(np.float32)  # two transitions
    buf = FrameReplayBuffer(4, (STACK, 2, 2), (), np.float32)
    buf.add(obs, np.zeros(2), np.zeros(2), obs[:, [1, 2, 3, 0]], np.zeros(2))
    assert buf.live_frames == 4
    batch = buf.batch(np.arange(2))
    np.testing.assert_array_equal(batch.obs.numpy().view(np.int32), obs.view(np.int32))


@pytest.mark.parametrize("prioritized", [False, True])
def test_state_dict_round_trip_and_replay_buffer_checkpoints(prioritized):
    """A saved buffer, restored into a fresh one, gives the same batches and goes on alike;
    a ReplayBuffer's state (whole stacks) loads too."""
    shape = (STACK, 3, 5)
    kinds = ((PrioritizedReplayBuffer, PrioritizedFrameReplayBuffer) if prioritized
             else (ReplayBuffer, FrameReplayBuffer))
    old, new = (kind(30, shape, (), np.uint8, store_discounts=True) for kind in kinds)
    feed([old, new], 40, 3)
    state = new.state_dict()
    assert len(state["frames"]) == new.live_frames  # only the frames in use are saved
    restored, from_old = (kinds[1](30, shape, (), np.uint8, store_discounts=True)
                          for _ in range(2))
    restored.load_state_dict(state)
    from_old.load_state_dict(old.state_dict())
    for buf in (restored, from_old):
        assert (buf.pos, len(buf)) == (new.pos, len(new))
        check_all([old, buf])
        if prioritized:
            np.testing.assert_array_equal(buf.priorities(np.arange(30)),
                                          old.priorities(np.arange(30)))
    feed([old, new, restored, from_old], 30, 3, seed=1)
    for buf in (new, restored, from_old):
        check_all([old, buf])


def test_inputs_of_another_dtype_are_cast_as_replay_buffer_casts_them():
    obs = np.arange(2 * STACK * 6).reshape(2, STACK, 2, 3).astype(np.float64) * 10.5
    buffers = [kind(4, (STACK, 2, 3), (), np.uint8) for kind in (ReplayBuffer, FrameReplayBuffer)]
    for buf in buffers:
        buf.add(obs, np.zeros(2), np.zeros(2), obs + 1, np.zeros(2))
    assert_batches_equal(*(buf.batch(np.arange(2)) for buf in buffers))
    with pytest.raises(ValueError, match="shape"):
        buffers[1].add(obs[:, :2], np.zeros(2), np.zeros(2), obs[:, :2], np.zeros(2))


def test_obs_views_read_like_replay_buffer_arrays():
    shape = (STACK, 3, 5)
    old, new = ReplayBuffer(10, shape, (), np.uint8), FrameReplayBuffer(10, shape, (), np.uint8)
    feed([old, new], 12)
    for name in ("obs", "next_obs"):
        view, array = getattr(new, name), getattr(old, name)
        assert view.shape == array.shape and view.dtype == array.dtype and len(view) == 10
        np.testing.assert_array_equal(view[:7, 1], array[:7, 1])
        np.testing.assert_array_equal(view[3], array[3])
        np.testing.assert_array_equal(np.asarray(view), array)


def test_a_million_atari_transitions_fit_in_8_gb():
    """Bytes of every array, from the layout the buffer allocates (not allocated here)."""
    atari = ((STACK, 84, 84), (), np.uint8, np.int64, True)
    frames = layout_nbytes(layout(1_000_000, *atari))
    stacks = 1_000_000 * (2 * STACK * 84 * 84 + 8 + 4 + 4 + 4)  # ReplayBuffer's rows
    assert frames <= 8e9 < 56e9 < stacks
    small = FrameReplayBuffer(1000, *atari)
    assert layout_nbytes(layout(1000, *atari)) <= small.nbytes <= layout_nbytes(
        layout(1000, *atari)) + 64


def test_which_spaces_are_frame_stacks():
    box = gym.spaces.Box
    assert is_frame_stack(box(0, 255, (4, 84, 84), np.uint8), np.uint8)
    assert not is_frame_stack(box(0, 255, (4, 84, 84), np.uint8), np.float32)  # normalized
    assert not is_frame_stack(box(0, 1, (10, 10, 4), bool), np.bool_)  # MinAtar
    assert not is_frame_stack(box(0, 255, (84, 84, 4), np.uint8), np.uint8)  # channels last
    assert not is_frame_stack(box(-1, 1, (4,), np.float32), np.float32)  # CartPole


# --- DQN's switch -----------------------------------------------------------------------------
DQN_SMALL = dict(learning_starts=32, train_freq=4, gradient_steps=2, batch_size=16,
                 buffer_size=100, target_update_interval=32, eval_freq=10**9, eval_episodes=1,
                 log_freq=10**9, total_timesteps=160, n_envs=2,
                 approximator={"type": "cnn", "conv_layers": [[4, 4, 4]], "conv_dense": 16})


@pytest.fixture
def stacked_id(register_env):
    return register_env("test/StackedFrames-v0", stacked_env,
                        kwargs={"shape": (8, 8), "levels": 256, "p_end": 0.05,
                                "max_steps": 30})


@pytest.mark.parametrize("prioritized", [False, True])
def test_dqn_buffer_follows_frame_sharing(stacked_id, prioritized):
    kinds = {False: (ReplayBuffer, FrameReplayBuffer),
             True: (PrioritizedReplayBuffer, PrioritizedFrameReplayBuffer)}[prioritized]
    for env_id, sharing, kind in [(stacked_id, "auto", kinds[1]), (stacked_id, "on", kinds[1]),
                                  (stacked_id, "off", kinds[0]), ("CartPole-v1", "auto", kinds[0])]:
        agent = rlkit.make("dqn", env_id, frame_sharing=sharing, prioritized=prioritized,
                           **{**DQN_SMALL, "approximator": {}} if env_id == "CartPole-v1"
                           else DQN_SMALL)
        assert type(agent.buffer) is kind, (env_id, sharing)
    with pytest.raises(ConfigError, match="frame_sharing"):
        rlkit.make("dqn", stacked_id, frame_sharing="yes", **DQN_SMALL)
    with pytest.raises(ConfigError, match="frame_sharing: on"):
        rlkit.make("dqn", "CartPole-v1", frame_sharing="on")


def test_dqn_trains_identically_with_and_without_frame_sharing(stacked_id):
    """n-step, prioritized replay, two envs with episode ends: the same parameters either way."""
    agents = [rlkit.make("dqn", stacked_id, seed=3, frame_sharing=sharing, n_step=3,
                         prioritized=True, **DQN_SMALL).learn() for sharing in ("on", "off")]
    assert isinstance(agents[0].buffer, FrameReplayBuffer)
    assert not isinstance(agents[1].buffer, FrameReplayBuffer)
    for p, q in zip(agents[0].q_net.parameters(), agents[1].q_net.parameters(), strict=True):
        assert torch.equal(p, q)
    every = np.arange(len(agents[1].buffer))
    assert_batches_equal(agents[1].buffer.batch(every), agents[0].buffer.batch(every))


def test_dqn_checkpoint_restores_the_shared_frames(stacked_id, tmp_path):
    agent = rlkit.make("dqn", stacked_id, seed=0, n_step=3, **DQN_SMALL)
    agent.learn(80, run_dir=tmp_path)
    resumed = rlkit.load(tmp_path)
    assert isinstance(resumed.buffer, PrioritizedFrameReplayBuffer)
    every = np.arange(len(agent.buffer))
    assert len(resumed.buffer) == len(every) > 0
    assert_batches_equal(agent.buffer.batch(every), resumed.buffer.batch(every))
    assert_consistent(resumed.buffer)
    resumed.learn(40)
    assert_consistent(resumed.buffer)
