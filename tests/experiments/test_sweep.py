"""rlkit sweep: grid parsing, planning, the summary by hand, and one-line errors."""

from __future__ import annotations

import csv
import json
import os
import signal
import time

import pytest

from rlkit.errors import ConfigError, RlkitError
from rlkit.experiments.sweep import parse_grid, plan, point_overrides, write_summary


def run_cli(capsys, *args):
    from rlkit.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_grid_values_are_yaml_lists_and_numbers():
    grid = parse_grid(["learning_rate=1e-3,3.0e-4", "approximator.hidden_sizes=[64,64],[256]",
                       "approximator.activation=tanh,relu", "anneal_lr=true,false"])
    assert grid == {"learning_rate": [0.001, 0.0003],
                    "approximator.hidden_sizes": [[64, 64], [256]],
                    "approximator.activation": ["tanh", "relu"], "anneal_lr": [True, False]}
    assert point_overrides({"approximator.hidden_sizes": [64], "gamma": 0.9}) == {
        "approximator": {"hidden_sizes": [64]}, "gamma": 0.9}


@pytest.mark.parametrize("items, message", [
    (["learning_rate"], "--grid expects key=value1,value2"),
    (["learning_rate="], "--grid expects key=value1,value2"),
    (["gamma=0.9", "gamma=0.99"], "names 'gamma' twice"),
    (["gamma=0.9,0.9"], "a value is listed twice"),
])
def test_bad_grid_is_refused(items, message):
    with pytest.raises(ConfigError, match=message):
        parse_grid(items)


def test_plan_crosses_points_and_seeds_and_checks_every_point():
    trials = plan("ppo", "CartPole-v1", [0, 1, 2], parse_grid(["n_epochs=1,2"]), {})
    assert [(t.number, t.point["n_epochs"], t.seed) for t in trials] == [
        (0, 1, 0), (1, 1, 1), (2, 1, 2), (3, 2, 0), (4, 2, 1), (5, 2, 2)]
    assert trials[4].name == "trial-004"
    with pytest.raises(ConfigError, match="grid point n_epochs=0: .*n_epochs"):
        plan("ppo", "CartPole-v1", [0], parse_grid(["n_epochs=1,0"]), {})
    with pytest.raises(ConfigError, match="unknown config key 'colour'"):
        plan("ppo", "CartPole-v1", [0], parse_grid(["colour=red,blue"]), {})
    with pytest.raises(RlkitError, match="seeds come from --seeds"):
        plan("ppo", "CartPole-v1", [0], parse_grid(["seed=1,2"]), {})


def test_summary_by_hand(tmp_path):
    """Two points x two seeds: means 15 and 30, the best marked, CI within the seeds' range."""
    grid = {"gamma": [0.9, 0.99]}
    rows = [{"trial": 0, "seed": 0, "gamma": 0.9, "eval_mean": 10.0, "wall_time": 1.0},
            {"trial": 1, "seed": 1, "gamma": 0.9, "eval_mean": 20.0, "wall_time": 3.0},
            {"trial": 2, "seed": 0, "gamma": 0.99, "eval_mean": 30.0, "wall_time": 2.0},
            {"trial": 3, "seed": 1, "gamma": 0.99, "eval_mean": 30.0, "wall_time": 2.0}]
    write_summary(grid, rows, tmp_path)
    table = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert [(r["gamma"], r["seeds"], float(r["eval_mean"]), float(r["wall_time"]))
            for r in table] == [("0.9", "2", 15.0, 2.0), ("0.99", "2", 30.0, 2.0)]
    assert 10.0 <= float(table[0]["ci_low"]) <= 15.0 <= float(table[0]["ci_high"]) <= 20.0
    assert float(table[1]["ci_low"]) == float(table[1]["ci_high"]) == 30.0
    md = (tmp_path / "summary.md").read_text()
    assert "| 0.99 | 2 | 30.00 (best) | [30.00, 30.00] | 2.0 |" in md


