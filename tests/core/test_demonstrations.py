"""Demonstrations as Minari datasets: written and read back exactly, structured observations as
packed rows, held-out splits by whole episodes, and one-line errors for bad datasets."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest

from rlkit.core.demonstrations import (
    Demonstrations,
    DemonstrationsError,
    Episode,
    load_demonstrations,
    write_minari,
)
from rlkit.core.observations import PackedObservations
from rlkit.errors import RlkitError

BOX = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
DISCRETE = gym.spaces.Discrete(2)


def episodes_of(obs_space, act_space, lengths, seed=0, last_truncated=()):
    """Episodes of random values of the spaces (episode i ends terminated, or truncated where
    i is in ``last_truncated``)."""
    obs_space.seed(seed)
    act_space.seed(seed + 1)
    rng = np.random.default_rng(seed)
    episodes = []
    for i, length in enumerate(lengths):
        episode = Episode([obs_space.sample()], seed=100 + i)
        for t in range(length):
            end = t == length - 1
            episode.step(act_space.sample(), obs_space.sample(), float(rng.normal()),
                         end and i not in last_truncated, end and i in last_truncated)
        episodes.append(episode)
    return episodes


def stacked(values):
    return np.stack([np.asarray(v) for v in values])


def test_a_round_trip_gives_the_same_arrays_and_the_returns_in_the_metadata(tmp_path):
    episodes = episodes_of(BOX, DISCRETE, [4, 1, 3], last_truncated=(1,))
    write_minari(tmp_path / "demos", episodes, BOX, DISCRETE, env_id="Some-v0",
                 metadata={"source_run": "runs/x", "deterministic": True})
    demos = load_demonstrations(tmp_path / "demos", BOX, DISCRETE)

    assert len(demos) == 8 and demos.n_episodes == 3
    assert demos.obs.dtype == np.float32 and demos.actions.dtype == np.int64
    np.testing.assert_array_equal(
        demos.obs, np.concatenate([stacked(e.observations[:-1]) for e in episodes]))
    np.testing.assert_array_equal(
        demos.next_obs, np.concatenate([stacked(e.observations[1:]) for e in episodes]))
    np.testing.assert_array_equal(demos.actions, np.concatenate([e.actions for e in episodes]))
    np.testing.assert_array_equal(demos.rewards, np.concatenate([e.rewards for e in episodes]))
    np.testing.assert_array_equal(demos.terminated, [0, 0, 0, 1, 0, 0, 0, 1])
    np.testing.assert_array_equal(demos.truncated, [0, 0, 0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(demos.lengths, [4, 1, 3])
    returns = [e.total_return for e in episodes]
    np.testing.assert_allclose(demos.returns, returns)
    np.testing.assert_array_equal(demos.episode_starts, [1, 0, 0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(demos.episode_index, [0, 0, 0, 0, 1, 2, 2, 2])
    assert demos.env_id == "Some-v0"
    assert demos.metadata["episode_returns"] == pytest.approx(returns)
    assert demos.metadata["episode_lengths"] == [4, 1, 3]
    assert demos.metadata["source_run"] == "runs/x" and demos.metadata["deterministic"] is True
    # Minari's layout: DIR/data/{metadata.json, main_data.hdf5}; DIR/data loads as well
    assert sorted(p.name for p in (tmp_path / "demos" / "data").iterdir()) == [
        "main_data.hdf5", "metadata.json"]
    assert len(load_demonstrations(tmp_path / "demos" / "data")) == 8


def test_minari_reads_what_rlkit_writes(tmp_path):
    import minari

    env = gym.make("CartPole-v1")
    episodes = episodes_of(env.observation_space, env.action_space, [2, 5])
    write_minari(tmp_path / "cartpole-expert-v3", episodes, env.observation_space,
                 env.action_space, env_id="CartPole-v1", env_spec=env.spec)
    dataset = minari.MinariDataset(tmp_path / "cartpole-expert-v3" / "data")
    assert dataset.total_episodes == 2 and dataset.total_steps == 7
    assert dataset.id == "cartpole-expert-v3"  # the folder's name, a Minari id
    assert dataset.recover_environment().spec.id == "CartPole-v1"
    first = next(dataset.iterate_episodes())
    np.testing.assert_array_equal(first.observations, stacked(episodes[0].observations))
    seeds = [m["seed"] for m in dataset.storage.get_episode_metadata([0, 1])]
    assert seeds == [100, 101]


def test_a_dataset_minari_itself_wrote_loads_by_id_from_the_local_root(tmp_path, monkeypatch):
    import minari
    from minari.data_collector import EpisodeBuffer

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "root"))
    env = gym.make("CartPole-v1")
    episodes = episodes_of(env.observation_space, env.action_space, [3, 2])
    buffers = [EpisodeBuffer(observations=stacked(e.observations), actions=np.array(e.actions),
                             rewards=np.array(e.rewards), terminations=np.array(e.terminations),
                             truncations=np.array(e.truncations)) for e in episodes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Minari asks for an author, a permalink, ...
        minari.create_dataset_from_buffers("someone/cartpole/random-v0", buffers,
                                           env="CartPole-v1")

    demos = load_demonstrations("someone/cartpole/random-v0", env.observation_space,
                                env.action_space)
    assert demos.n_episodes == 2 and demos.env_id == "CartPole-v1"
    np.testing.assert_array_equal(demos.actions, np.concatenate([e.actions for e in episodes]))
    np.testing.assert_allclose(demos.returns, [e.total_return for e in episodes])


def test_dict_and_tuple_observations_are_stored_as_packed_rows(tmp_path):
    space = gym.spaces.Dict({
        "position": gym.spaces.Box(-1.0, 1.0, (2,), np.float32),
        "room": gym.spaces.Discrete(3, start=1),
        "switches": gym.spaces.MultiBinary(3),
        "pair": gym.spaces.Tuple((gym.spaces.Discrete(4), gym.spaces.Box(0.0, 1.0, (1,)))),
    })
    actions = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
    episodes = episodes_of(space, actions, [3, 2])
    write_minari(tmp_path / "d", episodes, space, actions)
    demos = load_demonstrations(tmp_path / "d", space, actions)

    packer = PackedObservations(space)
    assert demos.input_space == packer and demos.observation_space == space
    assert demos.obs.dtype == np.uint8 and demos.obs.shape == (5, packer.shape[0])
    expected = np.stack([packer.pack(o) for e in episodes for o in e.observations[:-1]])
    np.testing.assert_array_equal(demos.obs, expected)
    np.testing.assert_array_equal(
        demos.next_obs, np.stack([packer.pack(o) for e in episodes for o in e.observations[1:]]))
    room = next(entry for entry in packer.entries if entry.path == ("room",))
    np.testing.assert_array_equal(  # counted from 0 in the rows, as every agent reads them
        packer.entry_values(demos.obs, room),
        [o["room"] - 1 for e in episodes for o in e.observations[:-1]])
    np.testing.assert_array_equal(demos.actions, np.concatenate([e.actions for e in episodes]))


@pytest.mark.parametrize("actions", [
    gym.spaces.Discrete(3), gym.spaces.Discrete(3, start=-1),
    gym.spaces.Box(-2.0, 2.0, (2,), np.float32), gym.spaces.MultiDiscrete([3, 4]),
    gym.spaces.MultiBinary(4)], ids=str)
def test_actions_come_back_in_their_space(tmp_path, actions):
    episodes = episodes_of(BOX, actions, [3, 2])
    write_minari(tmp_path / "d", episodes, BOX, actions)
    demos = load_demonstrations(tmp_path / "d", BOX, actions)
    assert demos.actions.dtype == actions.dtype
    assert demos.actions.shape == (5, *actions.shape)
    np.testing.assert_array_equal(demos.actions, stacked([a for e in episodes for a in e.actions]))
    assert all(actions.contains(a) for a in demos.actions)


@pytest.mark.parametrize("space", [
    gym.spaces.Discrete(5),
    gym.spaces.Box(0, 255, (6,), np.uint8),  # a vector of bytes (Minari would JPEG an array)
    gym.spaces.Box(0, 255, (4, 8, 8), np.uint8),  # stacked frames, channels first
    gym.spaces.Box(0, 1, (5, 5, 4), np.bool_),  # MinAtar's grids
], ids=str)
def test_observations_come_back_exactly(tmp_path, space):
    episodes = episodes_of(space, DISCRETE, [3])
    write_minari(tmp_path / "d", episodes, space, DISCRETE)
    demos = load_demonstrations(tmp_path / "d", space, DISCRETE)
    np.testing.assert_array_equal(demos.obs, stacked(episodes[0].observations[:-1]))
    np.testing.assert_array_equal(demos.next_obs, stacked(episodes[0].observations[1:]))


@pytest.mark.parametrize("space", [
    gym.spaces.Box(0, 255, (9, 9, 1), np.uint8),  # rlkit/GoalImage-v0's image
    gym.spaces.Box(0, 255, (20, 20, 3), np.uint8),  # rlkit/PixelGrid-v0's
    gym.spaces.Box(0, 255, (40, 40, 1), np.uint8),  # large enough, but one channel
], ids=str)
def test_images_minari_cannot_read_back_are_refused_before_anything_is_written(tmp_path, space):
    with pytest.raises(DemonstrationsError, match="Minari's HDF5 format cannot store"):
        write_minari(tmp_path / "d", episodes_of(space, DISCRETE, [2]), space, DISCRETE)
    assert list(tmp_path.iterdir()) == []


def test_the_writer_refuses_a_used_folder_and_leaves_nothing_behind_when_it_fails(tmp_path,
                                                                                  monkeypatch):
    from minari.dataset._storages.hdf5_storage import HDF5Storage

    episodes = episodes_of(BOX, DISCRETE, [2])
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    with pytest.raises(DemonstrationsError, match="'.*used' already exists"):
        write_minari(tmp_path / "used", episodes, BOX, DISCRETE)
    assert [p.name for p in (tmp_path / "used").iterdir()] == ["notes.txt"]
    with pytest.raises(TypeError):  # a value JSON cannot hold
        write_minari(tmp_path / "new", episodes, BOX, DISCRETE, metadata={"bad": object()})
    with pytest.raises(ValueError, match="Minari's own"):
        write_minari(tmp_path / "new", episodes, BOX, DISCRETE, metadata={"dataset_id": "x"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]
    def fail(self, buffers):
        raise OSError("disk full")

    with monkeypatch.context() as patch:  # a failure while writing leaves no half dataset
        patch.setattr(HDF5Storage, "update_episodes", fail)
        with pytest.raises(OSError, match="disk full"):
            write_minari(tmp_path / "new", episodes, BOX, DISCRETE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]
    (tmp_path / "empty").mkdir()  # an empty folder is taken
    write_minari(tmp_path / "empty", episodes, BOX, DISCRETE)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "used"]


def _empty_dataset(path):
    """A Minari dataset with no episodes, as Minari itself leaves one."""
    import minari
    from minari.dataset.minari_storage import MinariStorage

    path.mkdir()
    storage = MinariStorage.new(path / "data", observation_space=BOX, action_space=DISCRETE)
    storage.update_metadata({"dataset_id": "empty-v0", "minari_version": minari.__version__})


def _written(path):
    write_minari(path, episodes_of(BOX, DISCRETE, [3, 2]), BOX, DISCRETE)


def _garbage_metadata(path):
    _written(path)
    (path / "data" / "metadata.json").write_text("{not json")


def _garbage_hdf5(path):
    _written(path)
    (path / "data" / "main_data.hdf5").write_bytes(b"\x89HDF\r\n garbage")


def _missing_hdf5(path):
    _written(path)
    (path / "data" / "main_data.hdf5").unlink()


def _miscounted(path):
    _written(path)
    metadata = json.loads((path / "data" / "metadata.json").read_text())
    metadata["total_steps"] = 4
    (path / "data" / "metadata.json").write_text(json.dumps(metadata))


def _not_a_dataset(path):
    path.mkdir()
    (path / "readme.txt").write_text("no dataset here")


def _a_file(path):
    path.write_text("a file")


@pytest.mark.parametrize("make, spaces, message", [
    (None, (None, None), "demonstrations '{path}' not found: no such folder, and no Minari "
                         "dataset of that id in"),
    (_a_file, (None, None), "demonstrations '{path}' is a file, not a Minari dataset's folder"),
    (_not_a_dataset, (None, None), "'{path}' is not a Minari dataset: no metadata.json"),
    (_garbage_metadata, (None, None), "Minari dataset '{path}' cannot be read (JSONDecodeError"),
    (_garbage_hdf5, (None, None), "Minari dataset '{path}' cannot be read (OSError"),
    (_missing_hdf5, (None, None), "Minari dataset '{path}' cannot be read (ValueError"),
    (_miscounted, (None, None), "Minari dataset '{path}' cannot be read (ValueError: more steps"),
    (_empty_dataset, (None, None), "Minari dataset '{path}' has no episodes"),
    (_written, (gym.spaces.Box(-1.0, 1.0, (4,), np.float32), DISCRETE),
     "demonstrations '{path}' have observation space Box(-1.0, 1.0, (3,), float32), but the "
     "env's is Box(-1.0, 1.0, (4,), float32)"),
    (_written, (BOX, gym.spaces.Discrete(3)),
     "demonstrations '{path}' have action space Discrete(2), but the env's is Discrete(3)"),
], ids=["missing", "file", "not-minari", "bad-metadata", "bad-hdf5", "no-hdf5", "miscounted",
        "empty", "observation-space", "action-space"])
def test_each_bad_dataset_is_a_one_line_error(tmp_path, make, spaces, message, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "root"))
    path = tmp_path / "demos"
    if make is not None:
        make(path)
    with pytest.raises(RlkitError) as info:
        load_demonstrations(path, *spaces)
    assert isinstance(info.value, DemonstrationsError)
    text = str(info.value)
    assert "\n" not in text and text.startswith(message.format(path=path)), text
    assert not (tmp_path / "root").exists()  # looking an id up creates no Minari root


def test_a_dataset_id_that_is_not_in_the_local_root_says_nothing_is_downloaded(
        tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    with pytest.raises(DemonstrationsError, match=(
            f"demonstrations 'D4RL/door/human-v2' not found: no such folder, and no Minari "
            f"dataset of that id in {tmp_path} \\(rlkit downloads none")):
        load_demonstrations("D4RL/door/human-v2")


@pytest.fixture
def five(tmp_path):
    """Demonstrations of five episodes of 1..5 steps (episode e's rewards are all e)."""
    episodes = episodes_of(BOX, DISCRETE, [1, 2, 3, 4, 5])
    for e, episode in enumerate(episodes):
        episode.rewards[:] = [float(e)] * len(episode)
    write_minari(tmp_path / "five", episodes, BOX, DISCRETE)
    return load_demonstrations(tmp_path / "five")


def episode_ids(demos: Demonstrations) -> list[int]:
    """Which of the fixture's episodes ``demos`` holds (read from the rewards)."""
    return [int(demos.rewards[start]) for start in demos.offsets[:-1]]


def test_a_split_holds_out_whole_episodes(five):
    kept, held = five.split(0.4, np.random.default_rng(0))
    assert kept.n_episodes == 3 and held.n_episodes == 2
    assert sorted(episode_ids(kept) + episode_ids(held)) == [0, 1, 2, 3, 4]
    for part in (kept, held):
        ids = episode_ids(part)
        assert ids == sorted(ids)  # each side keeps the episodes' order
        np.testing.assert_array_equal(part.lengths, [i + 1 for i in ids])
        np.testing.assert_array_equal(part.returns, [i * (i + 1) for i in ids])
        np.testing.assert_array_equal(part.rewards, np.repeat(ids, part.lengths))
        assert len(part) == part.lengths.sum() == len(part.obs) == len(part.next_obs)
        offsets = part.offsets
        for i, e in enumerate(ids):  # every row moved with its episode
            np.testing.assert_array_equal(part.obs[offsets[i]:offsets[i + 1]],
                                          five.obs[five.offsets[e]:five.offsets[e + 1]])
    same = five.split(0.4, np.random.default_rng(0))
    assert episode_ids(same[1]) == episode_ids(held)
    draws = {tuple(episode_ids(five.split(0.4, np.random.default_rng(s))[1])) for s in range(20)}
    assert len(draws) > 1  # the generator picks them
    assert five.split(0.35, np.random.default_rng(0))[1].n_episodes == 2  # 1.75, rounded
    assert five.split(0.01, np.random.default_rng(0))[1].n_episodes == 1  # at least one
    assert five.split(0.99, np.random.default_rng(0))[0].n_episodes == 1  # one kept


def test_a_split_needs_two_episodes_and_a_fraction_between_zero_and_one(five):
    with pytest.raises(DemonstrationsError, match="needs 2 or more episodes; the demonstrations "
                                                  "hold 1"):
        five.take_episodes(1).split(0.5, np.random.default_rng(0))
    for fraction in (0.0, 1.0):
        with pytest.raises(DemonstrationsError, match="must be in \\(0, 1\\)"):
            five.split(fraction, np.random.default_rng(0))


def test_take_episodes_takes_the_first_ones(five):
    two = five.take_episodes(2)
    assert episode_ids(two) == [0, 1] and len(two) == 3
    np.testing.assert_array_equal(two.actions, five.actions[:3])
    np.testing.assert_array_equal(two.next_obs, five.next_obs[:3])
    assert five.take_episodes(5).n_episodes == 5
    for k in (0, 6):
        with pytest.raises(DemonstrationsError, match=f"cannot take {k} episodes of "
                                                      f"demonstrations that hold 5"):
            five.take_episodes(k)
