import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from rlkit.core.rollout import EnvRunner
from rlkit.training.environment import make_vec_env


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


def test_load_state_dict_restores_the_runner_with_its_dtypes(counter):
    """Counter: reward 1 per step, terminates on step 3. The state is taken after 2 steps
    and handed back with plain numbers of other dtypes (as a checkpoint format may)."""
    env_id = counter(3, 10)
    runner = EnvRunner(make_vec_env(env_id, 2, seed=0), seed=0)
    for _ in range(2):
        runner.step(np.zeros(2, dtype=np.int64))
    state = runner.state_dict()
    state.update(autoreset=np.array([0, 0]), episode_return=[2, 2], episode_length=[2.0, 2.0])
    restored = EnvRunner(make_vec_env(env_id, 2, seed=1), seed=1)
    assert restored.load_state_dict(state) is True
    assert restored.infos == {}
    assert restored.autoreset.dtype == bool and restored.episode_return.dtype == np.float64
    assert restored.episode_length.dtype == np.int64
    step = restored.step(np.zeros(2, dtype=np.int64))  # step 3 ends both episodes
    assert step.valid.tolist() == [True, True] and step.terminated.tolist() == [True, True]
    finished = restored.pop_finished()
    assert finished == [(3.0, 3), (3.0, 3)] and isinstance(finished[0][1], int)
    # the state after that step: both envs are due for their autoreset step
    state = restored.state_dict()
    state["autoreset"] = state["autoreset"].astype(np.int64)
    again = EnvRunner(make_vec_env(env_id, 2, seed=2), seed=2)
    again.load_state_dict(state)
    assert again.autoreset.tolist() == [True, True]
    assert again.step(np.zeros(2, dtype=np.int64)).valid.tolist() == [False, False]


def test_load_state_dict_of_an_env_that_cannot_be_restored_says_so(counter):
    env_id = counter(3, 10)
    runner = EnvRunner(make_vec_env(env_id, 2, seed=0), seed=0)
    state = runner.state_dict()
    state["env"] = {**state["env"], "complete": False}
    assert EnvRunner(make_vec_env(env_id, 2, seed=0), seed=0).load_state_dict(state) is False


def test_to_env_actions_clips_into_both_bounds():
    from rlkit.core.rollout import to_env_actions

    box = gym.spaces.Box(-1.0, 2.0, (3,), np.float32)
    np.testing.assert_array_equal(to_env_actions(np.array([-5.0, 0.5, 5.0]), box),
                                  [-1.0, 0.5, 2.0])
    discrete = np.array([3, 0])
    assert to_env_actions(discrete, gym.spaces.Discrete(4)) is discrete


def test_rollout_shapes_pick_dtypes_from_the_spaces():
    from rlkit.core.rollout import rollout_shapes

    box = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    discrete = gym.spaces.Discrete(3)
    assert rollout_shapes(box, box) == {"obs_shape": (2,), "action_shape": (2,),
                                        "obs_dtype": np.float32, "action_dtype": np.float32}
    assert rollout_shapes(discrete, discrete) == {"obs_shape": (), "action_shape": (),
                                                  "obs_dtype": np.int64, "action_dtype": np.int64}


def test_runner_keeps_lengths_float32_rewards_and_cuts_the_scaled_return_at_episode_ends(counter):
    """Counter pays 1 per step and terminates after 3 steps. The reward scaler's running
    return G = 0.5 G + r is 1, 1.5, then restarts at the episode end."""
    from rlkit.core.normalize import RewardScaler

    env_id = counter(3, 5)
    runner = EnvRunner(make_vec_env(env_id, 1, seed=0), seed=0)
    for _ in range(3):
        step = runner.step(np.zeros(1, dtype=np.int64))
    assert step.rewards.dtype == np.float32
    assert list(runner.episode_lengths) == [3] and list(runner.episode_returns) == [3.0]
    assert runner.episode_length.dtype == np.int64
    scaler = RewardScaler(1, gamma=0.5)
    runner = EnvRunner(make_vec_env(env_id, 1, seed=0), seed=0, reward_scaler=scaler)
    returns = []
    for _ in range(3):
        runner.step(np.zeros(1, dtype=np.int64))
        returns.append(scaler.discounted_return.tolist())
    assert returns == [[1.0], [1.5], [0.0]]


