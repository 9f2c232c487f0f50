"""The one training loop: collect -> update -> log -> evaluate -> checkpoint.

SIGINT (Ctrl-C) or SIGTERM (a scheduler's stop) finishes the current iteration, writes a
checkpoint, flushes the metrics and returns; ``rlkit train ... --resume RUN_DIR`` continues from
there. A second signal aborts. A run killed outright resumes from its last periodic checkpoint
(``checkpoint_freq``): the metrics rows logged after it are moved to
``metrics.discarded.jsonl`` and written again, the same, as training repeats those steps: a
resumed run ends with exactly the numbers of an uninterrupted one (see :mod:`rlkit.core.aligned`).

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
from typing import Any

import numpy as np
import torch
import yaml

from rlkit.config import to_dict
from rlkit.core import env_faults
from rlkit.errors import ConfigError
from rlkit.fast import heap
from rlkit.training import faults
from rlkit.training.checkpoint import CHECKPOINT_NAME
from rlkit.training.environment import make_vec_env, torch_threads
from rlkit.training.evaluation import EVAL_SEED_OFFSET, evaluate, record_video
from rlkit.training.metrics import RunLogger
from rlkit.training.trainable import Trainable


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
    agent: Trainable,
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
    run_dir = Path(run_dir) if run_dir is not None else None
    if capture_video and run_dir is None:
        raise ConfigError("--capture-video needs a run directory to write the videos to")
    _plan_budget(agent, total_timesteps)
    _attach_runner(agent)
    _schedule_logs_and_evals(agent)
    if agent.keep_heap:
        heap.keep_freed_memory()
    if run_dir is not None:
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise faults.write_error(exc, "run directory", run_dir) from None
    lock = faults.RunLock(run_dir) if run_dir is not None else nullcontext()
    with lock, agent.own_randomness():  # training draws from the agent's generators only
        run = _Run(agent, run_dir, wandb_mode, progress, wandb_args, capture_video, on_eval)
        return run.until_done()


def _plan_budget(agent: Trainable, total_timesteps: int | None) -> None:
    """Set ``end_step``: ``total_timesteps`` more steps, the config's budget, or (a resumed
    run asked for no number) the end it was planned with."""
    if total_timesteps is not None and total_timesteps < 1:
        raise ConfigError(f"total_timesteps must be >= 1, got {total_timesteps}")
    if total_timesteps is not None or not agent.can_collect:
        agent.end_step = agent.global_step + (total_timesteps or agent.config.total_timesteps)
    if agent.global_step < agent.end_step < agent.global_step + agent.steps_per_collect:
        print(f"note: {agent.end_step - agent.global_step} steps are less than one "
              f"{agent.name} iteration ({agent.steps_per_collect} steps); nothing is trained")


def _attach_runner(agent: Trainable) -> None:
    """Give the agent its env runner, once: a resumed run's continues the checkpoint's
    episodes where the env's state can be restored, else every env starts afresh."""
    if agent.runner is not None:
        return
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


def _schedule_logs_and_evals(agent: Trainable) -> None:
    cfg = agent.config
    if agent.next_log <= agent.global_step:
        agent.next_log = agent.global_step + cfg.log_freq
    if agent.next_eval <= agent.global_step:
        agent.next_eval = agent.global_step + (cfg.eval_freq or agent.end_step)


