"""rlkit's imitation agents against the `imitation` library 1.0.1 (issue 34, item 5): BC, DAgger,
GAIL and AIRL on the same demonstrations, budgets and seeds; normalized scores and wall time.

    python benchmarks/imitation_vs.py --envs CartPole-v1 --algos bc,dagger,gail --seeds 0-4 \
        [--budget-gail 300000] [--budget-airl N] [--budget-bc N] [--budget-dagger N] \
        [--peer-python /tmp/imitation_venv/bin/python] [--workdir /tmp/imitation_vs] \
        [--episodes 20] [--no-train-eval] [--json out.jsonl]
    python benchmarks/imitation_vs.py --table out.jsonl   # the tables of saved JSON lines

Envs: CartPole-v1, Acrobot-v1, Pendulum-v1 (Box actions), LunarLander-v3 (imitation's
gymnasium 0.29 has the same task as LunarLander-v2) and rlkit/CartPoleFixedHorizon-v0, whose
twin on imitation's side is seals/CartPole-v0 (CartPole never terminated, 500 steps, reward 1
while balanced: the episode length cannot leak the reward to GAIL and AIRL). Where a
configs/ALGO.yaml has no entry for the fixed-horizon env (ppo.yaml), CartPole-v1's serves it.

Per env, once (cached in --workdir): rlkit's tuned PPO (configs/ppo.yaml, seed 0) is the
expert; `rlkit record` writes 10 of its deterministic episodes as a Minari dataset, which
rlkit's BC, GAIL and AIRL read, and which reaches imitation as an .npz of the same arrays
(rlkit.core.demonstrations.load_demonstrations). DAgger asks the expert itself: rlkit's the saved
run, imitation's the same network exported with TorchScript as an SB3 policy. Scores are
normalized, (score - random) / (expert - random), with the expert's and a uniform random
policy's mean return over --episodes episodes; the learners are evaluated over the same
number of deterministic episodes, episode i reset with seed + 1_000_000 + i on both sides.

rlkit's side: the shipped defaults of each agent (configs/{bc,dagger,gail,airl}.yaml), the
budget overridden only by --budget-ALGO; its wall time includes the periodic evaluations
(eval_freq) and the one that ends learn(). --no-train-eval sets eval_freq=0 instead (no
evaluation but the final one): cheaper, but not the same run: on 2026-12-07 rlkit's AIRL on
CartPole-v1 seed 0 ended at 180 with it and at 500 without it.
imitation's side (benchmarks/imitation_peer.py, run by --peer-python, one torch thread each):
rlkit's hyperparameters as far as imitation has the knob (network sizes and activation,
batch sizes, learning rates, GAIL's and AIRL's SB3 PPO from rlkit/experiments/sb3.py,
discriminator steps and batch size), its own way elsewhere; the output lists the differences.
Budgets: env steps for DAgger, GAIL and AIRL; for BC, imitation trains for the number of
minibatch steps rlkit's BC (early-stopped on its held-out NLL) took on the same seed.
Wall time: from building the learner to the end of training (the scoring evaluation after it
excluded; rlkit's includes the evaluations learn() runs, see above). Results
stream to --json as they come; rerun with the same file to continue where it stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

import rlkit
from rlkit.config import packaged_config, resolve_config, to_dict
from rlkit.experiments.stats import bootstrap_ci, iqm
from rlkit.training.evaluation import EVAL_SEED_OFFSET, evaluate
from rlkit.training.registry import agent_class

ALGOS = ("bc", "dagger", "gail", "airl")
PEER_ENVS = {"LunarLander-v3": "LunarLander-v2",
             "rlkit/CartPoleFixedHorizon-v0": "seals/CartPole-v0"}
"""rlkit's env -> imitation's (gymnasium 0.29, seals); any other keeps its id"""
ENTRY_FROM = {"rlkit/CartPoleFixedHorizon-v0": "CartPole-v1"}
"""envs without config entries of their own -> the env whose entries serve them"""
VARIABLE_HORIZON = {"CartPole-v1", "Acrobot-v1", "LunarLander-v3"}
"""episodes end early: imitation's GAIL and AIRL refuse them unless told"""
DEMO_EPISODES = 10
PEER_SCRIPT = Path(__file__).with_name("imitation_peer.py")


