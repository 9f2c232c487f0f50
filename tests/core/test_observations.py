"""Structured observations packed into rows of bytes: the layout, worked by hand, and what the
core does with the rows (runner, normalizer, stored dtypes)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rlkit.core import env_faults
from rlkit.core.normalize import PackedObsNormalizer, make_obs_normalizer
from rlkit.core.observations import PackedObservations, is_frames, network_observation_space
from rlkit.core.rollout import EnvRunner, stored_obs_dtype
from rlkit.errors import ConfigError

SPACE = gym.spaces.Dict({
    "id": gym.spaces.Discrete(3, start=1),
    "vec": gym.spaces.Box(-5.0, 5.0, (2,), np.float32),
    "bits": gym.spaces.MultiBinary(3),
})


def test_entries_lie_at_multiples_of_eight_bytes_in_their_own_dtypes():
    packed = PackedObservations(SPACE)
    # Gymnasium's Dict sorts its keys: bits, id, vec
    layout = [(e.name, e.kind, e.dtype, e.shape, e.offset, e.nbytes) for e in packed.entries]
    assert layout == [
        ("bits", "binary", np.uint8, (3,), 0, 3),
        ("id", "discrete", np.int64, (), 8, 8),
        ("vec", "box", np.float32, (2,), 16, 8),
    ]
    assert packed.shape == (24,) and packed.dtype == np.uint8


def test_one_observation_packs_into_its_bytes_and_reads_back():
    packed = PackedObservations(SPACE)
    row = packed.pack({"id": 2, "vec": np.array([1.5, -2.0], np.float32),
                       "bits": np.array([1, 0, 1], np.int8)})
    assert row.shape == (24,) and row.dtype == np.uint8
    assert list(row[:3]) == [1, 0, 1] and not row[3:8].any()  # padding stays zero
    assert row[8:16].view(np.int64)[0] == 1  # id 2 counted from start 1
    np.testing.assert_array_equal(row[16:24].view(np.float32), [1.5, -2.0])
    entries = {e.name: packed.entry_values(row, e) for e in packed.entries}
    assert entries["id"] == 1 and list(entries["bits"]) == [1, 0, 1]


def test_a_vector_envs_batch_packs_into_one_row_per_env():
    packed = PackedObservations(SPACE)
    batch = {"id": np.array([1, 3]), "vec": np.array([[0, 1], [2, 3]], np.float32),
             "bits": np.array([[0, 0, 1], [1, 1, 0]], np.int8)}
    rows = packed.pack(batch)
    assert rows.shape == (2, 24)
    np.testing.assert_array_equal(packed.entry_values(rows, packed.entries[1]), [0, 2])
    np.testing.assert_array_equal(packed.entry_values(rows, packed.entries[2]), [[0, 1], [2, 3]])


def test_tuples_nest_and_frames_keep_their_dtype():
    frames = gym.spaces.Box(0, 255, (5, 5, 3), np.uint8)
    space = gym.spaces.Tuple((gym.spaces.Discrete(2),
                              gym.spaces.Dict({"image": frames,
                                               "ids": gym.spaces.MultiDiscrete([2, 3])})))
    packed = PackedObservations(space)
    assert [(e.path, e.kind, e.dtype, e.offset) for e in packed.entries] == [
        ((0,), "discrete", np.int64, 0),
        ((1, "ids"), "multi_discrete", np.int64, 8),
        ((1, "image"), "frames", np.uint8, 24),
    ]
    assert packed.shape == (24 + 80,)  # 75 frame bytes padded to 80
    image = np.arange(75, dtype=np.uint8).reshape(5, 5, 3)
    row = packed.pack((1, {"image": image, "ids": np.array([1, 2])}))
    np.testing.assert_array_equal(packed.entry_values(row, packed.entries[2]), image)


def test_box_and_discrete_stay_as_they_are_and_other_spaces_are_refused():
    box = gym.spaces.Box(0, 1, (3,))
    assert network_observation_space(box) is box
    assert isinstance(network_observation_space(gym.spaces.MultiBinary(4)), PackedObservations)
    with pytest.raises(ConfigError, match=r"Graph.*entry 'g'.*supported: Box"):
        PackedObservations(gym.spaces.Dict({"g": gym.spaces.Graph(gym.spaces.Discrete(2),
                                                                   None)}))


def test_text_entries_are_left_out_and_named():
    """MiniGrid's mission string: no numbers for a network; the rest of the Dict is read."""
    space = gym.spaces.Dict({"direction": gym.spaces.Discrete(4),
                             "mission": gym.spaces.Text(20)})
    packed = PackedObservations(space)
    assert [e.name for e in packed.entries] == ["direction"] and packed.ignored == ("mission",)
    row = packed.pack({"direction": 3, "mission": "get the key"})
    assert row.view(np.int64).tolist() == [3]
    with pytest.raises(ConfigError, match="no entries a network can read"):
        PackedObservations(gym.spaces.Dict({"mission": gym.spaces.Text(20)}))


