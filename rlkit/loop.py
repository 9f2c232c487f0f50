"""The one training loop: collect -> update -> log -> evaluate -> checkpoint.

SIGINT (Ctrl-C) or SIGTERM (a scheduler's stop) finishes the current iteration, writes a
checkpoint, flushes the metrics and returns; ``rlkit train ... --resume RUN_DIR`` continues from
there. A second signal aborts. A run killed outright resumes from its last periodic checkpoint
(``checkpoint_freq``): the metrics rows logged after it are moved to
``metrics.discarded.jsonl`` and written again, the same, as training repeats those steps: a
resumed run ends with exactly the numbers of an uninterrupted one (see :mod:`rlkit.aligned`).

Faults end the run with a :class:`~rlkit.errors.RunError` (one line in the CLI) and never cost
the last good checkpoint: a non-finite loss, gradient or parameter, or a non-finite value from
the env, stops it before anything is saved; an env that raises gets a checkpoint of the last
completed iteration; a failed write leaves the previous checkpoint whole (writes are atomic);
a second process is kept out of the run directory by its lock file.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import yaml

from rlkit import faults
from rlkit.checkpoint import CHECKPOINT_NAME
from rlkit.config import to_dict
from rlkit.environment import make_vec_env, torch_threads
from rlkit.errors import ConfigError
from rlkit.evaluation import EVAL_SEED_OFFSET, evaluate, record_video
from rlkit.fast import heap
from rlkit.metrics import RunLogger

if TYPE_CHECKING:
    from rlkit.agent import Agent


@dataclass
class TrainResult:
    """What the CLI's summary line reports."""

    eval_mean: float | None
    eval_std: float | None
    wall_time: float
    global_step: int
    interrupted: bool
    run_dir: Path | None
    signal_name: str | None = None
    """SIGINT or SIGTERM when ``interrupted``"""
    stopped: bool = False
    """``on_eval`` asked to stop (a pruned tuning trial)"""


class _InterruptGuard:
    """Turns the first SIGINT or SIGTERM into a flag the loop checks between iterations."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.interrupted = False
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.interrupted:
            raise KeyboardInterrupt
        self.interrupted = True
        self.signal_name = signal.Signals(signum).name

    def __enter__(self) -> _InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc: Any) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)


def _trim_metrics(run_dir: Path, step: int) -> None:
    """Keep the rows of ``metrics.jsonl`` up to ``step`` (the checkpoint a run resumes from);
    move later ones, and a line cut short by a kill, to ``metrics.discarded.jsonl``."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return
    kept, dropped = [], []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            keep = isinstance(row, dict) and row.get("global_step", 0) <= step
        except ValueError:
            keep = False
        (kept if keep else dropped).append(line)
    if not dropped:
        return
    with (run_dir / "metrics.discarded.jsonl").open("a", encoding="utf-8") as handle:
        handle.write("".join(line + "\n" for line in dropped))
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(line + "\n" for line in kept))
    os.replace(tmp, path)
    print(f"note: {len(dropped)} metrics rows after the checkpoint's step {step} moved to "
          f"metrics.discarded.jsonl (training repeats those steps)")


def _scalar(value: Any) -> float:
    return float(value.item() if isinstance(value, torch.Tensor) else value)