@dataclass
class Reference:
    """What an env's runs share: the expert, its demonstrations, the normalization."""

    expert_run: str
    demos: str
    npz: str
    expert_script: str
    expert: float
    random: float
    demo_return: float
    episodes: int


def path_safe(env_id: str) -> str:
    return env_id.replace("/", "_")


def entry(algo: str, env_id: str) -> dict[str, Any]:
    """The config entry another env lends ``env_id`` (ENTRY_FROM) where it has none."""
    envs = packaged_config(algo).get("envs") or {}
    source = ENTRY_FROM.get(env_id)
    return dict(envs.get(source) or {}) if source and env_id not in envs else {}


def random_score(env_id: str, episodes: int) -> float:
    """Mean return of uniform random actions, episode i reset with 1_000_000 + i."""
    from rlkit.training.environment import make_env

    env, total = make_env(env_id, {}), 0.0
    env.action_space.seed(EVAL_SEED_OFFSET)
    for i in range(episodes):
        env.reset(seed=EVAL_SEED_OFFSET + i)
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            total += float(reward)
            done = terminated or truncated
    env.close()
    return total / episodes


class ExpertModule(torch.nn.Module):
    """The expert's deterministic action from a raw observation (its normalization inside)."""

    def __init__(self, agent: Any) -> None:
        super().__init__()
        self.policy, norm = agent.policy, agent.obs_normalizer
        self.normalize = norm is not None
        if self.normalize:
            self.register_buffer("mean", torch.as_tensor(norm.rms.mean, dtype=torch.float32))
            self.register_buffer("std", torch.as_tensor(np.sqrt(norm.rms.var + norm.eps),
                                                        dtype=torch.float32))
            self.clip = float(norm.clip)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.normalize:
            obs = ((obs - self.mean) / self.std).clamp(-self.clip, self.clip)
        return self.policy.deterministic_action(obs, None)


def prepare(env_id: str, workdir: Path, episodes: int) -> Reference:
    """The env's expert, demonstrations (Minari and .npz), exported expert and scores."""
    from rlkit.core.demonstrations import load_demonstrations
    from rlkit.training.record import record

    folder = workdir / path_safe(env_id)
    cache = folder / "reference.json"
    if cache.exists():
        ref = Reference(**json.loads(cache.read_text()))
        if ref.episodes == episodes:
            return ref
    run, demos = folder / "expert", folder / "demos"
    if not (run / "config.yaml").exists() or not demos.exists():
        print(f"[{env_id}] training the expert: rlkit's tuned PPO, seed 0", flush=True)
        start = time.perf_counter()
        expert = rlkit.make("ppo", env_id, seed=0, **{**entry("ppo", env_id), "eval_freq": 0})
        expert.learn(run_dir=run)
        print(f"[{env_id}] expert trained in {time.perf_counter() - start:.0f} s", flush=True)
        record(run, DEMO_EPISODES, demos)
    expert = rlkit.load(run)
    data = load_demonstrations(str(demos))
    np.savez(folder / "demos.npz", obs=data.obs, actions=data.actions, next_obs=data.next_obs,
             terminated=data.terminated, truncated=data.truncated, lengths=data.lengths)
    with torch.no_grad():
        traced = torch.jit.trace(ExpertModule(expert).eval(), torch.as_tensor(data.obs[:8]))
    traced.save(str(folder / "expert.pt"))
    ref = Reference(str(run), str(demos), str(folder / "demos.npz"), str(folder / "expert.pt"),
                    evaluate(expert, episodes)["mean_return"], random_score(env_id, episodes),
                    float(data.returns.mean()), episodes)
    cache.write_text(json.dumps(asdict(ref)))
    return ref


def config_of(algo: str, env_id: str, budget: int | None, train_eval: bool = True
              ) -> tuple[dict[str, Any], Any]:
    """rlkit's overrides for one run (without seed, demos, expert) and the config they give."""
    overrides = {**entry(algo, env_id), **({} if train_eval else {"eval_freq": 0})}
    if budget is not None:
        overrides["total_timesteps"] = budget
    return overrides, resolve_config(agent_class(algo).Config, algo, env_id, None, overrides)


