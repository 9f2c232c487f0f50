"""Train every per-env entry of ``configs/*.yaml`` with no flags and write ``benchmarks/TUNED.md``.

    python benchmarks/tuned_configs.py [--seeds 0-2] [--workers 2] [--only ppo/CartPole-v1 ...]
                                       [--max-steps N] [--skip 'rlkit/Chain-v0' 'dqn/Taxi-v4']
                                       [--candidates] [--out benchmarks/TUNED.md]

Each entry trains as ``rlkit train ALGO ENV --seed S`` would (its own budget, one torch thread
per process, ``--workers`` processes sharing the cores), then gets 20 deterministic evaluation
episodes in a plain Gymnasium loop (``rlkit.evaluate``'s seeds). A uniformly random policy is
evaluated on the same episodes. An entry passes when its normalized score
``(mean - random) / (reference - random)`` is 0.9 or more, the reference being rl-zoo's
benchmark (``benchmark.md`` of DLR-RM/rl-baselines3-zoo: one trained agent per entry) where it
has the env, else the bar this project set for the entry (its learning test or issue). Entries
whose budget exceeds ``--max-steps`` are listed as not run. Results are cached per run in
``--cache`` (one JSON file each), so a rerun trains only what is missing.

The entries of ``benchmarks/candidates/<algo>.yaml`` (values not yet verified, so not in
``configs/``) are listed in a second table; ``--candidates`` trains them the same way, as
``rlkit train ALGO ENV --config benchmarks/candidates/ALGO.yaml --seed S`` would.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

EPISODES = 20
CANDIDATES = Path(__file__).parent / "candidates"
# wildcard entries are trained on one env they cover
REPRESENTATIVE = {"ALE/*": "ALE/Pong-v5", "MinAtar/*": "MinAtar/Breakout-v1"}
# (algo, env) -> (reference score, where it comes from)
ZOO = "rl-zoo"
REFERENCES: dict[tuple[str, str], tuple[float, str]] = {
    ("ppo", "CartPole-v1"): (500.0, ZOO), ("ppo", "Acrobot-v1"): (-73.5, ZOO),
    ("ppo", "Pendulum-v1"): (-172.2, ZOO), ("ppo", "LunarLander-v3"): (242.1, ZOO + " (v2)"),
    ("ppo", "ALE/*"): (21.0, ZOO + " (PongNoFrameskip-v4)"),
    ("a2c", "CartPole-v1"): (500.0, ZOO), ("a2c", "Acrobot-v1"): (-83.4, ZOO),
    ("a2c", "Pendulum-v1"): (-163.0, ZOO),
    ("dqn", "CartPole-v1"): (500.0, ZOO), ("dqn", "Acrobot-v1"): (-76.6, ZOO),
    ("dqn", "MountainCar-v0"): (-100.8, ZOO),
    ("ppo", "rlkit/PendulumNoVel-v0"): (-217.9, ZOO + "'s ppo_lstm (PendulumNoVel-v1)"),
    ("dqn", "ALE/*"): (20.6, ZOO + " (PongNoFrameskip-v4)"),
    ("reinforce", "CartPole-v1"): (500.0, "the env's maximum"),
}
BARS: dict[str, tuple[float, str]] = {  # env -> the project's bar where rl-zoo has none
    "rlkit/PixelGrid-v0": (1.0, "success rate 1"),
    "rlkit/Chain-v0": (0.82, "the optimum (issue 14)"),
    "rlkit/CartPoleNoVel-v0": (500.0, "the env's maximum"),
    "rlkit/Recall-v0": (1.0, "the optimum"),
    # Breakout's first wall is 3 rows of 10 bricks, +1 each
    "MinAtar/*": (30.0, "Breakout's first wall cleared (30 bricks)"),
    "FrozenLake-v1": (0.74, "the optimal policy (about 0.74)"),
    "Taxi-v4": (7.9, "the optimal policy (about 7.9)"),
    "CliffWalking-v1": (-13.0, "the optimal path"),
    "rlkit/Rooms-v0": (0.0, "the notes' Q table: max error 0"),
    "rlkit/RandomWalk-v0": (0.0, "the true values 1/6..5/6: RMS error 0"),
}
# Entries whose return no policy changes (RandomWalk ignores the action; in Rooms a random
# walk leaves the building within the time limit too), and TD(0)'s, which evaluate a fixed
# policy: scored by what they exist to learn, minus the error of the learned table, against
# the untrained table's ("random") error.
VALUE_SCORED = ("rlkit/Rooms-v0", "rlkit/RandomWalk-v0")
TD0_REFERENCE = (0.0, "v_pi of the random policy, solved exactly: RMS error 0")


def value_scored(algo: str, env_id: str) -> bool:
    return algo == "td0" or env_id in VALUE_SCORED


def random_policy_values(env_id: str, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """v_pi of TD(0)'s ``policy: random`` (uniform over the allowed actions) from the env's
    model, and the states that policy acts in: v = r_pi + gamma P_pi v over the non-terminal
    transitions, solved exactly. Truncation bootstraps in TD(0), so v_pi is the untruncated
    value."""
    import gymnasium as gym

    import rlkit.envs  # noqa: F401 - registers rlkit's envs

    env = gym.make(env_id).unwrapped
    if env_id == "rlkit/RandomWalk-v0":
        return np.asarray(env.TRUE_VALUES, dtype=np.float64), np.arange(len(env.TRUE_VALUES))
    if env_id == "rlkit/Rooms-v0":  # a door to room a moves there; room 5 ends the episode
        n = env.N_ROOMS
        model = {s: {a: [(1.0, a, float(env.R[s, a]), a == env.GOAL)] for a in range(n)}
                 for s in range(n)}
        allowed = np.array([env.action_mask_for(s) for s in range(n)], dtype=bool)
        starts = list(env.START_ROOMS)
    else:  # Gymnasium's toy-text envs: P[s][a] = [(p, s', r, terminated), ...]
        model, n = env.P, env.observation_space.n
        mask = getattr(env, "action_mask", None)
        allowed = np.array([mask(s) if mask else np.ones(env.action_space.n)
                            for s in range(n)], dtype=bool)
        starts = list(np.flatnonzero(env.initial_state_distrib))
    transitions = np.zeros((n, n))
    rewards = np.zeros(n)
    for s in range(n):
        actions = np.flatnonzero(allowed[s])
        for a in actions:
            for prob, nxt, reward, terminated in model[s][a]:
                rewards[s] += prob * reward / len(actions)
                if not terminated:
                    transitions[s, nxt] += gamma * prob / len(actions)
    values = np.linalg.solve(np.eye(n) - transitions, rewards)
    acted, frontier = set(starts), list(starts)  # states reachable without terminating
    while frontier:
        s = frontier.pop()
        for nxt in np.flatnonzero(transitions[s]):
            if nxt not in acted:
                acted.add(int(nxt))
                frontier.append(int(nxt))
    return values, np.array(sorted(acted))


def table_error(agent, env_id: str, values=None) -> float:
    """Rooms: the largest gap between Q(s, a) and the notes' optimal table (rooms 0-4, the
    doors); RandomWalk: the RMS error of max_a Q(s, .) against the true values; TD(0): the RMS
    error of V against v_pi over the states the policy acts in."""
    import gymnasium as gym

    from rlkit.agents.tabular import rms_error

    table = agent.table.values if values is None else values
    if agent.name == "td0":
        true_values, states = random_policy_values(env_id, agent.config.gamma)
        return rms_error(table[states], true_values[states])
    env = gym.make(env_id).unwrapped
    if env_id == "rlkit/Rooms-v0":
        optimal = env.optimal_q(agent.config.gamma)
        doors = env.R[:5] != -1
        return float(np.abs(table[:5] - optimal[:5])[doors].max())
    learned = table.max(axis=1) if table.ndim == 2 else table
    return rms_error(learned, env.TRUE_VALUES)


def entries(only: list[str]) -> list[tuple[str, str]]:
    from rlkit.config import tuned_envs
    from rlkit.training.registry import agent_names

    out = [(algo, env) for algo in agent_names() for env in tuned_envs(algo)]
    return [e for e in out if not only or f"{e[0]}/{e[1]}" in only]


def candidate_file(algo: str) -> Path:
    return CANDIDATES / f"{algo}.yaml"


def candidate_entries(only: list[str]) -> list[tuple[str, str]]:
    """(algo, env) for every entry of ``benchmarks/candidates/<algo>.yaml``."""
    from rlkit.config import read_yaml

    out = [(path.stem, env) for path in sorted(CANDIDATES.glob("*.yaml"))
           for env in read_yaml(path).get("envs") or {}]
    return [e for e in out if not only or f"{e[0]}/{e[1]}" in only]


def reference(algo: str, env: str, env_id: str) -> tuple[float | None, str]:
    if algo == "td0":
        return TD0_REFERENCE
    if (algo, env) in REFERENCES:
        return REFERENCES[(algo, env)]
    value, source = BARS.get(env, (None, "none"))
    if value is None:
        import gymnasium as gym

        import rlkit.envs  # noqa: F401 - registers rlkit's envs

        value = gym.spec(env_id).reward_threshold
    return value, source


def budget(algo: str, env_id: str, config_file: str | None = None) -> int:
    import rlkit

    return rlkit.make(algo, env_id, seed=0, config_file=config_file).config.total_timesteps


def train_one(algo: str, env_id: str, seed: int, cache: str,
              config_file: str | None = None) -> dict:
    """Train with no flags (but a candidate's file), then evaluate the trained and a random
    policy (one process)."""
    prefix = "candidate-" if config_file else ""
    path = Path(cache) / f"{prefix}{algo}-{env_id.replace('/', '_')}-{seed}.json"
    if path.exists() and value_scored(algo, env_id) and "table_error" not in path.read_text():
        path.unlink()  # cached before these entries were scored by their tables
    if path.exists():
        return json.loads(path.read_text())
    import torch

    import rlkit
    from rlkit.training.evaluation import evaluate

    torch.set_num_threads(1)
    agent = rlkit.make(algo, env_id, seed=seed, config_file=config_file)
    start = time.perf_counter()
    agent.learn()
    wall = time.perf_counter() - start
    if value_scored(algo, env_id):
        untrained = rlkit.make(algo, env_id, seed=seed, config_file=config_file).table.values
        trained, random = -table_error(agent, env_id), -table_error(agent, env_id, untrained)
    else:
        trained = evaluate(agent, EPISODES)["mean_return"]
        random = evaluate(RandomPolicy(agent), EPISODES)["mean_return"]
    result = {"algo": algo, "env_id": env_id, "seed": seed, "steps": agent.global_step,
              "candidate": bool(config_file),
              "wall": wall, "score": trained, "random": random,
              "metric": "table_error" if value_scored(algo, env_id) else "return"}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


class RandomPolicy:
    """Uniformly random actions, seen through the part of an agent ``evaluate`` uses."""

    has_memory = False

    def __init__(self, agent) -> None:
        self.env_id, self.config = agent.env_id, agent.config
        self.space = agent.action_space
        self.space.seed(agent.config.seed)

    def modules(self) -> dict:
        return {}

    def predict(self, obs, deterministic: bool = True):
        return np.array([self.space.sample() for _ in range(len(obs))])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0-2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--only", nargs="*", default=[],
                        help="algo/env entries, e.g. ppo/CartPole-v1")
    parser.add_argument("--max-steps", type=int, default=10**12)
    parser.add_argument("--skip", nargs="*", default=[],
                        help="entries listed as not run: an env ('rlkit/Chain-v0') or algo/env "
                             "('dqn/Taxi-v4')")
    parser.add_argument("--candidates", action="store_true",
                        help="train the entries of benchmarks/candidates/ too")
    parser.add_argument("--out", default=str(Path(__file__).parent / "TUNED.md"))
    parser.add_argument("--cache", default=str(Path(__file__).parent / ".tuned_cache"))
    args = parser.parse_args()
    from rlkit.experiments.compare import parse_seeds

    seeds = parse_seeds(args.seeds)
    # (algo, env entry, env trained, config file or None, whether to train it)
    plan = [(algo, env, REPRESENTATIVE.get(env, env), None, True)
            for algo, env in entries(args.only)]
    plan += [(algo, env, REPRESENTATIVE.get(env, env), str(candidate_file(algo)), args.candidates)
             for algo, env in candidate_entries(args.only)]
    budgets = {(a, e, f): budget(a, i, f) for a, e, i, f, _ in plan}
    jobs = [(a, i, s, f) for a, e, i, f, run in plan for s in seeds
            if run and budgets[(a, e, f)] <= args.max_steps
            and not {e, f"{a}/{e}"} & set(args.skip)]
    results: dict[tuple[str, str, bool], list[dict]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        futures = [pool.submit(train_one, a, i, s, args.cache, f) for a, i, s, f in jobs]
        for future in as_completed(futures):
            r = future.result()
            results.setdefault((r["algo"], r["env_id"], r.get("candidate", False)), []).append(r)
            print(f"{r['algo']} {r['env_id']} seed {r['seed']}: {r['score']:.2f} "
                  f"(random {r['random']:.2f}, {r['wall']:.0f} s)", flush=True)

    flags = "" if args.max_steps >= 10**12 else f" --max-steps {args.max_steps}"
    flags += (" --skip " + " ".join(f"'{env}'" for env in args.skip)) if args.skip else ""
    flags += " --candidates" if args.candidates else ""
    header = ["| algo | env | budget | mean +- std | random | reference (source) | normalized "
              "| result |", "|---|---|---|---|---|---|---|---|"]
    lines = ["# Tuned configs, trained with no flags", "",
             f"`python benchmarks/tuned_configs.py --seeds {args.seeds}{flags}`: every per-env "
             "entry of "
             f"`configs/*.yaml`, seeds {args.seeds}, its own budget; the final {EPISODES} "
             "deterministic evaluation episodes. Normalized score = (mean - random) / "
             "(reference - random), the random policy's score measured on the same episodes; "
             "pass at 0.9. RandomWalk and Rooms, whose return no policy changes, and TD(0), "
             "which evaluates a fixed policy (its entries' `policy: random`), are scored by "
             "minus the error of the learned table instead (random: the untrained table); "
             "TD(0)'s is the RMS error of V against v_pi, solved exactly from the env's model, "
             "over the states the policy acts in.",
             "", f"Written {time.strftime('%Y-%m-%d')} on {platform.node()} "
             f"({os.cpu_count()} CPUs); entries not run are listed as such.", "", *header]

    def rows(section: list) -> list[str]:
        return [row(algo, env, env_id, budgets[(algo, env, config_file)],
                    results.get((algo, env_id, config_file is not None)))
                for algo, env, env_id, config_file, _ in section]

    lines += rows([entry for entry in plan if entry[3] is None])
    candidates = [entry for entry in plan if entry[3] is not None]
    if candidates:
        lines += ["", "## Candidates (`benchmarks/candidates/`, not in `configs/`)", "",
                  "Published values that rlkit has not yet trained to their budget; "
                  "`rlkit train ALGO ENV` does not apply them (`--config "
                  "benchmarks/candidates/ALGO.yaml` does). `--candidates` trains them; one "
                  "that passes moves to `configs/`.", "", *header, *rows(candidates)]
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"written: {args.out}")


def row(algo: str, env: str, env_id: str, steps: int, runs: list[dict] | None) -> str:
    """One line of TUNED.md's table."""
    ref, source = reference(algo, env, env_id)
    shown_env = env if env == env_id else f"{env} ({env_id})"
    if not runs:
        return f"| {algo} | {shown_env} | {steps} | not run | | {ref} ({source}) | | - |"
    scores = np.array([r["score"] for r in runs])
    random = float(np.mean([r["random"] for r in runs]))
    if ref is None or ref == random:
        normalized, verdict = np.nan, "no reference"  # nothing to normalize against
    else:
        normalized = (scores.mean() - random) / (ref - random)
        verdict = "pass" if normalized >= 0.9 else "FAIL"
    return (f"| {algo} | {shown_env} | {steps} | {scores.mean():.2f} +- {scores.std():.2f} | "
            f"{random:.2f} | {ref} ({source}) | {normalized:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
