"""rlkit DQN vs SB3 DQN on CartPole-v1, and the cost of prioritized replay.

    python benchmarks/dqn_cartpole.py [--steps 100000] [--seed 0] [--only rlkit|sb3]
    python benchmarks/dqn_cartpole.py --per [--steps 100000] [--repeats 3]  # rlkit PER on vs off

Both use rlkit's tuned CartPole config (rl-zoo's values but lr 1e-3: batch 64, buffer 100k,
learning_starts 1000, target_update_interval 10, train_freq 256, gradient_steps 128, epsilon
1 -> 0.04 over 16% of training, learning rate decayed linearly to 0, [256, 256] ReLU Q
network, Huber loss, grad norm 10) with
double Q, prioritized replay, n-step and dueling off (SB3 has none of them), one env, one
torch thread, and no evaluation during training; the final deterministic evaluation
(10 episodes) is outside the timed part. ``--per`` times rlkit with PER (and double Q) off
and with PER on, everything else equal; ``--repeats`` alternates off/on pairs, because wall
times on a shared machine drift by 10-30% within minutes, and reports every pair and the
median ratio.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import report, sb3_eval, sb3_model, timed

import rlkit
from rlkit.training.evaluation import evaluate

VANILLA = dict(double_q=False, prioritized=False, n_step=1, dueling=False, eval_freq=0)


def run_rlkit(steps: int, seed: int, **overrides) -> tuple[float, float]:
    agent = rlkit.make("dqn", "CartPole-v1", seed=seed, **{**VANILLA, **overrides})
    secs, _ = timed(lambda: agent.learn(steps))
    return secs, evaluate(agent, 10)["mean_return"]


def run_sb3(steps: int, seed: int) -> tuple[float, float]:
    cfg = rlkit.make("dqn", "CartPole-v1", seed=seed).config
    model = sb3_model("dqn", cfg, "CartPole-v1", seed)
    secs, _ = timed(lambda: model.learn(steps))
    return secs, sb3_eval(model, "CartPole-v1")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["rlkit", "sb3"], default=None)
    parser.add_argument("--per", action="store_true", help="rlkit with PER off vs on")
    parser.add_argument("--repeats", type=int, default=1, help="off/on pairs for --per")
    args = parser.parse_args()
    torch.set_num_threads(1)

    if args.per:
        print(f"rlkit DQN CartPole-v1, {args.steps} env steps, PER off vs on "
              f"(double Q, n-step, dueling off), torch threads = {torch.get_num_threads()}")
        ratios = []
        for repeat in range(args.repeats):
            off = run_rlkit(args.steps, args.seed)
            on = run_rlkit(args.steps, args.seed, prioritized=True)
            ratios.append(on[0] / off[0])
            print(f"pair {repeat + 1}: " + "   ".join(
                f"{name} {secs:.1f} s, {args.steps / secs:.0f} SPS, eval {ret:.1f}"
                for name, (secs, ret) in (("PER off", off), ("PER on", on))
            ) + f"   ratio on/off {ratios[-1]:.2f}", flush=True)
        print(f"median ratio PER on/off wall time: {statistics.median(ratios):.2f}")
        return

    results = {}
    # SB3 first: rlkit's training fixes the process's malloc thresholds (rlkit/fast/heap.py),
    # which SB3 would inherit here.
    if args.only in (None, "sb3"):
        results["sb3"] = run_sb3(args.steps, args.seed)

    if args.only in (None, "rlkit"):
        results["rlkit"] = run_rlkit(args.steps, args.seed)
    if len(results) == 2:
        report("DQN CartPole-v1", args.steps, results["rlkit"], results["sb3"])
    else:
        for name, (secs, ret) in results.items():
            print(f"{name}: {secs:.1f} s, {args.steps / secs:.0f} SPS, eval {ret:.1f}")


if __name__ == "__main__":
    main()
