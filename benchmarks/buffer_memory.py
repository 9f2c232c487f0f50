"""Bytes per stored transition in rlkit's buffers for pixel envs, frames kept in their own
dtype (uint8, bool) against float32 (what every observation was stored as before).

    python benchmarks/buffer_memory.py

It builds each agent's real buffers on a tiny capacity and divides their arrays' bytes by the
rows they hold, then scales the replay buffer to 100k transitions.
"""

from __future__ import annotations

import numpy as np

import rlkit
from rlkit.core.buffers import ReplayBuffer, RolloutBuffer

ENVS = ["ALE/Pong-v5", "MinAtar/Breakout-v1", "rlkit/PixelGrid-v0"]


def per_row(buffer: RolloutBuffer | ReplayBuffer, rows: int) -> int:
    arrays = [v for v in vars(buffer).values() if isinstance(v, np.ndarray)]
    return sum(a.nbytes for a in arrays) // rows


def as_float32(buffer: RolloutBuffer | ReplayBuffer) -> None:
    """The same buffer with its frames as float32 (the old layout)."""
    for name in ("obs", "next_obs"):
        frames = getattr(buffer, name, None)
        if frames is not None:
            setattr(buffer, name, frames.astype(np.float32))


def main() -> None:
    print(f"{'env':22}{'buffer':10}{'float32 B':>12}{'now B':>10}{'ratio':>7}{'100k, GB':>10}")
    for env_id in ENVS:
        for algo in ("ppo", "dqn"):
            sizes = ({"n_envs": 2, "n_steps": 4, "batch_size": 8} if algo == "ppo"
                     else {"buffer_size": 8, "batch_size": 8, "prioritized": False})
            agent = rlkit.make(algo, env_id, approximator={"type": "cnn"}, **sizes)
            buffer = agent.buffer
            rows = 8
            now = per_row(buffer, rows)
            as_float32(buffer)
            before = per_row(buffer, rows)
            kind = "rollout" if algo == "ppo" else "replay"
            replay_gb = f"{now * 100_000 / 1e9:.2f}" if algo == "dqn" else "-"
            print(f"{env_id:22}{kind:10}{before:>12,}{now:>10,}{before / now:>7.1f}{replay_gb:>10}")


if __name__ == "__main__":
    main()
