"""Evaluation on a separate env with deterministic actions and frozen normalization."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import gymnasium as gym
import numpy as np
import torch

from rlkit.approximators.base import eval_mode
from rlkit.environment import make_env, make_vec_env
from rlkit.errors import RlkitError

if TYPE_CHECKING:
    from rlkit.agent import Agent

EVAL_SEED_OFFSET = 1_000_000  # eval episodes never share seeds with training envs


def evaluate(
    agent: Agent,
    n_episodes: int,
    seed: int | None = None,
    deterministic: bool = True,
    env: gym.vector.VectorEnv | None = None,
) -> dict[str, float | list[float]]:
    """Mean and std of the return of ``n_episodes`` episodes, one per env, run in parallel."""
    seed = agent.config.seed + EVAL_SEED_OFFSET if seed is None else seed
    own_env = env is None
    if env is None:
        env = make_vec_env(agent.env_id, n_episodes, None, "sync", agent.config.env_kwargs)
    try:
        obs, _ = env.reset(seed=seed)
        returns = np.zeros(n_episodes)
        lengths = np.zeros(n_episodes, dtype=np.int64)
        running = np.ones(n_episodes, dtype=bool)
        state = None  # a memory torso's state: every episode starts afresh
        networks = [m for m in agent.modules().values() if isinstance(m, torch.nn.Module)]
        with eval_mode(*networks):  # once for the loop: predict's own then costs nothing
            while running.any():
                if agent.has_memory:
                    actions, state = agent.predict(obs, deterministic, state,
                                                   np.zeros(n_episodes))
                else:
                    actions = agent.predict(obs, deterministic=deterministic)
                obs, rewards, terminated, truncated, _ = env.step(actions)
                returns += rewards * running
                lengths += running
                running &= ~(terminated | truncated)
    finally:
        if own_env:
            env.close()
    return {
        "mean_return": float(returns.mean()),
        "std_return": float(returns.std()),
        "mean_length": float(lengths.mean()),
        "returns": returns.tolist(),
    }


def record_video(agent: Agent, video_dir: str | Path, n_episodes: int, seed: int) -> Path:
    """Render ``n_episodes`` deterministic episodes to mp4 files with Gymnasium's RecordVideo."""
    try:
        import moviepy  # noqa: F401
    except ImportError:
        raise RlkitError("--video needs moviepy: pip install 'rlkit[video]'") from None
    # make_env: the same preprocessing as in training (Atari's), the raw frames rendered
    env = make_env(agent.env_id, {**agent.config.env_kwargs, "render_mode": "rgb_array"})
    if "rgb_array" not in (env.metadata.get("render_modes") or []):
        raise RlkitError(f"'{agent.env_id}' cannot render rgb_array frames for a video")
    video_dir = Path(video_dir)
    env = gym.wrappers.RecordVideo(
        env, str(video_dir), episode_trigger=lambda _: True, disable_logger=True
    )
    for episode in range(n_episodes):
        obs, _ = env.reset(seed=seed + episode)
        done, state = False, None
        while not done:
            if agent.has_memory:
                action, state = agent.predict(obs, True, state, np.zeros(1))
            else:
                action = agent.predict(obs)
            obs, _, terminated, truncated, _ = env.step(action)
            done = terminated or truncated
    env.close()
    return video_dir
