"""Evaluation on a separate env with deterministic actions and frozen normalization."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlkit.core.modes import eval_mode
from rlkit.core.rollout import action_masks_of
from rlkit.errors import RlkitError
from rlkit.training.environment import make_env, make_vec_env
from rlkit.training.trainable import Trainable

EVAL_SEED_OFFSET = 1_000_000  # eval episodes never share seeds with training envs


def policy_actions(agent: Trainable, obs: Any, infos: dict[str, Any], n_envs: int,
                   state: tuple | None = None, deterministic: bool = True) -> tuple[Any, tuple]:
    """The agent's actions for ``n_envs`` envs' observations (one env's: ``n_envs`` 1), given
    the env's action masks where ``infos`` holds them (an agent that masks nothing, SB3's, is
    never handed any), and a memory torso's state after them (``state`` None: every episode
    starts afresh; an agent without memory returns the empty state)."""
    masks = action_masks_of(infos, n_envs)
    extra = {} if masks is None else {"action_masks": masks}
    if agent.has_memory:
        return agent.predict(obs, deterministic, state, np.zeros(n_envs), **extra)
    return agent.predict(obs, deterministic=deterministic, **extra), ()


def evaluate(
    agent: Trainable,
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
        obs, infos = env.reset(seed=seed)
        returns = np.zeros(n_episodes)
        lengths = np.zeros(n_episodes, dtype=np.int64)
        running = np.ones(n_episodes, dtype=bool)
        state = None  # a memory torso's state: every episode starts afresh
        networks = [m for m in agent.modules().values() if isinstance(m, torch.nn.Module)]
        with eval_mode(*networks):  # once for the loop: predict's own then costs nothing
            while running.any():
                actions, state = policy_actions(agent, obs, infos, n_episodes, state,
                                                deterministic)
                obs, rewards, terminated, truncated, infos = env.step(actions)
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


def record_video(agent: Trainable, video_dir: str | Path, n_episodes: int, seed: int) -> Path:
    """Render ``n_episodes`` deterministic episodes to mp4 files with Gymnasium's RecordVideo."""
    try:
        import moviepy  # noqa: F401
    except ImportError:
        raise RlkitError("--video needs moviepy: pip install 'rlkit[video]'") from None
    # Frames are drawn off screen: without a display SDL (pygame, classic control's renderer)
    # would print "error: XDG_RUNTIME_DIR is invalid" next to rlkit's own output.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    # make_env: the same preprocessing as in training (Atari's), the raw frames rendered
    env = make_env(agent.env_id, {**agent.config.env_kwargs, "render_mode": "rgb_array"})
    if "rgb_array" not in (env.metadata.get("render_modes") or []):
        raise RlkitError(f"'{agent.env_id}' cannot render rgb_array frames for a video")
    video_dir = Path(video_dir)
    env = gym.wrappers.RecordVideo(
        env, str(video_dir), episode_trigger=lambda _: True, disable_logger=True
    )
    for episode in range(n_episodes):
        obs, info = env.reset(seed=seed + episode)
        done, state = False, None
        while not done:
            action, state = policy_actions(agent, obs, info, 1, state)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
    env.close()
    return video_dir


def save_reconstructions(agent: Trainable, path: str | Path, n_images: int = 8,
                         seed: int | None = None) -> Path:
    """Observations from a deterministic episode (every few steps) next to their
    reconstructions by the agent's autoencoder or vae torso (from the code's mean), as a PNG:
    inputs on the top row, reconstructions below."""
    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt

    from rlkit.approximators.autoencoder import AutoencoderTorso

    torso = next((m for module in agent.modules().values() if isinstance(module, torch.nn.Module)
                  for m in module.modules() if isinstance(m, AutoencoderTorso)), None)
    if torso is None:
        raise RlkitError(f"--reconstructions needs an autoencoder or vae torso; this {agent.name} "
                         f"agent's is '{agent.config.approximator.type}'")
    seed = agent.config.seed + EVAL_SEED_OFFSET if seed is None else seed
    env = make_env(agent.env_id, agent.config.env_kwargs)
    frames, (obs, _) = [], env.reset(seed=seed)
    step = 0
    while len(frames) < n_images:  # every 4th observation (episodes restart as needed)
        if step % 4 == 0:
            frames.append(obs)
        obs, _, terminated, truncated, _ = env.step(agent.predict(obs, deterministic=True))
        if terminated or truncated:
            obs, _ = env.reset()
        step += 1
    env.close()
    pack = getattr(agent, "packer", None)  # a Dict observation: its packed rows
    batch = agent.preprocess(np.stack([pack(f) for f in frames] if pack else frames))
    with torch.inference_mode(), eval_mode(torso):
        inputs, outputs = (t.cpu().numpy() for t in torso.reconstruct(batch))
    figure, axes = plt.subplots(2, n_images, figsize=(1.6 * n_images, 3.8), squeeze=False)
    for column in range(n_images):
        for row, data in enumerate((inputs, outputs)):
            ax = axes[row, column]
            if data.ndim == 4:  # (N, C, H, W): RGB as is, else the brightest channel
                image = data[column]
                image = image.transpose(1, 2, 0) if image.shape[0] == 3 else image.max(0)
                ax.imshow(np.clip(image, 0.0, 1.0), cmap=None if image.ndim == 3 else "gray")
            else:
                ax.bar(np.arange(data.shape[1]), data[column])
            ax.set_xticks([])
            ax.set_yticks([])
        axes[0, column].set_title(f"step {4 * column}", fontsize=8)
    axes[0, 0].set_ylabel("input")
    axes[1, 0].set_ylabel("reconstruction")
    figure.suptitle(f"{agent.name} with a {agent.config.approximator.type} torso on "
                    f"{agent.env_id}: inputs, and reconstructions from the code's mean",
                    fontsize=9)
    figure.tight_layout(h_pad=1.5)  # a gap between the rows: dark frames would touch
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
