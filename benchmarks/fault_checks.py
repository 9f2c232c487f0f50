"""What the finiteness checks cost (issue: "under 2 % of a CartPole run").

    python benchmarks/fault_checks.py [--algo ppo] [--steps 100000] [--pairs 3]

Trains the tuned CartPole-v1 entry with the checks on and off
(``rlkit.core.env_faults.CHECK_FINITE``: every env step's observation and reward, every update's
losses, gradients and parameters), alternating, in one process with one torch thread, and prints the
wall times and the overhead.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import rlkit
from rlkit.core import env_faults


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--algo", default="ppo")
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    times: dict[bool, list[float]] = {True: [], False: []}
    for pair in range(args.pairs):
        for checks in ((True, False) if pair % 2 == 0 else (False, True)):
            env_faults.CHECK_FINITE = checks
            agent = rlkit.make(args.algo, args.env, seed=pair, eval_freq=0)
            start = time.perf_counter()
            agent.learn(args.steps)
            times[checks].append(time.perf_counter() - start)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    ratios = [a / b for a, b in zip(times[True], times[False], strict=True)]
    print(f"{args.algo} {args.env}, {args.steps} steps, {args.pairs} pairs (median wall s): "
          f"checks on {on:.2f}, off {off:.2f}; overhead {100 * (on / off - 1):+.1f} % "
          f"(per pair: {', '.join(f'{100 * (r - 1):+.1f}' for r in ratios)})")


if __name__ == "__main__":
    main()
