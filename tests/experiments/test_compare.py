"""rlkit compare: the files a comparison writes, resuming, one-line errors, and its statistics
by hand."""

import csv
import json

import numpy as np
import pytest

from rlkit.errors import RlkitError
from rlkit.experiments.compare import parse_seeds
from rlkit.experiments.stats import bootstrap_ci, iqm, steps_to_threshold


def run_cli(capsys, *args):
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


TINY = ["--seeds", "0-1", "--total-timesteps", "512", "--set", "eval_freq=256",
        "--set", "eval_episodes=2", "--set", "n_envs=2", "--set", "n_steps=64",
        "--set", "batch_size=64", "--workers", "2", "--no-progress"]


def test_compare_writes_every_file_with_both_libraries_and_resumes(tmp_path, capsys):
    out = tmp_path / "cmp"
    code, stdout, err = run_cli(capsys, "compare", "ppo", "CartPole-v1", *TINY, "--out", str(out))
    assert code in (0, None), err
    for name in ("report.md", "results.csv", "curves.png", "wallclock.png", "comparison.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert sorted((r["library"], r["seed"]) for r in rows) == [
        ("rlkit", "0"), ("rlkit", "1"), ("sb3", "0"), ("sb3", "1")]
    assert all(int(r["global_step"]) == 512 for r in rows)
    report = (out / "report.md").read_text()
    assert "| rlkit |" in report and "| sb3 |" in report and "Wall-time ratio" in report
    assert "`n_epochs`" in report  # the mapping table
    for library in ("rlkit", "sb3"):  # the same evaluation grid and keys on both sides
        lines = (out / "runs" / f"{library}-ppo-CartPole-v1-0" / "metrics.jsonl").read_text()
        evals = [json.loads(line) for line in lines.splitlines() if "eval/mean_return" in line]
        assert [row["global_step"] for row in evals] == [256, 512]
        assert {"charts/SPS", "eval/mean_return", "eval/std_return"} <= set(evals[-1])

    finished = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/result.json")}
    code, _, err = run_cli(capsys, "compare", "ppo", "CartPole-v1", *TINY, "--out", str(out))
    assert code in (0, None), err
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # nothing ran again


MULTI_DISCRETE_ENV = """
import gymnasium as gym
import numpy as np


class Pick(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.MultiDiscrete([2, 3])

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(2, np.float32), float(action[1] == 2), False, self.t >= 8, {}


gym.register("Pick-v0", entry_point=Pick)
"""


def compare_a_users_env(tmp_path, capsys, monkeypatch, source: str, env_id: str):
    """``rlkit compare ppo`` (one seed, TINY) on ``module:Id`` whose module is ``source``;
    returns the output directory after checking that the command succeeded."""
    module = env_id.split(":")[0]
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "cmp"
    args = [arg if arg != "0-1" else "0" for arg in TINY]
    code, _, err = run_cli(capsys, "compare", "ppo", env_id, *args, "--workers", "1",
                           "--out", str(out))
    assert code in (0, None), err
    return out


def test_compare_runs_both_libraries_on_a_users_multidiscrete_env(tmp_path, capsys,
                                                                  monkeypatch):
    """Issue 33: MultiDiscrete actions map to SB3's; a `module:Id` env (whose report once
    looked the id up in Gymnasium's registry without importing the module) works."""
    out = compare_a_users_env(tmp_path, capsys, monkeypatch, MULTI_DISCRETE_ENV,
                              "pick_env:Pick-v0")
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {row["library"] for row in rows} == {"rlkit", "sb3"}
    assert all(row["global_step"] == "512" for row in rows)


