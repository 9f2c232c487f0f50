"""``rlkit tune``: an Optuna study of an agent's config whose trials run on Ray.

    rlkit tune ppo CartPole-v1 --trials 16 --total-timesteps 50000 [--space FILE]
               [--storage URL] [--ray-address ADDR]

Optuna's TPE sampler proposes each trial's values from the search space (``configs/tune/
<algo>.yaml``, or ``--space FILE``: every key a config field, checked like ``--set``). A trial
is an ordinary run directory ``TUNE/trials/trial-NNNN`` trained by :func:`rlkit.experiments.scale.
train_trial`, reporting every periodic evaluation to the study; Optuna's median pruner stops a
trial whose evaluation falls below the median of earlier trials at the same step (after
``PRUNER_STARTUP`` trials, and past a third of the budget). The objective is the final
deterministic evaluation's mean return.

The study lives in an Optuna storage: by default the SQLite file ``TUNE/study.db``, so an
interrupted study goes on with the same command (the trials it had begun resume from their
checkpoints; ``--trials`` counts every trial of the study). An RDB URL such as
``postgresql://user:password@host/db`` lets trials on several machines share one study. At the
end ``best.yaml`` (for ``rlkit train --config``), ``importance.png`` and ``history.png``.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import yaml

from rlkit.errors import ConfigError, RlkitError

PRUNER_STARTUP = 5  # trials that run to the end before the pruner judges any
SAMPLER_STARTUP = 5  # random trials before TPE models the results
KINDS = ("float", "int", "categorical")


def space_file(algo: str) -> Path:
    from importlib import resources

    return Path(str(resources.files("rlkit.configs") / "tune" / f"{algo}.yaml"))


def load_space(algo: str, env_id: str, path: Path | None = None,
               overrides: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """The search space ``{dotted key: {type, low, high, log} | {type: categorical,
    choices}}``, checked: every key a config field of ``algo``, every bound a valid value."""
    from rlkit.config import _merge, read_yaml, resolve_config
    from rlkit.training.registry import agent_class

    cls = agent_class(algo)
    if path is None:
        path = space_file(algo)
        if not path.is_file():
            raise ConfigError(f"rlkit ships no search space for '{algo}'; write one and pass "
                              f"--space FILE (see configs/tune/ppo.yaml)")
    space = read_yaml(path)
    if not space:
        raise ConfigError(f"search space '{path}' is empty")
    for key, spec in space.items():
        where = f"search space '{path}', key '{key}'"
        if not isinstance(spec, dict) or spec.get("type") not in KINDS:
            raise ConfigError(f"{where}: give a mapping with type: {' | '.join(KINDS)}")
        if spec["type"] == "categorical":
            if not isinstance(spec.get("choices"), list) or not spec["choices"]:
                raise ConfigError(f"{where}: a categorical needs a non-empty list of choices")
            samples = spec["choices"]
        else:
            try:
                low, high = float(spec["low"]), float(spec["high"])
            except (KeyError, TypeError, ValueError):
                raise ConfigError(f"{where}: a {spec['type']} needs numbers low and high") from None
            if not low < high or (spec.get("log") and low <= 0):
                raise ConfigError(f"{where}: needs low < high (and low > 0 with log: true)")
            cast = int if spec["type"] == "int" else float
            samples = [cast(low), cast(high)]
        for value in samples:  # each choice and both bounds as --set would take them
            try:
                resolve_config(cls.Config, algo, env_id, None,
                               _merge(overrides or {}, _nested({key: value})))
            except ConfigError as exc:
                raise ConfigError(f"{where}: {exc}") from None
    return space


def _nested(point: dict[str, Any]) -> dict[str, Any]:
    from rlkit.experiments.sweep import point_overrides

    return point_overrides(point)


def _plain(choice: Any) -> bool:
    return choice is None or isinstance(choice, (bool, int, float, str))


def suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The trial's value for every key (a categorical of lists is offered by its JSON text,
    since Optuna stores plain values only)."""
    point = {}
    for key, spec in space.items():
        if spec["type"] == "categorical":
            choices = spec["choices"]
            names = [c if _plain(c) else json.dumps(c) for c in choices]
            point[key] = choices[names.index(trial.suggest_categorical(key, names))]
        elif spec["type"] == "int":
            point[key] = trial.suggest_int(key, int(spec["low"]), int(spec["high"]),
                                           log=bool(spec.get("log")))
        else:
            point[key] = trial.suggest_float(key, float(spec["low"]), float(spec["high"]),
                                             log=bool(spec.get("log")))
    return point


def from_params(params: dict[str, Any], space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A stored trial's values back as config values (``suggest``'s inverse)."""
    point = {}
    for key, spec in space.items():
        value = params[key]
        if spec["type"] == "categorical" and not all(_plain(c) for c in spec["choices"]):
            value = next(c for c in spec["choices"] if (c if _plain(c) else json.dumps(c)) == value)
        point[key] = value
    return point


def resumed_point(study: Any, frozen: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The point of a trial an interrupted driver had begun. Its stored values are kept; a key
    it has none for (the signal came between ``ask`` and the last suggestion) is suggested now,
    as Optuna's ``Trial`` returns a stored value and samples a missing one."""
    import optuna

    return suggest(optuna.trial.Trial(study, frozen._trial_id), space)


