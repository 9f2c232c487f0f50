"""The ``rlkit`` command: train, eval, record, list, check-env, compare, sweep, tune.

Problems with what the user typed (unknown algorithm or env, bad config key or value, missing
or corrupt checkpoint) end with one ``error: ...`` line on stderr and exit status 2.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from rlkit.errors import RlkitError
from rlkit.training.metrics import WANDB_MODES, default_wandb_mode

RAY_ADDRESS_HELP = ("A Ray cluster to run on: auto (one started on this machine with `ray start "
                    "--head`), HOST:PORT or ray://HOST:PORT")


def _path_safe(env_id: str) -> str:
    """An env id as one path component: ``ALE/Pong-v5`` -> ``ALE_Pong-v5``."""
    return env_id.replace("/", "_").replace(":", "_")


def _default_out(kind: str, algo: str, env_ids: list[str] | tuple[str, ...]) -> Path:
    """Where compare, sweep and tune write without ``--out``: ``compare/ppo-CartPole-v1``."""
    return Path(kind) / f"{algo}-{'+'.join(_path_safe(env_id) for env_id in env_ids)}"


def _run_dir(root: Path, algo: str, env_id: str, seed: int) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = root / f"{algo}-{_path_safe(env_id)}-{seed}-{stamp}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{seconds:.1f}s"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="rlkit")
def cli() -> None:
    """rlkit: train, evaluate and compare RL agents on Gymnasium environments."""


@cli.command()
@click.argument("algo")
@click.argument("env_id")
@click.option("--config", "config_file", type=click.Path(path_type=Path), help="YAML config file.")
@click.option("--set", "set_items", multiple=True, metavar="KEY=VALUE",
              help="Override a config key (repeatable; nested keys with dots).")
@click.option("--seed", type=int, help="Seed for envs, numpy and torch.")
@click.option("--total-timesteps", type=int, help="Env steps to train for.")
@click.option("--n-envs", type=int, help="Number of parallel envs.")
@click.option("--device", help="cpu, cuda, cuda:N, mps or auto.")
@click.option("--resume", "resume_dir", type=click.Path(path_type=Path),
              help="Continue an interrupted run from its directory.")
@click.option("--wandb-mode", type=click.Choice(WANDB_MODES),
              help="W&B logging (default: offline unless W&B credentials are set).")
@click.option("--runs-dir", type=click.Path(path_type=Path), default=Path("runs"),
              show_default=True, help="Where run directories are created.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--capture-video", is_flag=True,
              help="Record an evaluation episode at every evaluation (run dir and W&B).")
@click.option("--demos", metavar="DIR_OR_ID",
              help="Demonstrations for an agent that learns from them: a Minari dataset's "
                   "folder (`rlkit record` writes one) or the id of one in Minari's local root "
                   "(sets the config key demos).")
@click.option("--expert", metavar="RUN",
              help="The expert of an agent that asks one (dagger): a run directory or "
                   "checkpoint of an agent trained on the same env (sets the config key "
                   "expert).")
def train(algo, env_id, config_file, set_items, seed, total_timesteps, n_envs, device,
          resume_dir, wandb_mode, runs_dir, progress, capture_video, demos, expert) -> None:
    """Train ALGO on the Gymnasium environment ENV_ID."""
    import rlkit
    from rlkit.config import parse_set
    from rlkit.training.loop import train as run_training
    from rlkit.training.registry import agent_class, agent_names

    cls = agent_class(algo)  # unknown algorithm: fail before anything else
    for key, value, what in (("demos", demos, "learn from demonstrations"),
                             ("expert", expert, "ask an expert")):
        if value is not None and not _has_key(cls, key):
            takers = [name for name in agent_names() if _has_key(agent_class(name), key)]
            use = f"; use {', '.join(takers)}" if takers else ""
            raise RlkitError(f"{algo} does not {what} (--{key}){use}")
    wandb_mode = wandb_mode or default_wandb_mode()
    if resume_dir is not None:
        if config_file or set_items or seed is not None or n_envs is not None or device:
            raise RlkitError("--resume continues a run with its saved config; drop --config, "
                             "--set, --seed, --n-envs and --device")
        if demos is not None or expert is not None:
            raise RlkitError("--resume continues a run with its saved config (its "
                             "demonstrations and expert included); drop --demos and --expert")
        agent = rlkit.load(resume_dir)
        if (agent.name, agent.env_id) != (algo, env_id):
            raise RlkitError(f"run '{resume_dir}' is {agent.name} on {agent.env_id}, "
                             f"not {algo} on {env_id}")
        run_dir = Path(resume_dir)
        budget = None if total_timesteps is None else total_timesteps - agent.global_step
        if budget is not None and budget <= 0:
            raise RlkitError(f"run '{resume_dir}' is already at step {agent.global_step}")
        if budget is None and not agent.can_collect:
            raise RlkitError(f"run '{resume_dir}' finished at step {agent.global_step}; "
                             f"pass --total-timesteps to train further")
        print(f"resuming {algo} on {env_id} from step {agent.global_step}")
    else:
        overrides = parse_set(list(set_items))
        for key, value in (("total_timesteps", total_timesteps), ("n_envs", n_envs),
                           ("device", device)):
            if value is not None:
                overrides[key] = value
        if seed is not None:  # --seed wins over --set seed=...
            overrides["seed"] = seed
        for key, value in (("demos", demos), ("expert", expert)):
            if value is not None:  # a folder as an absolute path: --resume from elsewhere
                overrides[key] = str(Path(value).resolve()) if Path(value).exists() else value
        agent = rlkit.make(algo, env_id, config_file=config_file, **overrides)
        run_dir = _run_dir(runs_dir, algo, env_id, agent.config.seed)
        budget = agent.config.total_timesteps
    result = run_training(agent, budget, run_dir=run_dir, wandb_mode=wandb_mode,
                          progress=progress and sys.stdout.isatty(),
                          capture_video=capture_video)
    if result.interrupted:
        print(f"interrupted ({result.signal_name}) at step {result.global_step}; checkpoint "
              f"written. Continue with: rlkit train {algo} {env_id} --resume {run_dir}")
        # the shell's convention, 128 + the signal: a scheduler sees an interrupted job
        sys.exit(143 if result.signal_name == "SIGTERM" else 130)
    print(f"eval return {result.eval_mean:.2f} +- {result.eval_std:.2f} | "
          f"{result.global_step} steps in {_duration(result.wall_time)} | run: {run_dir}")


def _has_key(cls: type, key: str) -> bool:
    """Whether agent class ``cls``'s Config has ``key`` (``demos``: it takes demonstrations;
    ``expert``: it asks an expert)."""
    from dataclasses import fields

    return any(f.name == key for f in fields(cls.Config))


@cli.command("record")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--episodes", type=click.IntRange(min=1), default=10, show_default=True,
              help="Episodes to record.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="The dataset's folder (new or empty).")
@click.option("--stochastic", is_flag=True,
              help="Sample the actions from the policy (default: its deterministic actions).")
@click.option("--seed", type=int, default=None,
              help="Seed of the first episode (default: the run's seed + 2000000).")
def record_command(run, episodes, out_dir, stochastic, seed) -> None:
    """Record episodes of the trained RUN (a run directory or checkpoint) as a Minari dataset of
    demonstrations in the folder --out, with their returns in its metadata."""
    from rlkit.training.record import record

    done = record(run, episodes, out_dir, deterministic=not stochastic, seed=seed)
    print(f"{done.algo} on {done.env_id}: {episodes} episodes, return "
          f"{done.returns.mean():.2f} +- {done.returns.std():.2f} "
          f"(mean length {done.lengths.mean():.1f}) | dataset: {done.path}")


@cli.command("eval")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--episodes", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--seed", type=int, default=None, help="Seed of the first evaluation episode.")
@click.option("--video", "video_dir", type=click.Path(path_type=Path),
              help="Record the episodes as mp4 files in this folder.")
@click.option("--reconstructions", "reconstructions", type=click.Path(path_type=Path),
              help="Save observations next to the autoencoder's or VAE's reconstructions "
                   "of them as this PNG.")
def eval_command(path, episodes, seed, video_dir, reconstructions) -> None:
    """Evaluate a run directory or checkpoint with deterministic actions."""
    import rlkit
    from rlkit.training.evaluation import evaluate, record_video, save_reconstructions

    agent = rlkit.load(path)
    stats = evaluate(agent, episodes, seed=seed)
    print(f"{agent.name} on {agent.env_id}: eval return {stats['mean_return']:.2f} +- "
          f"{stats['std_return']:.2f} over {episodes} episodes "
          f"(mean length {stats['mean_length']:.1f})")
    describe = getattr(agent, "describe_policy", None)
    if describe is not None:
        text = describe()
        if text:
            print(text)
    if video_dir is not None:
        out = record_video(agent, video_dir, episodes,
                           seed if seed is not None else agent.config.seed + 1_000_000)
        print(f"videos written to {out}")
    if reconstructions is not None:
        print(f"reconstructions written to {save_reconstructions(agent, reconstructions)}")


@cli.command("compare")
@click.argument("algo")
@click.argument("env_ids", nargs=-1, required=True)
@click.option("--seeds", default="0-4", show_default=True, help="A range (0-4) or a list (0,3).")
@click.option("--total-timesteps", type=int, help="Env steps per run (default: the config's).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Runs in parallel, one process and one torch thread each.")
@click.option("--set", "set_items", multiple=True, metavar="KEY=VALUE",
              help="Override a config key on both sides (repeatable).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Output directory (default: compare/<algo>-<envs>).")
@click.option("--wandb-mode", type=click.Choice(WANDB_MODES),
              help="W&B logging (default: offline unless W&B credentials are set).")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
@click.option("--capture-video", is_flag=True,
              help="Record an evaluation episode at every evaluation of every run.")
@click.option("--only", type=click.Choice(["rlkit"]),
              help="Run rlkit's side alone (an agent SB3 has no counterpart of: tabular).")
@click.option("--ray-address", help=RAY_ADDRESS_HELP + " (default: local worker processes)")
def compare_command(algo, env_ids, seeds, total_timesteps, workers, set_items, out_dir,
                    wandb_mode, progress, capture_video, only, ray_address) -> None:
    """Train ALGO with rlkit and with Stable-Baselines3 on each ENV_ID and every seed, with the
    same hyperparameters and evaluation; write report.md, results.csv and the curves."""
    from rlkit.config import parse_set
    from rlkit.experiments.compare import parse_seeds, run_comparison

    seed_list = parse_seeds(seeds)
    if total_timesteps is not None and total_timesteps < 1:
        raise RlkitError(f"--total-timesteps must be >= 1, got {total_timesteps}")
    out_dir = out_dir or _default_out("compare", algo, env_ids)
    results = run_comparison(algo, list(env_ids), seed_list, total_timesteps,
                             parse_set(list(set_items)), out_dir, workers,
                             progress and sys.stdout.isatty(),
                             wandb_mode or default_wandb_mode(), capture_video,
                             (only,) if only else ("rlkit", "sb3"), ray_address)
    print(f"{len(results)} runs; report: {out_dir / 'report.md'}")


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's stop), raised where Ctrl-C raises KeyboardInterrupt."""