def test_runner_keeps_the_last_100_episodes(counter):
    """Counter(1): every episode is one step, then an autoreset step: 8 envs x 13 = 104."""
    runner = EnvRunner(make_vec_env(counter(1, 5), 8, seed=0), seed=0)
    for _ in range(26):
        runner.step(np.zeros(8, dtype=np.int64))
    assert len(runner.pop_finished()) == 104
    assert len(runner.episode_returns) == len(runner.episode_lengths) == 100


@pytest.mark.parametrize("clip_reward", [False, True])
def test_clip_reward_learns_the_sign_and_reports_the_score(clip_reward):
    """Pendulum pays r = -(theta^2 + 0.1 theta_dot^2 + 0.001 u^2) < 0: the agent's buffer holds
    sign(r) = -1 with clip_reward, r itself without; the episode statistics always see r."""
    import rlkit

    agent = rlkit.make("ppo", "Pendulum-v1", seed=0, n_envs=2, n_steps=8, batch_size=16,
                       n_epochs=1, clip_reward=clip_reward)
    agent.runner = agent.make_runner()
    agent.collect()
    rewards = agent.buffer.rewards
    raw_return = agent.runner.episode_return
    assert (raw_return < 0).all() and not np.allclose(raw_return, -8.0)
    if clip_reward:  # every Pendulum reward is negative
        np.testing.assert_array_equal(rewards, -np.ones_like(rewards))
    else:  # no episode ends within 8 steps: the runner's return is the rewards' sum
        np.testing.assert_allclose(rewards.sum(0), raw_return, rtol=1e-5)


@pytest.mark.parametrize("normalize_obs", [False, True])
def test_frames_stay_uint8_or_bool_in_the_rollout_buffer_unless_normalized(normalize_obs):
    import rlkit

    for env_id, dtype in (("rlkit/PixelGrid-v0", np.uint8), ("MinAtar/Breakout-v1", np.bool_)):
        agent = rlkit.make("ppo", env_id, seed=0, n_envs=2, n_steps=4, batch_size=8,
                           normalize_obs=normalize_obs, approximator={"type": "cnn"})
        expected = np.float32 if normalize_obs else dtype
        assert agent.buffer.obs.dtype == expected
        agent.runner = agent.make_runner()
        agent.collect()
        assert agent.update()["losses/policy_loss"] is not None


@pytest.mark.parametrize("share_torso", [False, True])
def test_a_shared_torso_gives_v_from_the_pass_that_acts(share_torso):
    """With pi and V on one torso, collecting runs the torso once per step (n_envs rows) and
    once on the bootstrap observation; with two torsos, V's runs once over the whole rollout.
    Either way the buffer holds V(s) of every stored observation."""
    import torch

    import rlkit

    agent = rlkit.make("ppo", "CartPole-v1", seed=0, n_envs=2, n_steps=16, batch_size=32,
                       n_epochs=1, share_torso=share_torso)
    rows = []
    for torso in {agent.policy.actor_torso, agent.policy.critic_torso}:
        torso.register_forward_hook(lambda module, args, out: rows.append(len(args[0])))
    agent.runner = agent.make_runner()
    agent.collect()
    acting, bootstrap = [2] * 16, [2]
    assert sorted(rows) == sorted(acting + bootstrap if share_torso else acting + [34])
    with torch.no_grad():
        values = agent.policy.get_value(torch.as_tensor(agent.buffer.obs).flatten(0, 1))
    torch.testing.assert_close(torch.as_tensor(agent.buffer.values).flatten(), values)
