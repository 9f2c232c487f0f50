"""rlkit PPO with its CNN vs Stable-Baselines3's PPO with a CNN policy on MinAtar Breakout.

    python benchmarks/minatar_ppo.py [--steps 1000000] [--seed 0] [--env MinAtar/Breakout-v1]

Both take rlkit's shipped MinAtar config (``configs/ppo.yaml``, ``MinAtar/*``) and the same
network: rlkit's small CNN for 10x10 grids (3x3 convolutions of 16 and 32 channels, stride
1, a 128-unit dense layer, ReLU), shared by pi and V, given to SB3 as a features extractor
(SB3's NatureCNN needs frames of 36 pixels or more), which SB3 runs on torch's own kernels
(rlkit's fast paths off). One torch thread each; SB3 trains first, as rlkit's training fixes
the process's malloc thresholds (the ``heap`` fast path). Every ``eval_freq`` steps both run
the same deterministic evaluation (``eval_episodes`` episodes on separate envs with fixed
seeds); it is inside the timed part on both sides. The script prints both learning curves,
the final evaluations and the wall-time ratio.
"""

from __future__ import annotations

import json
import tempfile

import gymnasium as gym
import numpy as np
from common import agent_maker, parse, print_results, sb3_model, side_by_side_parser, timed

from rlkit.training.metrics import read_metrics


def main() -> None:
    parser = side_by_side_parser(1_000_000)
    parser.add_argument("--env", default="MinAtar/Breakout-v1")
    args = parse(parser)

    make_agent = agent_maker("ppo", args.env, args.seed, torch_threads=1)

    agent = make_agent()
    cfg = agent.config
    curves: dict[str, list[tuple[int, float]]] = {}
    results = {}
    # SB3 first: rlkit's training fixes the process's malloc thresholds (rlkit/fast/heap.py),
    # which SB3 would inherit here.
    if args.only in (None, "sb3"):
        from stable_baselines3.common.callbacks import BaseCallback
        from stable_baselines3.common.env_util import make_vec_env

        from rlkit.training.evaluation import EVAL_SEED_OFFSET

        def evaluate_sb3(model) -> float:
            env = gym.make_vec(args.env, cfg.eval_episodes, vectorization_mode="sync")
            obs, _ = env.reset(seed=args.seed + EVAL_SEED_OFFSET)
            returns = np.zeros(cfg.eval_episodes)
            running = np.ones(cfg.eval_episodes, bool)
            while running.any():
                actions, _ = model.predict(obs, deterministic=True)
                obs, rewards, terminated, truncated, _ = env.step(actions)
                returns += rewards * running
                running &= ~(terminated | truncated)
            env.close()
            return float(returns.mean())

        class Evaluations(BaseCallback):
            def __init__(self) -> None:
                super().__init__()
                self.curve: list[tuple[int, float]] = []
                self.next_eval = cfg.eval_freq

            def _on_step(self) -> bool:
                if self.num_timesteps >= self.next_eval:
                    self.next_eval += cfg.eval_freq
                    self.curve.append((self.num_timesteps, evaluate_sb3(self.model)))
                return True

        env = make_vec_env(args.env, n_envs=cfg.n_envs, seed=args.seed)
        model = sb3_model("ppo", cfg, env, args.seed)  # rlkit's CNN as SB3's extractor
        callback = Evaluations()
        seconds, _ = timed(lambda: model.learn(args.steps, callback=callback))
        final = evaluate_sb3(model)
        curves["sb3"] = [*callback.curve, (args.steps, final)]
        results["sb3"] = (seconds, final)

    if args.only in (None, "rlkit"):
        agent = make_agent()
        run_dir = tempfile.mkdtemp(prefix="minatar-rlkit-")
        seconds, _ = timed(lambda: agent.learn(args.steps, run_dir=run_dir))
        curves["rlkit"] = [(row["global_step"], row["eval/mean_return"])
                           for row in read_metrics(run_dir) if "eval/mean_return" in row]
        results["rlkit"] = (seconds, curves["rlkit"][-1][1])

    print(json.dumps({"curves": curves}))
    print_results(f"PPO + CNN {args.env}", args.steps, results)


if __name__ == "__main__":
    main()
