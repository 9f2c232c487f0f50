"""Every learning test on 10 seeds, under CPU rounding other than this machine's, with its scores.

    python benchmarks/learning_tests.py [--seeds 0-9] [--workers 2]
        [--perturbations native,ONEDNN_MAX_CPU_ISA=AVX2,MKL_CBWR=COMPATIBLE]
        [--json ROWS.jsonl] [-- extra pytest args, e.g. -k cartpole]
    python benchmarks/learning_tests.py --table ROWS.jsonl [ROWS.jsonl ...]

Runs ``pytest -m slow`` once per perturbation with RLKIT_LEARNING_SEEDS (the tests' own
seeds 0-2 replaced by ``--seeds``) and RLKIT_LEARNING_LOG set, so that every test written with
the ``learns`` fixture (tests/conftest.py) records its untrained and trained scores. A
perturbation is ``native`` (this machine's own kernels) or ``VAR=VALUE[+VAR=VALUE...]``:
``ATEN_CPU_CAPABILITY`` (torch's kernel set: default, avx2, avx512), ``ONEDNN_MAX_CPU_ISA``
(oneDNN's instruction set; the LSTM runs on oneDNN), ``MKL_CBWR`` (MKL's code path:
COMPATIBLE, AVX2, ...). Each changes the last bits of the arithmetic the way another CPU
would. Prints one markdown table: a row per test, the pass count over the seeds per
perturbation, and the trained scores; then the tests' pytest exit codes. ``--json`` keeps the
raw rows, and ``--table`` prints the table of rows kept before (benchmarks/LEARNING.md).
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


def perturbation_env(perturbation: str) -> dict[str, str]:
    """``"native"`` -> {}; ``"MKL_CBWR=COMPATIBLE+ONEDNN_MAX_CPU_ISA=AVX2"`` -> both."""
    if perturbation == "native":
        return {}
    return dict(assignment.split("=", 1) for assignment in perturbation.split("+"))


def run_perturbation(perturbation: str, seeds: str, workers: int, extra: list[str],
                     log: Path) -> int:
    env = dict(os.environ, RLKIT_LEARNING_LOG=str(log), RLKIT_LEARNING_SEEDS=seeds,
               RLKIT_PERTURBATION=perturbation, WANDB_MODE="disabled",
               **perturbation_env(perturbation))
    command = [sys.executable, "-m", "pytest", "-q", "-m", "slow", "-p", "no:cacheprovider"]
    if workers > 1:
        command += ["-n", str(workers)]
    print(f"== {perturbation}, seeds {seeds}: {' '.join(command + extra)}", flush=True)
    return subprocess.run(command + extra, env=env).returncode


def table(rows: list[dict], perturbations: list[str]) -> str:
    """Markdown: a row per test (its parameters but the seed) and perturbation: the bar, the
    untrained scores' maximum, how many seeds reached the bar, the lowest trained score and
    every trained score in seed order."""
    runs: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        name = row["test"].split("::")[-1]
        runs[(name.split("[")[0], _params_but_seed(row), row["perturbation"])].append(row)
    head = ["test", "params", "perturbation", "steps", "bar", "untrained (max)", "at bar",
            "lowest", "trained, by seed"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    order = {p: i for i, p in enumerate(perturbations)}
    for (name, params, perturbation), seeds in sorted(
            runs.items(), key=lambda item: (item[0][0], item[0][1], order.get(item[0][2], 99))):
        seeds.sort(key=lambda row: row["seed"])
        passed = sum(row["trained"] >= row["bar"] for row in seeds)
        scores = ", ".join(f"{row['seed']}: {row['trained']:.4g}" for row in seeds)
        cells = [name, params or "-", perturbation, str(seeds[0]["steps"]),
                 f"{seeds[0]['bar']:g}", f"{max(row['untrained'] for row in seeds):.4g}",
                 f"{passed}/{len(seeds)}", f"{min(row['trained'] for row in seeds):.4g}",
                 scores]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _params_but_seed(row: dict) -> str:
    skip = {"test", "algo", "env", "seed", "steps", "bar", "untrained", "trained",
            "perturbation", "capability"}
    return " ".join(f"{k}={json.dumps(v, separators=(',', ':'))}"
                    for k, v in sorted(row.items()) if k not in skip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--perturbations", default="native")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also append the raw rows to this file")
    parser.add_argument("--table", type=Path, nargs="+", help="only print the table of these "
                        "rows (files written by --json); a later row of a test, seed and "
                        "perturbation replaces an earlier one")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to pytest")
    args = parser.parse_args()
    perturbations = args.perturbations.split(",")
    if args.table:
        rows = {}
        for path in args.table:
            for line in path.read_text().splitlines():
                row = json.loads(line)
                rows[(row["test"], row["perturbation"])] = row
        seen = list(dict.fromkeys(row["perturbation"] for row in rows.values()))
        print(table(list(rows.values()), [p for p in perturbations if p in seen] +
                    [p for p in seen if p not in perturbations]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "learning.jsonl"
        log.touch()
        codes = {p: run_perturbation(p, args.seeds, args.workers, args.pytest_args, log)
                 for p in perturbations}
        rows = [json.loads(line) for line in log.read_text().splitlines()]
    if args.json:
        with args.json.open("a") as file:
            file.writelines(json.dumps(row) + "\n" for row in rows)
    print(table(rows, perturbations))
    print("pytest exit codes: " + ", ".join(f"{p} {code}" for p, code in codes.items()))
    sys.exit(max(codes.values()))


if __name__ == "__main__":
    main()