def test_an_interrupted_comparison_resumes_rlkits_run_from_its_checkpoint(
        tmp_path, capsys, signal_during_update):
    """A run the comparison had begun goes on from its checkpoint and ends with the metrics of
    an uninterrupted one; SB3's begun run starts again, its old rows moved aside."""

    import rlkit
    from rlkit.training.loop import train
    from rlkit.training.metrics import read_metrics

    args = ["--seeds", "0", "--total-timesteps", "512", "--set", "eval_freq=256",
            "--set", "eval_episodes=2", "--set", "n_envs=2", "--set", "n_steps=64",
            "--set", "batch_size=64", "--set", "log_freq=128", "--workers", "1",
            "--no-progress"]
    code, _, err = run_cli(capsys, "compare", "ppo", "CartPole-v1", *args,
                           "--out", str(tmp_path / "clean"))
    assert code in (0, None), err
    # the comparison that was killed: rlkit's run checkpointed at step 256, SB3's begun
    out = tmp_path / "killed"
    begun = out / "runs" / "rlkit-ppo-CartPole-v1-0"
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, torch_threads=1, eval_freq=256,
                       eval_episodes=2, n_envs=2, n_steps=64, batch_size=64, log_freq=128)
    signal_during_update(agent, at=2)
    assert train(agent, 512, run_dir=begun).interrupted
    sb3_dir = out / "runs" / "sb3-ppo-CartPole-v1-0"
    sb3_dir.mkdir(parents=True)
    (sb3_dir / "metrics.jsonl").write_text('{"global_step": 999999}\n')
    code, _, err = run_cli(capsys, "compare", "ppo", "CartPole-v1", *args, "--out", str(out))
    assert code in (0, None), err

    def rows(path):
        return [{k: v for k, v in row.items() if k != "charts/SPS"} for row in read_metrics(path)]

    assert rows(begun) == rows(tmp_path / "clean" / "runs" / "rlkit-ppo-CartPole-v1-0")
    assert not (begun / "metrics.discarded.jsonl").exists()  # resumed, not begun again
    assert 999999 not in [row["global_step"] for row in read_metrics(sb3_dir)]
    assert "999999" in (sb3_dir / "metrics.discarded.jsonl").read_text()


@pytest.mark.parametrize("args, message", [
    (["compare", "ppo", "CartPol-v1"], "unknown env id 'CartPol-v1'"),
    (["compare", "reinforce", "CartPole-v1"], "SB3 has no counterpart of rlkit's 'reinforce'"),
    (["compare", "nope", "CartPole-v1"], "unknown algorithm 'nope'"),
    (["compare", "ppo", "CartPole-v1", "--seeds", "5-2"], "seed range '5-2' runs backwards"),
    (["compare", "ppo", "CartPole-v1", "--seeds", "a-b"], "--seeds expects a range"),
    (["compare", "ppo", "CartPole-v1", "--set", "seed=3"], "seeds come from --seeds"),
    (["compare", "a2c", "rlkit/CartPoleNoVel-v0", "--set", "approximator.type=lstm"],
     "neither SB3 nor sb3-contrib has a recurrent A2C"),
])
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, args, message):
    code, _, err = run_cli(capsys, *args, "--out", str(tmp_path / "out"))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


def test_an_output_directory_of_another_comparison_is_refused(tmp_path, capsys):
    out = tmp_path / "cmp"
    out.mkdir()
    (out / "comparison.json").write_text(json.dumps({"algo": "dqn"}))
    code, _, err = run_cli(capsys, "compare", "ppo", "CartPole-v1", *TINY, "--out", str(out))
    assert code == 2 and "holds a different comparison" in err


def test_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("7") == [7]
    assert parse_seeds("3,0,3") == [0, 3]
    with pytest.raises(RlkitError):
        parse_seeds("4-1")


def test_statistics_by_hand():
    # sorted: 1 2 3 4 6 7 8 100; int(8 / 4) = 2 trimmed from each end: mean(3, 4, 6, 7) = 5
    assert iqm(np.array([1, 2, 3, 4, 100, 6, 7, 8])) == 5.0
    assert bootstrap_ci(np.array([3.0, 3.0, 3.0])) == (3.0, 3.0)
    low, high = bootstrap_ci(np.array([0.0, 10.0]))
    assert low == 0.0 and high == 10.0  # resamples of two values: means 0, 5 or 10
    rows = [{"global_step": 100, "eval/mean_return": 10.0}, {"global_step": 200},
            {"global_step": 300, "eval/mean_return": 480.0},
            {"global_step": 400, "eval/mean_return": 500.0}]
    assert steps_to_threshold(rows, 475.0) == 300
    assert steps_to_threshold(rows, 600.0) is None and steps_to_threshold(rows, None) is None


