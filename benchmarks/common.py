"""Shared helpers for the rlkit-vs-Stable-Baselines3 benchmarks (one torch thread each)."""

from __future__ import annotations

import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch


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
    ``rlkit compare`` uses (``rlkit/sb3.py``); the keys SB3 runs without are printed."""
    from rlkit.sb3 import sb3_kwargs
    from rlkit.sb3 import sb3_model as model_and_policy

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
