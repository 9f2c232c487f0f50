"""The `imitation` library's side of benchmarks/imitation_vs.py: BC, DAgger, GAIL or AIRL of
imitation 1.0.1 on demonstrations handed over as an .npz, one JSON line per seed on stdout.

Runs ONLY inside imitation's own venv (gymnasium 0.29, stable-baselines3 2.2, seals 0.2);
imitation_vs.py starts it as a subprocess and builds every argument:

    python benchmarks/imitation_peer.py --env CartPole-v1 --algo gail --demos demos.npz \
        --seeds 0,1,2 --budgets 300000 --hparams '{...}' [--expert expert.pt] \
        [--episodes 20] [--variable-horizon]

``--demos``: the arrays of rlkit's ``Demonstrations`` (obs, actions, next_obs, terminated,
truncated, lengths), rebuilt here into imitation ``Trajectory`` objects, one per episode.
``--budgets``: one number per seed, or one for all: minibatch steps for BC
(``BC.train(n_batches=...)``), env steps for DAgger (``SimpleDAggerTrainer.train``), GAIL and
AIRL (``AdversarialTrainer.train``). ``--hparams``: the JSON of rlkit's config as imitation's
and SB3's arguments (built by imitation_vs.py). ``--expert``: DAgger's expert, rlkit's PPO
exported with TorchScript (observation -> deterministic action), wrapped as an SB3 policy.
Each line: ``{"seed", "return", "wall_s", "steps"}``, or ``{"seed", "error"}``. The wall
time runs from building the env and the learner to the end of training; the evaluation
(``--episodes`` deterministic episodes, episode i reset with seed + 1_000_000 + i, as
rlkit's evaluation) comes after it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from imitation.algorithms import bc
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL
from imitation.algorithms.dagger import LinearBetaSchedule, SimpleDAggerTrainer
from imitation.data import types
from imitation.data.wrappers import RolloutInfoWrapper
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
from imitation.util import logger as imitation_logger
from imitation.util.util import make_vec_env
from stable_baselines3 import PPO
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from stable_baselines3.common.utils import set_random_seed

EVAL_SEED_OFFSET = 1_000_000  # rlkit's: evaluation episodes never share training's seeds


class TracedExpert(BasePolicy):
    """rlkit's expert as an SB3 policy: a TorchScript module, observation -> action."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, path: str):
        super().__init__(observation_space, action_space)
        self.net = torch.jit.load(path)

    def _predict(self, observation: torch.Tensor, deterministic: bool = False) -> torch.Tensor:
        return self.net(observation.float())


def trajectories(path: str) -> list[types.Trajectory]:
    """The episodes of the .npz as imitation trajectories (T + 1 observations each)."""
    data = np.load(path)
    out, start = [], 0
    for length in data["lengths"]:
        end = start + int(length)
        obs = np.concatenate([data["obs"][start:end], data["next_obs"][end - 1:end]])
        out.append(types.Trajectory(obs=obs, acts=data["actions"][start:end], infos=None,
                                    terminal=bool(data["terminated"][end - 1])))
        start = end
    return out


def activation(name: str) -> type[torch.nn.Module]:
    return getattr(torch.nn, name)


class Progress:
    """1 at the start of training, 0 after ``budget`` env steps of ``model``. Not SB3's own
    progress_remaining: imitation calls PPO.learn once a round, and SB3's restarts in every
    call and reaches 0 at its end, when PPO updates (a decayed rate would be 0 throughout)."""

    def __init__(self, budget: int) -> None:
        self.budget, self.model = budget, None

    def __call__(self, _: float) -> float:
        if self.model is None:  # PPO's constructor sets up its optimizer
            return 1.0
        return max(0.0, 1.0 - self.model.num_timesteps / self.budget)


def ppo_kwargs(kwargs: dict[str, Any], progress: Progress) -> dict[str, Any]:
    """SB3 keywords from their JSON: ``{"linear": v}`` is the decay of v to 0 over training,
    an activation is its torch.nn class name."""
    out = {}
    for key, value in kwargs.items():
        if isinstance(value, dict) and set(value) == {"linear"}:
            value = (lambda v: lambda remaining: progress(remaining) * v)(value["linear"])
        elif key == "policy_kwargs":
            value = {**value, "activation_fn": activation(value["activation_fn"])}
        out[key] = value
    return out


def cloning_policy(venv, h: dict[str, Any]) -> ActorCriticPolicy:
    """BC's and DAgger's policy: SB3's MLP actor-critic with rlkit's sizes (its value head idle)."""
    return ActorCriticPolicy(venv.observation_space, venv.action_space,
                             lr_schedule=lambda _: torch.finfo(torch.float32).max,
                             net_arch=h["net_arch"], activation_fn=activation(h["activation"]),
                             log_std_init=h["log_std_init"])


def bc_trainer(venv, h: dict[str, Any], rng, log, demos=None) -> bc.BC:
    return bc.BC(observation_space=venv.observation_space, action_space=venv.action_space,
                 rng=rng, policy=cloning_policy(venv, h), demonstrations=demos,
                 batch_size=h["batch_size"], optimizer_kwargs={"lr": h["learning_rate"]},
                 ent_weight=h["ent_coef"], l2_weight=0.0, device="cpu", custom_logger=log)