def test_plot_groups_runs_by_env_and_algo_and_refuses_other_folders(tmp_path, capsys):
    import rlkit
    from rlkit.experiments.plots import curve, run_identity

    for seed in (0, 1):
        agent = rlkit.make("ppo", "CartPole-v1", seed=seed, n_envs=2, n_steps=64,
                           batch_size=64, eval_freq=128, eval_episodes=2)
        agent.learn(256, run_dir=tmp_path / f"run{seed}")
    assert run_identity(tmp_path / "run0") == ("rlkit", "ppo", "CartPole-v1")
    steps, seconds, values = curve(tmp_path / "run0")
    assert list(steps) == [128, 256] and seconds[-1] > 0 and len(values) == 2
    code, stdout, err = run_cli(capsys, "plot", str(tmp_path / "run0"), str(tmp_path / "run1"),
                                "--x", "time", "--out", str(tmp_path / "p.png"))
    assert code in (0, None), err
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    code, _, err = run_cli(capsys, "plot", str(tmp_path), "--out", str(tmp_path / "q.png"))
    assert code == 2 and err.startswith("error: ") and "not a run directory" in err


def test_sb3_gets_rlkits_normalization_and_evaluates_through_it(tmp_path, capsys):
    """normalize_obs / normalize_reward become SB3's VecNormalize (same clip and gamma), and
    SB3's evaluation normalizes with its frozen statistics, as rlkit's does."""
    out = tmp_path / "cmp"
    code, _, err = run_cli(capsys, "compare", "a2c", "Pendulum-v1", "--seeds", "0",
                           "--total-timesteps", "256", "--set", "normalize_obs=true",
                           "--set", "normalize_reward=true", "--set", "eval_episodes=1",
                           "--set", "n_envs=2", "--workers", "1", "--no-progress",
                           "--out", str(out))
    assert code in (0, None), err
    report = (out / "report.md").read_text()
    assert "normalize_obs" not in report.split("Hyperparameters")[1]
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {r["library"] for r in rows} == {"rlkit", "sb3"}



@pytest.mark.parametrize("algo, env_id, model", [
    ("ppo", "rlkit/CartPoleNoVel-v0", "RecurrentPPO('MlpLstmPolicy')"),  # sb3-contrib, LSTM
    ("dqn", "rlkit/PixelGrid-v0", "DQN('CnnPolicy')"),  # frames, rlkit's CNN inside SB3's policy
])
def test_memory_and_pixel_agents_compare_against_their_sb3_counterparts(
        tmp_path, capsys, algo, env_id, model):
    out = tmp_path / "cmp"
    own = (["learning_starts=64", "double_q=false", "prioritized=false"] if algo == "dqn"
           else ["n_steps=32"])
    code, _, err = run_cli(capsys, "compare", algo, env_id, "--seeds", "0",
                           "--total-timesteps", "512", "--set", "eval_freq=256",
                           "--set", "eval_episodes=2", *[a for v in own for a in ("--set", v)],
                           "--workers", "1", "--no-progress", "--out", str(out))
    assert code in (0, None), err
    report = (out / "report.md").read_text()
    assert f"SB3 runs `{model}`" in report and "Every rlkit key has its SB3 counterpart" in report
    name = env_id.replace("/", "_")
    lines = (out / "runs" / f"sb3-{algo}-{name}-0" / "metrics.jsonl").read_text().splitlines()
    evals = [json.loads(line) for line in lines if "eval/mean_return" in line]
    assert [row["global_step"] for row in evals] == [256, 512]


