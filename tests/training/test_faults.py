"""The fault catalogue (README, "Faults"): each way a long run dies, and what rlkit promises.

SIGTERM, SIGKILL then --resume, divergence, an env that raises or returns NaN, a full disk or
read-only run directory, two runs in one directory, W&B trouble. Fuzzing (config values, YAML
files, checkpoint bytes) is in ``test_fuzz.py``. ``pytest -m faults`` runs both files alone.
"""

import errno
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rlkit
from rlkit.errors import RunError
from rlkit.training.metrics import read_metrics

pytestmark = pytest.mark.faults

RLKIT = [sys.executable, "-m", "rlkit.cli"]
ENV = {**os.environ, "WANDB_MODE": "disabled"}
FAST = ["--set", "n_envs=2", "--set", "n_steps=128", "--set", "batch_size=64",
        "--set", "n_epochs=2", "--set", "eval_episodes=2", "--no-progress"]


def cli(capsys, *args):
    """rlkit's main() in this process: (exit code, stdout, stderr)."""
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def one_error_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def wait_for_rows(run_root: Path, min_step: int = 0, timeout: float = 90) -> Path:
    """The run directory under ``run_root`` once its metrics reach ``min_step``."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for path in run_root.glob("*/metrics.jsonl"):
            whole = [line for line in path.read_text().splitlines() if line.endswith("}")]
            if whole and json.loads(whole[-1])["global_step"] >= min_step:
                return path.parent
        time.sleep(0.05)
    raise AssertionError(f"no metrics row at step {min_step} within {timeout} s")


def rows_without_timing(run_dir: Path) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "charts/SPS"} for row in read_metrics(run_dir)]


# --- 1. SIGTERM --------------------------------------------------------------------------------
def test_sigterm_checkpoints_flushes_and_exits_143_and_resume_continues(tmp_path):
    proc = subprocess.Popen(
        [*RLKIT, "train", "ppo", "CartPole-v1", "--total-timesteps", "400000", "--runs-dir", "r",
         "--set", "log_freq=256", *FAST], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    run_dir = wait_for_rows(tmp_path / "r")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # 128 + SIGTERM: the scheduler sees an interrupted job
    assert "interrupted (SIGTERM)" in out and "--resume" in out
    saved = rlkit.load(run_dir).global_step
    assert read_metrics(run_dir)[-1]["global_step"] == saved  # flushed up to the checkpoint
    assert not (run_dir / ".lock").exists()
    resumed = subprocess.run([*RLKIT, "train", "ppo", "CartPole-v1", "--resume", str(run_dir),
                              "--total-timesteps", str(saved + 512), "--no-progress"],
                             cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert f"from step {saved}" in resumed.stdout


def test_sigterm_resumes_to_the_numbers_of_an_uninterrupted_run(interrupt_and_resume):
    def make():
        # (seed 3 with n_epochs=2 drifted in the last bits after a resume while observations
        # reached MKL in numpy's memory, at addresses that differ from run to run: issue 16,
        # rlkit/core/aligned.py)
        return rlkit.make("ppo", "CartPole-v1", seed=3, total_timesteps=2048, n_envs=2,
                          n_steps=128, batch_size=64, n_epochs=2, eval_freq=512, log_freq=256,
                          eval_episodes=2)

    full, resumed = interrupt_and_resume(make, at=3, signum=signal.SIGTERM)
    assert full.last_eval["returns"] == resumed.last_eval["returns"]


# --- 2. SIGKILL, then --resume -----------------------------------------------------------------
KILL_RUN = ["train", "ppo", "CartPole-v1", "--seed", "1", "--total-timesteps", "24576",
            "--set", "checkpoint_freq=2048", "--set", "log_freq=256", "--set", "eval_freq=4096",
            *FAST]


def test_sigkill_then_resume_loses_at_most_checkpoint_freq_steps_and_no_metrics_rows(tmp_path):
    """Killed at a random step: resuming repeats at most checkpoint_freq steps of work, takes
    over the dead process's lock, and ends with metrics.jsonl equal, row for row, to an
    uninterrupted run's (wall-clock SPS aside): no step twice, none missing, the same numbers."""
    full = subprocess.run([*RLKIT, *KILL_RUN, "--runs-dir", "full"], cwd=tmp_path, env=ENV,
                          capture_output=True, text=True, timeout=180)
    assert full.returncode == 0, full.stderr
    kill_at = random.Random().randrange(2048, 20480, 256)  # a fresh step each time
    proc = subprocess.Popen([*RLKIT, *KILL_RUN, "--runs-dir", "part"], cwd=tmp_path, env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    run_dir = wait_for_rows(tmp_path / "part", kill_at)
    proc.kill()  # SIGKILL: no handler runs
    proc.wait(timeout=30)
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    last_logged = max(json.loads(line)["global_step"] for line in lines if line.endswith("}"))
    saved = rlkit.load(run_dir).global_step
    assert (run_dir / ".lock").exists()  # a dead process's lock, left behind
    assert last_logged - saved <= 2048, (last_logged, saved)  # the work lost (a lower bound)

    resumed = subprocess.run([*RLKIT, "train", "ppo", "CartPole-v1", "--resume", str(run_dir),
                              "--no-progress"], cwd=tmp_path, env=ENV, capture_output=True,
                             text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr
    assert "taking over the stale lock" in resumed.stdout
    full_dir = next((tmp_path / "full").iterdir())
    rows, full_rows = rows_without_timing(run_dir), rows_without_timing(full_dir)
    steps = [row["global_step"] for row in rows]
    assert steps == sorted(set(steps))  # no step twice
    assert steps == [row["global_step"] for row in full_rows]  # none missing
    assert rows == full_rows  # and the same numbers, bit for bit
    if last_logged > saved:
        discarded = (run_dir / "metrics.discarded.jsonl").read_text().splitlines()
        assert len(discarded) >= 1
    print(f"killed at step >= {last_logged}, checkpoint {saved}: {last_logged - saved} steps "
          f"of work lost (lower bound), 0 rows lost or duplicated")


def test_checkpoint_freq_is_independent_of_eval_freq(tmp_path, monkeypatch):
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, total_timesteps=4096, n_envs=2,
                       n_steps=128, batch_size=64, n_epochs=1, eval_freq=0,
                       checkpoint_freq=1024)
    saved_at = []
    original = agent.save
    monkeypatch.setattr(agent, "save", lambda path: (saved_at.append(agent.global_step),
                                                     original(path))[1])
    agent.learn(run_dir=tmp_path / "run")
    # no evaluation before the end; a checkpoint before the work since the last one could
    # pass 1024 steps (iterations of 256 steps)
    assert saved_at == [1024, 2048, 3072, 4096]
    gaps = np.diff([0, *saved_at])
    assert gaps.max() <= 1024


def test_checkpoint_freq_none_checkpoints_with_each_evaluation_and_zero_only_at_the_end(
        tmp_path, monkeypatch):
    for freq, expected in ((None, [1024, 2048]), (0, [2048])):
        agent = rlkit.make("ppo", "CartPole-v1", seed=0, total_timesteps=2048, n_envs=2,
                           n_steps=128, batch_size=64, n_epochs=1, eval_freq=1024,
                           eval_episodes=1, checkpoint_freq=freq)
        saved_at = []
        monkeypatch.setattr(agent, "save", lambda path, a=agent, s=saved_at:
                            s.append(a.global_step))
        agent.learn(run_dir=tmp_path / f"run-{freq}")
        assert saved_at == expected, freq


def test_a_negative_checkpoint_freq_is_a_config_error(capsys):
    code, _, err = cli(capsys, "train", "ppo", "CartPole-v1", "--set", "checkpoint_freq=-1")
    assert code == 2 and "checkpoint_freq" in one_error_line(err)


# --- 3. Divergence -------------------------------------------------------------------------------
def _poison(agent, what: str):
    """Make the agent's 3rd update leave a NaN ``what`` behind."""
    original, calls = agent.update, {"n": 0}

    def update():
        metrics = original()
        calls["n"] += 1
        if calls["n"] == 3:
            param = next(agent.policy.parameters())
            if what == "loss":
                metrics = {**metrics, "losses/value_loss": float("nan")}
            elif what == "gradient":
                param.grad = torch_full_like(param, float("inf"))
            else:
                param.data[0] = float("nan")
        return metrics

    agent.update = update


def torch_full_like(tensor, value):
    import torch

    return torch.full_like(tensor, value)


@pytest.mark.parametrize("what, named", [
    ("loss", "losses/value_loss = nan"),
    ("gradient", "the gradient of ActorCritic."),
    ("parameter", "parameter ActorCritic."),
])
def test_a_non_finite_loss_gradient_or_parameter_stops_the_run_and_keeps_the_checkpoint(
        tmp_path, what, named):
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, total_timesteps=4096, n_envs=2,
                       n_steps=128, batch_size=64, n_epochs=1, eval_freq=0,
                       checkpoint_freq=256, log_freq=256)
    run_dir = tmp_path / "run"
    saved = []
    original_save = agent.save

    def save(path):
        saved.append((agent.global_step, Path(path).read_bytes() if Path(path).exists()
                      else None))
        return original_save(path)

    agent.save = save
    _poison(agent, what)
    with pytest.raises(RunError) as info:
        agent.learn(run_dir=run_dir)
    message = str(info.value)
    assert "diverged at step 768" in message and named in message
    assert "learning_rate" in message and "max_grad_norm" in message
    assert "normalize_reward" in message
    # the checkpoints written were of steps 256 and 512, before the NaN; none after it
    assert [step for step, _ in saved] == [256, 512]
    assert rlkit.load(run_dir).global_step == 512
    assert not (run_dir / ".lock").exists()
    assert read_metrics(run_dir)[-1]["global_step"] == 512  # flushed; no row of the NaN


