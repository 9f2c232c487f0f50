"""rlkit tune: search spaces, the pruner's stop, an interrupted study going on, one-line errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import yaml

optuna = pytest.importorskip("optuna")

from rlkit.errors import ConfigError  # noqa: E402
from rlkit.experiments.tune import from_params, load_space, resumed_point, space_file, suggest  # noqa: E402


def run_cli(capsys, *args):
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.mark.parametrize("algo, env_id", [("ppo", "CartPole-v1"), ("a2c", "CartPole-v1"),
                                          ("dqn", "CartPole-v1"), ("reinforce", "CartPole-v1")])
def test_shipped_spaces_are_valid(algo, env_id):
    assert space_file(algo).is_file()
    space = load_space(algo, env_id)
    assert "learning_rate" in space


def write(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("colour: {type: categorical, choices: [red]}", "key 'colour': unknown config key 'colour'"),
    ("approximator.width: {type: int, low: 1, high: 4}", "unknown config key 'approximator.width'"),
    ("gamma: {type: float, low: 0.9, high: 1.5}", "key 'gamma': config key 'gamma' must lie"),
    ("gamma: {type: float, low: 0.99, high: 0.9}", "needs low < high"),
    ("learning_rate: {type: float, low: 0, high: 0.1, log: true}", "low > 0 with log"),
    ("gamma: {type: normal}", "type: float | int | categorical"),
    ("gamma: {type: categorical, choices: []}", "non-empty list of choices"),
    ("n_steps: {type: int, low: a, high: 4}", "needs numbers low and high"),
    ("", "is empty"),
])
def test_bad_space_is_refused(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("|", r"\|")):
        load_space("ppo", "CartPole-v1", write(tmp_path, text))


def test_suggest_and_back():
    space = load_space("ppo", "CartPole-v1")
    params = {"learning_rate": 1e-3, "n_steps": 128, "batch_size": 64, "n_epochs": 5,
              "gamma": 0.99, "gae_lambda": 0.9, "clip_range": 0.2, "ent_coef": 1e-4,
              "approximator.hidden_sizes": "[256, 256]", "approximator.activation": "relu"}
    point = suggest(optuna.trial.FixedTrial(params), space)
    assert point["approximator.hidden_sizes"] == [256, 256] and point["n_steps"] == 128
    assert from_params(params, space) == point


@pytest.mark.parametrize("suggested", [0, 1, "all"])
def test_a_trial_interrupted_before_all_its_suggestions_resumes_with_a_full_point(suggested):
    """A signal between study.ask() and the last suggestion leaves a RUNNING trial with some
    values stored: the resumed trial keeps those and gets the missing ones now."""
    space = load_space("ppo", "CartPole-v1")
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    keys = list(space) if suggested == "all" else list(space)[:suggested]
    stored = suggest(trial, {key: space[key] for key in keys})
    frozen = study.get_trials(deepcopy=False)[0]
    point = resumed_point(study, frozen, space)
    assert set(point) == set(space)
    assert {key: point[key] for key in keys} == stored
    params = study.get_trials(deepcopy=False)[0].params
    assert from_params(params, space) == point  # now stored for the next resume too


@pytest.mark.scale
def test_tune_resumes_a_trial_whose_driver_died_between_its_suggestions(tmp_path):
    """The driver's own resume path: a RUNNING trial with one value stored, left by a driver
    that is gone, is trained to the end by the next `rlkit tune` with a full point."""
    out = tmp_path / "tune"
    out.mkdir()
    storage = f"sqlite:///{out.resolve() / 'study.db'}"
    study = optuna.create_study(study_name="ppo-CartPole-v1", storage=storage,
                                direction="maximize")
    trial = study.ask()
    space = load_space("ppo", "CartPole-v1")
    first = next(iter(space))
    stored = suggest(trial, {first: space[first]})
    trial.set_user_attr("driver", f"{socket.gethostname()}:{2**22 + 12345}")  # no such pid
    cmd = [sys.executable, "-m", "rlkit", "tune", "ppo", "CartPole-v1", "--trials", "1",
           "--workers", "1", "--total-timesteps", "256", "--out", str(out),
           "--set", "eval_freq=128", "--set", "eval_episodes=1", "--set", "n_envs=2",
           "--set", "n_steps=64", "--set", "batch_size=64"]
    done = subprocess.run(cmd, env={**os.environ, "WANDB_MODE": "disabled"},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "resuming 1 trial(s)" in done.stdout
    (resumed,) = optuna.load_study(study_name="ppo-CartPole-v1", storage=storage).trials
    assert resumed.state.name == "COMPLETE" and set(resumed.params) == set(space)
    assert from_params(resumed.params, space)[first] == stored[first]


def test_on_eval_stops_the_run_where_it_says(tmp_path):
    """The pruner's hook: True at the first periodic evaluation ends the run there, with a
    checkpoint, no final evaluation, and ``stopped`` set."""
    import rlkit
    from rlkit.training.loop import train
    from rlkit.training.metrics import read_metrics

    agent = rlkit.make("ppo", "CartPole-v1", seed=0, n_envs=2, n_steps=64, batch_size=64,
                       eval_freq=256, eval_episodes=2)
    seen = []
    out = train(agent, 2048, run_dir=tmp_path, on_eval=lambda step, stats: seen.append(step)
                or len(seen) == 2)
    assert out.stopped and not out.interrupted and seen == [256, 512]
    assert out.global_step == 512 and (tmp_path / "checkpoint.pt").is_file()
    assert [r["global_step"] for r in read_metrics(tmp_path) if "eval/mean_return" in r] == [
        256, 512]
    assert rlkit.load(tmp_path).global_step == 512


@pytest.mark.parametrize("args, message", [
    (["--trials", "0"], "--trials must be 1 or more, got 0"),
    (["--trials", "2", "--space", "SPACE"], "key 'colour': unknown config key 'colour'"),
    (["--trials", "2", "--storage", "nonsense"], "cannot open the Optuna storage 'nonsense'"),
    (["--trials", "2", "--storage", "sqlite:////no/such/folder/study.db"],
     "cannot open the Optuna storage 'sqlite:////no/such/folder/study.db'"),
    # without psycopg installed: "needs its database's Python driver"; with it: no server
    (["--trials", "2", "--storage", "postgresql://me:secret@127.0.0.1:1/db"],
     "the Optuna storage 'postgresql://me:***@127.0.0.1:1/db'"),
    (["--trials", "2", "--ray-address", "127.0.0.1:1"],
     "cannot reach a Ray cluster at '127.0.0.1:1'"),
    (["--trials", "2", "--set", "seed=4"], "seed comes from --seed"),
])
def test_tune_errors_are_one_line_with_status_2(capsys, tmp_path, args, message):
    space = write(tmp_path, "colour: {type: categorical, choices: [red]}")
    args = [str(space) if a == "SPACE" else a for a in args]
    code, _, err = run_cli(capsys, "tune", "ppo", "CartPole-v1", "--out", str(tmp_path / "t"),
                           "--total-timesteps", "64", *args)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err
    assert "secret" not in err


@pytest.mark.scale
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_interrupted_study_continues_with_the_same_command(tmp_path, signum, status):
    """Ctrl-C (or a scheduler's SIGTERM) after a trial has finished, then the same command:
    the study ends with exactly --trials trials, numbered once each, none lost or run twice,
    the finished ones untouched; best.yaml is a config `rlkit train --config` takes."""
    out = tmp_path / "tune"
    # one trial at a time: after the first has finished, the others leave a wide window
    cmd = [sys.executable, "-m", "rlkit", "tune", "ppo", "CartPole-v1", "--trials", "4",
           "--workers", "1", "--total-timesteps", "1024", "--out", str(out),
           "--set", "eval_freq=256", "--set", "eval_episodes=2", "--set", "n_envs=2",
           "--set", "n_steps=64", "--set", "batch_size=64"]
    env = {**os.environ, "WANDB_MODE": "disabled"}
    storage = f"sqlite:///{out.resolve() / 'study.db'}"
    # the signal's default action back (a background job of a shell starts with SIGINT
    # ignored, and a child inherits that, so Ctrl-C would never reach Python)
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=lambda: signal.signal(signum, signal.SIG_DFL))
    deadline, done = time.time() + 180, []
    while time.time() < deadline and not done and first.poll() is None:
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="ppo-CartPole-v1", storage=storage)
        except Exception:  # noqa: BLE001 - not created yet
            continue
        done = [t for t in study.trials if t.state.is_finished()]
    if first.poll() is not None:
        pytest.fail(f"the study ended early: {first.communicate()[1]}")
    assert done, "no trial finished in time"
    first.send_signal(signum)
    _, err = first.communicate(timeout=120)
    assert first.returncode == status, f"exit {first.returncode} (done before the signal?) {err}"
    assert "run the same command again" in err
    interrupted = optuna.load_study(study_name="ppo-CartPole-v1", storage=storage).trials
    before = {t.number: t.value for t in interrupted if t.state.is_finished()}
    assert 1 <= len(before) < 4
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    # a trial the signal caught mid-run is resumed; the signal may also fall between trials
    if any(t.state.name == "RUNNING" for t in interrupted):
        assert "resuming" in again.stdout
    else:
        assert "resuming" not in again.stdout
    trials = optuna.load_study(study_name="ppo-CartPole-v1", storage=storage).trials
    assert sorted(t.number for t in trials) == [0, 1, 2, 3]
    assert all(t.state.is_finished() and t.state.name != "FAIL" for t in trials)
    assert {t.number: t.value for t in trials if t.number in before} == before
    from rlkit.training.metrics import read_metrics

    for number in range(4):
        steps = [r["global_step"] for r in read_metrics(out / "trials" / f"trial-{number:04d}")]
        assert steps == sorted(set(steps)), number  # no step twice after a resume
    for name in ("best.yaml", "history.png", "importance.png"):
        assert (out / name).is_file(), name
    import rlkit

    agent = rlkit.make("ppo", "CartPole-v1", config_file=out / "best.yaml")
    best = yaml.safe_load((out / "best.yaml").read_text())
    assert agent.config.learning_rate == best["learning_rate"]


def _open_at_once(urls: list[str], barrier, results) -> None:
    """One driver: open each new storage in turn, all drivers at the same moment."""
    from rlkit.experiments.tune import open_storage

    for url in urls:
        barrier.wait(timeout=60)
        try:
            open_storage(url)
            results.put("ok")
        except Exception as exc:  # noqa: BLE001 - reported to the test
            results.put(str(exc))


def test_drivers_starting_together_on_a_new_storage_all_open_it(tmp_path):
    """Four drivers open one new SQLite study at once, five times (Optuna creates its tables
    unguarded: without the retry, 3 of 5 such starts had one fail with 'table studies already
    exists' or a UNIQUE constraint on alembic_version; CI saw it once)."""
    import multiprocessing

    # spawned, not forked: a fork of this worker (torch's threads, Ray, W&B) can hang
    context = multiprocessing.get_context("spawn")
    urls = [f"sqlite:///{tmp_path / f'study-{attempt}.db'}" for attempt in range(5)]
    barrier, results = context.Barrier(4), context.Queue()
    drivers = [context.Process(target=_open_at_once, args=(urls, barrier, results))
               for _ in range(4)]
    for driver in drivers:
        driver.start()
    try:
        outcomes = [results.get(timeout=120) for _ in range(4 * len(urls))]
    finally:
        for driver in drivers:
            driver.join(timeout=10)
            if driver.is_alive():
                driver.kill()
    assert outcomes == ["ok"] * len(outcomes), [o for o in outcomes if o != "ok"]