def test_sb3_agent_acts_on_normalized_observations():
    from rlkit.experiments.compare import SB3Agent

    class Echo:  # an SB3 model whose action is its input
        def predict(self, obs, deterministic=True):
            return obs, None

    class Double:  # VecNormalize's frozen normalization
        def normalize_obs(self, obs):
            return obs * 2

    obs = np.array([[1.0, -1.0]])
    assert (SB3Agent(Echo(), "x", None).predict(obs) == obs).all()
    assert (SB3Agent(Echo(), "x", None, Double()).predict(obs) == 2 * obs).all()


def test_wandb_puts_both_libraries_and_the_figures_in_one_group(tmp_path, capsys,
                                                                  wandb_records):
    out = tmp_path / "cmp"
    args = [a for a in TINY if a not in ("0-1",)]
    args[args.index("--seeds") + 1:args.index("--seeds") + 1] = ["0"]
    code, _, err = run_cli(capsys, "compare", "ppo", "CartPole-v1", *args, "--wandb-mode",
                           "offline", "--out", str(out))
    assert code in (0, None), err
    groups = set()
    for name in ("rlkit-ppo-CartPole-v1-0", "sb3-ppo-CartPole-v1-0", "../report-run"):
        records = wandb_records(out / "runs" / name)
        run = next(r.run for r in records if r.HasField("run"))
        groups.add(run.run_group)
        keys = {"/".join(i.nested_key) or i.key for r in records if r.HasField("history")
                for i in r.history.item}
        if name.startswith("../"):
            assert {"curves", "wallclock"} <= {k.split("/")[0] for k in keys}  # images
        else:
            assert {"global_step", "eval/mean_return", "charts/SPS"} <= keys
    assert groups == {"compare-ppo-cmp"}


def test_capture_video_records_both_libraries_evaluations(tmp_path, capsys):
    out = tmp_path / "cmp"
    code, _, err = run_cli(capsys, "compare", "ppo", "CartPole-v1", "--seeds", "0",
                           "--total-timesteps", "256", "--set", "eval_freq=256",
                           "--set", "eval_episodes=1", "--set", "n_envs=2", "--set",
                           "n_steps=64", "--set", "batch_size=64", "--workers", "1",
                           "--no-progress", "--capture-video", "--out", str(out))
    assert code in (0, None), err
    for library in ("rlkit", "sb3"):
        run = out / "runs" / f"{library}-ppo-CartPole-v1-0"
        assert list((run / "videos" / "step-256").glob("*.mp4")), library


MASKED_ENV = """
import gymnasium as gym
import numpy as np


class Door(gym.Env):
    \"\"\"Three doors, one or two of them locked each step (info["action_mask"]); a locked
    door raises, so a side that ignores the masks cannot finish.\"\"\"

    observation_space = gym.spaces.Box(0, 1, (3,), np.float32)
    action_space = gym.spaces.Discrete(3)

    def _next(self):
        self.mask = np.zeros(3, np.int8)
        self.mask[self.np_random.choice(3, size=int(self.np_random.integers(1, 3)),
                                        replace=False)] = 1
        return self.mask.astype(np.float32), {"action_mask": self.mask.copy()}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._next()

    def step(self, action):
        if not self.mask[int(action)]:
            raise AssertionError(f"door {action} is locked")
        self.t += 1
        obs, info = self._next()
        return obs, float(action == 0), False, self.t >= 8, info


gym.register("Door-v0", entry_point=Door)
"""


def test_compare_runs_maskable_ppo_where_the_env_gives_action_masks(tmp_path, capsys,
                                                                    monkeypatch):
    """SB3's side is sb3-contrib's MaskablePPO, handed each env's latest mask, in training and
    in evaluation; A2C, which has no masked counterpart, is a one-line error."""
    out = compare_a_users_env(tmp_path, capsys, monkeypatch, MASKED_ENV, "door_env:Door-v0")
    assert "MaskablePPO('MlpPolicy')" in (out / "report.md").read_text()
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert {row["library"] for row in rows} == {"rlkit", "sb3"}
    code, _, err = run_cli(capsys, "compare", "a2c", "door_env:Door-v0", "--seeds", "0",
                           "--total-timesteps", "64", "--out", str(tmp_path / "a2c"))
    assert code not in (0, None) and "MaskablePPO" in err and "A2C" in err
