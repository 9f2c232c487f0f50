import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from rlkit.environment import make_vec_env
from rlkit.rollout import EnvRunner


def test_episode_statistics_by_hand_skip_the_autoreset_step(counter):
    # Counter pays 1 per step and terminates after 3 steps; a time limit of 2 truncates first.
    runner = EnvRunner(make_vec_env(counter(3, 2), 2, seed=0), seed=0)
    for _ in range(7):  # per env: step, step (truncated), autoreset, step, step, autoreset, step
        runner.step(np.zeros(2, dtype=np.int64))
    assert runner.pop_finished() == [(2.0, 2)] * 4
    assert runner.episode_return.tolist() == [1.0, 1.0]  # the third episode is one step in
    assert runner.episode_length.tolist() == [1, 1]


@pytest.mark.parametrize("vectorization", ["sync", "vector_entry_point"])
def test_episode_statistics_match_gymnasiums_wrapper(vectorization):
    n_envs, seed = 3, 7
    runner = EnvRunner(make_vec_env("CartPole-v1", n_envs, seed, vectorization), seed)
    vector_kwargs = {"autoreset_mode": AutoresetMode.NEXT_STEP} if vectorization == "sync" else {}
    reference = gym.wrappers.vector.RecordEpisodeStatistics(gym.make_vec(
        "CartPole-v1", n_envs, vectorization_mode=vectorization, vector_kwargs=vector_kwargs))
    reference.reset(seed=seed)
    rng = np.random.default_rng(0)
    expected = []
    for _ in range(300):
        actions = rng.integers(2, size=n_envs)
        runner.step(actions)
        *_, infos = reference.step(actions)
        if "episode" in infos:
            done = infos["_episode"]
            expected += zip(infos["episode"]["r"][done].tolist(),
                            infos["episode"]["l"][done].tolist(), strict=True)
    finished = runner.pop_finished()
    assert len(finished) > 20
    assert finished == expected
