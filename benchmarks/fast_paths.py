"""What each of rlkit's fast paths (rlkit/fast/) saves in the benchmark it serves.

    python benchmarks/fast_paths.py [--repeats 3] [--paths td_gradient,categorical] [--steps 100000]
                                    [--workers 1]

For every (fast path, benchmark) pair it runs the benchmark's rlkit side (``--only rlkit``)
with every fast path on, then with that one path off (``RLKIT_FAST_PATHS=-PATH``), in
alternating pairs of fresh processes (wall times on a shared machine drift by 10-30 % within
minutes; a pair sits close together in time). ``all`` turns every path off at once. It prints
every pair, then one row per pair of path and benchmark: the median wall time with the path
and without it, and the saving 1 - on/off (median over the pairs). The README's rule: a path
that saves under 5 % of its benchmark's wall time is replaced with torch's own operation.
``--workers K`` runs K processes at once (for a machine with many idle cores; keep K below
the number of physical cores): every run then shares the machine alike.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Which benchmark each fast path serves (the agents whose hot loop runs through it).
SERVES = {
    "td_gradient": ("dqn_cartpole",),
    "numpy_acting": ("dqn_cartpole",),
    "categorical": ("ppo_cartpole", "a2c_cartpole"),
    "plain_conv": ("minatar_ppo",),
    "heap": ("minatar_ppo", "ppo_cartpole"),
    "all": ("dqn_cartpole", "ppo_cartpole", "a2c_cartpole", "minatar_ppo"),
}


def run(benchmark: str, steps: int, fast_paths: str) -> tuple[float, float]:
    """Wall seconds and eval return of the benchmark's rlkit side in a fresh process."""
    env = {**os.environ, "RLKIT_FAST_PATHS": fast_paths}
    out = subprocess.run(
        [sys.executable, str(HERE / f"{benchmark}.py"), "--only", "rlkit", "--steps", str(steps)],
        env=env, capture_output=True, text=True, check=True, cwd=HERE,
    ).stdout
    match = re.search(r"rlkit: ([\d.]+) s, \d+ SPS, eval ([-\d.]+)", out)
    if match is None:
        raise RuntimeError(f"{benchmark} printed no rlkit line:\n{out}")
    return float(match.group(1)), float(match.group(2))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3, help="on/off pairs per row")
    parser.add_argument("--paths", default=",".join(SERVES), help="comma-separated")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=1, help="runs at once")
    args = parser.parse_args()
    cases = [(path, benchmark) for path in args.paths.split(",") for benchmark in SERVES[path]]
    # every run as (case, repeat, "on"/"off"); pairs stay next to each other in the queue
    jobs = [(case, repeat, side) for case in cases for repeat in range(args.repeats)
            for side in ("on", "off")]

    def one(job):
        (path, benchmark), _, side = job
        off_value = "0" if path == "all" else f"-{path}"
        return run(benchmark, args.steps, "1" if side == "on" else off_value)

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = dict(zip(jobs, pool.map(one, jobs), strict=True))
    rows = []
    for path, benchmark in cases:
        savings, on_times, off_times = [], [], []
        for repeat in range(args.repeats):
            on = results[(path, benchmark), repeat, "on"]
            off = results[(path, benchmark), repeat, "off"]
            on_times.append(on[0])
            off_times.append(off[0])
            savings.append(1.0 - on[0] / off[0])
            print(f"{path:>12} {benchmark:<13} pair {repeat + 1}: on {on[0]:6.1f} s "
                  f"(eval {on[1]:6.1f})  off {off[0]:6.1f} s (eval {off[1]:6.1f})  "
                  f"saving {savings[-1]:6.1%}", flush=True)
        rows.append((path, benchmark, statistics.median(on_times),
                     statistics.median(off_times), statistics.median(savings)))
    print(f"\n{'fast path':>12} {'benchmark':<13} {'on s':>7} {'off s':>7} {'saving':>8}")
    for path, benchmark, on_s, off_s, saving in rows:
        print(f"{path:>12} {benchmark:<13} {on_s:7.1f} {off_s:7.1f} {saving:8.1%}")


if __name__ == "__main__":
    main()
