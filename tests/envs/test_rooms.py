"""Tests for ``rlkit/Rooms-v0`` (the six-room "Q-learning step by step" example)."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rlkit.envs import RoomsEnv  # importing rlkit.envs registers the ids

ENV_ID = "rlkit/Rooms-v0"
R = RoomsEnv.R
ALLOWED = [(s, a) for s in range(5) for a in range(6) if R[s, a] != -1]
DISALLOWED = [(s, a) for s in range(5) for a in range(6) if R[s, a] == -1]

# The notes' normalised optimal Q table for gamma = 0.8 (0 where there is no door).
NOTES_Q = np.array(
    [
        [0, 0, 0, 0, 80, 0],
        [0, 0, 0, 64, 0, 100],
        [0, 0, 0, 64, 0, 0],
        [0, 80, 51.2, 0, 80, 0],
        [64, 0, 0, 64, 0, 100],
        [0, 80, 0, 0, 80, 100],
    ]
)


@pytest.fixture
def env() -> RoomsEnv:
    return RoomsEnv()


def test_registered_with_time_limit() -> None:
    spec = gymnasium.spec(ENV_ID)
    assert spec.max_episode_steps == 100


def test_check_env_unwrapped_has_no_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID).unwrapped)


def test_check_env_through_make() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gymnasium.make(ENV_ID))
    # check_env always notes that a made env is wrapped; anything else would be ours.
    others = [w for w in caught if "different from the unwrapped version" not in str(w.message)]
    assert not others, [str(w.message) for w in others]


def test_spaces_and_r_matrix() -> None:
    env = gymnasium.make(ENV_ID)
    assert env.observation_space == gymnasium.spaces.Discrete(6)
    assert env.action_space == gymnasium.spaces.Discrete(6)
    assert isinstance(R, np.ndarray) and np.issubdtype(R.dtype, np.integer)
    assert R.shape == (6, 6)
    with pytest.raises(ValueError):
        R[0, 0] = 5  # shared class attribute is read-only


@pytest.mark.parametrize(("s", "a"), ALLOWED)
def test_allowed_action_follows_r(env: RoomsEnv, s: int, a: int) -> None:
    obs, _ = env.reset(seed=0, options={"start": s})
    assert obs == s
    obs, reward, terminated, truncated, info = env.step(a)
    assert obs == a
    assert reward == R[s, a]
    assert terminated == (a == 5)
    assert not truncated
    np.testing.assert_array_equal(info["action_mask"], R[a] != -1)


@pytest.mark.parametrize(("s", "a"), DISALLOWED)
def test_disallowed_action_is_a_no_op(env: RoomsEnv, s: int, a: int) -> None:
    env.reset(seed=0, options={"start": s})
    obs, reward, terminated, truncated, info = env.step(a)
    assert obs == s
    assert reward == 0.0
    assert not terminated and not truncated
    np.testing.assert_array_equal(info["action_mask"], R[s] != -1)


def test_action_mask_on_reset_and_step(env: RoomsEnv) -> None:
    for s in range(5):
        _, info = env.reset(options={"start": s})
        mask = info["action_mask"]
        assert mask.dtype == np.int8 and mask.shape == (6,)
        np.testing.assert_array_equal(mask, (R[s] != -1).astype(np.int8))
    # The mask is a fresh array: modifying it must not change later masks.
    mask[:] = 0
    _, info = env.reset(options={"start": 4})
    np.testing.assert_array_equal(info["action_mask"], R[4] != -1)


def test_entering_goal_terminates_and_row_5_follows_r(env: RoomsEnv) -> None:
    env.reset(options={"start": 4})
    obs, reward, terminated, _, _ = env.step(5)
    assert (obs, reward, terminated) == (5, 100.0, True)
    # Stepping on after termination is undefined in Gymnasium; the env follows R's row 5.
    obs, reward, terminated, _, _ = env.step(5)
    assert (obs, reward, terminated) == (5, 100.0, True)


def test_path_to_goal_from_room_2(env: RoomsEnv) -> None:
    env.reset(options={"start": 2})
    total = 0.0
    for a, done in [(3, False), (1, False), (5, True)]:
        _, reward, terminated, _, _ = env.step(a)
        total += reward
        assert terminated == done
    assert total == 100.0


def test_seeded_reset_is_reproducible_and_covers_start_rooms() -> None:
    env = gymnasium.make(ENV_ID)
    starts = [env.reset(seed=seed)[0] for seed in range(200)]
    assert starts == [env.reset(seed=seed)[0] for seed in range(200)]
    assert set(starts) == {0, 1, 2, 3, 4}
    # An unseeded reset after a seeded one continues the same random stream.
    env.reset(seed=7)
    first = [env.reset()[0] for _ in range(20)]
    env.reset(seed=7)
    assert first == [env.reset()[0] for _ in range(20)]


def test_truncated_after_100_steps() -> None:
    env = gymnasium.make(ENV_ID)
    env.reset(seed=0, options={"start": 0})
    for t in range(1, 101):
        _, _, terminated, truncated, _ = env.step(0)  # no door from 0 to 0: stay put
        assert not terminated
        assert truncated == (t == 100)


def test_invalid_inputs_raise(env: RoomsEnv) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError):
        env.step(6)
    with pytest.raises(ValueError):
        env.reset(options={"start": 5})
    with pytest.raises(ValueError):
        RoomsEnv(render_mode="human")


def test_render_ansi() -> None:
    env = gymnasium.make(ENV_ID, render_mode="ansi")
    env.reset(options={"start": 3})
    assert env.render() == "room 3"


def test_optimal_q_matches_notes() -> None:
    np.testing.assert_allclose(RoomsEnv.optimal_q(0.8), NOTES_Q, atol=1e-8)
    # Bellman optimality with the terminal convention: entering room 5 ends the episode.
    q = RoomsEnv.optimal_q(0.8)
    v = np.where(R != -1, q, -np.inf).max(axis=1)
    v[5] = 0.0
    allowed = R != -1
    np.testing.assert_allclose(q[allowed], (R + 0.8 * v[None, :])[allowed], atol=1e-8)


def test_make_vec() -> None:
    envs = gymnasium.make_vec(ENV_ID, num_envs=2)
    try:
        obs, info = envs.reset(seed=0)
        assert obs.shape == (2,)
        assert info["action_mask"].shape == (2, 6)
        # Take an allowed action in each sub-env.
        actions = np.array([int(np.flatnonzero(m)[0]) for m in info["action_mask"]])
        obs, reward, terminated, truncated, info = envs.step(actions)
        np.testing.assert_array_equal(obs, actions)
        assert reward.shape == terminated.shape == truncated.shape == (2,)
    finally:
        envs.close()
