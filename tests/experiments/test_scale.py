"""Runs on Ray (rlkit/experiments/scale.py): a two-node cluster on this machine, a killed
worker, addresses."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

from rlkit.errors import RlkitError  # noqa: E402
from rlkit.experiments import scale  # noqa: E402
from rlkit.experiments.sweep import parse_grid, run_sweep  # noqa: E402
from rlkit.training.metrics import read_metrics  # noqa: E402

pytestmark = pytest.mark.scale

TINY = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2, "eval_freq": 512,
        "eval_episodes": 2, "log_freq": 256}


@pytest.fixture(scope="module")
def cluster():
    """A head and a worker node, one CPU each, on loopback."""
    nodes = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    nodes.add_node(num_cpus=1)
    nodes.wait_for_nodes()
    yield nodes
    scale.shutdown()
    nodes.shutdown()


def _steps(run_dir: Path) -> list[int]:
    return [row["global_step"] for row in read_metrics(run_dir)]


def test_sweep_on_two_nodes_equals_each_trial_run_alone(cluster, tmp_path):
    """4 trials (2 grid points x 2 seeds) spread over both nodes; every trial's numbers equal
    those of the same trial trained alone in this process."""
    grid = parse_grid(["learning_rate=1e-3,3e-4"])
    rows = run_sweep("ppo", "CartPole-v1", [0, 1], grid, TINY, tmp_path / "sweep",
                     total_timesteps=1024, ray_address=cluster.address, echo=lambda *a: None)
    assert len(rows) == 4
    hosts_pids = {json.loads(line)["pid"] for trial in (tmp_path / "sweep" / "trials").iterdir()
                  for line in (trial / "attempts.jsonl").read_text().splitlines()}
    assert len(hosts_pids) >= 2  # the trials ran in more than one worker process
    for row in rows:
        alone = tmp_path / f"alone-{row['trial']}"
        overrides = {**TINY, "learning_rate": row["learning_rate"], "seed": row["seed"]}
        expected = scale.train_trial("ppo", "CartPole-v1", overrides, str(alone), 1024)
        assert row["global_step"] == expected["global_step"] == 1024
        assert (row["eval_mean"], row["eval_std"]) == (expected["eval_mean"],
                                                        expected["eval_std"])
        trial_rows = read_metrics(tmp_path / "sweep" / "trials" / f"trial-{row['trial']:03d}")
        alone_rows = read_metrics(alone)
        for key in ("losses/policy_loss", "losses/value_loss", "eval/mean_return"):
            assert [r.get(key) for r in trial_rows] == [r.get(key) for r in alone_rows], key
    summary = (tmp_path / "sweep" / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and summary[0].startswith("learning_rate,seeds,eval_mean")
    assert "(best)" in (tmp_path / "sweep" / "summary.md").read_text()


def test_killed_worker_is_retried_and_resumes_from_its_checkpoint(cluster, tmp_path):
    """SIGKILL the worker process training a trial once it has checkpointed: Ray retries the
    task, which resumes from the checkpoint; metrics.jsonl then has every step once."""
    settings = {**TINY, "checkpoint_freq": 512, "eval_freq": 2048}
    out = tmp_path / "sweep"
    trial_dir = out / "trials" / "trial-000"
    killed: list[int] = []
    sweep_over = threading.Event()

    def kill_when_checkpointed() -> None:
        # no deadline of its own: on a loaded machine Ray may take minutes to start the worker
        while not sweep_over.is_set():
            lock = trial_dir / ".lock"
            if (trial_dir / "checkpoint.pt").is_file() and lock.is_file():
                try:
                    pid = json.loads(lock.read_text())["pid"]
                except (OSError, ValueError):
                    continue
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_checkpointed)
    killer.start()
    try:
        rows = run_sweep("ppo", "CartPole-v1", [0], {}, settings, out, total_timesteps=4096,
                         ray_address=cluster.address, echo=lambda *a: None)
    finally:
        sweep_over.set()
        killer.join()
    assert killed, "the trial finished before it could be killed"
    attempts = [json.loads(line) for line in (trial_dir / "attempts.jsonl").read_text()
                .splitlines()]
    assert len(attempts) == 2 and attempts[0]["pid"] == killed[0]
    assert attempts[1]["from_step"] > 0  # resumed, not restarted
    assert rows[0]["global_step"] == 4096
    alone = tmp_path / "alone"
    scale.train_trial("ppo", "CartPole-v1", {**settings, "seed": 0}, str(alone), 4096)
    assert _steps(trial_dir) == _steps(alone)  # no step missing, none twice


def test_wandb_puts_a_sweep_in_one_group_with_trial_numbers_in_run_names(cluster, tmp_path,
                                                                        wandb_records):
    out = tmp_path / "wb"
    run_sweep("ppo", "CartPole-v1", [0, 1], {}, TINY, out, total_timesteps=256,
              ray_address=cluster.address, wandb_mode="offline", echo=lambda *a: None)
    runs = [next(r.run for r in wandb_records(out / "trials" / f"trial-00{n}")
                 if r.HasField("run")) for n in (0, 1)]
    assert {run.run_group for run in runs} == {"sweep-ppo-wb"}
    assert [run.display_name for run in runs] == ["trial-000 config seed=0",
                                                  "trial-001 config seed=1"]


def test_compare_takes_a_ray_address(cluster, tmp_path):
    from rlkit.experiments.compare import run_comparison

    results = run_comparison("ppo", ["CartPole-v1"], [0], 512, TINY, tmp_path / "cmp",
                             libraries=("rlkit",), ray_address=cluster.address)
    assert [r["global_step"] for r in results] == [512]
    assert (tmp_path / "cmp" / "report.md").is_file()


@pytest.mark.parametrize("address", ["127.0.0.1:1", "ray://127.0.0.1:1"])
def test_unreachable_address_is_one_clear_error(address):
    start = time.perf_counter()
    with pytest.raises(RlkitError, match="cannot reach a Ray cluster at") as err:
        scale.connect(address, 1)
    assert address in str(err.value) and "ray start --head" in str(err.value)
    assert time.perf_counter() - start < 30


def test_malformed_address_is_refused():
    with pytest.raises(RlkitError, match="expects auto, HOST:PORT or ray://HOST:PORT"):
        scale.connect("http://example", 1)


def test_missing_package_names_the_extra(monkeypatch):
    import importlib

    def missing(name):
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", missing)
    with pytest.raises(RlkitError, match=r"needs optuna.*pip install 'rlkit\[scale\]'"):
        scale.require("optuna")


def test_a_cuda_run_asks_ray_for_a_gpu():
    assert scale.gpus_for({"device": "cuda"}) == 1.0
    assert scale.gpus_for({"device": "cuda:1"}) == 1.0
    assert scale.gpus_for({}) == 0.0 and scale.gpus_for({"device": "cpu"}) == 0.0
