"""``rlkit compare``: rlkit's agent against its Stable-Baselines3 counterpart, seed by seed.

For every env and seed both libraries train with the same hyperparameters (rlkit's config, and
SB3's keyword arguments from :mod:`rlkit.experiments.sb3`'s table), n_envs, budget and seed,
and evaluate the same way: ``eval_episodes`` deterministic episodes on separate envs seeded ``seed +
1_000_000 + i``, every ``eval_freq`` env steps and at the end (rlkit's ``evaluate`` runs both
sides). Each run is an ordinary run directory under ``DIR/runs`` with a ``metrics.jsonl`` of the
same keys and a ``result.json`` once finished, so an interrupted comparison resumes and skips
the runs that finished. Runs go to K worker processes, one torch thread each.

The report (``DIR/report.md``, ``results.csv``, ``curves.png``, ``wallclock.png``) gives per env
the final evaluation with a 95 % bootstrap confidence interval over seeds, the interquartile
mean with a stratified-bootstrap interval (rliable's method, computed here with numpy: with one
task per env the strata are the env's seeds), the env steps to reach the env's reward
threshold, wall time, SPS and the rlkit/SB3 wall-time ratio, and the mapping with the keys SB3
has no counterpart for.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.errors import RlkitError
from rlkit.experiments.stats import N_BOOTSTRAP, bootstrap_ci, iqm, steps_to_threshold

LIBRARIES = ("rlkit", "sb3")


def parse_seeds(text: str) -> list[int]:
    """``0-4`` (a range, both ends included), ``0,3,7`` or ``5``."""
    try:
        if "-" in text.strip("-"):
            low, high = (int(part) for part in text.split("-", 1))
            if high < low:
                raise RlkitError(f"seed range '{text}' runs backwards; write {high}-{low}")
            return list(range(low, high + 1))
        return sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise RlkitError(f"--seeds expects a range like 0-4 or a list like 0,3,7, "
                         f"got '{text}'") from None


@dataclass(frozen=True)
class RunSpec:
    library: str
    algo: str
    env_id: str
    seed: int
    total_timesteps: int | None
    overrides: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def name(self) -> str:
        env = self.env_id.replace("/", "_").replace(":", "_")
        return f"{self.library}-{self.algo}-{env}-{self.seed}"


def plan(algo: str, env_ids: list[str], seeds: list[int], total_timesteps: int | None,
         overrides: dict[str, Any], libraries: tuple[str, ...] = LIBRARIES) -> list[RunSpec]:
    """Every (library, env, seed) run, after checking that both sides can run ``algo``
    (``libraries=("rlkit",)``: rlkit's side alone, for an agent SB3 lacks)."""
    from rlkit.experiments.sb3 import TABLES, sb3_model
    from rlkit.training.environment import gives_action_masks
    from rlkit.training.registry import agent_class, make

    agent_class(algo)  # an unknown algorithm: rlkit's own one-line error
    if "seed" in overrides:
        raise RlkitError("a comparison's seeds come from --seeds, not --set seed=...")
    if "sb3" not in libraries:
        for env_id in env_ids:
            make(algo, env_id, seed=seeds[0], **overrides)
        return [RunSpec("rlkit", algo, env_id, seed, total_timesteps, overrides)
                for env_id in env_ids for seed in seeds]
    if algo not in TABLES:
        raise RlkitError(f"SB3 has no counterpart of rlkit's '{algo}' (SB3 side: ppo, a2c, "
                         f"dqn); nothing to compare against (--only rlkit runs rlkit's side "
                         f"alone)")
    for env_id in env_ids:  # a bad env or config, or a torso or space SB3 lacks: the error now
        agent = make(algo, env_id, seed=seeds[0], **overrides)
        sb3_model(algo, agent.config, agent.observation_space,
                  gives_action_masks(env_id, agent.config.env_kwargs))
    return [RunSpec(library, algo, env_id, seed, total_timesteps, overrides)
            for env_id in env_ids for seed in seeds for library in LIBRARIES]


class SB3Agent:
    """An SB3 model seen through the part of rlkit's agent that ``evaluate`` uses."""

    def __init__(self, model: Any, env_id: str, config: Any, normalizer: Any = None) -> None:
        self.model, self.env_id, self.config = model, env_id, config
        self.normalizer = normalizer  # SB3's VecNormalize: its statistics, frozen, as rlkit's
        self.has_memory = type(model).__name__ == "RecurrentPPO"

    def modules(self) -> dict[str, Any]:
        return {}

    def predict(self, obs: np.ndarray, deterministic: bool = True, state: Any = None,
                episode_starts: np.ndarray | None = None,
                action_masks: np.ndarray | None = None) -> Any:
        if self.normalizer is not None:
            obs = self.normalizer.normalize_obs(obs)
        if action_masks is not None:  # MaskablePPO: the env's masks, as rlkit's agents get
            return self.model.predict(obs, deterministic=deterministic,
                                      action_masks=action_masks)[0]
        if self.has_memory:  # sb3-contrib's LSTM state; None starts every episode afresh
            return self.model.predict(obs, state=state, episode_start=episode_starts,
                                      deterministic=deterministic)
        return self.model.predict(obs, deterministic=deterministic)[0]


def _info_masks(env: Any, inner: Any = None) -> Any:
    """``env`` (wrapped by ``inner`` first) with sb3-contrib's ``action_masks()``: the mask
    of its latest ``info["action_mask"]``, every action where an info has none."""
    import gymnasium as gym

    class InfoActionMasks(gym.Wrapper):
        def __init__(self, env: gym.Env) -> None:
            super().__init__(env)
            self.mask: np.ndarray | None = None

        def reset(self, **kwargs: Any) -> Any:
            obs, info = self.env.reset(**kwargs)
            self.mask = info.get("action_mask")
            return obs, info

        def step(self, action: Any) -> Any:
            *out, info = self.env.step(action)
            self.mask = info.get("action_mask")
            return (*out, info)

        def action_masks(self) -> np.ndarray:
            if self.mask is None or not np.any(self.mask):
                space = self.env.action_space
                size = int(space.n) if hasattr(space, "n") else int(np.sum(space.nvec))
                return np.ones(size, dtype=bool)
            return np.asarray(self.mask, dtype=bool)

    return InfoActionMasks(inner(env) if inner is not None else env)


def _train_sb3(spec: RunSpec, config: Any, run_dir: Path, wandb_mode: str,
               wandb_args: dict[str, Any], capture_video: bool = False) -> dict[str, Any]:
    from functools import partial

    import gymnasium as gym
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.vec_env import VecNormalize

    from rlkit.config import to_dict
    from rlkit.experiments.sb3 import sb3_kwargs, sb3_model
    from rlkit.training.environment import gives_action_masks, make_env
    from rlkit.training.evaluation import EVAL_SEED_OFFSET, evaluate, record_video
    from rlkit.training.metrics import RunLogger

    kwargs, _ = sb3_kwargs(spec.algo, config)
    # rlkit's reward clipping and normalization, done the SB3 way: a sign wrapper (outside
    # SB3's Monitor, which so reports the game's own returns), VecNormalize
    clip = (lambda env: gym.wrappers.TransformReward(env, lambda r: float(np.sign(r)))) \
        if config.clip_reward else None
    masked = gives_action_masks(spec.env_id, config.env_kwargs)
    if masked:  # MaskablePPO asks each env for action_masks(): its latest info's mask
        clip = partial(_info_masks, inner=clip)
    # rlkit's make_env: the same env as rlkit's side, Atari's preprocessing included
    env = make_vec_env(partial(make_env, spec.env_id, config.env_kwargs), n_envs=config.n_envs,
                       seed=spec.seed, wrapper_class=clip)
    model_class, policy = sb3_model(spec.algo, config, env.observation_space, masked)
    if masked:  # MaskablePPO's policies are categorical only: no std to start from
        kwargs.get("policy_kwargs", {}).pop("log_std_init", None)
    normalizer = None
    if config.normalize_obs or config.normalize_reward:
        env = normalizer = VecNormalize(env, norm_obs=config.normalize_obs,
                                        norm_reward=config.normalize_reward,
                                        clip_obs=config.clip_obs, gamma=config.gamma)
    model = model_class(policy, env, seed=spec.seed, device="cpu", **kwargs)
    agent = SB3Agent(model, spec.env_id, config,
                     normalizer if config.normalize_obs else None)
    logger = RunLogger(run_dir, {**to_dict(config), "library": "sb3"}, spec.algo, spec.env_id,
                       wandb_mode, wandb_args)
    start = time.perf_counter()

    def log_eval() -> dict[str, float]:
        stats = evaluate(agent, config.eval_episodes)
        row = {"global_step": model.num_timesteps,
               "charts/SPS": round(model.num_timesteps / (time.perf_counter() - start), 1),
               "eval/mean_return": stats["mean_return"], "eval/std_return": stats["std_return"],
               "eval/mean_length": stats["mean_length"]}
        logger.log(row)
        if capture_video:  # as rlkit's loop: one episode per evaluation
            videos = record_video(agent, run_dir / "videos" / f"step-{model.num_timesteps}", 1,
                                  config.seed + EVAL_SEED_OFFSET)
            logger.log_videos(model.num_timesteps, sorted(videos.glob("*.mp4")))
        return stats

    budget = spec.total_timesteps or config.total_timesteps

    on_policy = spec.algo in ("ppo", "a2c")

    class EvalEvery(BaseCallback):
        """rlkit's loop's schedule: after the update that crosses each multiple of eval_freq
        (for PPO and A2C: when the next rollout starts), and once at the end."""

        next_eval = config.eval_freq or 0

        def _maybe_eval(self) -> None:
            if self.next_eval and self.next_eval <= model.num_timesteps < budget:
                while self.next_eval <= model.num_timesteps:
                    self.next_eval += config.eval_freq
                log_eval()

        def _on_rollout_start(self) -> None:
            if on_policy:
                self._maybe_eval()

        def _on_step(self) -> bool:
            if not on_policy:
                self._maybe_eval()
            return True

    model.learn(budget, callback=EvalEvery())
    wall = time.perf_counter() - start
    final = log_eval()
    logger.summary({"eval/final_mean_return": final["mean_return"],
                    "eval/final_std_return": final["std_return"], "charts/wall_time": wall,
                    "charts/SPS": model.num_timesteps / wall, "global_step": model.num_timesteps})
    logger.close()
    return {"wall_time": wall, "global_step": model.num_timesteps,
            "eval_mean": final["mean_return"], "eval_std": final["std_return"]}


def run_one(spec: RunSpec, out_dir: str, wandb_mode: str = "disabled",
            group: str | None = None, capture_video: bool = False) -> dict[str, Any]:
    """Train one run in its directory (or read its finished result); the result as a dict.
    Its W&B run joins the comparison's ``group``, named and tagged by library. rlkit's side is
    :func:`rlkit.experiments.runs.train_run` (on from its checkpoint after an interrupted
    comparison); SB3's begun run starts again from scratch, its old rows moved aside."""
    import torch

    from rlkit.experiments.runs import read_result, train_run, write_result
    from rlkit.training.registry import make

    run_dir = Path(out_dir) / "runs" / spec.name
    finished = read_result(run_dir)
    if finished is not None:
        return finished
    wandb_args = {"group": group, "name": spec.name, "job_type": spec.library,
                  "tags": [spec.library, spec.algo, spec.env_id]}
    overrides = {**spec.overrides, "seed": spec.seed}
    if spec.library == "rlkit":
        result = train_run(spec.algo, spec.env_id, overrides, run_dir, spec.total_timesteps,
                           wandb_mode=wandb_mode, wandb_args=wandb_args,
                           capture_video=capture_video)
        result = {key: result[key] for key in ("wall_time", "global_step", "eval_mean",
                                               "eval_std")}
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        if (run_dir / "metrics.jsonl").is_file():
            stale = (run_dir / "metrics.jsonl").read_text()
            with (run_dir / "metrics.discarded.jsonl").open("a") as handle:
                handle.write(stale)
            (run_dir / "metrics.jsonl").unlink()
        torch.set_num_threads(1)  # one thread per worker: K workers share the machine's cores
        config = make(spec.algo, spec.env_id, **{**overrides, "torch_threads": 1}).config
        result = _train_sb3(spec, config, run_dir, wandb_mode, wandb_args, capture_video)
    result = {**asdict(spec), **result, "sps": result["global_step"] / result["wall_time"]}
    return write_result(run_dir, result)


def claim_directory(out_dir: Path, kind: str, identity: dict[str, Any]) -> None:
    """``out_dir/<kind>.json`` records what the directory holds; a rerun must match it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    marker = out_dir / f"{kind}.json"
    if marker.exists() and json.loads(marker.read_text()) != identity:
        raise RlkitError(f"'{out_dir}' holds a different {kind} ({marker.read_text().strip()}); "
                         f"use another --out")
    marker.write_text(json.dumps(identity))


def run_one_retried(spec: RunSpec, out_dir: str, *args: Any) -> dict[str, Any]:
    """``run_one`` as a Ray task: the comparison's driver holds its directory's lock, so a
    run directory's lock is an earlier attempt's, whose worker died (maybe on another node)."""
    from rlkit.experiments.runs import release_stale_lock

    release_stale_lock(Path(out_dir) / "runs" / spec.name)
    return run_one(spec, out_dir, *args)


def run_comparison(algo: str, env_ids: list[str], seeds: list[int],
                   total_timesteps: int | None, overrides: dict[str, Any], out_dir: Path,
                   workers: int = 1, progress: bool = False,
                   wandb_mode: str = "disabled", capture_video: bool = False,
                   libraries: tuple[str, ...] = LIBRARIES,
                   ray_address: str | None = None) -> list[dict[str, Any]]:
    """Plan, check ``out_dir``, run what is not finished on ``workers`` processes (or as tasks
    on the Ray cluster at ``ray_address``), report. With W&B on, every run and a ``report`` run
    (the figures as images) share one group."""
    specs = plan(algo, env_ids, seeds, total_timesteps, overrides, libraries)
    identity = {"algo": algo, "envs": env_ids, "seeds": seeds,
                "total_timesteps": total_timesteps, "overrides": overrides}
    if libraries != LIBRARIES:
        identity["libraries"] = list(libraries)
    claim_directory(out_dir, "comparison", identity)
    results: list[dict[str, Any]] = []
    bar = _bar(progress, len(specs))
    group = f"compare-{algo}-{out_dir.resolve().name}"
    calls = [(spec, str(out_dir), wandb_mode, group, capture_video) for spec in specs]
    for result in _run_all(calls, workers, ray_address):
        results.append(result)
        if bar is not None:
            bar.advance(bar.task_ids[0])
    if bar is not None:
        bar.stop()
    write_report(algo, specs, results, out_dir, libraries)
    if wandb_mode != "disabled":
        from rlkit.training.metrics import RunLogger

        logger = RunLogger(out_dir / "report-run", identity, algo, "+".join(env_ids), wandb_mode,
                           {"group": group, "name": "report", "job_type": "report",
                            "tags": ["report", algo, *env_ids]})
        logger.log_images([out_dir / "curves.png", out_dir / "wallclock.png"])
        logger.log_file(out_dir / "report.md", "report", kind="report")
        logger.close()
    return results


def _run_all(calls: list[tuple[Any, ...]], workers: int, ray_address: str | None):
    """``run_one(*call)`` for every call: on local worker processes, or on Ray."""
    if ray_address is not None:
        from rlkit.experiments import scale
        from rlkit.training import faults

        with faults.RunLock(Path(calls[0][1])):
            scale.connect(ray_address, workers)
            try:
                for _, result in scale.run_tasks(
                        run_one_retried, calls, max_in_flight=len(calls), fresh_process=True,
                        num_gpus=lambda c: scale.gpus_for(c[0].overrides)):
                    yield result
            finally:
                scale.shutdown()
        return
    import multiprocessing

    # spawn, not fork: a forked child of a process that has run torch can hang on its threads.
    # One run per process: an rlkit run fixes its process's malloc thresholds
    # (rlkit/fast/heap.py), which an SB3 run after it in the same worker would inherit.
    context = multiprocessing.get_context("spawn")
    fresh = {"max_tasks_per_child": 1} if sys.version_info >= (3, 11) else {}
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, **fresh) as pool:
        for future in as_completed([pool.submit(run_one, *call) for call in calls]):
            yield future.result()


def _bar(enabled: bool, total: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("[bold]runs"), BarColumn(), MofNCompleteColumn())
    bar.add_task("runs", total=total)
    bar.start()
    return bar


# --- the report --------------------------------------------------------------------------------
def write_report(algo: str, specs: list[RunSpec], results: list[dict[str, Any]],
                 out_dir: Path, libraries: tuple[str, ...] = LIBRARIES) -> None:
    from rlkit.training.environment import check_env_id, gives_action_masks
    from rlkit.training.metrics import read_metrics
    from rlkit.training.registry import make
    by_key = {(r["library"], r["env_id"], r["seed"]): r for r in results}
    env_ids = list(dict.fromkeys(spec.env_id for spec in specs))
    seeds = sorted({spec.seed for spec in specs})
    overrides = specs[0].overrides
    with (out_dir / "results.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["library", "algo", "env_id", "seed", "global_step", "eval_mean",
                         "eval_std", "wall_time", "sps", "steps_to_threshold"])
        for spec in specs:
            r = by_key[(spec.library, spec.env_id, spec.seed)]
            threshold = check_env_id(spec.env_id).reward_threshold
            reached = steps_to_threshold(read_metrics(out_dir / "runs" / spec.name), threshold)
            writer.writerow([spec.library, algo, spec.env_id, spec.seed, r["global_step"],
                             r["eval_mean"], r["eval_std"], round(r["wall_time"], 2),
                             round(r["sps"], 1), reached])

    title = "rlkit vs Stable-Baselines3" if "sb3" in libraries else "rlkit"
    lines = [f"# {title}: {algo}", "",
             f"Seeds {', '.join(map(str, seeds))}; final deterministic evaluation; 95 % "
             f"bootstrap intervals over seeds ({N_BOOTSTRAP} resamples, numpy; the IQM's "
             f"interval resamples within each env, rliable's stratified bootstrap).", ""]
    for env_id in env_ids:
        threshold = check_env_id(env_id).reward_threshold
        lines += [f"## {env_id}", "",
                  "| library | final eval (95 % CI) | IQM (95 % CI) | steps to "
                  f"{threshold if threshold is not None else '-'} | wall s | SPS |",
                  "|---|---|---|---|---|---|"]
        walls = {}
        for library in libraries:
            runs = [by_key[(library, env_id, seed)] for seed in seeds]
            finals = np.array([r["eval_mean"] for r in runs])
            low, high = bootstrap_ci(finals)
            iqm_low, iqm_high = bootstrap_ci(finals, iqm)
            reached = [steps_to_threshold(read_metrics(out_dir / "runs" / RunSpec(
                library, algo, env_id, seed, None).name), threshold) for seed in seeds]
            hits = [s for s in reached if s is not None]
            to_threshold = (f"{np.mean(hits):.0f} ({len(hits)}/{len(seeds)} seeds)"
                            if hits else f"not reached (0/{len(seeds)})")
            walls[library] = float(np.mean([r["wall_time"] for r in runs]))
            sps = float(np.mean([r["sps"] for r in runs]))
            lines.append(f"| {library} | {finals.mean():.1f} ({low:.1f}, {high:.1f}) | "
                         f"{iqm(finals):.1f} ({iqm_low:.1f}, {iqm_high:.1f}) | "
                         f"{to_threshold if threshold is not None else '-'} | "
                         f"{walls[library]:.1f} | {sps:.0f} |")
        lines += ["", f"Wall-time ratio rlkit/SB3: {walls['rlkit'] / walls['sb3']:.2f}"
                  if "sb3" in walls else "rlkit's side alone (--only rlkit).", ""]

    for env_id in env_ids if "sb3" in libraries else []:
        agent = make(algo, env_id, seed=seeds[0], **overrides)
        lines += _hyperparameters(algo, env_id, agent.config, agent.observation_space,
                                  gives_action_masks(env_id, agent.config.env_kwargs))
    (out_dir / "report.md").write_text("\n".join(lines))
    _plot(algo, env_ids, seeds, out_dir, libraries)


def _hyperparameters(algo: str, env_id: str, config: Any, observation_space: Any,
                     masked: bool) -> list[str]:
    """The mapping table for one env's config, and the keys SB3 runs without."""
    from rlkit.experiments.sb3 import applicable_rows, sb3_kwargs, sb3_model

    kwargs, unmapped = sb3_kwargs(algo, config)
    model_class, policy = sb3_model(algo, config, observation_space, masked)
    lines = [f"## Hyperparameters ({env_id})", "",
             "rlkit's config key by key, as SB3 receives it (the table in "
             "`rlkit/experiments/sb3.py`; "
             f"seed, n_envs, budget and evaluation are the same on both sides; SB3 runs "
             f"`{model_class.__name__}('{policy}')`):", "",
             "| rlkit key | rlkit value | SB3 keyword | SB3 value |", "|---|---|---|---|"]
    for row in applicable_rows(algo, config):
        node: Any = kwargs
        for part in row.sb3.split("."):
            node = node.get(part, "-") if isinstance(node, dict) else "-"
        value = config
        for part in row.rlkit.split("."):
            value = getattr(value, part)
        if hasattr(value, "type"):  # the torso's whole config: its kind says enough here
            value = f"{value.type} torso"
        extra = "".join(f", {key} = {getattr(config, key)}" for key in row.also)
        shown = node.__name__ if isinstance(node, type) else node
        if isinstance(shown, dict) and "approximator" in shown:
            shown = "rlkit's torso config" if shown["approximator"] is not None else "-"
        lines.append(f"| `{row.rlkit}` | {value}{extra} | `{row.sb3}` | {shown} |")
    lines.append("")
    if unmapped:
        lines += ["Keys whose value SB3 has no counterpart for (SB3 runs without them):", "",
                  *[f"- `{key}`: {reason}" for key, reason in sorted(unmapped.items())], ""]
    else:
        lines += ["Every rlkit key has its SB3 counterpart.", ""]
    return lines


def _plot(algo: str, env_ids: list[str], seeds: list[int], out_dir: Path,
          libraries: tuple[str, ...]) -> None:
    from rlkit.experiments.plots import plot_runs

    run_dirs = [out_dir / "runs" / RunSpec(library, algo, env_id, seed, None).name
                for env_id in env_ids for library in libraries for seed in seeds]
    plot_runs(run_dirs, out_dir / "curves.png", x="steps")
    plot_runs(run_dirs, out_dir / "wallclock.png", x="time")
