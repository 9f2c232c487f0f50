"""Ablation of double Q and prioritized replay over seeds: vanilla, double, PER, double+PER.

    python benchmarks/dqn_ablation.py [--envs CartPole-v1 Acrobot-v1] [--seeds 0 1 2 3 4]
                                      [--steps N] [--jobs 2] [--variants vanilla PER]

Each run uses the env's tuned config from configs/dqn.yaml with only ``double_q`` and
``prioritized`` changed (``--steps`` overrides the budget) and reports the final
deterministic evaluation (10 episodes). Prints the mean and std over seeds, and min/max.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor, as_completed

import numpy as np

VARIANTS = {
    "vanilla": dict(double_q=False, prioritized=False),
    "double": dict(double_q=True, prioritized=False),
    "PER": dict(double_q=False, prioritized=True),
    "double+PER": dict(double_q=True, prioritized=True),
}


def run(env_id: str, variant: str, seed: int, steps: int | None) -> float:
    import torch

    import rlkit

    torch.set_num_threads(1)
    agent = rlkit.make("dqn", env_id, seed=seed, eval_freq=0, **VARIANTS[variant])
    agent.learn(steps)
    return float(agent.last_eval["mean_return"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "Acrobot-v1"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--steps", type=int, default=None, help="default: the tuned budget")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    variants = [v for v in VARIANTS if v in args.variants]
    # the default (double+PER) first: it is also the acceptance run of the tuned config
    jobs = [(env, var, seed)
            for env in args.envs for var in reversed(variants) for seed in args.seeds]
    with ProcessPoolExecutor(args.jobs) as pool:
        futures = {pool.submit(run, *job, args.steps): job for job in jobs}
        results = {}
        for future in as_completed(futures):
            results[futures[future]] = future.result()
            print(*futures[future], f"{results[futures[future]]:.1f}", flush=True)
    print(f"\nfinal eval return over seeds {args.seeds} (steps: {args.steps or 'tuned'})")
    print(f"{'env':14}{'variant':12}{'mean':>9}{'std':>8}{'min':>9}{'max':>9}  per seed")
    for env in args.envs:
        for var in variants:
            r = np.array([results[(env, var, s)] for s in args.seeds])
            print(f"{env:14}{var:12}{r.mean():>9.1f}{r.std():>8.1f}{r.min():>9.1f}{r.max():>9.1f}"
                  f"  {' '.join(f'{x:.0f}' for x in r)}")


if __name__ == "__main__":
    main()
