"""Does AIRL's reward transfer? Train AIRL from demonstrations, then a fresh PPO from scratch
on the recovered reward alone (g, and the absorbing state's worth at an episode's end:
``agents.airl.LearnedReward``), and report PPO's true return.

    python benchmarks/airl_transfer.py --demos DIR [--env CartPole-v1] [--seeds 0-2]
        [--airl-steps N] [--ppo-steps N] [--state-only] [--shaped] [--ppo-set KEY=VALUE]

Each seed: ``rlkit.make("airl", ENV, demos=DIR)`` with the shipped entry trains; PPO with the
shipped PPO entry for ENV (same budget unless ``--ppo-steps``) trains on ``LearnedReward``;
both are evaluated greedily on ENV's true reward (20 episodes). Normalized score:
(score - random) / (expert - random), the expert's being the demonstrations' mean return and
random a uniform policy's over the same 20 evaluation episodes.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
from imitation_vs import random_score

import rlkit
from rlkit.agents.airl import LearnedReward
from rlkit.config import parse_set, to_dict
from rlkit.core.demonstrations import load_demonstrations
from rlkit.training.environment import make_vec_env
from rlkit.training.evaluation import evaluate


def transfer(env_id: str, demos: str, seed: int, airl_steps: int | None,
             ppo_steps: int | None, state_only: bool, shaped: bool, episodes: int,
             ppo_overrides: dict | None = None) -> dict[str, float]:
    start = time.perf_counter()
    airl = rlkit.make("airl", env_id, seed=seed, demos=demos, eval_freq=0,
                      state_only=state_only).learn(airl_steps)
    airl_score = evaluate(airl, episodes)["mean_return"]
    transfer_id = f"rlkit_transfer/{env_id.replace('/', '_')}-seed{seed}"
    gym.register(transfer_id, entry_point=lambda: LearnedReward(gym.make(env_id), airl, shaped))
    ppo_config = to_dict(rlkit.make("ppo", env_id, seed=seed).config)
    ppo_config.update(eval_freq=0, vectorization="sync", **(ppo_overrides or {}))
    ppo = rlkit.make("ppo", transfer_id, **ppo_config).learn(ppo_steps)
    true_env = make_vec_env(env_id, episodes, None, "sync")
    ppo_score = evaluate(ppo, episodes, env=true_env)["mean_return"]
    true_env.close()
    return {"seed": seed, "airl": airl_score, "ppo_on_g": ppo_score,
            "wall_s": time.perf_counter() - start}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demos", required=True)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--airl-steps", type=int)
    parser.add_argument("--ppo-steps", type=int)
    parser.add_argument("--state-only", action="store_true")
    parser.add_argument("--shaped", action="store_true",
                        help="train PPO on f = g + gamma h(s') - h(s) instead of g")
    parser.add_argument("--ppo-set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a key of the PPO entry (as rlkit train --set)")
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    expert = float(load_demonstrations(args.demos).returns.mean())
    random = random_score(args.env, args.episodes)
    print(f"{args.env}: expert {expert:.1f} (demonstrations), random {random:.1f}")
    print("| seed | AIRL | normalized | PPO on the learned reward | normalized | wall s |")
    print("|---|---|---|---|---|---|")
    for seed in seeds:
        row = transfer(args.env, args.demos, seed, args.airl_steps, args.ppo_steps,
                       args.state_only, args.shaped, args.episodes, parse_set(args.ppo_set))
        norm = [(row[key] - random) / (expert - random) for key in ("airl", "ppo_on_g")]
        print(f"| {seed} | {row['airl']:.1f} | {norm[0]:.2f} | {row['ppo_on_g']:.1f} | "
              f"{norm[1]:.2f} | {row['wall_s']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