def train(args: argparse.Namespace, seed: int, budget: int, h: dict[str, Any],
          scratch: str) -> tuple[Any, int]:
    """Train one seed; returns (the policy to evaluate, its steps: minibatch steps for BC,
    env steps for the others)."""
    rng = np.random.default_rng(seed)
    log = imitation_logger.configure(scratch, format_strs=[])  # no stdout: it carries JSON
    venv = make_vec_env(args.env, rng=rng, n_envs=h["n_envs"],
                        post_wrappers=[lambda env, _: RolloutInfoWrapper(env)])
    if args.algo == "bc":
        trainer = bc_trainer(venv, h, rng, log, trajectories(args.demos))
        trainer.train(n_batches=budget, log_interval=10**9, progress_bar=False)
        return trainer.policy, budget
    if args.algo == "dagger":
        expert = TracedExpert(venv.observation_space, venv.action_space, args.expert)
        dagger = SimpleDAggerTrainer(venv=venv, scratch_dir=scratch, expert_policy=expert,
                                     rng=rng, bc_trainer=bc_trainer(venv, h, rng, log),
                                     beta_schedule=LinearBetaSchedule(h["beta_rounds"]),
                                     custom_logger=log)
        # a round: whole episodes, at least round_steps env steps, then epochs_per_round
        # epochs of BC over everything labelled (no rollouts logged in between)
        dagger.train(budget, rollout_round_min_episodes=1,
                     rollout_round_min_timesteps=h["round_steps"],
                     bc_train_kwargs={"n_epochs": h["epochs_per_round"], "progress_bar": False,
                                      "log_rollouts_venv": None, "log_interval": 10**9})
        return dagger.policy, sum(len(traj) for traj in dagger._all_demos)  # labels
    progress = Progress(budget)
    learner = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0,
                  **ppo_kwargs(h["ppo"], progress))
    progress.model = learner
    d = h["disc"]
    net_kwargs = dict(activation=activation(d["activation"]))
    if args.algo == "gail":
        reward_net = BasicRewardNet(venv.observation_space, venv.action_space,
                                    hid_sizes=d["hidden_sizes"], **net_kwargs)
        trainer_class = GAIL
    else:
        reward_net = BasicShapedRewardNet(venv.observation_space, venv.action_space,
                                          reward_hid_sizes=d["hidden_sizes"],
                                          potential_hid_sizes=d["hidden_sizes"],
                                          use_action=not d["state_only"],
                                          discount_factor=h["ppo"]["gamma"], **net_kwargs)
        trainer_class = AIRL
    demos = trajectories(args.demos)
    if h["bc_warm_start"]:  # rlkit's bc_warm_start: BC on the generator's policy first
        warm = bc.BC(observation_space=venv.observation_space, action_space=venv.action_space,
                     rng=rng, policy=learner.policy, demonstrations=demos,
                     batch_size=h["ppo"]["batch_size"], ent_weight=h["ppo"]["ent_coef"],
                     optimizer_kwargs={"lr": h["bc_learning_rate"]}, l2_weight=0.0,
                     device="cpu", custom_logger=log)
        warm.train(n_batches=h["bc_warm_start"], log_interval=10**9, progress_bar=False)
    trainer = trainer_class(demonstrations=demos, venv=venv,
                            demo_batch_size=d["batch_size"],
                            n_disc_updates_per_round=d["steps"],
                            disc_opt_kwargs={"lr": d["learning_rate"]}, gen_algo=learner,
                            reward_net=reward_net, custom_logger=log,
                            allow_variable_horizon=args.variable_horizon)
    trainer.train(budget)
    return learner.policy, learner.num_timesteps


def evaluate(policy: BasePolicy, env_id: str, episodes: int, seed: int) -> float:
    """Mean return of deterministic actions, episode i reset with seed + i."""
    env, returns = gym.make(env_id), []
    for i in range(episodes):
        obs, _ = env.reset(seed=seed + i)
        done, total = False, 0.0
        while not done:
            action, _ = policy.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    env.close()
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, help="gymnasium 0.29's id (seals/... too)")
    parser.add_argument("--algo", required=True, choices=["bc", "dagger", "gail", "airl"])
    parser.add_argument("--demos", required=True, help=".npz of the demonstrations")
    parser.add_argument("--seeds", required=True, help="comma-separated")
    parser.add_argument("--budgets", required=True, help="one per seed, or one for all")
    parser.add_argument("--hparams", required=True, help="JSON (see imitation_vs.py)")
    parser.add_argument("--expert", help="DAgger's expert: a TorchScript module")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--variable-horizon", action="store_true",
                        help="episodes end early (CartPole-v1): imitation's check turned off")
    args = parser.parse_args()
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")  # stdout carries the JSON lines; stderr stays readable
    if args.env.startswith("seals/"):
        import seals  # noqa: F401  (registers seals/CartPole-v0)
    seeds = [int(s) for s in args.seeds.split(",")]
    budgets = [int(b) for b in args.budgets.split(",")]
    budgets = budgets * len(seeds) if len(budgets) == 1 else budgets
    hparams = json.loads(args.hparams)
    for seed, budget in zip(seeds, budgets, strict=True):
        set_random_seed(seed)
        try:
            with tempfile.TemporaryDirectory() as scratch:
                start = time.perf_counter()
                policy, steps = train(args, seed, budget, hparams, scratch)
                wall = time.perf_counter() - start
            score = evaluate(policy, args.env, args.episodes, seed + EVAL_SEED_OFFSET)
            line = {"seed": seed, "return": score, "wall_s": wall, "steps": steps}
        except Exception as exc:  # one seed's failure is reported, the others still run
            traceback.print_exc()
            line = {"seed": seed, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