class _Progress:
    """A rich progress bar (steps, SPS, recent return), or nothing."""

    def __init__(self, enabled: bool, total: int, done: int) -> None:
        self.bar = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self.bar = Progress(
            TextColumn("[bold]training"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[sps]:>6} SPS  return {task.fields[ret]}"),
            transient=False,
        )
        self.task = self.bar.add_task("train", total=total, completed=done, sps="-", ret="-")
        self.bar.start()

    def update(self, step: int, sps: float, recent_return: float | None) -> None:
        if self.bar is not None:
            ret = "-" if recent_return is None else f"{recent_return:.1f}"
            self.bar.update(self.task, completed=step, sps=f"{sps:.0f}", ret=ret)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def train(
    agent: Agent,
    total_timesteps: int | None = None,
    run_dir: str | Path | None = None,
    wandb_mode: str = "disabled",
    progress: bool = False,
    wandb_args: dict[str, Any] | None = None,
    capture_video: bool = False,
    on_eval: Callable[[int, dict[str, float]], bool] | None = None,
) -> TrainResult:
    """Run ``agent`` for ``total_timesteps`` env steps (or to the end of an interrupted run).

    ``wandb_args`` replace the W&B run's group, name, tags or job_type (``rlkit compare``).
    ``capture_video`` records one deterministic episode at every evaluation to
    ``run_dir/videos/step-<global_step>/`` and to W&B (``eval/video``).
    ``on_eval(global_step, stats)`` is called after every periodic evaluation; returning True
    stops the run there (``rlkit tune``'s pruner): it is checkpointed, and the result has
    ``stopped`` set and that evaluation as its last."""
    cfg = agent.config
    run_dir = Path(run_dir) if run_dir is not None else None
    if total_timesteps is not None and total_timesteps < 1:
        raise ConfigError(f"total_timesteps must be >= 1, got {total_timesteps}")
    if total_timesteps is None and agent.can_collect:
        pass  # a resumed run continues to the end it was planned with
    else:
        agent.end_step = agent.global_step + (total_timesteps or cfg.total_timesteps)
    if not agent.can_collect and agent.end_step > agent.global_step:
        print(f"note: {agent.end_step - agent.global_step} steps are less than one "
              f"{agent.name} iteration ({agent.steps_per_collect} steps); nothing is trained")
    if agent.runner is None:
        pending = getattr(agent, "_pending_runner_state", None)
        # A new runner counts its reset observations in the obs statistics; a resumed run
        # continues its saved episodes instead, so it keeps the checkpoint's statistics.
        normalizer = agent.obs_normalizer
        saved_stats = normalizer.state_dict() if pending is not None and normalizer else None
        agent.runner = agent.make_runner()
        restored = pending is not None and agent.runner.load_state_dict(pending)
        if pending is not None and not restored:
            print("note: this env's state cannot be restored; resuming with fresh episodes")
        elif saved_stats is not None:
            normalizer.load_state_dict(saved_stats)
        if not restored:  # also a checkpoint without episodes (written after an env failure)
            agent.on_fresh_episodes()
        agent._pending_runner_state = None
    if agent.next_log <= agent.global_step:
        agent.next_log = agent.global_step + cfg.log_freq
    if agent.next_eval <= agent.global_step:
        agent.next_eval = agent.global_step + (cfg.eval_freq or agent.end_step)
    if capture_video and run_dir is None:
        raise ConfigError("--capture-video needs a run directory to write the videos to")
    if agent.keep_heap:
        heap.keep_freed_memory()
    lock = faults.RunLock(run_dir) if run_dir is not None else nullcontext()
    if run_dir is not None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise faults.write_error(exc, "run directory", run_dir) from None
    with lock, agent.own_randomness():  # training draws from the agent's generators only
        return _train(agent, run_dir, wandb_mode, progress, wandb_args, capture_video, on_eval)