class _Run:
    """One call of :func:`train` once the run directory is locked: its logger, evaluation
    envs and last checkpoint, and the phases of an iteration as methods."""

    def __init__(self, agent: Trainable, run_dir: Path | None, wandb_mode: str,
                 progress: bool, wandb_args: dict[str, Any] | None, capture_video: bool,
                 on_eval: Callable[[int, dict[str, float]], bool] | None) -> None:
        self.agent, self.cfg, self.run_dir = agent, agent.config, run_dir
        self.capture_video, self.on_eval = capture_video, on_eval
        self.checkpoint_step: int | None = None  # the step of the last good checkpoint on disk
        if run_dir is not None:
            self._write_config()
            if (run_dir / CHECKPOINT_NAME).is_file():
                self.checkpoint_step = agent.global_step
            _trim_metrics(run_dir, agent.global_step)
        self.logger = RunLogger(run_dir, to_dict(self.cfg), agent.name, agent.env_id,
                                wandb_mode, wandb_args)
        self.eval_env = make_vec_env(agent.env_id, self.cfg.eval_episodes, None, "sync",
                                     self.cfg.env_kwargs)
        self.bar = _Progress(progress, agent.end_step, agent.global_step)
        self.start_time, self.start_step = time.perf_counter(), agent.global_step
        self.update_metrics: dict[str, Any] = {}
        self.last_eval: dict[str, Any] | None = None
        self.stopped = False

    def _write_config(self) -> None:
        config_file = self.run_dir / "config.yaml"
        try:
            if not config_file.exists():
                config_file.write_text(yaml.safe_dump(
                    {"algo": self.agent.name, "env_id": self.agent.env_id, **to_dict(self.cfg)}))
        except OSError as exc:
            raise faults.write_error(exc, "config file", config_file) from None

    def sps(self) -> float:
        elapsed = max(time.perf_counter() - self.start_time, 1e-9)
        return (self.agent.global_step - self.start_step) / elapsed

    # --- the phases of one iteration: collect, update, log and evaluate, checkpoint ---------
    def until_done(self) -> TrainResult:
        agent = self.agent
        try:
            with torch_threads(self.cfg.torch_threads):  # as in Agent.__init__
                with _InterruptGuard() as guard:
                    while agent.can_collect and not guard.interrupted:
                        self.collect(agent.global_step)
                        self.update()
                        if not agent.can_collect:
                            break  # the final row, evaluation and checkpoint come after the loop
                        evaluated = self.log_and_evaluate()
                        self.stopped = evaluated and self.on_eval is not None and bool(
                            self.on_eval(agent.global_step, self.last_eval))
                        if self.checkpoint_due(evaluated) and not self.stopped:
                            self.save()
                        if self.stopped:
                            break
                    interrupted, signal_name = guard.interrupted, guard.signal_name
                self.finish(interrupted)
        finally:
            self.bar.close()
            self.logger.close()
            self.eval_env.close()
        agent.last_eval = self.last_eval
        return TrainResult(
            eval_mean=None if self.last_eval is None else self.last_eval["mean_return"],
            eval_std=None if self.last_eval is None else self.last_eval["std_return"],
            wall_time=time.perf_counter() - self.start_time,
            global_step=agent.global_step,
            interrupted=interrupted,
            run_dir=self.run_dir,
            signal_name=signal_name if interrupted else None,
            stopped=self.stopped,
        )

    def collect(self, iteration_start: int) -> None:
        """``agent.collect()``; an env that fails becomes one line (after a checkpoint of
        the last completed iteration where the env raised)."""
        agent, run_dir = self.agent, self.run_dir
        taken = agent.runner.steps_taken
        try:
            agent.collect()
        except env_faults.NonFiniteEnvValue as exc:
            failed_at = iteration_start + agent.runner.steps_taken - taken
            raise faults.env_failure(exc, agent.env_id, failed_at, self.checkpoint_step,
                                     "") from None
        except env_faults.EnvStepFailure as exc:
            failed_at = iteration_start + agent.runner.steps_taken - taken
            hint = "no run directory to checkpoint to"
            if run_dir is not None:
                # the networks are as the last update left them; the steps of the broken
                # rollout are not counted, and the env starts fresh episodes on --resume
                agent.global_step, runner = iteration_start, agent.runner
                agent.runner = None
                try:
                    self.save()
                finally:
                    agent.runner = runner
                hint = (f"a checkpoint of the last completed iteration (step {iteration_start}) "
                        f"is in '{run_dir}'; fix the env, then continue with: rlkit train "
                        f"{agent.name} {agent.env_id} --resume {run_dir}")
            raise faults.env_failure(exc, agent.env_id, failed_at, self.checkpoint_step,
                                     hint) from None

    def update(self) -> None:
        """``agent.update()``, its losses, gradients and (when a row is due) parameters checked
        for NaN and inf before anything can be saved."""
        agent = self.agent
        metrics = agent.update()
        faults.check_update(agent, metrics or {}, self.checkpoint_step,
                            weights=agent.global_step >= agent.next_log)
        if metrics:
            self.update_metrics = metrics

    def log_and_evaluate(self) -> bool:
        """Log a row when one is due, with an evaluation when one is due; whether it
        evaluated. The row is written before any checkpoint: a kill in between loses none."""
        agent, cfg = self.agent, self.cfg
        row: dict[str, Any] = {}
        if agent.global_step >= agent.next_log:
            while agent.next_log <= agent.global_step:
                agent.next_log += cfg.log_freq
            row.update(_training_row(agent, self.update_metrics, self.sps()))
        evaluated = False
        if cfg.eval_freq and agent.global_step >= agent.next_eval:
            while agent.next_eval <= agent.global_step:
                agent.next_eval += cfg.eval_freq
            row.update(self.evaluate())
            evaluated = True
        if row:
            self.logger.log({"global_step": agent.global_step, **row})
            recent = agent.runner.episode_returns
            self.bar.update(agent.global_step, self.sps(), np.mean(recent) if recent else None)
        return evaluated

    def evaluate(self) -> dict[str, float]:
        agent, cfg = self.agent, self.cfg
        self.last_eval = evaluate(agent, cfg.eval_episodes, env=self.eval_env)
        if self.capture_video:
            videos = record_video(agent, self.run_dir / "videos" / f"step-{agent.global_step}",
                                  1, cfg.seed + EVAL_SEED_OFFSET)
            self.logger.log_videos(agent.global_step, sorted(videos.glob("*.mp4")))
        return {
            "eval/mean_return": self.last_eval["mean_return"],
            "eval/std_return": self.last_eval["std_return"],
            "eval/mean_length": self.last_eval["mean_length"],
        }

    def checkpoint_due(self, evaluated: bool) -> bool:
        """With checkpoint_freq: before the next iteration could take the work since the
        last checkpoint past it. Without: with every evaluation."""
        cfg, agent = self.cfg, self.agent
        if cfg.checkpoint_freq is None:
            return evaluated
        last = self.checkpoint_step if self.checkpoint_step is not None else self.start_step
        return bool(cfg.checkpoint_freq) and (
            agent.global_step + agent.steps_per_collect > last + cfg.checkpoint_freq)

    def save(self) -> None:
        if self.run_dir is None:
            return
        faults.check_update(self.agent, {}, self.checkpoint_step)  # a NaN model is never saved
        path = self.run_dir / CHECKPOINT_NAME
        try:
            self.agent.save(path)
        except OSError as exc:
            raise faults.write_error(exc, "checkpoint", path) from None
        self.checkpoint_step = self.agent.global_step

    def finish(self, interrupted: bool) -> None:
        """The last row and evaluation (unless interrupted or stopped), the last checkpoint,
        the run's summary and its model file for W&B."""
        agent, done = self.agent, not interrupted and not self.stopped
        if done:
            row = _training_row(agent, self.update_metrics, self.sps())
            row.update(self.evaluate())
            self.logger.log({"global_step": agent.global_step, **row})
        self.save()
        if not done:
            return
        self.logger.summary({"eval/final_mean_return": self.last_eval["mean_return"],
                             "eval/final_std_return": self.last_eval["std_return"],
                             "charts/wall_time": time.perf_counter() - self.start_time,
                             "charts/SPS": self.sps(), "global_step": agent.global_step})
        if self.run_dir is not None:
            self.logger.log_file(self.run_dir / CHECKPOINT_NAME,
                                 f"{self.run_dir.name}-model".replace("/", "_"))


def _training_row(agent: Trainable, update_metrics: dict[str, Any], sps: float) -> dict[str, Any]:
    row: dict[str, Any] = {"charts/SPS": round(sps, 1)}
    finished = agent.runner.pop_finished()
    if finished:
        returns, lengths = zip(*finished, strict=True)
        row["charts/episodic_return"] = float(np.mean(returns))
        row["charts/episodic_length"] = float(np.mean(lengths))
        row["charts/episodes"] = len(finished)
    row.update({key: _scalar(value) for key, value in update_metrics.items()})
    return row
