"""rlkit PPO vs SB3 PPO on CartPole-v1: same hyperparameters, env count and seed.

    python benchmarks/ppo_cartpole.py [--steps 100000] [--seed 0]

Both use rlkit's tuned CartPole config (rl-zoo's values), 8 envs, [64, 64] tanh actor and
critic, one torch thread, and no evaluation during training; the final deterministic
evaluation (10 episodes) is outside the timed part. Each side steps its 8 envs the way it does
by default: rlkit with Gymnasium's CartPole vector env (``vectorization: auto``), SB3 with its
DummyVecEnv.
"""

from __future__ import annotations

import argparse

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
        return rlkit.make("ppo", "CartPole-v1", seed=args.seed, eval_freq=0)

    agent = make_agent()
    cfg = agent.config
    results, cpu = {}, {}
    # SB3 first: rlkit's training fixes the process's malloc thresholds (rlkit/fast/heap.py),
    # which SB3 would inherit here.
    if args.only in (None, "sb3"):
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env("CartPole-v1", n_envs=cfg.n_envs, seed=args.seed)
        model = sb3_model("ppo", cfg, env, args.seed)
        sb_time, _ = timed(lambda: model.learn(args.steps))
        cpu["sb3"] = timed.cpu
        results["sb3"] = (sb_time, sb3_eval(model, "CartPole-v1"))

    if args.only in (None, "rlkit"):
        agent = make_agent()
        agent.config.eval_freq = 0
        rk_time, _ = timed(lambda: agent.learn(args.steps))
        cpu["rlkit"] = timed.cpu
        results["rlkit"] = (rk_time, evaluate(agent, 10)["mean_return"])

    if len(results) == 2:
        report("PPO CartPole-v1", args.steps, results["rlkit"], results["sb3"])
        # CPU seconds are less sensitive than wall time to other load on a shared machine
        print(f"CPU time: rlkit {cpu['rlkit']:.1f} s, SB3 {cpu['sb3']:.1f} s "
              f"(ratio {cpu['rlkit'] / cpu['sb3']:.2f})")
    else:
        for name, (secs, ret) in results.items():
            print(f"{name}: {secs:.1f} s, {args.steps / secs:.0f} SPS, eval {ret:.1f}")


if __name__ == "__main__":
    main()
