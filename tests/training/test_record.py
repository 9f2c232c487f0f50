"""``rlkit record``: a trained run's episodes as a Minari dataset that loads back, the agent
acting as in evaluation (deterministic, its memory carried, the env's masks passed on)."""

import numpy as np
import pytest

import rlkit
from rlkit.core.demonstrations import load_demonstrations
from rlkit.envs.rooms import RoomsEnv
from rlkit.training.environment import make_env
from rlkit.training.record import RECORD_SEED_OFFSET, play_episodes


def run_cli(capsys, *args):
    """The CLI's main() in this process: (exit code, stdout, stderr)."""
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    captured = capsys.readouterr()
    return exit_info.value.code, captured.out, captured.err


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A PPO run on CartPole-v1 trained for 256 steps (a few seconds)."""
    path = tmp_path_factory.mktemp("runs") / "ppo"
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, n_steps=64, n_envs=1, eval_episodes=1)
    agent.learn(256, run_dir=path)
    return path


def test_record_writes_a_dataset_of_the_agents_deterministic_episodes(run_dir, tmp_path,
                                                                      capsys):
    out = tmp_path / "demos"
    code, stdout, _ = run_cli(capsys, "record", str(run_dir), "--episodes", "3", "--out",
                              str(out))
    assert code == 0
    agent = rlkit.load(run_dir)
    demos = load_demonstrations(out, agent.observation_space, agent.action_space)
    assert demos.n_episodes == 3 and demos.env_id == "CartPole-v1"
    np.testing.assert_array_equal(demos.returns, demos.lengths)  # CartPole: 1 per step
    assert demos.metadata["episode_returns"] == demos.returns.tolist()
    assert demos.metadata["deterministic"] is True
    assert demos.metadata["source_run"] == str(run_dir.resolve())
    assert demos.metadata["source_step"] == 256 and demos.metadata["source_algo"] == "ppo"
    assert demos.metadata["first_seed"] == RECORD_SEED_OFFSET  # the run's seed 0 + offset
    # each action is the agent's deterministic one in its observation
    np.testing.assert_array_equal(demos.actions, agent.predict(demos.obs, deterministic=True))
    # each episode ends where the env ended it (a terminal step or CartPole's 500-step limit)
    ends = demos.offsets[1:] - 1
    assert np.all(demos.terminated[ends] | demos.truncated[ends])
    assert not np.any((demos.terminated | demos.truncated)[np.setdiff1d(np.arange(len(demos)),
                                                                        ends)])
    mean, std = demos.returns.mean(), demos.returns.std()
    assert stdout.strip() == (f"ppo on CartPole-v1: 3 episodes, return {mean:.2f} +- {std:.2f} "
                              f"(mean length {demos.lengths.mean():.1f}) | dataset: {out}")


def test_the_seed_picks_the_episodes_and_the_same_seed_repeats_them(run_dir, tmp_path, capsys):
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert run_cli(capsys, "record", str(run_dir), "--episodes", "2", "--seed", seed,
                       "--out", str(tmp_path / name))[0] == 0
    a, b, c = (load_demonstrations(tmp_path / name) for name in "abc")
    for key in ("obs", "actions", "next_obs", "rewards", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))
    assert a.metadata["first_seed"] == 7
    assert not np.array_equal(a.obs[0], c.obs[0])  # another reset seed, another start
    reset = make_env("CartPole-v1").reset(seed=7)[0]
    np.testing.assert_array_equal(a.obs[0], reset)
    np.testing.assert_array_equal(a.obs[a.offsets[1]], make_env("CartPole-v1").reset(seed=8)[0])


def test_stochastic_actions_are_sampled_and_said_so(run_dir, tmp_path, capsys):
    out = tmp_path / "demos"
    assert run_cli(capsys, "record", str(run_dir), "--episodes", "2", "--stochastic",
                   "--out", str(out))[0] == 0
    demos = load_demonstrations(out)
    assert demos.metadata["deterministic"] is False
    greedy = rlkit.load(run_dir).predict(demos.obs, deterministic=True)
    assert np.any(demos.actions != greedy)  # a barely trained policy is far from greedy


def test_record_errors_are_one_line(run_dir, tmp_path, capsys):
    used = tmp_path / "used"
    used.mkdir()
    (used / "x").write_text("keep")
    for args, message in (
        (["record", str(run_dir), "--out", str(used)],
         f"error: '{used}' already exists; record into a new or empty folder"),
        (["record", str(tmp_path / "no-run"), "--out", str(tmp_path / "d")],
         f"error: checkpoint '{tmp_path / 'no-run'}' does not exist"),
    ):
        code, _, err = run_cli(capsys, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(message), err
    assert [p.name for p in used.iterdir()] == ["x"] and not (tmp_path / "d").exists()


def spy_on_predict(agent, monkeypatch):
    """Wrap ``agent.predict``: each call's (obs, state in, state out, action_masks) is kept."""
    calls = []
    predict = agent.predict

    def spy(obs, deterministic=True, state=None, episode_start=None, **kwargs):
        if agent.has_memory:
            action, out = predict(obs, deterministic, state, episode_start, **kwargs)
        else:
            action, out = predict(obs, deterministic=deterministic, **kwargs), None
        calls.append((obs, state, out, kwargs.get("action_masks")))
        return (action, out) if agent.has_memory else action

    monkeypatch.setattr(agent, "predict", spy)
    return calls


def test_a_memory_agent_carries_its_state_through_each_episode(monkeypatch):
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, approximator={"type": "lstm"})
    assert agent.has_memory
    calls = spy_on_predict(agent, monkeypatch)
    env = make_env("CartPole-v1")
    episodes = play_episodes(agent, env, 2, seed=3)
    assert len(calls) == sum(len(e) for e in episodes)
    first = len(episodes[0])
    for t, (_, state_in, _, _) in enumerate(calls):
        if t in (0, first):
            assert state_in is None  # each episode starts afresh
        else:
            assert state_in is calls[t - 1][2]  # the state the previous step returned


@pytest.mark.parametrize("algo", ["ppo", "qlearning"])
def test_the_envs_action_masks_reach_the_agent(algo, monkeypatch):
    agent = rlkit.make(algo, "rlkit/Rooms-v0", seed=0)
    calls = spy_on_predict(agent, monkeypatch)
    episodes = play_episodes(agent, make_env("rlkit/Rooms-v0"), 3, seed=0,
                             deterministic=False)
    assert len(calls) == sum(len(e) for e in episodes) > 3
    doors = RoomsEnv.R != -1
    for obs, _, _, masks in calls:
        np.testing.assert_array_equal(masks, doors[obs][None])
    if algo == "ppo":  # it masks its logits: every action goes through a door
        actions = [a for e in episodes for a in e.actions]
        rooms = [o for e in episodes for o in e.observations[:-1]]
        assert all(doors[s, a] for s, a in zip(rooms, actions, strict=True))
