"""rlkit A2C vs SB3 A2C on CartPole-v1: same hyperparameters, env count and seed.

    python benchmarks/a2c_cartpole.py [--steps 100000] [--seed 0] [--only rlkit|sb3]

Both use rlkit's tuned CartPole config from ``configs/a2c.yaml`` (8 envs, [64, 64] tanh
actor and critic, RMSprop), one torch thread, and no evaluation during training; the final
deterministic evaluation (10 episodes) is outside the timed part. Each side steps its 8 envs
the way it does by default: rlkit with Gymnasium's CartPole vector env (``vectorization:
auto``), SB3 with its DummyVecEnv.
"""

from __future__ import annotations

import argparse
import time

import torch
from common import report, sb3_eval, sb3_model, timed

import rlkit
from rlkit.evaluation import evaluate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["rlkit", "sb3"], default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    def make_agent():  # seeded anew for rlkit's run: SB3's run draws from torch's RNG
        return rlkit.make("a2c", "CartPole-v1", seed=args.seed, eval_freq=0)

    agent = make_agent()
    cfg = agent.config
    results, cpu = {}, {}
    # SB3 first: rlkit's training fixes the process's malloc thresholds (rlkit/fast/heap.py),
    # which SB3 would inherit here.
    if args.only in (None, "sb3"):
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env("CartPole-v1", n_envs=cfg.n_envs, seed=args.seed)
        model = sb3_model("a2c", cfg, env, args.seed)
        start = time.process_time()
        sb_time, _ = timed(lambda: model.learn(args.steps))
        cpu["sb3"] = time.process_time() - start
        results["sb3"] = (sb_time, sb3_eval(model, "CartPole-v1"))

    if args.only in (None, "rlkit"):
        agent = make_agent()
        start = time.process_time()
        rk_time, _ = timed(lambda: agent.learn(args.steps))
        cpu["rlkit"] = time.process_time() - start
        results["rlkit"] = (rk_time, evaluate(agent, 10)["mean_return"])

    if len(results) == 2:
        report("A2C CartPole-v1", args.steps, results["rlkit"], results["sb3"])
    else:
        for name, (secs, ret) in results.items():
            print(f"{name}: {secs:.1f} s, {args.steps / secs:.0f} SPS, eval {ret:.1f}")
    # CPU seconds of this process: steadier than wall time on a shared machine
    cpu_line = ", ".join(f"{name} {secs:.1f} s" for name, secs in cpu.items())
    ratio = f" (ratio {cpu['rlkit'] / cpu['sb3']:.2f})" if len(cpu) == 2 else ""
    print(f"CPU time: {cpu_line}{ratio}")


if __name__ == "__main__":
    main()