def test_frames_are_the_sb3_rule_and_minatar_grids():
    assert is_frames(gym.spaces.Box(0, 255, (84, 84, 4), np.uint8))
    assert is_frames(gym.spaces.Box(0, 1, (10, 10, 7), np.bool_))
    assert not is_frames(gym.spaces.Box(0, 255, (84, 84, 5), np.uint8))
    assert not is_frames(gym.spaces.Box(0, 1, (5, 5, 3), np.float32))


def test_packed_rows_are_stored_as_bytes_even_when_normalized():
    packed = PackedObservations(SPACE)
    assert stored_obs_dtype(packed) == np.uint8
    assert stored_obs_dtype(packed, normalized=True) == np.uint8


def test_normalization_applies_to_each_vector_entry_and_never_to_frames():
    space = gym.spaces.Dict({"a": gym.spaces.Box(-9, 9, (2,), np.float32),
                             "b": gym.spaces.Box(-9, 9, (1,), np.float32),
                             "image": gym.spaces.Box(0, 255, (4, 4, 1), np.uint8)})
    packed = PackedObservations(space)
    normalizer = make_obs_normalizer(packed, clip=10.0)
    assert isinstance(normalizer, PackedObsNormalizer)
    image = np.full((2, 4, 4, 1), 200, np.uint8)
    rows = packed.pack({"a": np.array([[0.0, 0.0], [2.0, 4.0]], np.float32),
                        "b": np.array([[10.0], [30.0]], np.float32), "image": image})
    normalizer.rms.count = 1e-12  # forget the prior count of RunningMeanStd
    normalizer.rms.mean[:] = 0.0
    normalizer.rms.var[:] = 1.0
    normalizer.update(rows)
    # the moments of the two rows: a: mean (1, 2), var (1, 4); b: mean 20, var 100
    np.testing.assert_allclose(normalizer.rms.mean, [1.0, 2.0, 20.0], atol=1e-6)
    np.testing.assert_allclose(normalizer.rms.var, [1.0, 4.0, 100.0], atol=1e-6)
    out = normalizer(rows)
    assert out.dtype == np.uint8 and out.shape == rows.shape
    a, b, frames = (packed.entry_values(out, e) for e in packed.entries)
    np.testing.assert_allclose(a, [[-1.0, -1.0], [1.0, 1.0]], atol=1e-4)
    np.testing.assert_allclose(b, [[-1.0], [1.0]], atol=1e-4)
    np.testing.assert_array_equal(frames, image)  # frames untouched
    np.testing.assert_array_equal(packed.entry_values(rows, packed.entries[0]),
                                  [[0.0, 0.0], [2.0, 4.0]])  # the input rows untouched


class _DictEnv(gym.Env):
    observation_space = gym.spaces.Dict({"x": gym.spaces.Box(-1, 1, (2,), np.float32),
                                         "n": gym.spaces.Discrete(4)})
    action_space = gym.spaces.Discrete(2)

    def __init__(self, bad_at: int = -1) -> None:
        self.t, self.bad_at = 0, bad_at

    def _obs(self):
        x = np.full(2, np.nan if self.t == self.bad_at else self.t / 10, np.float32)
        return {"x": x, "n": self.t % 4}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), 1.0, False, self.t >= 3, {}


def test_the_runner_packs_what_the_env_returns():
    env = gym.vector.SyncVectorEnv([_DictEnv, _DictEnv],
                                   autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    packed = PackedObservations(_DictEnv.observation_space)
    runner = EnvRunner(env, seed=0, pack=packed.pack)
    assert runner.obs.shape == (2, packed.shape[0]) and runner.obs.dtype == np.uint8
    step = runner.step(np.zeros(2, np.int64))
    n_entry, x_entry = packed.entries
    np.testing.assert_array_equal(packed.entry_values(step.next_obs, n_entry), [1, 1])
    np.testing.assert_allclose(packed.entry_values(runner.obs, x_entry), [[0.1, 0.1]] * 2)
    assert runner.state_dict()["obs"].shape == runner.obs.shape  # checkpoints keep rows


def test_a_nan_inside_a_dict_observation_is_reported():
    env = gym.vector.SyncVectorEnv([lambda: _DictEnv(bad_at=1)],
                                   autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP)
    runner = EnvRunner(env, seed=0, pack=PackedObservations(_DictEnv.observation_space).pack)
    with pytest.raises(env_faults.NonFiniteEnvValue, match="observation nan from env 0"):
        runner.step(np.zeros(1, np.int64))
