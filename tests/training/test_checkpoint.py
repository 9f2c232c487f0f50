"""Checkpoint files: safe loading, clear errors, numpy round trips, env state."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.core import env_state
from rlkit.errors import CheckpointError
from rlkit.training.checkpoint import decode, encode, load_checkpoint, save_checkpoint
from rlkit.training.environment import make_vec_env


def test_encode_decode_round_trip(tmp_path):
    tree = {"a": np.arange(3, dtype=np.int16), "b": [np.float64(1.5), (np.zeros((2, 2)), "x")],
            "c": np.array(["u", "v"]), "algo": "ppo"}
    save_checkpoint(tree, tmp_path / "c.pt")
    back = load_checkpoint(tmp_path / "c.pt")
    assert back["a"].dtype == np.int16 and back["a"].tolist() == [0, 1, 2]
    assert back["b"][0] == 1.5 and back["b"][1][1] == "x"
    assert back["c"].tolist() == ["u", "v"]
    assert decode(encode(tree))["b"][1][0].shape == (2, 2)


def test_missing_and_corrupt_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        rlkit.load(tmp_path / "nothing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="corrupt or not an rlkit checkpoint"):
        rlkit.load(bad)
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an rlkit checkpoint"):
        rlkit.load(tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not exist"):
        rlkit.load(tmp_path)  # a directory without checkpoint.pt


def test_truncated_checkpoint_is_reported(tmp_path):
    agent = rlkit.make("ppo", "CartPole-v1", n_steps=8, n_envs=1)
    path = agent.save(tmp_path / "ok.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="corrupt"):
        rlkit.load(tmp_path / "cut.pt")


@pytest.mark.parametrize("vectorization", ["sync", "vector_entry_point"])
def test_env_snapshot_restores_the_future(vectorization):
    env = make_vec_env("CartPole-v1", 3, seed=0, vectorization=vectorization)
    env.reset(seed=0)
    for _ in range(7):
        env.step(env.action_space.sample())
    snap = env_state.snapshot(env)
    assert snap["complete"]
    actions = [np.array([i % 2, 1, 0]) for i in range(40)]
    expected = [env.step(a)[0] for a in actions]

    other = make_vec_env("CartPole-v1", 3, seed=5, vectorization=vectorization)
    other.reset(seed=5)
    assert env_state.restore(other, snap)
    for a, obs in zip(actions, expected, strict=True):
        np.testing.assert_array_equal(other.step(a)[0], obs)


def test_async_envs_report_not_restorable():
    env = gym.wrappers.vector.RecordEpisodeStatistics(
        gym.make_vec("CartPole-v1", 2, vectorization_mode="async")
    )
    try:
        env.reset(seed=0)
        assert env_state.snapshot(env)["complete"] is False
    finally:
        env.close()
