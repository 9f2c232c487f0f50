"""``rlkit sweep``: every seed at every grid point, as Ray tasks, then a summary per point.

    rlkit sweep ppo CartPole-v1 --seeds 0-4 --grid learning_rate=3e-4,1e-3 --grid n_epochs=4,10

Each trial is an ordinary run directory ``SWEEP/trials/trial-NNN`` (``trial.json`` says which grid
point and seed), trained by :func:`rlkit.experiments.scale.train_trial`: a rerun of the same command
skips the finished trials and resumes the begun ones from their checkpoints. ``summary.md`` and
``summary.csv`` give per grid point the final evaluation's mean over seeds with a 95 % bootstrap
confidence interval.
"""

from __future__ import annotations

import csv
import itertools
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from rlkit.errors import ConfigError, RlkitError


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["learning_rate=1e-3,3e-4", "approximator.hidden_sizes=[64,64],[256,256]"]`` ->
    ``{"learning_rate": [0.001, 0.0003], "approximator.hidden_sizes": [[64, 64], [256, 256]]}``
    (the values are read as one YAML list, so a value may itself be a list)."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not raw.strip():
            raise ConfigError(f"--grid expects key=value1,value2,..., got {item!r}")
        try:
            values = yaml.safe_load(f"[{raw}]")
        except yaml.YAMLError:
            raise ConfigError(f"--grid {key}: cannot read the values {raw!r}") from None
        if key in grid:
            raise ConfigError(f"--grid names '{key}' twice")
        if len(values) != len({json.dumps(v, sort_keys=True) for v in values}):
            raise ConfigError(f"--grid {key}: a value is listed twice ({raw!r})")
        grid[key] = [_number(v) for v in values]
    return grid


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-3`` as a string; a grid value that is a number is one."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def point_overrides(point: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys -> the nested overrides ``rlkit.make`` takes (as ``--set`` builds them)."""
    from rlkit.config import parse_set

    return parse_set([f"{key}={json.dumps(value)}" for key, value in point.items()])


def point_label(point: dict[str, Any]) -> str:
    return " ".join(f"{key}={json.dumps(value)}" for key, value in point.items()) or "config"


@dataclass(frozen=True)
class Trial:
    number: int
    seed: int
    point: dict[str, Any] = field(hash=False)

    @property
    def name(self) -> str:
        return f"trial-{self.number:03d}"


def plan(algo: str, env_id: str, seeds: list[int], grid: dict[str, list[Any]],
         overrides: dict[str, Any]) -> list[Trial]:
    """Every (grid point, seed), each point's config checked as ``--set`` checks one."""
    from rlkit.config import _merge, resolve_config
    from rlkit.training.registry import agent_class, make

    cls = agent_class(algo)
    if "seed" in overrides or "seed" in grid:
        raise RlkitError("a sweep's seeds come from --seeds, not --set/--grid seed=...")
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    for point in points:
        try:
            resolve_config(cls.Config, algo, env_id, None,
                           _merge(overrides, point_overrides(point)))
        except ConfigError as exc:
            raise ConfigError(f"grid point {point_label(point)}: {exc}") from None
    # the env and the action space, once (building an agent per point would build its envs)
    make(algo, env_id, seed=seeds[0], **_merge(overrides, point_overrides(points[0])))
    trials = [(point, seed) for point in points for seed in seeds]
    return [Trial(number, seed, point) for number, (point, seed) in enumerate(trials)]


def run_sweep(algo: str, env_id: str, seeds: list[int], grid: dict[str, list[Any]],
              overrides: dict[str, Any], out_dir: Path, total_timesteps: int | None = None,
              workers: int = 2, ray_address: str | None = None,
              wandb_mode: str = "disabled", echo: Any = print) -> list[dict[str, Any]]:
    """Plan, lock ``out_dir``, run the unfinished trials on Ray, write the summary."""
    from rlkit.config import _merge
    from rlkit.experiments import scale
    from rlkit.experiments.compare import claim_directory
    from rlkit.training import faults

    trials = plan(algo, env_id, seeds, grid, overrides)
    identity = {"algo": algo, "env_id": env_id, "seeds": seeds, "grid": grid,
                "overrides": overrides, "total_timesteps": total_timesteps}
    claim_directory(out_dir, "sweep", identity)
    group = f"sweep-{algo}-{out_dir.resolve().name}"
    calls = []
    for trial in trials:
        run_dir = out_dir / "trials" / trial.name
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "trial.json").write_text(json.dumps(
            {"number": trial.number, "seed": trial.seed, "point": trial.point}))
        trial_overrides = {**_merge(overrides, point_overrides(trial.point)), "seed": trial.seed}
        wandb_args = {"group": group, "job_type": "sweep", "tags": ["sweep", algo, env_id],
                      "name": f"{trial.name} {point_label(trial.point)} seed={trial.seed}"}
        calls.append((algo, env_id, trial_overrides, str(run_dir), total_timesteps,
                      wandb_mode, wandb_args))
    results: list[dict[str, Any] | None] = [None] * len(trials)
    with faults.RunLock(out_dir):
        start = time.perf_counter()
        where = scale.connect(ray_address, workers)
        echo(f"{len(trials)} trials on {where} ({time.perf_counter() - start:.1f} s to start)")
        try:
            for index, result in scale.run_tasks(
                    scale.train_trial, calls, max_in_flight=len(calls),
                    num_gpus=lambda call: scale.gpus_for(call[2])):
                results[index] = result
                trial = trials[index]
                echo(f"{trial.name} ({point_label(trial.point)}, seed {trial.seed}): eval "
                     f"{result['eval_mean']:.2f} at step {result['global_step']}")
        finally:
            scale.shutdown()
    rows = [{**asrow(trial), **result} for trial, result in zip(trials, results, strict=True)]
    write_summary(grid, rows, out_dir)
    return rows


def asrow(trial: Trial) -> dict[str, Any]:
    return {"trial": trial.number, "seed": trial.seed, **trial.point}


def write_summary(grid: dict[str, list[Any]], rows: list[dict[str, Any]], out_dir: Path) -> None:
    """``summary.csv`` and ``summary.md``: per grid point the seeds' final evaluation, mean
    and 95 % bootstrap CI, and the mean wall time."""
    from rlkit.experiments.stats import bootstrap_ci

    points: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        points.setdefault(json.dumps([row[key] for key in grid]), []).append(row)
    table = []
    for runs in points.values():
        finals = np.array([r["eval_mean"] for r in runs], dtype=float)
        low, high = bootstrap_ci(finals)
        table.append({**{key: runs[0][key] for key in grid}, "seeds": len(runs),
                      "eval_mean": float(finals.mean()), "ci_low": low, "ci_high": high,
                      "eval_std": float(finals.std()),
                      "wall_time": float(np.mean([r["wall_time"] for r in runs]))})
    with (out_dir / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        for row in table:
            writer.writerow({k: json.dumps(v) if isinstance(v, list) else v
                             for k, v in row.items()})
    best = max(range(len(table)), key=lambda i: table[i]["eval_mean"])
    head = [*grid, "seeds", "final eval (mean)", "95 % CI", "wall time (s)"]
    lines = ["# Sweep summary", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    for i, row in enumerate(table):
        mark = " (best)" if i == best and len(table) > 1 else ""
        cells = [json.dumps(row[key]) for key in grid]
        cells += [str(row["seeds"]), f"{row['eval_mean']:.2f}{mark}",
                  f"[{row['ci_low']:.2f}, {row['ci_high']:.2f}]", f"{row['wall_time']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    (out_dir / "summary.md").write_text("\n".join(lines) + "\n")