def run_rlkit(algo: str, env_id: str, seed: int, ref: Reference, budget: int | None,
              train_eval: bool) -> dict[str, Any]:
    overrides, cfg = config_of(algo, env_id, budget, train_eval)
    source = {"expert": ref.expert_run} if algo == "dagger" else {"demos": ref.demos}
    start = time.perf_counter()
    agent = rlkit.make(algo, env_id, seed=seed, **overrides, **source)
    agent.learn()
    wall = time.perf_counter() - start
    row = {"return": evaluate(agent, ref.episodes)["mean_return"], "wall_s": wall,
           "steps": agent.n_updates if algo == "bc" else agent.global_step,
           "config": to_dict(agent.config)}  # the configs may change between runs
    evals = f"; evaluation every {cfg.eval_freq} steps" if cfg.eval_freq else ""
    if algo == "bc":
        row["budget"] = (f"up to {cfg.total_timesteps} minibatch steps of {cfg.batch_size} "
                         f"(one per env step) on {1 - cfg.holdout_fraction:.0%} of the episodes, "
                         f"stopped {cfg.patience} epochs after the best held-out NLL")
        row["epochs"] = agent.epochs
    elif algo == "dagger":
        row["budget"] = (f"{cfg.total_timesteps} env steps: rounds of {cfg.round_steps}, "
                         f"{cfg.epochs_per_round} epochs after each")
    else:
        row["budget"] = (f"{cfg.total_timesteps} env steps ({cfg.n_envs} envs x "
                         f"{cfg.n_steps} a rollout)")
    row["budget"] += evals
    return row


def jsonable(value: Any) -> Any:
    """SB3 keywords as JSON: a linear decay as {"linear": v}, a class as its name."""
    from rlkit.experiments.sb3 import LinearSchedule

    if isinstance(value, LinearSchedule):
        return {"linear": value.value}
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, dict):
        return {key: jsonable(v) for key, v in value.items()}
    return value


def peer_hparams(algo: str, cfg: Any) -> tuple[dict[str, Any], list[str]]:
    """rlkit's config as imitation_peer.py's --hparams, and what imitation does otherwise."""
    from rlkit.approximators.base import ACTIVATIONS
    from rlkit.experiments.sb3 import sb3_kwargs

    notes = [] if not cfg.normalize_obs else ["normalize_obs: imitation's side does not"]
    h: dict[str, Any] = {"n_envs": cfg.n_envs}
    if algo in ("bc", "dagger"):
        h.update(net_arch=list(cfg.approximator.hidden_sizes), log_std_init=cfg.log_std_init,
                 activation=ACTIVATIONS[cfg.approximator.activation].__name__,
                 batch_size=cfg.batch_size, learning_rate=cfg.learning_rate,
                 ent_coef=cfg.ent_coef)
        if algo == "bc":
            notes.append("imitation's BC holds nothing out and never stops early: it trains "
                         f"on all {DEMO_EPISODES} episodes, the last weights kept")
        else:
            h.update(round_steps=cfg.round_steps, beta_rounds=cfg.beta_rounds,
                     epochs_per_round=cfg.epochs_per_round)
            notes.append("imitation's DAgger rounds end on whole episodes (at least "
                         "round_steps steps); it saves every round's data and trainer to disk")
        return h, notes
    kwargs, unmapped = sb3_kwargs("ppo", cfg)
    d = cfg.discriminator
    h.update(ppo=jsonable(kwargs), bc_warm_start=cfg.bc_warm_start,
             bc_learning_rate=cfg.learning_rate, disc={
        "hidden_sizes": list(d.hidden_sizes), "activation": ACTIVATIONS[d.activation].__name__,
        "learning_rate": cfg.disc_learning_rate, "steps": cfg.disc_steps,
        "batch_size": cfg.disc_batch_size, "state_only": getattr(cfg, "state_only", False)})
    notes += [f"{key}: {why}" for key, why in unmapped.items()]
    if cfg.normalize_learned_reward:
        notes.append("imitation's learned reward is not scaled (rlkit: by its running std)")
    if cfg.anneal_lr:
        notes.append("imitation's discriminator keeps its learning rate (rlkit's decays with "
                     "the policy's)")
    if cfg.gradient_penalty:
        notes.append("gradient_penalty: imitation has none")
    if cfg.bc_warm_start:
        notes.append(f"bc_warm_start {cfg.bc_warm_start}: imitation's BC on the generator's "
                     f"policy, with an Adam of its own (rlkit: the policy's optimizer)")
    return h, notes