def test_weights_are_checked_before_every_checkpoint_whatever_the_log_freq(tmp_path):
    """With no metrics row due, the weights are still checked before the checkpoint: a NaN
    parameter is caught at the save, which then does not happen."""
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, total_timesteps=4096, n_envs=2,
                       n_steps=128, batch_size=64, n_epochs=1, eval_freq=0,
                       checkpoint_freq=256, log_freq=10**6)
    _poison(agent, "parameter")
    with pytest.raises(RunError, match="diverged at step 768: parameter ActorCritic"):
        agent.learn(run_dir=tmp_path / "run")
    assert rlkit.load(tmp_path / "run").global_step == 512


class NaNAfter(gym.Env):
    """A 1-D env whose ``quantity`` becomes NaN at the ``at``-th step."""

    observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, quantity="reward", at=300):
        self.quantity, self.at, self.steps = quantity, at, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.steps += 1
        obs, reward = np.zeros(1, np.float32), 1.0
        if self.steps >= self.at:
            if self.quantity == "reward":
                reward = float("nan")
            else:
                obs[0] = np.inf
        return obs, reward, False, self.steps % 50 == 0, {}


@pytest.mark.parametrize("quantity", ["reward", "observation"])
def test_a_non_finite_value_from_the_env_is_one_error_line(tmp_path, capsys, register_env,
                                                           quantity):
    env_id = register_env(f"test/NaN{quantity}-v0", NaNAfter, kwargs={"quantity": quantity})
    code, _, err = cli(capsys, "train", "ppo", env_id, "--total-timesteps", "4096",
                       "--runs-dir", str(tmp_path), "--set", "n_envs=1", "--set",
                       "n_steps=128", "--set", "batch_size=64", "--no-progress",
                       "--wandb-mode", "disabled")
    line = one_error_line(err)
    assert code == 2
    assert f"env '{env_id}' returned a non-finite {quantity}" in line
    # the env's 300th step, after 5 truncations whose autoreset steps the count includes
    assert "at step 305" in line