def _shown(url: str) -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not even a URL: show it as typed
        return url


# What a database says when another process creates the same tables or version row at the
# same moment (Optuna creates them unguarded): the second opener tries again, and finds them
_CREATION_RACE = ("already exists", "unique constraint", "duplicate", "database is locked")
OPEN_ATTEMPTS = 5


def open_storage(url: str) -> Any:
    """Optuna's RDB storage at ``url``, or one line saying what is wrong with it. Drivers
    started together on one new storage race to create its tables; the loser tries again."""
    from rlkit.experiments.scale import require

    optuna = require("optuna")
    for attempt in range(1, OPEN_ATTEMPTS + 1):
        try:
            return optuna.storages.RDBStorage(url)
        except ImportError:
            raise RlkitError(f"the Optuna storage '{_shown(url)}' needs its database's Python "
                             f"driver, which is not installed (PostgreSQL: pip install "
                             f"'psycopg[binary]')") from None
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy: ArgumentError, OperationalError, ...
            why = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            if attempt < OPEN_ATTEMPTS and any(s in why.lower() for s in _CREATION_RACE):
                time.sleep(0.1 * attempt)
                continue
            raise RlkitError(f"cannot open the Optuna storage '{_shown(url)}' ({why}); give an "
                             f"SQLAlchemy URL such as sqlite:///path/to/study.db or "
                             f"postgresql://user:password@host/dbname") from None
    raise AssertionError("the loop returns or raises")


def pruner(total_timesteps: int) -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP,
                                       n_warmup_steps=total_timesteps // 3)


def tune_trial(storage_url: str, study_name: str, trial_id: int, warmup_steps: int,
               algo: str, env_id: str, overrides: dict[str, Any], run_dir: str,
               total_timesteps: int | None, wandb_mode: str, wandb_args: dict[str, Any],
               ) -> dict[str, Any]:
    """A Ray task: train one trial, reporting each evaluation to the study (read from and
    written to its storage directly, as Optuna's distributed workers do)."""
    import warnings

    import optuna

    from rlkit.experiments.scale import train_trial

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", module="optuna")  # re-reporting a resumed trial's step
    study = optuna.load_study(study_name=study_name, storage=storage_url,
                              pruner=optuna.pruners.MedianPruner(
                                  n_startup_trials=PRUNER_STARTUP,
                                  n_warmup_steps=warmup_steps))
    trial = optuna.trial.Trial(study, trial_id)

    def on_eval(step: int, stats: dict[str, float]) -> bool:
        trial.report(stats["mean_return"], step)
        return trial.should_prune()

    return train_trial(algo, env_id, overrides, run_dir, total_timesteps, wandb_mode,
                       wandb_args, on_eval)


def _driver() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _stale(trial: Any) -> bool:
    """A RUNNING trial whose driver (an earlier ``rlkit tune`` on this machine, or this
    process's own earlier study) is gone: judged as a run directory's stale lock is."""
    from rlkit.training.faults import RunLock

    host, _, pid = str(trial.user_attrs.get("driver", "")).rpartition(":")
    return pid.isdigit() and not RunLock._alive({"host": host, "pid": int(pid)})