def peer_ready(python: str) -> str | None:
    """None where ``python`` runs imitation, else why not."""
    if not Path(python).exists():
        return f"no interpreter at {python}"
    probe = subprocess.run([python, "-c", "import imitation, stable_baselines3"],
                           capture_output=True, text=True, timeout=300)
    if probe.returncode:
        return f"{python} cannot import imitation: {probe.stderr.strip().splitlines()[-1]}"
    return None


def run_peer(python: str, algo: str, env_id: str, seeds: list[int], budgets: list[int],
             ref: Reference, hparams: dict[str, Any], log: Path) -> Iterator[dict[str, Any]]:
    """imitation_peer.py's JSON lines, one per seed, as they come (its stderr goes to log)."""
    cmd = [python, str(PEER_SCRIPT), "--env", PEER_ENVS.get(env_id, env_id), "--algo", algo,
           "--demos", ref.npz, "--seeds", ",".join(map(str, seeds)),
           "--budgets", ",".join(map(str, budgets)), "--hparams", json.dumps(hparams),
           "--episodes", str(ref.episodes), "--expert", ref.expert_script]
    if env_id in VARIABLE_HORIZON:
        cmd.append("--variable-horizon")
    env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": "1"}
    with open(log, "a") as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err,
                                                 text=True, env=env) as proc:
        for line in proc.stdout:
            if line.startswith("{"):
                yield json.loads(line)
    if proc.returncode:
        print(f"imitation's {algo} exited with {proc.returncode}; see {log}")


def summary(values: list[float]) -> str:
    if not values:
        return "-"
    low, high = bootstrap_ci(np.array(values), statistic=iqm)
    return f"{iqm(np.array(values)):.2f} [{low:.2f}, {high:.2f}]"


def tables(rows: list[dict[str, Any]]) -> str:
    """One markdown table per env, the budgets and differences under it."""
    refs = {row["env"]: row for row in rows if row["side"] == "reference"}
    runs = [row for row in rows if row["side"] in ("rlkit", "imitation") and "error" not in row]
    out = []
    for env_id in dict.fromkeys(row["env"] for row in runs):
        ref = refs[env_id]
        out.append(f"\n### {env_id} (imitation: {PEER_ENVS.get(env_id, env_id)})\n\n"
                   f"expert {ref['expert']:.1f}, random {ref['random']:.1f} (mean returns, "
                   f"{ref['episodes']} episodes), demonstrations {ref['demo_return']:.1f} "
                   f"({DEMO_EPISODES} episodes). Normalized IQM over seeds [95% bootstrap CI]; "
                   f"wall s: mean over seeds; ratio rlkit / imitation.\n")
        out.append("| algo | seeds | rlkit normalized | imitation normalized | rlkit wall s | "
                   "imitation wall s | wall ratio |")
        out.append("|---|---|---|---|---|---|---|")
        notes = []
        for algo in dict.fromkeys(row["algo"] for row in runs if row["env"] == env_id):
            side = {name: [r for r in runs if (r["env"], r["algo"], r["side"])
                           == (env_id, algo, name)] for name in ("rlkit", "imitation")}
            wall = {name: float(np.mean([r["wall_s"] for r in rs])) if rs else None
                    for name, rs in side.items()}
            ratio = (f"{wall['rlkit'] / wall['imitation']:.2f}"
                     if wall["rlkit"] and wall["imitation"] else "-")
            seeds = "/".join(str(len(rs)) for rs in side.values())
            cells = [summary([r["normalized"] for r in rs]) for rs in side.values()]
            walls = [f"{w:.1f}" if w is not None else "-" for w in wall.values()]
            out.append(f"| {algo} | {seeds} | {' | '.join(cells)} | {' | '.join(walls)} | "
                       f"{ratio} |")
            for name, rs in side.items():
                if rs:
                    steps = [r["steps"] for r in rs]
                    notes.append(f"- {algo}, {name}: {rs[0]['budget']} (steps: {min(steps)}"
                                 f"{'' if min(steps) == max(steps) else f'-{max(steps)}'})")
                    notes += [f"  - {note}" for note in rs[0].get("notes", [])]
        out.append("\n" + "\n".join(notes))
    return "\n".join(out)


