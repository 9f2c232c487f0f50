"""Memory tasks: the shipped config of each (algo, env) with each torso, over seeds.

    python benchmarks/memory_tasks.py [--seeds 0-4] [--workers 2] [--runs NAME ...]

Each run trains the shipped tuned config with only ``approximator.type`` changed (and, for
``mlp``, the encoder's layers as the MLP), in its own process with one torch thread, and
records the deterministic evaluation every ``eval_freq`` steps. Prints one row per run: the
evaluations, the final one, the first step at which the bar was reached, and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

# name -> (algo, env id, overrides of the shipped config, bar on the final evaluation)
RUNS = {
    "ppo-lstm-cartpolenovel": ("ppo", "rlkit/CartPoleNoVel-v0", {}, 475),
    "ppo-gru-cartpolenovel": ("ppo", "rlkit/CartPoleNoVel-v0",
                              {"approximator": {"type": "gru"}}, 475),
    "ppo-attention-cartpolenovel": ("ppo", "rlkit/CartPoleNoVel-v0",
                                    {"approximator": {"type": "attention", "context": 4},
                                     "total_timesteps": 200_000, "eval_freq": 20_000}, 400),
    "ppo-mlp-cartpolenovel": ("ppo", "rlkit/CartPoleNoVel-v0",
                              {"approximator": {"type": "mlp", "hidden_sizes": [64, 64],
                                                "activation": "relu"}}, None),
    "a2c-lstm-cartpolenovel": ("a2c", "rlkit/CartPoleNoVel-v0",  # the removed entry's values
                               {"n_envs": 8, "n_steps": 5, "gamma": 0.98, "ent_coef": 0.0,
                                "normalize_obs": True, "normalize_reward": True,
                                "total_timesteps": 200_000, "eval_freq": 20_000,
                                "approximator": {"type": "lstm", "hidden_size": 64,
                                                 "encoder": {"hidden_sizes": [64],
                                                             "activation": "relu"}}}, None),
    "ppo-lstm-pendulumnovel": ("ppo", "rlkit/PendulumNoVel-v0", {}, None),
    "ppo-lstm-recall": ("ppo", "rlkit/Recall-v0", {}, 0.95),
    "ppo-attention-recall": ("ppo", "rlkit/Recall-v0",
                             {"approximator": {"type": "attention", "context": 12}}, 0.95),
    "ppo-mlp-recall": ("ppo", "rlkit/Recall-v0",
                       {"approximator": {"type": "mlp", "hidden_sizes": [32, 32]}}, None),
}


def train(name: str, seed: int) -> dict:
    os.environ.setdefault("WANDB_MODE", "disabled")
    import rlkit
    from rlkit.training.metrics import read_metrics

    algo, env_id, overrides, bar = RUNS[name]
    agent = rlkit.make(algo, env_id, seed=seed, torch_threads=1, **overrides)
    run_dir = tempfile.mkdtemp(prefix=f"{name}-{seed}-")
    start = time.perf_counter()
    agent.learn(run_dir=run_dir)
    seconds = time.perf_counter() - start
    evals = [(row["global_step"], row["eval/mean_return"]) for row in read_metrics(run_dir)
             if "eval/mean_return" in row]
    reached = next((step for step, value in evals if bar is not None and value >= bar), None)
    return {"name": name, "seed": seed, "evals": [round(v, 2) for _, v in evals],
            "final": evals[-1][1], "reached_at": reached, "bar": bar, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--runs", nargs="*", default=list(RUNS), choices=list(RUNS))
    args = parser.parse_args()
    low, _, high = args.seeds.partition("-")
    seeds = range(int(low), int(high or low) + 1)
    jobs = [(name, seed) for name in args.runs for seed in seeds]
    with ProcessPoolExecutor(args.workers) as pool:
        for result in pool.map(train, *zip(*jobs, strict=True)):
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
