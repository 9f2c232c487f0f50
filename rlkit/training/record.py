"""``rlkit record``: a trained agent's episodes written as a Minari dataset of demonstrations.

The agent acts as in evaluation (deterministic unless asked otherwise, memory carried through
each episode, the env's action masks passed on) on one env built like the evaluation's, each
episode reset with its own seed: ``seed + i`` for episode ``i``, where ``seed`` defaults to the
run's seed plus :data:`RECORD_SEED_OFFSET`, so demonstrations share no episode with training or
evaluation. The dataset (:func:`rlkit.core.demonstrations.write_minari`) keeps the returns, the
run it came from and whether the actions were deterministic in its metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from rlkit.core.demonstrations import Episode, write_minari
from rlkit.core.modes import eval_mode
from rlkit.errors import RlkitError
from rlkit.training.environment import make_env
from rlkit.training.evaluation import policy_actions
from rlkit.training.trainable import Trainable

RECORD_SEED_OFFSET = 2_000_000
"""Added to the run's seed for the recorded episodes (evaluation adds 1_000_000)."""


@dataclass
class Recording:
    """What :func:`record` wrote."""

    path: Path
    """the dataset's folder"""
    algo: str
    env_id: str
    returns: np.ndarray
    """(n_episodes,) each episode's return"""
    lengths: np.ndarray
    """(n_episodes,) each episode's number of steps"""


def play_episodes(agent: Trainable, env: gym.Env, n_episodes: int, seed: int,
                  deterministic: bool = True) -> list[Episode]:
    """``n_episodes`` episodes of ``agent`` on ``env``, episode ``i`` reset with ``seed + i``."""
    networks = [m for m in agent.modules().values() if isinstance(m, torch.nn.Module)]
    episodes = []
    with eval_mode(*networks):  # once for all episodes: predict's own then costs nothing
        for i in range(n_episodes):
            obs, info = env.reset(seed=seed + i)
            episode, state, done = Episode([obs], seed=seed + i), None, False
            while not done:
                action, state = policy_actions(agent, obs, info, 1, state, deterministic)
                obs, reward, terminated, truncated, info = env.step(action)
                episode.step(action, obs, float(reward), terminated, truncated)
                done = terminated or truncated
            episodes.append(episode)
    return episodes


def record(run: str | Path, n_episodes: int, out: str | Path, deterministic: bool = True,
           seed: int | None = None) -> Recording:
    """Play ``n_episodes`` episodes of the trained run ``run`` (a run directory or checkpoint)
    and write them to the folder ``out`` as a Minari dataset."""
    from rlkit.training.registry import load

    if n_episodes < 1:
        raise RlkitError(f"--episodes must be >= 1, got {n_episodes}")
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):  # before playing, not after
        raise RlkitError(f"'{out}' already exists; record into a new or empty folder")
    agent = load(run)
    seed = agent.config.seed + RECORD_SEED_OFFSET if seed is None else seed
    env = make_env(agent.env_id, agent.config.env_kwargs)
    try:
        episodes = play_episodes(agent, env, n_episodes, seed, deterministic)
        spaces, spec = (env.observation_space, env.action_space), env.spec
    finally:
        env.close()
    returns = np.array([episode.total_return for episode in episodes])
    mode = "deterministic" if deterministic else "stochastic"
    write_minari(out, episodes, *spaces, env_id=agent.env_id, env_spec=spec, metadata={
        "algorithm_name": f"rlkit {agent.name}",
        "description": (f"{n_episodes} episodes of rlkit's {agent.name} agent on "
                        f"{agent.env_id} with {mode} actions, recorded by `rlkit record` "
                        f"from {run} (mean return {returns.mean():.2f})"),
        "source_run": str(Path(run).resolve()),
        "source_algo": agent.name,
        "source_step": int(agent.global_step),
        "deterministic": deterministic,
        "env_kwargs": agent.config.env_kwargs,
        "first_seed": seed,
    })
    return Recording(out, agent.name, agent.env_id, returns,
                     np.array([len(episode) for episode in episodes]))
