"""Ray's scaling on this machine: 4 equal trials with 1 worker, then with 2.

    python benchmarks/ray_scaling.py [--algo ppo] [--env CartPole-v1] [--steps 100000]

Each sweep is ``rlkit sweep ALGO ENV --seeds 0-3 --workers K`` in a fresh directory (an
embedded Ray of K CPUs, one torch thread per trial). Prints Ray's start-up time, each sweep's
wall time and the speedup, and checks that both sweeps gave the same numbers.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def sweep(algo: str, env_id: str, steps: int, workers: int, out: Path) -> tuple[float, float,
                                                                              list[float]]:
    from rlkit.experiments.sweep import run_sweep

    starts: list[float] = []

    def echo(line: str) -> None:
        if "to start)" in line:
            starts.append(float(line.rsplit("(", 1)[1].split(" s")[0]))

    begin = time.perf_counter()
    rows = run_sweep(algo, env_id, [0, 1, 2, 3], {}, {}, out, steps, workers, echo=echo)
    return time.perf_counter() - begin, starts[0], [r["eval_mean"] for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algo", default="ppo")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    results = {}
    for workers in (1, 2):
        results[workers] = sweep(args.algo, args.env, args.steps, workers, root / f"w{workers}")
        wall, start, finals = results[workers]
        print(f"{workers} worker(s): 4 trials in {wall:.1f} s (Ray start-up {start:.1f} s); "
              f"final evals {finals}", flush=True)
    speedup = results[1][0] / results[2][0]
    same = results[1][2] == results[2][2]
    print(f"speedup 2 workers vs 1: {speedup:.2f}x (aim 1.7x); same final numbers: {same}")


if __name__ == "__main__":
    main()