def parse_seeds(text: str) -> list[int]:
    if "-" in text:
        first, last = map(int, text.split("-"))
        return list(range(first, last + 1))
    return [int(s) for s in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", default="CartPole-v1", help="comma-separated")
    parser.add_argument("--algos", default="bc,dagger,gail", help="of bc,dagger,gail,airl")
    parser.add_argument("--seeds", default="0-4", help="0-4 or 0,1,2")
    for algo in ALGOS:
        parser.add_argument(f"--budget-{algo}", type=int, help=f"{algo}'s total_timesteps")
    parser.add_argument("--episodes", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--no-train-eval", action="store_true",
                        help="rlkit: eval_freq=0 (no evaluation during training)")
    parser.add_argument("--peer-python", default="/tmp/imitation_venv/bin/python")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/imitation_vs"))
    parser.add_argument("--json", type=Path, help="append the results here (JSON lines)")
    parser.add_argument("--table", type=Path, help="only print the tables of these results")
    args = parser.parse_args()
    if args.table:
        print(tables([json.loads(line) for line in args.table.read_text().splitlines()]))
        return
    torch.set_num_threads(1)
    algos = args.algos.split(",")
    unknown = set(algos) - set(ALGOS)
    if unknown:
        parser.error(f"unknown algos {sorted(unknown)}; choose from {','.join(ALGOS)}")
    seeds = parse_seeds(args.seeds)
    args.workdir.mkdir(parents=True, exist_ok=True)
    rows = ([json.loads(line) for line in args.json.read_text().splitlines()]
            if args.json and args.json.exists() else [])
    not_ready = peer_ready(args.peer_python)
    if not_ready:
        print(f"imitation's side is skipped: {not_ready}")

    def keep(row: dict[str, Any]) -> None:
        rows.append(row)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(row) + "\n")

    def done(env_id: str, algo: str, side: str) -> dict[int, dict[str, Any]]:
        return {r["seed"]: r for r in rows if (r["env"], r["algo"], r["side"])
                == (env_id, algo, side) and "error" not in r}

    for env_id in args.envs.split(","):
        ref = prepare(env_id, args.workdir, args.episodes)
        if not any(r["side"] == "reference" and r["env"] == env_id for r in rows):
            keep({"env": env_id, "algo": None, "side": "reference", **asdict(ref)})

        def normalized(score: float, ref: Reference = ref) -> float:
            return (score - ref.random) / (ref.expert - ref.random)

        for algo in algos:
            budget = getattr(args, f"budget_{algo}")
            _, cfg = config_of(algo, env_id, budget)
            hparams, notes = peer_hparams(algo, cfg)
            for seed in [s for s in seeds if s not in done(env_id, algo, "rlkit")]:
                row = run_rlkit(algo, env_id, seed, ref, budget, not args.no_train_eval)
                row.update(env=env_id, algo=algo, side="rlkit", seed=seed,
                           normalized=normalized(row["return"]))
                print(f"[{env_id}] {algo} rlkit seed {seed}: return {row['return']:.1f}, "
                      f"{row['wall_s']:.1f} s", flush=True)
                keep(row)
            pending = [s for s in seeds if s not in done(env_id, algo, "imitation")]
            if not_ready or not pending:
                continue
            rlkit_rows = done(env_id, algo, "rlkit")
            budgets = [rlkit_rows[s]["steps"] if algo == "bc" else cfg.total_timesteps
                       for s in pending]
            budget_text = (f"BC.train(n_batches=rlkit's minibatch steps on the same seed) of "
                           f"{cfg.batch_size}" if algo == "bc" else
                           f"{cfg.total_timesteps} env steps")
            log = args.workdir / path_safe(env_id) / f"imitation_{algo}.log"
            for line in run_peer(args.peer_python, algo, env_id, pending, budgets, ref,
                                 hparams, log):
                if "error" in line:
                    print(f"[{env_id}] {algo} imitation seed {line['seed']} failed: "
                          f"{line['error']} (see {log})", flush=True)
                    continue
                line.update(env=env_id, algo=algo, side="imitation", budget=budget_text,
                            notes=notes, hparams=hparams, normalized=normalized(line["return"]))
                print(f"[{env_id}] {algo} imitation seed {line['seed']}: return "
                      f"{line['return']:.1f}, {line['wall_s']:.1f} s", flush=True)
                keep(line)
    print(tables(rows))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