@pytest.mark.parametrize("args, message", [
    (["--grid", "colour=red,blue"], "unknown config key 'colour'"),
    (["--grid", "n_epochs"], "--grid expects key=value1,value2"),
    (["--seeds", "4-0"], "runs backwards"),
    (["--set", "seed=3"], "seeds come from --seeds"),
    (["--ray-address", "127.0.0.1:1"], "cannot reach a Ray cluster at '127.0.0.1:1'"),
])
def test_sweep_errors_are_one_line_with_status_2(capsys, tmp_path, args, message):
    code, _, err = run_cli(capsys, "sweep", "ppo", "CartPole-v1", "--out", str(tmp_path / "s"),
                           "--total-timesteps", "64", *args)
    assert code == 2
    assert err.startswith("error: ") and message in err and err.count("\n") == 1, err


def test_a_sweep_directory_holds_one_sweep(tmp_path):
    from rlkit.experiments.sweep import run_sweep

    out = tmp_path / "s"
    out.mkdir()
    (out / "sweep.json").write_text(json.dumps({"algo": "a2c"}))
    with pytest.raises(RlkitError, match="holds a different sweep"):
        run_sweep("ppo", "CartPole-v1", [0], {}, {}, out, 64)


@pytest.fixture
def sigterm_net():
    """While the test runs, a SIGTERM that nothing else handles fails it (its default action
    would end pytest), and SIGINT raises KeyboardInterrupt (pytest run as a background job
    starts with SIGINT ignored). The SIGTERM handler, to check that a command puts it back."""
    def unhandled(signum, frame):
        raise AssertionError("SIGTERM reached no handler of the command")

    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, unhandled),
                signal.SIGINT: signal.signal(signal.SIGINT, signal.default_int_handler)}
    yield unhandled
    for signum, handler in previous.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("command, driver, args", [
    ("sweep", "rlkit.experiments.sweep.run_sweep", []),
    ("tune", "rlkit.experiments.tune.run_tune", ["--trials", "2"]),
], ids=["sweep", "tune"])
@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)],
                         ids=["SIGINT", "SIGTERM"])
def test_sigint_and_sigterm_stop_the_driver_with_the_rerun_line_and_128_plus_the_signal(
        capsys, monkeypatch, tmp_path, sigterm_net, command, driver, args, signum, status):
    """Ctrl-C or a scheduler's SIGTERM while the driver runs: one line saying to run the same
    command again, exit status 130 or 143 (as `rlkit train`'s); the caller's handler is back.
    (test_tune.py's interrupted study checks the rerun on a real study, for both signals.)"""
    def driver_signalled(*args, **kwargs):
        os.kill(os.getpid(), signum)
        time.sleep(10)  # the handler raises here
        raise AssertionError(f"{signal.Signals(signum).name} did not stop the driver")

    monkeypatch.setattr(driver, driver_signalled)
    code, out, err = run_cli(capsys, command, "ppo", "CartPole-v1", "--out",
                             str(tmp_path / "out"), *args)
    assert code == status, err
    assert "run the same command again" in err and err.count("\n") == 1, err
    assert signal.getsignal(signal.SIGTERM) is sigterm_net


@pytest.mark.scale
@pytest.mark.parametrize("address", [None, "cluster"])
def test_ray_keeps_a_sigterm_handler_the_driver_installed(sigterm_net, address):
    """ray.init puts its own SIGTERM handler (a sys.exit) in place of the process's; connect()
    keeps the one `rlkit sweep` and `rlkit tune` installed, so SIGTERM still stops them as
    Ctrl-C does."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    from rlkit.experiments import scale

    assert not ray.is_initialized()
    nodes = None
    if address == "cluster":  # its head node, started in this process, sets its own handler
        nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        signal.signal(signal.SIGTERM, sigterm_net)
    try:
        scale.connect(nodes.address if nodes else None, 1)
        assert signal.getsignal(signal.SIGTERM) is sigterm_net
    finally:
        scale.shutdown()
        if nodes is not None:
            nodes.shutdown()
