"""``rlkit tune ppo CartPole-v1 --trials 16`` on a small budget, against the tuned default.

    python benchmarks/tune_cartpole.py [--trials 16] [--steps 20000] [--seeds 0-2]

Runs the study (TPE sampler, median pruner, embedded Ray with 2 workers) in a fresh directory,
then trains the best trial's ``best.yaml`` and the shipped tuned config with the same budget on
``--seeds`` (a sweep each) and prints both final evaluations, and how many trials the pruner
stopped.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--eval-freq", type=int, default=4_000)
    args = parser.parse_args()
    import numpy as np
    import optuna

    from rlkit.config import read_yaml
    from rlkit.experiments.compare import parse_seeds
    from rlkit.experiments.sweep import run_sweep
    from rlkit.experiments.tune import run_tune

    root = Path(tempfile.mkdtemp(prefix="tune-cartpole-"))
    start = time.perf_counter()
    study = run_tune("ppo", "CartPole-v1", args.trials, root / "tune",
                     total_timesteps=args.steps, overrides={"eval_freq": args.eval_freq})
    wall = time.perf_counter() - start
    states = [t.state for t in study.trials]
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    print(f"study: {len(states)} trials in {wall:.0f} s, {pruned} pruned, "
          f"best trial {study.best_trial.number}: {study.best_value:.1f} (seed 0)")
    seeds = parse_seeds(args.seeds)
    best = read_yaml(root / "tune" / "best.yaml")
    for name, overrides in (("tuned default", {"eval_freq": args.eval_freq}), ("best", best)):
        rows = run_sweep("ppo", "CartPole-v1", seeds, {}, overrides, root / name.replace(" ", "-"),
                         args.steps, echo=lambda *a: None)
        finals = np.array([r["eval_mean"] for r in rows])
        print(f"{name:>13}: final eval {finals.mean():.1f} +- {finals.std():.1f} over seeds "
              f"{args.seeds} ({', '.join(f'{v:.1f}' for v in finals)}) at {args.steps} steps")
    print(f"files: {root / 'tune'}")


if __name__ == "__main__":
    main()
