"""Dict, Tuple, MultiDiscrete and MultiBinary observations through the deep agents: packed rows
in their buffers, the env's own observation to ``predict``, exact resume, and learning on
rlkit's Dict envs (rlkit/GoalGrid-v0, rlkit/GoalImage-v0) from their shipped entries."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.core.observations import PackedObservations
from rlkit.envs.goals import optimal_return
from rlkit.training.evaluation import evaluate

SMALL = dict(n_envs=2, n_steps=16, batch_size=16, n_epochs=2, total_timesteps=128,
             eval_freq=64, eval_episodes=2)
SMALL_DQN = dict(n_envs=2, total_timesteps=400, learning_starts=100, batch_size=16,
                 buffer_size=1000, train_freq=4, target_update_interval=50, eval_freq=200,
                 eval_episodes=2)


@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
def test_policy_gradient_agents_store_packed_rows(algo):
    options = {"ppo": SMALL, "a2c": dict(n_envs=2, n_steps=8),
               "reinforce": dict(n_envs=2)}[algo]
    agent = rlkit.make(algo, "rlkit/GoalImage-v0", seed=0, **options)
    assert isinstance(agent.input_space, PackedObservations)
    assert agent.observation_space == gym.make("rlkit/GoalImage-v0").observation_space
    agent.learn(64)
    if algo != "reinforce":
        assert agent.buffer.obs.dtype == np.uint8  # the image entry stays bytes
        assert agent.buffer.obs.shape[-1] == agent.input_space.shape[0]


def test_dqn_replays_packed_rows_with_frames_as_bytes():
    agent = rlkit.make("dqn", "rlkit/GoalImage-v0", seed=0, **SMALL_DQN)
    agent.learn()
    assert agent.buffer.obs.dtype == np.uint8 and agent.buffer.next_obs.dtype == np.uint8
    image = next(e for e in agent.input_space.entries if e.name == "image")
    frames = agent.input_space.entry_values(agent.buffer.obs[:len(agent.buffer)], image)
    assert set(np.unique(frames)) <= {0, 255} and frames.shape[1:] == (5, 5, 1)
    # every stored row shows the agent once
    assert (frames == 255).sum(axis=(1, 2, 3)).tolist() == [1] * len(agent.buffer)


def test_predict_takes_the_envs_own_dict_one_or_a_batch():
    agent = rlkit.make("ppo", "rlkit/GoalGrid-v0", seed=0, **SMALL)
    env = gym.make_vec("rlkit/GoalGrid-v0", num_envs=3)
    batch, _ = env.reset(seed=0)
    actions = agent.predict(batch)
    assert actions.shape == (3,)
    for i in range(3):
        one = {key: value[i] for key, value in batch.items()}
        assert agent.predict(one) == actions[i]
    rows = torch.as_tensor(agent.input_space.pack(batch))
    with torch.inference_mode():
        expected = agent.policy.deterministic_action(rows).numpy()
    np.testing.assert_array_equal(actions, expected)


def test_a_memory_torso_sits_on_the_multi_input_encoder():
    agent = rlkit.make("ppo", "rlkit/GoalImage-v0", seed=0, approximator={"type": "lstm"},
                       **SMALL)
    agent.learn()
    env = gym.make("rlkit/GoalImage-v0")
    obs, _ = env.reset(seed=0)
    action, state = agent.predict(obs, state=None)
    assert env.action_space.contains(int(action)) and state[0].shape[1] == 1


def test_tuple_and_multi_discrete_observations_train_and_evaluate():
    agent = rlkit.make("ppo", "Blackjack-v1", seed=0, **SMALL)  # Tuple of three Discretes
    assert [e.kind for e in agent.input_space.entries] == ["discrete"] * 3
    agent.learn()
    assert np.isfinite(evaluate(agent, 4)["mean_return"])


@pytest.mark.numerics
@pytest.mark.parametrize("algo, env_id, options", [
    ("ppo", "rlkit/GoalImage-v0", {**SMALL, "normalize_obs": True}),
    ("ppo", "rlkit/GoalGrid-v0", {**SMALL, "approximator": {"type": "gru"}}),
    ("dqn", "rlkit/GoalImage-v0", {**SMALL_DQN, "n_step": 3, "normalize_obs": True}),
], ids=["ppo-normalized", "ppo-gru", "dqn-nstep"])
def test_interrupt_then_resume_equals_uninterrupted_run(interrupt_and_resume, algo, env_id,
                                                        options):
    """Packed rows in the runner, the buffers and the normalizer's statistics come back: every
    metrics row and weight bit for bit (the fixture's checks)."""
    interrupt_and_resume(lambda: rlkit.make(algo, env_id, seed=1, **options),
                         at=3 if algo == "ppo" else 7)


@pytest.mark.slow
@pytest.mark.parametrize("env_id", ["rlkit/GoalGrid-v0", "rlkit/GoalImage-v0"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ppo_learns_dict_observation_envs_from_their_entries(learns, env_id, seed):
    """The shipped entries (benchmarks/LEARNING.md: 10 of 10 seeds). The optimum is 0.85 on
    both; wandering, or a policy that ignores the goal entry, scores far less."""
    optimum = optimal_return(5)
    learns("ppo", env_id, seed=seed, bar=optimum - 0.05)


def test_reconstructions_of_a_dict_observation_are_drawn(tmp_path):
    from rlkit.training.evaluation import save_reconstructions

    agent = rlkit.make("ppo", "rlkit/GoalGrid-v0", seed=0, approximator={"type": "vae"},
                       **SMALL)
    path = save_reconstructions(agent, tmp_path / "vae.png", n_images=2)
    assert path.stat().st_size > 0


class _Offsets(gym.Env):
    """Discrete(3, start=5) observations and Discrete(2, start=-1) actions: an id or action
    not shifted by its start raises."""

    observation_space = gym.spaces.Discrete(3, start=5)
    action_space = gym.spaces.Discrete(2, start=-1)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return 7, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action {action!r} is not in {self.action_space}")
        return 5, float(action == 0), True, False, {}


gym.register("rlkit_test/Offsets-v0", entry_point=_Offsets)


@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce", "dqn"])
def test_discrete_spaces_that_start_elsewhere_are_counted_from_zero(algo):
    options = {"dqn": dict(SMALL_DQN, total_timesteps=200)}.get(algo, dict(n_envs=2))
    agent = rlkit.make(algo, "rlkit_test/Offsets-v0", seed=0, **options)
    assert isinstance(agent.input_space, PackedObservations)  # the id, counted from 0
    agent.learn(128)
    assert set(agent.predict(np.array([5, 6, 7])).tolist()) <= {-1, 0}
    assert evaluate(agent, 2)["mean_length"] == 1