# --- 4. An env that raises ---------------------------------------------------------------------
class Breaks(gym.Env):
    """Counts steps; raises at the ``FAULTY_AT``-th step of the process while broken."""

    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)
    broken_at: int | None = None
    steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 2).astype(np.float32), {}

    def step(self, action):
        Breaks.steps += 1
        if Breaks.broken_at is not None and Breaks.steps >= Breaks.broken_at:
            raise RuntimeError("sensor unplugged")
        self.t += 1
        obs = self.np_random.uniform(-1, 1, 2).astype(np.float32)
        return obs, float(action == (obs[0] > 0)), False, self.t >= 20, {}


@pytest.mark.parametrize("algo, own", [
    ("ppo", ["n_steps=128", "batch_size=64"]),  # counts its steps when the rollout is done
    ("dqn", ["train_freq=128", "learning_starts=64", "batch_size=32",  # counts each step
             "buffer_size=4096"]),
])
def test_an_env_that_raises_checkpoints_the_last_iteration_and_resume_works_once_fixed(
        tmp_path, capsys, register_env, algo, own):
    env_id = register_env("test/Breaks-v0", Breaks)
    # the 700th env step, with 20-step episodes' autoresets: in the 3rd iteration of 256 steps
    Breaks.steps, Breaks.broken_at = 0, 700
    try:
        code, _, err = cli(capsys, "train", algo, env_id, "--total-timesteps", "2048",
                           "--runs-dir", str(tmp_path), "--set", "n_envs=2",
                           *[a for v in own for a in ("--set", v)], "--set", "eval_freq=0",
                           "--no-progress", "--wandb-mode", "disabled")
    finally:
        Breaks.broken_at = None  # the env is fixed
    line = one_error_line(err)
    assert code == 2
    assert f"env '{env_id}' raised at step 73" in line  # 700 steps and 35 autoresets
    assert "RuntimeError: sensor unplugged" in line
    assert "last completed iteration (step 512)" in line and "--resume" in line
    run_dir = next(tmp_path.iterdir())
    assert rlkit.load(run_dir).global_step == 512
    code, out, err = cli(capsys, "train", algo, env_id, "--resume", str(run_dir),
                         "--no-progress", "--wandb-mode", "disabled")
    assert code in (0, None), err
    assert "from step 512" in out and "eval return" in out
    assert rlkit.load(run_dir).global_step == 2048


