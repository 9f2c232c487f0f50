"""How many expert labels does each learner need? BC from the first k demonstrated episodes
against DAgger's labels, on the same expert.

    python benchmarks/imitation_labels.py --expert RUN --demos DIR [--env CartPole-v1]
        [--seeds 0-9] [--episodes 1,2,3,5,10] [--bar 0.99]

BC: the shipped defaults with ``n_demos: k`` (k = 1 holds nothing out: ``holdout_fraction:
0``), greedy evaluation at the end (20 episodes); its labels are the k episodes' steps. DAgger:
the shipped defaults, a greedy evaluation after every round; its labels are those the expert
gave up to the first evaluation at or above the bar (normalized: (score - random) / (expert -
random)), and the final evaluation's score. Prints a table per learner: the median and the
range over the seeds.
"""

from __future__ import annotations

import argparse

import numpy as np

import rlkit
from rlkit.core.demonstrations import load_demonstrations
from rlkit.training.evaluation import evaluate

EPISODES = 20


def normalized(score: float, expert: float, random: float) -> float:
    return (score - random) / (expert - random)


def dagger_labels(env_id: str, expert_run: str, seed: int, bar: float, expert: float,
                  random: float) -> tuple[int | None, float]:
    """(labels at the first round whose greedy evaluation reaches ``bar``, final score)."""
    agent = rlkit.make("dagger", env_id, seed=seed, expert=expert_run, eval_freq=0)
    reached = None
    while agent.global_step < agent.config.total_timesteps:
        agent.learn(agent.config.round_steps)
        score = normalized(evaluate(agent, EPISODES)["mean_return"], expert, random)
        if reached is None and score >= bar:
            reached = len(agent.data)
    return reached, score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expert", required=True)
    parser.add_argument("--demos", required=True)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--seeds", default="0-9")
    parser.add_argument("--episodes", default="1,2,3,5,10")
    parser.add_argument("--bar", type=float, default=0.99)
    parser.add_argument("--random", type=float, default=None,
                        help="a uniform random policy's return (default: measured)")
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = list(range(int(first), int(last or first) + 1))
    demos = load_demonstrations(args.demos)
    expert = float(demos.returns.mean())
    if args.random is None:
        from imitation_vs import random_score

        args.random = random_score(args.env, EPISODES)
    print(f"{args.env}: expert {expert:.1f}, random {args.random:.1f}, bar {args.bar}")
    print("| learner | labels | normalized score, median (min-max) | seeds at the bar |")
    print("|---|---|---|---|")
    for k in (int(k) for k in args.episodes.split(",")):
        scores = []
        for seed in seeds:
            extra = {"holdout_fraction": 0.0} if k == 1 else {}
            agent = rlkit.make("bc", args.env, seed=seed, demos=args.demos, n_demos=k,
                               eval_freq=0, **extra).learn()
            scores.append(normalized(evaluate(agent, EPISODES)["mean_return"], expert,
                                     args.random))
        labels = int(demos.lengths[:k].sum())
        print(f"| BC, {k} episodes | {labels} | {np.median(scores):.3f} ({min(scores):.3f}-"
              f"{max(scores):.3f}) | {sum(s >= args.bar for s in scores)} of {len(seeds)} |",
              flush=True)
    runs = [dagger_labels(args.env, args.expert, seed, args.bar, expert, args.random)
            for seed in seeds]
    labels = [n for n, _ in runs if n is not None]
    finals = [score for _, score in runs]
    span = f"median {int(np.median(labels))} ({min(labels)}-{max(labels)})" if labels else "never"
    print(f"| DAgger, first round at the bar | {span} | final {np.median(finals):.3f} "
          f"({min(finals):.3f}-{max(finals):.3f}) | {len(labels)} of {len(seeds)} |")


if __name__ == "__main__":
    main()