def _train(agent: Agent, run_dir: Path | None, wandb_mode: str, progress: bool,
           wandb_args: dict[str, Any] | None, capture_video: bool,
           on_eval: Callable[[int, dict[str, float]], bool] | None) -> TrainResult:
    """train() once the run directory is locked."""
    cfg = agent.config
    checkpoint_step: int | None = None  # the step of the last good checkpoint on disk
    if run_dir is not None:
        config_file = run_dir / "config.yaml"
        try:
            if not config_file.exists():
                config_file.write_text(
                    yaml.safe_dump({"algo": agent.name, "env_id": agent.env_id, **to_dict(cfg)})
                )
        except OSError as exc:
            raise faults.write_error(exc, "config file", config_file) from None
        if (run_dir / CHECKPOINT_NAME).is_file():
            checkpoint_step = agent.global_step
        _trim_metrics(run_dir, agent.global_step)

    logger = RunLogger(run_dir, to_dict(cfg), agent.name, agent.env_id, wandb_mode, wandb_args)
    eval_env = make_vec_env(agent.env_id, cfg.eval_episodes, None, "sync", cfg.env_kwargs)
    bar = _Progress(progress, agent.end_step, agent.global_step)
    start_time, start_step = time.perf_counter(), agent.global_step
    update_metrics: dict[str, Any] = {}
    last_eval: dict[str, Any] | None = None
    stopped = False

    def sps() -> float:
        return (agent.global_step - start_step) / max(time.perf_counter() - start_time, 1e-9)

    def run_eval() -> dict[str, float]:
        nonlocal last_eval
        last_eval = evaluate(agent, cfg.eval_episodes, env=eval_env)
        if capture_video:
            videos = record_video(agent, run_dir / "videos" / f"step-{agent.global_step}", 1,
                                  cfg.seed + EVAL_SEED_OFFSET)
            logger.log_videos(agent.global_step, sorted(videos.glob("*.mp4")))
        return {
            "eval/mean_return": last_eval["mean_return"],
            "eval/std_return": last_eval["std_return"],
            "eval/mean_length": last_eval["mean_length"],
        }

    def save() -> None:
        nonlocal checkpoint_step
        if run_dir is not None:
            faults.check_update(agent, {}, checkpoint_step)  # a NaN model is never saved
            path = run_dir / CHECKPOINT_NAME
            try:
                agent.save(path)
            except OSError as exc:
                raise faults.write_error(exc, "checkpoint", path) from None
            checkpoint_step = agent.global_step

    def checkpoint_due(evaluated: bool) -> bool:
        """With checkpoint_freq: before the next iteration could take the work since the
        last checkpoint past it. Without: with every evaluation."""
        if cfg.checkpoint_freq is None:
            return evaluated
        last = checkpoint_step if checkpoint_step is not None else start_step
        return bool(cfg.checkpoint_freq) and (
            agent.global_step + agent.steps_per_collect > last + cfg.checkpoint_freq)

    def collect(iteration_start: int) -> None:
        taken = agent.runner.steps_taken
        try:
            agent.collect()
        except faults.NonFiniteEnvValue as exc:
            failed_at = iteration_start + agent.runner.steps_taken - taken
            raise faults.env_failure(exc, agent.env_id, failed_at, checkpoint_step,
                                     "") from None
        except faults.EnvStepFailure as exc:
            failed_at = iteration_start + agent.runner.steps_taken - taken
            hint = "no run directory to checkpoint to"
            if run_dir is not None:
                # the networks are as the last update left them; the steps of the broken
                # rollout are not counted, and the env starts fresh episodes on --resume
                agent.global_step, runner = iteration_start, agent.runner
                agent.runner = None
                try:
                    save()
                finally:
                    agent.runner = runner
                hint = (f"a checkpoint of the last completed iteration (step {iteration_start}) "
                        f"is in '{run_dir}'; fix the env, then continue with: rlkit train "
                        f"{agent.name} {agent.env_id} --resume {run_dir}")
            raise faults.env_failure(exc, agent.env_id, failed_at, checkpoint_step,
                                     hint) from None

    try:
        with torch_threads(cfg.torch_threads):  # as in Agent.__init__
            with _InterruptGuard() as guard:
                while agent.can_collect and not guard.interrupted:
                    collect(agent.global_step)
                    metrics = agent.update()
                    faults.check_update(agent, metrics or {}, checkpoint_step,
                                        weights=agent.global_step >= agent.next_log)
                    if metrics:
                        update_metrics = metrics
                    if not agent.can_collect:
                        break  # the final row, evaluation and checkpoint come after the loop
                    row: dict[str, Any] = {}
                    if agent.global_step >= agent.next_log:
                        while agent.next_log <= agent.global_step:
                            agent.next_log += cfg.log_freq
                        row.update(_training_row(agent, update_metrics, sps()))
                    evaluated = False
                    if cfg.eval_freq and agent.global_step >= agent.next_eval:
                        while agent.next_eval <= agent.global_step:
                            agent.next_eval += cfg.eval_freq
                        row.update(run_eval())
                        evaluated = True
                    if row:  # logged before the checkpoint: a kill in between loses no row
                        logger.log({"global_step": agent.global_step, **row})
                        recent = agent.runner.episode_returns
                        bar.update(agent.global_step, sps(), np.mean(recent) if recent else None)
                    stopped = evaluated and on_eval is not None and bool(
                        on_eval(agent.global_step, last_eval))
                    if checkpoint_due(evaluated) and not stopped:
                        save()
                    if stopped:
                        break
                interrupted, signal_name = guard.interrupted, guard.signal_name
            if not interrupted and not stopped:
                row = _training_row(agent, update_metrics, sps())
                row.update(run_eval())
                logger.log({"global_step": agent.global_step, **row})
            save()
            if not interrupted and not stopped:
                logger.summary({"eval/final_mean_return": last_eval["mean_return"],
                                "eval/final_std_return": last_eval["std_return"],
                                "charts/wall_time": time.perf_counter() - start_time,
                                "charts/SPS": sps(), "global_step": agent.global_step})
                if run_dir is not None:
                    logger.log_file(run_dir / CHECKPOINT_NAME,
                                    f"{run_dir.name}-model".replace("/", "_"))
    finally:
        bar.close()
        logger.close()
        eval_env.close()
    agent.last_eval = last_eval
    return TrainResult(
        eval_mean=None if last_eval is None else last_eval["mean_return"],
        eval_std=None if last_eval is None else last_eval["std_return"],
        wall_time=time.perf_counter() - start_time,
        global_step=agent.global_step,
        interrupted=interrupted,
        run_dir=run_dir,
        signal_name=signal_name if interrupted else None,
        stopped=stopped,
    )


def _training_row(agent: Agent, update_metrics: dict[str, Any], sps: float) -> dict[str, Any]:
    row: dict[str, Any] = {"charts/SPS": round(sps, 1)}
    finished = agent.runner.pop_finished()
    if finished:
        returns, lengths = zip(*finished, strict=True)
        row["charts/episodic_return"] = float(np.mean(returns))
        row["charts/episodic_length"] = float(np.mean(lengths))
        row["charts/episodes"] = len(finished)
    row.update({key: _scalar(value) for key, value in update_metrics.items()})
    return row
