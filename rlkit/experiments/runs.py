"""One rlkit run in its own directory, as compare, sweep and tune run each of theirs.

A run directory gets ``result.json`` once the run finished; until then its checkpoint lets a
rerun of the same command (or Ray's retry of a task whose worker died) go on where it stopped.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from rlkit.training.checkpoint import CHECKPOINT_NAME
from rlkit.training.faults import LOCK_NAME
from rlkit.training.loop import train
from rlkit.training.metrics import read_metrics
from rlkit.training.registry import load, make

RESULT_NAME = "result.json"


def read_result(run_dir: Path) -> dict[str, Any] | None:
    """A finished run's result, None for one that has not finished (or not begun)."""
    path = run_dir / RESULT_NAME
    return json.loads(path.read_text()) if path.exists() else None


def write_result(run_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """Write ``result.json`` atomically (a killed worker leaves none or a whole one)."""
    tmp = run_dir / (RESULT_NAME + ".tmp")
    tmp.write_text(json.dumps(result))
    tmp.replace(run_dir / RESULT_NAME)
    return result


def release_stale_lock(run_dir: Path) -> None:
    """Remove a run directory's lock before a retried task runs it. Only the task writes there
    (its driver holds the whole experiment's lock), so a lock left behind is an earlier
    attempt's, whose worker died, maybe on another node."""
    (run_dir / LOCK_NAME).unlink(missing_ok=True)


def train_run(algo: str, env_id: str, overrides: dict[str, Any], run_dir: Path,
              total_timesteps: int | None = None, *, wandb_mode: str = "disabled",
              wandb_args: dict[str, Any] | None = None,
              on_eval: Callable[[int, dict[str, float]], bool] | None = None,
              capture_video: bool = False) -> dict[str, Any]:
    """Train one run in ``run_dir`` with one torch thread (K runs in parallel share the
    machine's cores, whatever ``torch_threads`` says): on from its last checkpoint where it
    has one with steps left, else ``make(algo, env_id, **overrides)`` from scratch. A run that
    finished before its result was written gives its last evaluation.

    Each attempt appends a line to ``attempts.jsonl``: where it ran and the step it started
    from (a retry resumes). Returns ``global_step``, ``wall_time``, ``eval_mean``,
    ``eval_std``, ``stopped`` (an ``on_eval`` callback stopped it) and ``interrupted`` (the
    name of the signal that stopped it after a checkpoint, else None).
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(1)
    agent, budget = None, total_timesteps
    if (run_dir / CHECKPOINT_NAME).is_file():
        begun = load(run_dir)
        if begun.can_collect:  # the loop moves the metrics rows logged after it aside
            agent, budget = begun, None
        else:
            evals = [row for row in read_metrics(run_dir) if "eval/mean_return" in row]
            return {"global_step": begun.global_step, "wall_time": 0.0,
                    "eval_mean": evals[-1]["eval/mean_return"],
                    "eval_std": evals[-1]["eval/std_return"], "stopped": False,
                    "interrupted": None}
    if agent is None:
        agent = make(algo, env_id, **{**overrides, "torch_threads": 1})
    with (run_dir / "attempts.jsonl").open("a") as handle:
        handle.write(json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                 "from_step": agent.global_step}) + "\n")
    out = train(agent, budget, run_dir=run_dir, wandb_mode=wandb_mode, wandb_args=wandb_args,
                on_eval=on_eval, capture_video=capture_video)
    return {"global_step": out.global_step, "wall_time": out.wall_time,
            "eval_mean": out.eval_mean, "eval_std": out.eval_std, "stopped": out.stopped,
            "interrupted": out.signal_name if out.interrupted else None}
