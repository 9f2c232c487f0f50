"""The rlkit command: one-line errors, a full train/eval round trip, Ctrl-C and --resume."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from rlkit.training.metrics import read_metrics
from rlkit.training.registry import agent_names

RLKIT = [sys.executable, "-m", "rlkit.cli"]
ENV = {**os.environ, "WANDB_MODE": "disabled"}


def run(*args, cwd=None, timeout=120):
    return subprocess.run([*RLKIT, *args], capture_output=True, text=True, cwd=cwd, env=ENV,
                          timeout=timeout)


def run_in_process(capsys, *args):
    """The CLI's main() in this process (no torch import per case); (exit code, stderr)."""
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    return exit_info.value.code, capsys.readouterr().err


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "nope", "CartPole-v1"], "unknown algorithm 'nope'; choose from: ppo"),
        (["train", "ppo", "CartPol-v1"], "unknown env id 'CartPol-v1'; did you mean CartPole-v1"),
        (["train", "ppo", "CartPole-v1", "--set", "colour=red"], "unknown config key 'colour'"),
        (["train", "ppo", "CartPole-v1", "--set", "n_steps=many"],
         "config key 'n_steps' expects int, got 'many'"),
        (["train", "ppo", "CartPole-v1", "--config", "missing.yaml"],
         "config file 'missing.yaml' does not exist"),
        (["eval", "no/such/run"], "checkpoint 'no/such/run' does not exist"),
        *[(["train", algo, env, "--set", "env_kwargs={colour: red}"],
           f"could not make '{env}' with env_kwargs {{'colour': 'red'}}")
          for algo, env in (("ppo", "CartPole-v1"), ("a2c", "CartPole-v1"),
                            ("reinforce", "CartPole-v1"), ("dqn", "CartPole-v1"),
                            ("qlearning", "FrozenLake-v1"), ("td0", "rlkit/RandomWalk-v0"))],
        *[(["train", "ppo", "CartPole-v1", "--total-timesteps", budget],
           f"config key 'total_timesteps' must be >= 1, got {budget}") for budget in ("-5", "0")],
        (["train", "dqn", "CartPole-v1", "--n-envs", "0"], "config key 'n_envs' must be >= 1"),
        (["train", "qlearning", "FrozenLake-v1", "--set", "eval_episodes=0"],
         "config key 'eval_episodes' must be >= 1"),
        # non-finite numbers, as YAML writes them and as a user types them
        (["train", "ppo", "CartPole-v1", "--set", "learning_rate=.nan"],
         "config key 'learning_rate' must be a finite number, got nan"),
        (["train", "ppo", "CartPole-v1", "--set", "gamma=inf"],
         "config key 'gamma' must be a finite number, got inf"),
        (["train", "ppo", "CartPole-v1", "--set", "clip_range=-inf"],
         "config key 'clip_range' must be a finite number, got -inf"),
        (["train", "dqn", "CartPole-v1", "--set", "max_grad_norm=.nan"],
         "config key 'max_grad_norm' must be a finite number, got nan"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(args, message, capsys):
    code, err = run_in_process(capsys, *args)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err


def test_corrupt_checkpoint_via_cli(tmp_path, capsys):
    (tmp_path / "broken.pt").write_bytes(b"\x80\x02garbage")
    code, err = run_in_process(capsys, "eval", str(tmp_path / "broken.pt"))
    assert code == 2
    assert err.startswith("error: checkpoint") and "corrupt" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_algorithm_as_a_real_process(tmp_path):
    result = run("train", "nope", "CartPole-v1", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    names = agent_names()  # the registry's agents, in its order
    assert {"ppo", "a2c", "reinforce", "dqn", "qlearning"} <= set(names)
    expected = f"error: unknown algorithm 'nope'; choose from: {', '.join(names)}"
    assert result.stderr.strip() == expected


def test_train_then_eval_round_trip(tmp_path):
    result = run("train", "ppo", "CartPole-v1", "--total-timesteps", "512", "--seed", "4",
                 "--set", "eval_freq=256", "--set", "eval_episodes=2", "--runs-dir", "r",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    (run_dir,) = (tmp_path / "r").iterdir()
    assert run_dir.name.startswith("ppo-CartPole-v1-4-")
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith("eval return ") and str(run_dir.name) in summary
    rows = read_metrics(run_dir)
    assert rows[-1]["global_step"] == 512 and "eval/mean_return" in rows[-1]
    assert {"charts/SPS", "losses/value_loss", "losses/approx_kl"} <= set(rows[-1])
    assert (run_dir / "config.yaml").is_file() and (run_dir / "checkpoint.pt").is_file()
    evaluated = run("eval", str(run_dir), "--episodes", "3")
    assert evaluated.returncode == 0 and "over 3 episodes" in evaluated.stdout


def test_list_shows_agents_and_envs(capsys):
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["list"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    assert "ppo" in out and "CartPole-v1" in out and "rlkit/Rooms-v0" in out


@pytest.mark.parametrize("algo, env_id, args, torso", [
    ("ppo", "ALE/Pong-v5", [], "cnn"),  # no entry: frames (4, 84, 84) uint8 get the CNN
    ("dqn", "MinAtar/Breakout-v1", [], "cnn"),  # no entry: MinAtar's bool grids too
    ("dqn", "MinAtar/Breakout-v1", ["--set", "approximator.type=mlp"], "mlp"),  # asked for
    ("dqn", "MinAtar/Breakout-v1", ["--config", "CANDIDATE"], "cnn"),
    ("ppo", "MinAtar/Breakout-v1", [], "cnn"),  # a tuned pattern entry (a CNN)
    ("dqn", "rlkit/PixelGrid-v0", [], "cnn"),  # a tuned entry's CNN
    ("dqn", "MinAtar/SpaceInvaders-v1", [], "cnn"),  # an entry that picks no torso (below)
    ("dqn", "CartPole-v1", [], "mlp"),  # not frames
])
def test_frames_get_a_cnn_unless_a_config_picks_the_torso(algo, env_id, args, torso, tmp_path,
                                                          capsys, monkeypatch):
    """Issue 33: `rlkit train ppo ALE/Pong-v5` builds a CNN with no flags and prints no note."""
    from rlkit import config

    shipped = config.packaged_config
    monkeypatch.setattr(config, "packaged_config", lambda name: (
        {**shipped(name), "envs": {**shipped(name)["envs"], "MinAtar/Space*": {}}}
        if name == "dqn" else shipped(name)))
    candidate = Path(__file__).parents[1] / "benchmarks" / "candidates" / f"{algo}.yaml"
    args = [str(candidate) if arg == "CANDIDATE" else arg for arg in args]
    tiny = {"dqn": ["learning_starts=8", "buffer_size=64"],
            "ppo": ["n_steps=2", "batch_size=16"]}[algo]
    code, err = run_in_process(capsys, "train", algo, env_id, *args, "--total-timesteps", "16",
                               *[f"--set={item}" for item in [*tiny, "eval_episodes=1"]],
                               "--runs-dir", str(tmp_path), "--no-progress",
                               "--wandb-mode", "disabled")
    assert code in (0, None), err
    assert "note:" not in err, err
    (run_dir,) = tmp_path.iterdir()
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["approximator"]["type"] == torso


def test_ctrl_c_checkpoints_and_resume_continues(tmp_path):
    proc = subprocess.Popen(
        [*RLKIT, "train", "ppo", "CartPole-v1", "--total-timesteps", "400000", "--runs-dir",
         "r", "--set", "log_freq=256", "--no-progress"],
        cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.time() + 60
    metrics = None
    while time.time() < deadline:
        found = list((tmp_path / "r").glob("*/metrics.jsonl"))
        if found and found[0].stat().st_size > 0:
            metrics = found[0]
            break
        time.sleep(0.2)
    assert metrics is not None, "training never wrote a metrics row"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in out
    run_dir = metrics.parent
    rows_before = read_metrics(run_dir)
    stopped_at = json.loads(metrics.read_text().splitlines()[-1])["global_step"]
    assert (run_dir / "checkpoint.pt").is_file()

    import rlkit

    saved_step = rlkit.load(run_dir).global_step
    assert saved_step >= stopped_at
    target = saved_step + 512
    resumed = run("train", "ppo", "CartPole-v1", "--resume", str(run_dir), "--total-timesteps",
                  str(target), "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"from step {saved_step}" in resumed.stdout
    rows = read_metrics(run_dir)
    assert rows[: len(rows_before)] == rows_before and rows[-1]["global_step"] == target
    assert rlkit.load(Path(run_dir)).global_step == target


def test_set_seed_is_the_seed_and_seed_wins_over_it(tmp_path, capsys):
    """--set seed=3 is an ordinary key (it once collided with make()'s own seed argument)."""
    for args, seed in ((["--set", "seed=3"], 3), (["--set", "seed=3", "--seed", "5"], 5)):
        code, _ = run_in_process(capsys, "train", "ppo", "CartPole-v1", *args,
                                 "--total-timesteps", "64", "--runs-dir", str(tmp_path / "r"),
                                 "--no-progress", "--wandb-mode", "disabled")
        assert code in (0, None)
        assert any(path.name.startswith(f"ppo-CartPole-v1-{seed}-")
                   for path in (tmp_path / "r").iterdir())


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sweep_and_tune_exit_with_the_signal_received_even_when_ray_retypes_the_interrupt(
        capsys, signum, status):
    """Ray re-raises a KeyboardInterrupt that came while it waited as a plain one (its
    ``_Terminated`` type lost, exit 130 on a SIGTERM before): the exit status follows the
    signal that arrived, not the exception's type."""
    from rlkit.cli import _interrupted, _sigterm_as_ctrl_c

    def ray_wait():  # what ray.get/ray.wait do with an interrupt raised inside them
        try:
            os.kill(os.getpid(), signum)
            time.sleep(5)
        except KeyboardInterrupt:
            raise KeyboardInterrupt from None

    # Python's own Ctrl-C handler: an xdist worker ignores SIGINT
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(SystemExit) as exit_info:
            try:
                with _sigterm_as_ctrl_c():
                    ray_wait()
            except KeyboardInterrupt as exc:
                _interrupted("the study", exc)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert exit_info.value.code == status
    assert "run the same command again" in capsys.readouterr().err


def test_demos_on_an_agent_that_takes_none_is_one_line(capsys):
    code, err = run_in_process(capsys, "train", "ppo", "CartPole-v1", "--demos", "demos/x")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ppo does not learn from demonstrations (--demos)"), err


@pytest.fixture
def demo_agent(monkeypatch):
    """An agent named demo_taker whose Config has a demos key (PPO's plus that key), and the
    overrides ``rlkit.make`` is called with (it stops the command there)."""
    import dataclasses
    import importlib.machinery
    import types

    import rlkit
    from rlkit.agents.ppo import PPO
    from rlkit.errors import RlkitError
    from rlkit.training import registry

    @dataclasses.dataclass
    class DemoConfig(PPO.Config):
        demos: str = ""

    module = types.ModuleType("fake_demo_agent")
    module.__spec__ = importlib.machinery.ModuleSpec("fake_demo_agent", None)
    module.DemoPPO = type("DemoPPO", (PPO,), {"Config": DemoConfig})
    monkeypatch.setitem(sys.modules, "fake_demo_agent", module)
    monkeypatch.setitem(registry._AGENTS, "demo_taker", "fake_demo_agent:DemoPPO")
    made = []

    def make(algo, env_id, config_file=None, **overrides):
        made.append(overrides)
        raise RlkitError("made")

    monkeypatch.setattr(rlkit, "make", make)
    return made


def test_demos_sets_the_config_key_of_an_agent_that_takes_it(demo_agent, tmp_path, capsys,
                                                             monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "demos").mkdir()
    for typed, key in (("demos", str(tmp_path / "demos")),  # a folder: absolute, for --resume
                       ("someone/cartpole/expert-v0", "someone/cartpole/expert-v0")):  # an id
        code, err = run_in_process(capsys, "train", "demo_taker", "CartPole-v1", "--demos",
                                   typed, "--seed", "1")
        assert code == 2 and err.strip() == "error: made"
        assert demo_agent.pop() == {"seed": 1, "demos": key}
    code, err = run_in_process(capsys, "train", "ppo", "CartPole-v1", "--demos", "demos")
    assert "ppo does not learn from demonstrations (--demos); use " in err
    assert "demo_taker" in err.split("; use ")[1]
    code, err = run_in_process(capsys, "train", "demo_taker", "CartPole-v1", "--resume", "run",
                               "--demos", "demos")
    assert code == 2 and err.strip() == ("error: --resume continues a run with its saved "
                                         "config (its demonstrations and expert included); "
                                         "drop --demos and --expert")
    assert demo_agent == []


def test_expert_on_an_agent_that_asks_none_is_one_line(capsys):
    code, err = run_in_process(capsys, "train", "ppo", "CartPole-v1", "--expert", "runs/x")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("error: ppo does not ask an expert (--expert); use "), err
    assert "dagger" in err and "maxent_irl" in err


def test_record_then_each_imitation_agent_trains_from_the_command_line(
        cartpole_expert, tmp_path, monkeypatch, capsys):
    """The acceptance flows at tiny budgets: `rlkit record`, then `rlkit train bc|gail|airl
    ENV --demos DIR`, and `rlkit train dagger ENV --expert RUN`, each ending on its line."""
    monkeypatch.chdir(tmp_path)
    code, _ = run_in_process(capsys, "record", str(cartpole_expert), "--episodes", "2",
                             "--out", "demos")
    assert code in (0, None)
    small = ["--no-progress", "--wandb-mode", "disabled", "--set", "eval_episodes=1"]
    for algo, extra in (("bc", ["--demos", "demos", "--total-timesteps", "20"]),
                        ("gail", ["--demos", "demos", "--total-timesteps", "256",
                                  "--set", "bc_warm_start=5"]),
                        ("airl", ["--demos", "demos", "--total-timesteps", "256"]),
                        ("dagger", ["--expert", str(cartpole_expert), "--total-timesteps", "500",
                                    "--set", "round_steps=250"])):
        code, err = run_in_process(capsys, "train", algo, "CartPole-v1", *extra, *small)
        assert code in (0, None), err
    out = capsys.readouterr().out
    runs = sorted(path.name.split("-")[0] for path in (tmp_path / "runs").iterdir())
    assert runs == ["airl", "bc", "dagger", "gail"], (runs, out)