# Set when SIGTERM arrives: Ray turns any KeyboardInterrupt raised while it waits in C++
# (ray.get, ray.wait) into a plain KeyboardInterrupt, so the exception's type can be lost
_sigterm_received = threading.Event()


@contextmanager
def _sigterm_as_ctrl_c() -> Iterator[None]:
    """Inside the block SIGTERM raises :class:`_Terminated`: ``rlkit sweep`` and ``rlkit tune``
    stop on it as on Ctrl-C (their ``finally`` blocks shut Ray down and free the directory),
    and :func:`_interrupted` tells the two apart by the exit status."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread sets signal handlers
        return

    def handle(signum: int, frame: object) -> None:
        _sigterm_received.set()
        raise _Terminated

    _sigterm_received.clear()
    previous = signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupted(what: str, exc: KeyboardInterrupt) -> None:
    click.echo(f"interrupted; {what} keeps what finished: run the same command again to "
               f"continue (begun runs resume from their checkpoints)", err=True)
    terminated = isinstance(exc, _Terminated) or _sigterm_received.is_set()
    sys.exit(143 if terminated else 130)  # 128 + the signal, as train's


@cli.command("sweep")
@click.argument("algo")
@click.argument("env_id")
@click.option("--seeds", default="0-4", show_default=True, help="A range (0-4) or a list (0,3).")
@click.option("--grid", "grid_items", multiple=True, metavar="KEY=V1,V2,...",
              help="Values of a config key to cross with the others (repeatable; values are "
                   "YAML, so [64,64],[256,256] is two lists).")
@click.option("--set", "set_items", multiple=True, metavar="KEY=VALUE",
              help="Override a config key in every trial (repeatable).")
@click.option("--total-timesteps", type=int, help="Env steps per trial (default: the config's).")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="CPUs of the embedded Ray (trials at once) when no --ray-address is given.")
@click.option("--ray-address", help=RAY_ADDRESS_HELP + " (default: an embedded local Ray)")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Sweep directory (default: sweeps/<algo>-<env>); on a cluster, a path every "
                   "node reaches.")
@click.option("--wandb-mode", type=click.Choice(WANDB_MODES),
              help="W&B logging (default: offline unless W&B credentials are set).")
def sweep_command(algo, env_id, seeds, grid_items, set_items, total_timesteps, workers,
                  ray_address, out_dir, wandb_mode) -> None:
    """Train ALGO on ENV_ID for every seed at every grid point, on Ray; write summary.md and
    summary.csv (final evaluation per grid point, mean and 95 % CI over seeds)."""
    from rlkit.config import parse_set
    from rlkit.experiments.compare import parse_seeds
    from rlkit.experiments.sweep import parse_grid, run_sweep

    if total_timesteps is not None and total_timesteps < 1:
        raise RlkitError(f"--total-timesteps must be >= 1, got {total_timesteps}")
    out_dir = out_dir or _default_out("sweeps", algo, [env_id])
    try:
        with _sigterm_as_ctrl_c():
            run_sweep(algo, env_id, parse_seeds(seeds), parse_grid(list(grid_items)),
                      parse_set(list(set_items)), out_dir, total_timesteps, workers,
                      ray_address, wandb_mode or default_wandb_mode())
    except KeyboardInterrupt as exc:
        _interrupted("the sweep", exc)
    print(f"summary: {out_dir / 'summary.md'}")


@cli.command("tune")
@click.argument("algo")
@click.argument("env_id")
@click.option("--trials", "n_trials", type=int, required=True,
              help="Trials in the study, counting those of earlier runs of this command.")
@click.option("--space", "space_file", type=click.Path(path_type=Path),
              help="Search-space YAML (default: configs/tune/<algo>.yaml).")
@click.option("--storage", help="Optuna storage URL (default: sqlite:///<out>/study.db; "
                                "postgresql://... to share a study between machines).")
@click.option("--study-name", help="Default: <algo>-<env>.")
@click.option("--total-timesteps", type=int, help="Env steps per trial (default: the config's).")
@click.option("--set", "set_items", multiple=True, metavar="KEY=VALUE",
              help="Override a config key in every trial (repeatable).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Every trial's seed, and the sampler's.")
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True,
              help="Trials at once (and the embedded Ray's CPUs).")
@click.option("--ray-address", help=RAY_ADDRESS_HELP + " (default: an embedded local Ray)")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Tune directory (default: tune/<algo>-<env>).")
@click.option("--wandb-mode", type=click.Choice(WANDB_MODES),
              help="W&B logging (default: offline unless W&B credentials are set).")
def tune_command(algo, env_id, n_trials, space_file, storage, study_name, total_timesteps,
                 set_items, seed, workers, ray_address, out_dir, wandb_mode) -> None:
    """Tune ALGO's config on ENV_ID with Optuna (TPE sampler, median pruner), trials on Ray;
    write best.yaml, importance.png and history.png."""
    from rlkit.config import parse_set
    from rlkit.experiments.tune import run_tune

    if total_timesteps is not None and total_timesteps < 1:
        raise RlkitError(f"--total-timesteps must be >= 1, got {total_timesteps}")
    out_dir = out_dir or _default_out("tune", algo, [env_id])
    try:
        with _sigterm_as_ctrl_c():
            run_tune(algo, env_id, n_trials, out_dir, space_file, storage, study_name,
                     total_timesteps, parse_set(list(set_items)), workers, ray_address, seed,
                     wandb_mode or default_wandb_mode())
    except KeyboardInterrupt as exc:
        _interrupted("the study", exc)


@cli.command("plot")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--metric", default="eval/mean_return", show_default=True,
              help="A key of metrics.jsonl.")
@click.option("--x", "x_axis", type=click.Choice(["steps", "time"]), default="steps",
              show_default=True, help="Env steps or wall time on the x-axis.")
@click.option("--out", "out_file", type=click.Path(path_type=Path), default=Path("plot.png"),
              show_default=True)
def plot_command(run_dirs, metric, x_axis, out_file) -> None:
    """Plot METRIC of run directories: a panel per env, a line per algorithm (mean and 95 %
    band over its runs)."""
    from rlkit.experiments.plots import plot_runs

    print(f"plot written to {plot_runs(list(run_dirs), out_file, metric, x_axis)}")


@cli.command("list")
def list_command() -> None:
    """List agents (with their tuned envs), rlkit's envs and Gymnasium's."""
    import gymnasium as gym
    from rich.console import Console
    from rich.table import Table

    import rlkit.envs  # noqa: F401
    from rlkit.config import tuned_envs
    from rlkit.training.registry import agent_names

    console = Console()
    table = Table(title="agents")
    table.add_column("algo")
    table.add_column("tuned configs (configs/<algo>.yaml)")
    for name in agent_names():
        table.add_row(name, ", ".join(tuned_envs(name)) or "-")
    console.print(table)
    ours = sorted(k for k in gym.registry if k.startswith("rlkit/"))
    console.print("[bold]rlkit envs:[/bold] " + (", ".join(ours) or "-"))
    others = sorted(k for k in gym.registry if not k.startswith("rlkit/"))
    console.print(f"[bold]Gymnasium envs ({len(others)}):[/bold] " + ", ".join(others))


@cli.command("check-env")
@click.argument("env_id")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the resets and actions the checks take.")
def check_env_command(env_id: str, seed: int) -> None:
    """Check ENV_ID (a Gymnasium id or module:Id): Gymnasium's env checker, the values it
    returns, its seeding, and which rlkit agents take its spaces. Exits 1 when a check of the
    env fails (an agent that does not take it is no failure)."""
    from rich.console import Console
    from rich.table import Table

    from rlkit.training.env_check import check_env

    checks = check_env(env_id, seed)
    table = Table(title=f"rlkit check-env {env_id}")
    for column in ("check", "result", "detail"):
        table.add_column(column, overflow="fold")
    for check in checks:
        agent = check.name.startswith("agent ")
        result = ("yes" if check.ok else "no") if agent else ("ok" if check.ok else "FAIL")
        table.add_row(check.name, result, check.detail)
    Console(width=120).print(table)
    if any(not check.ok and not check.name.startswith("agent ") for check in checks):
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    # As under `python -m`: a user's env module in the working directory imports by name
    # (`rlkit train ppo my_envs:Maze-v0`); a console script's path holds only its own folder.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        cli.main(args=argv, prog_name="rlkit")
    except RlkitError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
