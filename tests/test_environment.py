import gymnasium as gym
import pytest
import torch

import rlkit
from rlkit.environment import make_vec_env
from rlkit.errors import RlkitError


@pytest.mark.parametrize(
    ("env_id", "n_envs", "native"),
    [("CartPole-v1", 4, True), ("CartPole-v1", 1, False), ("Pendulum-v1", 4, False)],
)
def test_auto_vectorization_uses_native_vector_envs_for_several_envs(env_id, n_envs, native):
    env = make_vec_env(env_id, n_envs, seed=0)
    assert isinstance(env, gym.vector.SyncVectorEnv) != native
    assert env.num_envs == n_envs
    env.close()


def test_vector_entry_point_without_one_is_a_clear_error():
    with pytest.raises(RlkitError, match="no vectorized implementation"):
        make_vec_env("Pendulum-v1", 2, seed=0, vectorization="vector_entry_point")


@pytest.mark.parametrize("callers_threads", [1, 2])
def test_networks_are_built_on_the_configured_thread_count(callers_threads):
    """The orthogonal init of a 256x256 layer rounds differently on one and two threads."""
    torch.set_num_threads(2)
    reference = rlkit.make("dqn", "CartPole-v1", seed=1, torch_threads=1)
    torch.set_num_threads(callers_threads)
    agent = rlkit.make("dqn", "CartPole-v1", seed=1, torch_threads=1)
    assert torch.get_num_threads() == callers_threads  # restored
    for p, q in zip(agent.q_net.parameters(), reference.q_net.parameters(), strict=True):
        assert torch.equal(p, q)
    torch.set_num_threads(1)
