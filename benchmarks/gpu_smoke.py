"""Every agent family and torso trains, checkpoints, resumes and evaluates on one device.

    python benchmarks/gpu_smoke.py [--device cuda] [--steps 4096]

CI has no GPU, so this is the check to run where one is: each case trains a short budget in
a fresh run directory, reloads the checkpoint, trains on with ``--resume`` semantics (a second
``learn`` on the loaded agent), and evaluates. It prints one line per case with the SPS and
where the parameters live; any exception is reported and the script exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback

import torch

import rlkit
from rlkit.training.metrics import read_metrics

CASES: list[tuple[str, str, dict]] = [
    ("ppo", "CartPole-v1", {}),
    ("ppo", "Pendulum-v1", {}),
    ("ppo", "rlkit/CartPoleNoVel-v0", {}),  # lstm
    ("ppo", "rlkit/CartPoleNoVel-v0", {"approximator": {"type": "gru"}}),
    ("ppo", "rlkit/CartPoleNoVel-v0", {"approximator": {"type": "attention"}}),
    ("ppo", "rlkit/PixelGrid-v0", {}),  # cnn
    ("ppo", "CartPole-v1", {"approximator": {"type": "linear", "features": "fourier"}}),
    ("ppo", "CartPole-v1", {"approximator": {"norm": "batch"}}),
    ("ppo", "rlkit/PixelGrid-v0", {"approximator": {"type": "vae"}}),
    ("a2c", "CartPole-v1", {"approximator": {"type": "autoencoder"}}),
    ("a2c", "CartPole-v1", {}),
    ("reinforce", "CartPole-v1", {}),
    ("dqn", "CartPole-v1", {}),
    ("dqn", "rlkit/PixelGrid-v0", {}),
    ("dqn", "CartPole-v1", {"prioritized": False, "double_q": False}),
    ("dqn", "rlkit/Chain-v0", {}),  # Thompson sampling on a Bayesian linear head
    ("dqn", "CartPole-v1", {"q_head": "bayes_linear", "exploration": "thompson",
                            "dueling": False}),
]


def run_case(algo: str, env_id: str, overrides: dict, device: str, steps: int) -> str:
    agent = rlkit.make(algo, env_id, seed=0, device=device, eval_freq=0, **overrides)
    run_dir = tempfile.mkdtemp(prefix=f"gpu-{algo}-")
    start = time.perf_counter()
    agent.learn(steps, run_dir=run_dir)
    seconds = time.perf_counter() - start
    resumed = rlkit.load(run_dir)
    resumed.learn(steps, run_dir=run_dir)
    rows = read_metrics(run_dir)
    final = [r["eval/mean_return"] for r in rows if "eval/mean_return" in r][-1]
    where = {p.device.type for m in resumed.modules().values()
             if isinstance(m, torch.nn.Module) for p in m.parameters()}
    return (f"{agent.global_step / seconds:>7.0f} SPS  params on {sorted(where)}  "
            f"eval after resume {final:8.1f}  (step {resumed.global_step})")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=4096)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.device.startswith("cuda"):
        print(f"device: {torch.cuda.get_device_name()}  torch {torch.__version__}")
    failures = 0
    for algo, env_id, overrides in CASES:
        label = f"{algo:9} {env_id:24} {overrides or ''}"
        try:
            print(f"ok   {label}  {run_case(algo, env_id, overrides, args.device, args.steps)}",
                  flush=True)
        except Exception:  # noqa: BLE001 -- the report is the point
            failures += 1
            print(f"FAIL {label}\n{traceback.format_exc()}", flush=True)
    print(f"{len(CASES) - failures}/{len(CASES)} cases passed on {args.device}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