def run_tune(algo: str, env_id: str, n_trials: int, out_dir: Path,
             space_path: Path | None = None, storage: str | None = None,
             study_name: str | None = None, total_timesteps: int | None = None,
             overrides: dict[str, Any] | None = None, workers: int = 2,
             ray_address: str | None = None, seed: int = 0, wandb_mode: str = "disabled",
             echo: Any = print) -> Any:
    """Create or continue the study, run its trials on Ray up to ``n_trials``, write the best
    config and the plots. The study."""
    from rlkit.config import _merge
    from rlkit.experiments import scale
    from rlkit.training import faults

    if n_trials < 1:
        raise RlkitError(f"--trials must be 1 or more, got {n_trials}")
    optuna = scale.require("optuna")
    scale.require("ray")
    overrides = dict(overrides or {})
    if "seed" in overrides:
        raise RlkitError("a study's seed comes from --seed, not --set seed=...")
    space = load_space(algo, env_id, space_path, overrides)
    from rlkit.training.registry import make

    probe = make(algo, env_id, seed=seed, **overrides)  # the env and its action space
    budget = total_timesteps or probe.config.total_timesteps
    del probe
    out_dir.mkdir(parents=True, exist_ok=True)
    url = storage or f"sqlite:///{(out_dir / 'study.db').resolve()}"
    name = study_name or f"{algo}-{env_id}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name, storage=open_storage(url), direction="maximize",
        load_if_exists=True, pruner=pruner(budget),
        sampler=optuna.samplers.TPESampler(n_startup_trials=SAMPLER_STARTUP, seed=seed))
    identity = {"algo": algo, "env_id": env_id, "space": space, "overrides": overrides,
                "total_timesteps": budget, "seed": seed}
    known = study.user_attrs.get("rlkit")
    if known is None:
        study.set_user_attr("rlkit", identity)
    elif known != identity:
        raise RlkitError(f"study '{name}' in '{_shown(url)}' was run with other settings "
                         f"({json.dumps(known)}); use another --study-name or --out")
    group = f"tune-{algo}-{out_dir.resolve().name}"
    running = optuna.trial.TrialState.RUNNING
    stale = [t for t in study.get_trials(deepcopy=False, states=(running,)) if _stale(t)]
    new = max(0, n_trials - len(study.get_trials(deepcopy=False)))
    if stale:
        echo(f"resuming {len(stale)} trial(s) an interrupted run had begun: "
             f"{', '.join(str(t.number) for t in stale)}")
    numbers: list[int] = []

    def call(trial_id: int, number: int, point: dict[str, Any]) -> tuple[Any, ...]:
        run_dir = out_dir / "trials" / f"trial-{number:04d}"
        trial_overrides = {**_merge(overrides, _nested(point)), "seed": seed}
        wandb_args = {"group": group, "job_type": "tune", "tags": ["tune", algo, env_id],
                      "name": f"trial-{number:04d}"}
        numbers.append(number)
        return (url, name, trial_id, budget // 3, algo, env_id, trial_overrides, str(run_dir),
                budget, wandb_mode, wandb_args)

    def calls():
        for frozen in stale:
            study._storage.set_trial_user_attr(frozen._trial_id, "driver", _driver())
            yield call(frozen._trial_id, frozen.number, resumed_point(study, frozen, space))
        # counted before each ask, so that drivers sharing a study stop at --trials together
        while len(study.get_trials(deepcopy=False)) < n_trials:
            trial = study.ask()
            trial.set_user_attr("driver", _driver())
            yield call(trial._trial_id, trial.number, suggest(trial, space))

    with faults.RunLock(out_dir):
        start = time.perf_counter()
        where = scale.connect(ray_address, workers)
        so_far = len(study.get_trials(deepcopy=False))
        new = max(0, n_trials - so_far)
        echo(f"study '{name}' ({so_far - len(stale)} trials so far, {new} to add) "
             f"on {where} ({time.perf_counter() - start:.1f} s to start)")
        try:
            for index, result in scale.run_tasks(
                    tune_trial, calls(), max_in_flight=workers, return_errors=True,
                    num_gpus=lambda c: scale.gpus_for(c[6])):
                number = numbers[index]
                state = optuna.trial.TrialState
                if isinstance(result, BaseException):
                    study.tell(number, state=state.FAIL)
                    echo(f"trial {number}: failed ({type(result).__name__}: "
                         f"{str(result).splitlines()[0][:160] if str(result) else ''})")
                elif result["stopped"]:
                    study.tell(number, state=state.PRUNED)
                    echo(f"trial {number}: pruned at step {result['global_step']} "
                         f"(eval {result['eval_mean']:.2f})")
                else:
                    study.tell(number, result["eval_mean"])
                    echo(f"trial {number}: {result['eval_mean']:.2f}")
        finally:
            scale.shutdown()
    write_outputs(study, space, overrides, out_dir, echo)
    return study


def write_outputs(study: Any, space: dict[str, dict[str, Any]], overrides: dict[str, Any],
                  out_dir: Path, echo: Any = print) -> None:
    """``best.yaml`` (``rlkit train --config`` takes it), ``importance.png``, ``history.png``."""
    import optuna

    from rlkit.config import _merge

    states = optuna.trial.TrialState
    done = study.get_trials(deepcopy=False, states=(states.COMPLETE,))
    pruned = len(study.get_trials(deepcopy=False, states=(states.PRUNED,)))
    failed = len(study.get_trials(deepcopy=False, states=(states.FAIL,)))
    echo(f"{len(study.trials)} trials: {len(done)} complete, {pruned} pruned, {failed} failed")
    if not done:
        echo("no trial completed: no best config")
        return
    best = study.best_trial
    config = _merge(overrides, _nested(from_params(best.params, space)))
    header = (f"# rlkit tune: study '{study.study_name}', best of {len(done)} complete trials: "
              f"trial {best.number}, final eval {best.value:.2f}\n"
              f"# rlkit train {study.user_attrs['rlkit']['algo']} "
              f"{study.user_attrs['rlkit']['env_id']} --config {out_dir / 'best.yaml'}\n")
    (out_dir / "best.yaml").write_text(header + yaml.safe_dump(config, sort_keys=True))
    echo(f"best: trial {best.number}, {best.value:.2f}; config: {out_dir / 'best.yaml'}")
    _plots(study, out_dir, echo)


def _plots(study: Any, out_dir: Path, echo: Any) -> None:
    import warnings

    import matplotlib
    import optuna

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    for name, plot in (("history", optuna_plots.plot_optimization_history),
                       ("importance", optuna_plots.plot_param_importances)):
        try:
            axes = plot(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importances of too few trials
            echo(f"no {name}.png: {str(exc).splitlines()[0][:160]}")
            continue
        axes.figure.set_size_inches(8, 5)
        axes.figure.tight_layout()
        axes.figure.savefig(out_dir / f"{name}.png", dpi=100)
        plt.close(axes.figure)