# --- 5. Disk full, read-only run directory -------------------------------------------------------
def test_a_full_disk_is_one_error_line_and_leaves_no_partial_checkpoint(tmp_path, capsys,
                                                                        monkeypatch):
    import torch

    import rlkit.training.checkpoint

    real_save, calls = torch.save, {"n": 0}

    def save_until_the_disk_fills(obj, handle):
        calls["n"] += 1
        if calls["n"] >= 2:  # the second checkpoint: half written, then ENOSPC
            handle.write(b"PK\x03\x04 half a file")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, handle)

    monkeypatch.setattr(rlkit.training.checkpoint.torch, "save", save_until_the_disk_fills)
    code, _, err = cli(capsys, "train", "ppo", "CartPole-v1", "--total-timesteps", "4096",
                       "--runs-dir", str(tmp_path), "--set", "checkpoint_freq=1024", *FAST,
                       "--wandb-mode", "disabled")
    line = one_error_line(err)
    assert code == 2 and "cannot write the checkpoint" in line and "the disk is full" in line
    run_dir = next(tmp_path.iterdir())
    assert not list(run_dir.glob("*.tmp"))  # no partial file
    monkeypatch.setattr(rlkit.training.checkpoint.torch, "save", real_save)
    assert rlkit.load(run_dir).global_step == 1024  # the first checkpoint, whole


@pytest.mark.parametrize("error, reason", [(errno.EROFS, "the file system is read-only"),
                                           (errno.EACCES, "permission denied")])
def test_a_read_only_run_directory_is_one_error_line(tmp_path, capsys, monkeypatch, error,
                                                     reason):
    """(Simulated: CI runs as root, who may write into a directory without write permission.)"""
    runs = tmp_path / "ro"
    runs.mkdir()
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):  # nothing may be created under ``runs``
        if runs in self.parents:
            raise OSError(error, os.strerror(error), str(self))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    code, _, err = cli(capsys, "train", "ppo", "CartPole-v1", "--runs-dir", str(runs),
                       "--wandb-mode", "disabled", "--no-progress")
    line = one_error_line(err)
    assert code == 2 and "cannot write the run directory" in line and reason in line


def test_a_full_disk_while_writing_metrics_is_one_error_line(tmp_path, capsys, monkeypatch):
    import rlkit.training.metrics

    class FullFile:
        def __init__(self, path, *args, **kwargs):
            self.path = path

        def write(self, text):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def flush(self):
            pass

        def close(self):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rlkit.training.metrics, "open", FullFile, raising=False)
    code, _, err = cli(capsys, "train", "ppo", "CartPole-v1", "--total-timesteps", "2048",
                       "--runs-dir", str(tmp_path), *FAST, "--wandb-mode", "disabled")
    line = one_error_line(err)
    assert code == 2 and "cannot write the metrics file" in line and "disk is full" in line


# --- 6. Two runs, one directory ----------------------------------------------------------------
def test_a_second_run_in_a_directory_in_use_names_the_other_pid(tmp_path, capsys):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_dir = tmp_path / "run"
        run_dir.mkdir()
        import socket

        (run_dir / ".lock").write_text(json.dumps({"pid": sleeper.pid,
                                                   "host": socket.gethostname()}))
        agent = rlkit.make("ppo", "CartPole-v1", seed=0, total_timesteps=256, n_envs=2,
                           n_steps=128, batch_size=64)
        with pytest.raises(RunError, match=f"in use by another rlkit process \\(PID "
                                           f"{sleeper.pid}"):
            agent.learn(run_dir=run_dir)
        assert json.loads((run_dir / ".lock").read_text())["pid"] == sleeper.pid  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()
    agent.learn(run_dir=run_dir)  # its process is gone: the lock is taken over
    assert "taking over the stale lock of PID" in capsys.readouterr().out
    assert not (run_dir / ".lock").exists()


