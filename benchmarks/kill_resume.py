"""SIGKILL at a random step, then ``--resume``: the work lost and the metrics rows lost or
duplicated, over several kills (issue 16's figures).

    python benchmarks/kill_resume.py [--trials 5] [--checkpoint-freq 2048]

One uninterrupted reference run of ``rlkit train ppo CartPole-v1`` (small rollouts, a metrics
row every 256 steps), then, per trial, the same run killed with SIGKILL once its metrics reach
a random step, resumed, and compared with the reference row by row (wall-clock SPS aside).
The work lost is the step of the last row written before the kill minus the checkpoint's step
(a lower bound: the process may have stepped further without logging).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RLKIT = [sys.executable, "-m", "rlkit.cli"]
ENV = {**os.environ, "WANDB_MODE": "disabled"}


def rows(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k != "charts/SPS"} for line in lines]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--checkpoint-freq", type=int, default=2048)
    parser.add_argument("--steps", type=int, default=40960)
    args = parser.parse_args()
    train = ["train", "ppo", "CartPole-v1", "--seed", "1", "--total-timesteps", str(args.steps),
             "--set", f"checkpoint_freq={args.checkpoint_freq}", "--set", "log_freq=256",
             "--set", "eval_freq=4096", "--set", "n_envs=2", "--set", "n_steps=128",
             "--set", "batch_size=64", "--set", "n_epochs=2", "--set", "eval_episodes=2",
             "--no-progress"]
    work = Path(tempfile.mkdtemp(prefix="kill-resume-"))
    subprocess.run([*RLKIT, *train, "--runs-dir", str(work / "full")], env=ENV, check=True,
                   capture_output=True)
    reference = rows(next((work / "full").iterdir()))
    rng = random.Random()
    print(f"{'kill at >=':>10} {'checkpoint':>10} {'steps lost':>10} {'rows lost':>9} "
          f"{'rows twice':>10}")
    for trial in range(args.trials):
        kill_at = rng.randrange(args.checkpoint_freq, args.steps - 4096, 256)
        root = work / f"trial-{trial}"
        proc = subprocess.Popen([*RLKIT, *train, "--runs-dir", str(root)], env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        run_dir, last = None, -1
        while last < kill_at:
            time.sleep(0.02)
            found = list(root.glob("*/metrics.jsonl"))
            if found:
                run_dir = found[0].parent
                whole = [line for line in found[0].read_text().splitlines()
                         if line.endswith("}")]
                last = json.loads(whole[-1])["global_step"] if whole else -1
        proc.kill()
        proc.wait()
        lines = (run_dir / "metrics.jsonl").read_text().splitlines()
        last = max(json.loads(line)["global_step"] for line in lines if line.endswith("}"))
        import rlkit

        saved = rlkit.load(run_dir).global_step
        subprocess.run([*RLKIT, "train", "ppo", "CartPole-v1", "--resume", str(run_dir),
                        "--no-progress"], env=ENV, check=True, capture_output=True)
        got = rows(run_dir)
        steps = [row["global_step"] for row in got]
        twice = len(steps) - len(set(steps))
        lost = len([row for row in reference if row not in got])
        print(f"{last:>10} {saved:>10} {last - saved:>10} {lost:>9} {twice:>10}")


if __name__ == "__main__":
    main()
