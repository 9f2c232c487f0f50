"""Every learning test under every CPU kernel set torch can pick, with its scores.

    python benchmarks/learning_tests.py [--capabilities default,avx2,avx512] [--workers 2]
                                        [-- extra pytest args, e.g. -k cartpole]

Runs ``pytest -m slow`` once per ATEN_CPU_CAPABILITY value (avx512 acts as avx2 on a CPU
without it) with RLKIT_LEARNING_LOG set, so that every test written with the ``learns``
fixture (tests/conftest.py) records its untrained and trained scores. Prints one markdown
table: a row per test and seed, a column per capability, and whether each run passed.
Long: 10 minutes per kernel set on two cores (17 with another job beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def run_capability(capability: str, workers: int, extra: list[str], log: Path) -> int:
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability, RLKIT_LEARNING_LOG=str(log),
               WANDB_MODE="disabled")
    command = [sys.executable, "-m", "pytest", "-q", "-m", "slow", "-p", "no:cacheprovider"]
    if workers > 1:
        command += ["-n", str(workers)]
    print(f"== ATEN_CPU_CAPABILITY={capability}: {' '.join(command + extra)}", flush=True)
    return subprocess.run(command + extra, env=env).returncode


def table(rows: list[dict], capabilities: list[str]) -> str:
    """Markdown: test, bar, untrained score, then 'trained score (pass/FAIL)' per capability."""
    runs: dict[tuple, dict[str, dict]] = defaultdict(dict)
    for row in rows:
        name = row["test"].split("::")[-1]  # with its parameters (seed, torso, ...)
        key = (name, row.get("fast_paths"), row["seed"])
        runs[key][row["capability"]] = row
    head = ["test", "fast paths", "seed", "steps", "bar", "untrained", *capabilities]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (name, fast_paths, seed), by_capability in sorted(runs.items(), key=str):
        first = next(iter(by_capability.values()))
        switch = "-" if fast_paths is None else "on" if fast_paths else "off"
        cells = [name, switch, str(seed), str(first["steps"]),
                 f"{first['bar']:g}", f"{first['untrained']:.4g}"]
        for capability in capabilities:
            run = by_capability.get(capability)
            if run is None:
                cells.append("-")
            else:
                verdict = "pass" if run["trained"] >= run["bar"] else "FAIL"
                cells.append(f"{run['trained']:.4g} ({verdict})")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capabilities", default="default,avx2,avx512")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args()
    capabilities = args.capabilities.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "learning.jsonl"
        log.touch()
        codes = {c: run_capability(c, args.workers, args.pytest_args, log) for c in capabilities}
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    print(table(rows, capabilities))
    print("pytest exit codes: " + ", ".join(f"{c} {code}" for c, code in codes.items()))
    sys.exit(max(codes.values()))


if __name__ == "__main__":
    main()