def test_two_processes_one_directory(tmp_path):
    first = subprocess.Popen(
        [*RLKIT, "train", "ppo", "CartPole-v1", "--total-timesteps", "400000", "--runs-dir",
         "r", "--set", "checkpoint_freq=256", "--set", "log_freq=256", *FAST], cwd=tmp_path,
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        run_dir = wait_for_rows(tmp_path / "r", 512)
        second = subprocess.run([*RLKIT, "train", "ppo", "CartPole-v1", "--resume",
                                 str(run_dir), "--no-progress"], cwd=tmp_path, env=ENV,
                                capture_output=True, text=True, timeout=120)
        line = one_error_line(second.stderr)
        assert second.returncode == 2 and f"(PID {first.pid} on" in line
    finally:
        first.kill()
        first.wait()


# --- 7. W&B trouble ----------------------------------------------------------------------------
class BrokenRun:
    """A W&B run whose log() fails from its ``fail_at``-th call with ``error``."""

    def __init__(self, error, fail_at=3):
        self.error, self.fail_at, self.calls, self.finished = error, fail_at, 0, False
        self.summary = {}

    def log(self, row, step=None):
        self.calls += 1
        if self.calls >= self.fail_at:
            raise self.error

    def finish(self, exit_code=None):
        self.finished = True


@pytest.mark.parametrize("trouble", ["init", "network", "offline directory full"])
def test_wandb_trouble_never_stops_training(tmp_path, capsys, monkeypatch, trouble):
    from rlkit.training.metrics import RunLogger

    run = None
    if trouble == "init":
        def init(*args, **kwargs):
            raise RuntimeError("wandb.init() timed out")
    else:
        error = (ConnectionError("Network is unreachable") if trouble == "network"
                 else OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
        run = BrokenRun(error)

        def init(*args, **kwargs):
            return run
    monkeypatch.setattr(RunLogger, "_init_wandb", staticmethod(init))
    code, out, err = cli(capsys, "train", "ppo", "CartPole-v1", "--total-timesteps", "2048",
                         "--runs-dir", str(tmp_path), "--set", "log_freq=256", *FAST,
                         "--wandb-mode", "offline")
    assert code in (0, None), err
    assert "eval return" in out
    warnings = [line for line in err.splitlines() if line.startswith("warning: W&B")]
    assert len(warnings) == 1 and "training goes on" in warnings[0]
    run_dir = next(tmp_path.iterdir())
    assert read_metrics(run_dir)[-1]["global_step"] == 2048  # every row, in metrics.jsonl
    if run is not None:
        assert run.calls == run.fail_at  # no W&B call after the failure


def test_a_resumed_run_goes_on_in_its_wandb_run_from_the_checkpoint(tmp_path, wandb_records,
                                                                    signal_during_update):
    """Interrupted at step 768 and resumed: the offline W&B run is resumed under its id, and
    what it logs after the resume starts past the checkpoint's step; the two segments hold
    every row of metrics.jsonl once."""
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, total_timesteps=1536, n_envs=2,
                       n_steps=128, batch_size=64, n_epochs=1, eval_freq=0, log_freq=256)
    signal_during_update(agent, at=3, signum=signal.SIGTERM)
    run_dir = tmp_path / "run"
    agent.learn(run_dir=run_dir, wandb_mode="offline")
    saved = rlkit.load(run_dir).global_step
    assert saved == 768
    rlkit.load(run_dir).learn(run_dir=run_dir, wandb_mode="offline")

    def segment(index):
        records = wandb_records(run_dir, index=index)
        run_ids = {r.run.run_id for r in records if r.HasField("run")}
        steps = [json.loads(item.value_json) for r in records if r.HasField("history")
                 for item in r.history.item
                 if ("/".join(item.nested_key) or item.key) == "global_step"]
        return run_ids, steps

    (first_id, first_steps), (second_id, second_steps) = segment(0), segment(1)
    assert first_id == second_id == {(run_dir / "wandb_id.txt").read_text().strip()}
    assert max(first_steps) <= saved < min(second_steps)
    assert first_steps + second_steps == [row["global_step"] for row in read_metrics(run_dir)]
