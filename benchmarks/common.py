"""Shared helpers for the rlkit-vs-Stable-Baselines3 benchmarks (one torch thread each)."""

from __future__ import annotations

import argparse
import functools
import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import rlkit


def agent_maker(algo: str, env_id: str, seed: int, **overrides: Any) -> Callable[[], Any]:
    """``rlkit.make(algo, env_id, seed=seed, **overrides)`` as a function. A benchmark calls it
    twice: once for the config SB3's side is built from, and anew for rlkit's own run (seeded
    afresh, as SB3's run draws from torch's global generator in between)."""
    return functools.partial(rlkit.make, algo, env_id, seed=seed, **overrides)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """Wall seconds of ``fn()`` and its result; CPU seconds go to ``timed.cpu``."""
    start, cpu = time.perf_counter(), time.process_time()
    out = fn()
    timed.cpu = time.process_time() - cpu
    return time.perf_counter() - start, out


def sb3_eval(model, env_id: str, episodes: int = 10, seed: int = 1_000_000) -> float:
    """Mean return of deterministic SB3 actions, one Gymnasium env per episode seed."""
    returns = []
    for i in range(episodes):
        env = gym.make(env_id)
        obs, _ = env.reset(seed=seed + i)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(action)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def report(name: str, steps: int, rlkit: tuple[float, float], sb3: tuple[float, float]) -> None:
    """Print wall time, SPS and eval return of both, and the ratio rlkit/SB3."""
    (rk_time, rk_ret), (sb_time, sb_ret) = rlkit, sb3
    print(f"\n{name}: {steps} env steps, torch threads = {torch.get_num_threads()}")
    print(f"{'':8}{'wall s':>10}{'SPS':>10}{'eval return':>14}")
    print(f"{'rlkit':8}{rk_time:>10.1f}{steps / rk_time:>10.0f}{rk_ret:>14.1f}")
    print(f"{'SB3':8}{sb_time:>10.1f}{steps / sb_time:>10.0f}{sb_ret:>14.1f}")
    print(f"ratio rlkit/SB3 wall time: {rk_time / sb_time:.2f}")


def sb3_model(algo: str, cfg, env, seed: int, device: str = "cpu"):
    """SB3's (or sb3-contrib's) model for rlkit's config ``cfg``, built from the mapping
    ``rlkit compare`` uses (``rlkit/experiments/sb3.py``); the keys SB3 runs without are printed."""
    from rlkit.experiments.sb3 import sb3_kwargs
    from rlkit.experiments.sb3 import sb3_model as model_and_policy

    kwargs, unmapped = sb3_kwargs(algo, cfg)
    model_class, policy = model_and_policy(algo, cfg)
    for key, reason in sorted(unmapped.items()):
        print(f"SB3 runs without {key}: {reason}")
    return model_class(policy, env, seed=seed, device=device, **kwargs)


def print_results(name: str, steps: int, results: dict[str, tuple[float, float]]) -> None:
    """The side-by-side report when both sides ran, else one line per side."""
    if len(results) == 2:
        report(name, steps, results["rlkit"], results["sb3"])
        return
    for side, (seconds, ret) in results.items():
        print(f"{side}: {seconds:.1f} s, {steps / seconds:.0f} SPS, eval {ret:.1f}")


def side_by_side_parser(steps: int) -> argparse.ArgumentParser:
    """The options every side-by-side benchmark takes: ``--steps``, ``--seed`` and ``--only``
    (one side alone). Call :func:`parse` on it: it also sets one torch thread."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=["rlkit", "sb3"], default=None)
    return parser


def parse(parser: argparse.ArgumentParser) -> argparse.Namespace:
    args = parser.parse_args()
    torch.set_num_threads(1)
    return args


def cartpole_side_by_side(algo: str, title: str) -> None:
    """rlkit's ``algo`` and SB3's on CartPole-v1 from rlkit's tuned entry: the same
    hyperparameters, env count and seed, no evaluation during training, a deterministic
    10-episode evaluation outside the timed part; wall and CPU time side by side."""
    from rlkit.training.evaluation import evaluate

    args = parse(side_by_side_parser(100_000))
    make_agent = agent_maker(algo, "CartPole-v1", args.seed, eval_freq=0)
    cfg = make_agent().config
    results, cpu = {}, {}
    # SB3 first: rlkit's training fixes the process's malloc thresholds (rlkit/fast/heap.py),
    # which SB3 would inherit here.
    if args.only in (None, "sb3"):
        from stable_baselines3.common.env_util import make_vec_env

        env = make_vec_env("CartPole-v1", n_envs=cfg.n_envs, seed=args.seed)
        model = sb3_model(algo, cfg, env, args.seed)
        sb_time, _ = timed(lambda: model.learn(args.steps))
        cpu["sb3"] = timed.cpu
        results["sb3"] = (sb_time, sb3_eval(model, "CartPole-v1"))
    if args.only in (None, "rlkit"):
        agent = make_agent()
        rk_time, _ = timed(lambda: agent.learn(args.steps))
        cpu["rlkit"] = timed.cpu
        results["rlkit"] = (rk_time, evaluate(agent, 10)["mean_return"])
    print_results(title, args.steps, results)
    # CPU seconds of this process: steadier than wall time on a shared machine
    cpu_line = ", ".join(f"{name} {secs:.1f} s" for name, secs in cpu.items())
    ratio = f" (ratio {cpu['rlkit'] / cpu['sb3']:.2f})" if len(cpu) == 2 else ""
    print(f"CPU time: {cpu_line}{ratio}")
