import re

import gymnasium as gym
import pytest
import torch

import rlkit
from rlkit.errors import RlkitError
from rlkit.training.environment import make_vec_env


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


USER_MODULE = '''
import re

import gymnasium as gym
import numpy as np


class Corridor(gym.Env):
    """Walk right (action 1) to the end of a 4-cell corridor; reward 1 there."""

    observation_space = gym.spaces.Box(0.0, 3.0, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x = 0
        return np.array([self.x], np.float32), {}

    def step(self, action):
        self.x = max(0, min(3, self.x + (1 if action == 1 else -1)))
        return np.array([self.x], np.float32), float(self.x == 3), self.x == 3, False, {}


gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=20)
'''


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of the user's, importable by name, that registers Corridor-v0 on import."""
    import sys

    name = f"user_envs_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(USER_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield name
    sys.modules.pop(name, None)
    gym.registry.pop("Corridor-v0", None)


def test_users_env_by_module_and_id(user_module, tmp_path):
    """`module:EnvId` imports the module, which registers the env, everywhere rlkit takes an id:
    rlkit.make, training, a config's per-env entry, save and load."""
    env_id = f"{user_module}:Corridor-v0"
    config = tmp_path / "corridor.yaml"
    config.write_text("envs:\n  Corridor-v0:\n    n_steps: 16\n")
    agent = rlkit.make("ppo", env_id, seed=0, n_envs=2, batch_size=32, eval_freq=0,
                       eval_episodes=1, config_file=config)
    assert agent.config.n_steps == 16
    agent.learn(64)
    assert agent.global_step == 64 and agent.env_id == env_id
    loaded = rlkit.load(agent.save(tmp_path / "corridor.pt"))
    assert loaded.env_id == env_id


def test_users_env_through_the_cli(user_module, tmp_path, capsys):
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["train", "a2c", f"{user_module}:Corridor-v0", "--total-timesteps", "80",
              "--runs-dir", str(tmp_path / "runs"), "--set", "eval_episodes=1"])
    assert exit_info.value.code == 0
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert run_dir.name.startswith(f"a2c-{user_module}_Corridor-v0-0-")


@pytest.mark.parametrize(("module", "message"), [
    ("no_such_module_xyz", "could not import module 'no_such_module_xyz' (ModuleNotFoundError"),
    ("rlkit.envs", "unknown env id 'rlkit.envs:Nope-v0'"),
])
def test_users_env_that_does_not_import_is_one_error(module, message):
    with pytest.raises(RlkitError, match=re.escape(message)):
        rlkit.make("ppo", f"{module}:Nope-v0")
