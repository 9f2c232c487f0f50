"""Replay memory for pixel envs: bytes per stored transition in rlkit's buffers, and 1M Atari
transitions in rlkit's replay buffers side by side with SB3's.

    python benchmarks/buffer_memory.py                  # the tables, then 200k real Pong steps
    python benchmarks/buffer_memory.py --fill 0         # the tables only
    python benchmarks/buffer_memory.py --speed          # add + sample: ReplayBuffer vs frames

1. Frames kept in their own dtype (uint8, bool) against float32 (what every observation was
   stored as before): each agent's real buffers on a tiny capacity, their arrays' bytes divided
   by the rows they hold, the replay buffer scaled to 100k transitions.
2. 1M Atari transitions, (4, 84, 84) uint8: rlkit's ReplayBuffer (obs and next_obs whole) and
   SB3's ReplayBuffer with and without ``optimize_memory_usage`` (next_obs read from the next
   row), each built with 1000 rows and scaled; rlkit's FrameReplayBuffer (DQN's buffer for
   stacked frames, ``frame_sharing: auto``) from the layout it allocates. Nothing of 1M rows is
   allocated.
3. ``--fill N``: N transitions of real ALE/Pong-v5 (random actions, 8 envs, rlkit's Atari
   wrappers and runner: DQN's collection before learning starts) into a FrameReplayBuffer of
   ``--capacity`` transitions; the frames its live transitions point at, per transition, once
   full and at the end, against what its default store holds per transition.
4. ``--speed``: 1250 vector steps of 8 Pong envs recorded, then added to a ReplayBuffer and a
   FrameReplayBuffer of 8192 transitions (a second pass timed, the ring full and wrapping), and
   batches of 32 drawn from each: microseconds per call, under DQN's training settings (one
   torch thread, freed memory kept in the heap: rlkit/fast/heap.py).
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.buffers import ReplayBuffer as SB3ReplayBuffer

import rlkit
from rlkit.core.buffers import ReplayBuffer, RolloutBuffer
from rlkit.core.frame_replay import FrameReplayBuffer, layout, layout_nbytes
from rlkit.core.rollout import EnvRunner
from rlkit.fast import heap
from rlkit.training.environment import make_vec_env

ENVS = ["ALE/Pong-v5", "MinAtar/Breakout-v1", "rlkit/PixelGrid-v0"]
ATARI = (4, 84, 84)
MILLION = 1_000_000


def per_row(buffer: RolloutBuffer | ReplayBuffer, rows: int) -> int:
    arrays = [v for v in vars(buffer).values() if isinstance(v, np.ndarray)]
    return sum(a.nbytes for a in arrays) // rows


def as_float32(buffer: RolloutBuffer | ReplayBuffer) -> None:
    """The same buffer with its frames as float32 (the old layout)."""
    for name in ("obs", "next_obs"):
        frames = getattr(buffer, name, None)
        if isinstance(frames, np.ndarray):
            setattr(buffer, name, frames.astype(np.float32))
        elif frames is not None:  # a FrameReplayBuffer: the frame store
            buffer.frames = buffer.frames.astype(np.float32)


def dtype_table() -> None:
    print(f"{'env':22}{'buffer':10}{'float32 B':>12}{'now B':>10}{'ratio':>7}{'100k, GB':>10}")
    for env_id in ENVS:
        for algo in ("ppo", "dqn"):
            sizes = ({"n_envs": 2, "n_steps": 4, "batch_size": 8} if algo == "ppo"
                     else {"buffer_size": 8, "batch_size": 8, "prioritized": False,
                           "frame_sharing": "off"})
            agent = rlkit.make(algo, env_id, approximator={"type": "cnn"}, **sizes)
            buffer = agent.buffer
            rows = 8
            now = per_row(buffer, rows)
            as_float32(buffer)
            before = per_row(buffer, rows)
            kind = "rollout" if algo == "ppo" else "replay"
            replay_gb = f"{now * 100_000 / 1e9:.2f}" if algo == "dqn" else "-"
            print(f"{env_id:22}{kind:10}{before:>12,}{now:>10,}{before / now:>7.1f}{replay_gb:>10}")


def sb3_bytes(optimize_memory_usage: bool, rows: int = 1000) -> int:
    """SB3's ReplayBuffer for Atari (one env), built with ``rows`` rows: bytes per row."""
    buffer = SB3ReplayBuffer(rows, gym.spaces.Box(0, 255, ATARI, np.uint8),
                             gym.spaces.Discrete(6), "cpu", n_envs=1,
                             optimize_memory_usage=optimize_memory_usage,
                             handle_timeout_termination=not optimize_memory_usage)
    return per_row(buffer, rows)


def atari_table() -> None:
    frame_sharing = layout_nbytes(layout(MILLION, ATARI, (), np.uint8, np.int64))
    rows = [
        ("rlkit ReplayBuffer (frame_sharing: off)",
         per_row(ReplayBuffer(1000, ATARI, (), np.uint8), 1000) * MILLION),
        ("rlkit FrameReplayBuffer (frame_sharing: auto)", frame_sharing),
        ("SB3 ReplayBuffer", sb3_bytes(False) * MILLION),
        ("SB3 ReplayBuffer, optimize_memory_usage", sb3_bytes(True) * MILLION),
    ]
    print(f"\n1M Atari transitions {ATARI} uint8 (one env's rows; prioritized replay adds "
          f"{2 * 2 * 2**20 * 8 / 1e6:.0f} MB of trees to rlkit's)")
    print(f"{'buffer':48}{'GB':>8}{'B/transition':>14}")
    for name, nbytes in rows:
        print(f"{name:48}{nbytes / 1e9:>8.2f}{nbytes / MILLION:>14,.0f}")
    print(f"1M Atari transitions in rlkit's DQN buffer: {frame_sharing / 1e9:.2f} GB "
          f"({'<=' if frame_sharing <= 8e9 else 'MORE THAN'} 8 GB)")


def fill_from_pong(transitions: int, capacity: int, n_envs: int = 8, seed: int = 0) -> None:
    env = make_vec_env("ALE/Pong-v5", n_envs, seed)
    runner, rng = EnvRunner(env, seed), np.random.default_rng(seed)
    n_actions = int(env.single_action_space.n)
    buffer = FrameReplayBuffer(capacity, ATARI, (), np.uint8)
    store = buffer.n_frames
    print(f"\nReal ALE/Pong-v5: {transitions:,} transitions (random actions, {n_envs} envs) into "
          f"a FrameReplayBuffer of {capacity:,} ({store:,} frames, "
          f"{store / capacity:.4f} per transition)")
    added, episodes, full, start = 0, 0, False, time.perf_counter()
    while added < transitions:
        obs, actions = runner.obs, rng.integers(n_actions, size=n_envs)
        step = runner.step(actions)
        buffer.add(obs, actions, step.rewards, step.next_obs, step.terminated, step.valid)
        added += int(step.valid.sum())
        episodes += int((step.terminated | step.truncated).sum())
        if (not full and len(buffer) == capacity) or added >= transitions:
            full = True
            print(f"  after {added:>9,} transitions, {episodes:>4} episodes: {len(buffer):,} "
                  f"stored point at {buffer.live_frames:,} frames = "
                  f"{buffer.live_frames / len(buffer):.4f} per transition "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    env.close()
    per_transition = buffer.live_frames / len(buffer)
    needed = layout_nbytes(layout(MILLION, ATARI, (), np.uint8, np.int64,
                                  n_frames=int(per_transition * MILLION)))
    print(f"  store grown: {buffer.n_frames != store}; 1M such transitions need "
          f"{needed / 1e9:.2f} GB, the default store holds "
          f"{layout_nbytes(layout(MILLION, ATARI, (), np.uint8, np.int64)) / 1e9:.2f} GB")


def record_pong(steps: int, n_envs: int = 8, seed: int = 0) -> list[tuple]:
    env = make_vec_env("ALE/Pong-v5", n_envs, seed)
    runner, rng = EnvRunner(env, seed), np.random.default_rng(seed)
    rows = []
    for _ in range(steps):
        obs, actions = runner.obs, rng.integers(6, size=n_envs)
        step = runner.step(actions)
        rows.append((obs.copy(), actions, step.rewards, step.next_obs.copy(), step.terminated,
                     step.valid))
    env.close()
    return rows


def speed(capacity: int = 8192, batch_size: int = 32, draws: int = 2000) -> None:
    torch.set_num_threads(1)  # as DQN trains (torch_threads: 1), with its heap settings
    heap.keep_freed_memory()
    rows = record_pong(1250)
    print(f"\nadd (8 envs per call, {len(rows)} calls) and batch ({batch_size} transitions), "
          f"capacity {capacity}, recorded Pong frames, microseconds per call (median of 5), "
          f"one torch thread")
    results = {}
    for name, kind in (("ReplayBuffer", ReplayBuffer), ("FrameReplayBuffer", FrameReplayBuffer)):
        buffer = kind(capacity, ATARI, (), np.uint8)
        for row in rows:  # the first pass fills the ring (and touches its pages)
            buffer.add(*row)
        adds, samples = [], []
        for _ in range(5):
            start = time.perf_counter()
            for row in rows:
                buffer.add(*row)
            adds.append((time.perf_counter() - start) / len(rows) * 1e6)
            indices = np.random.default_rng(0).integers(0, len(buffer), (draws, batch_size))
            start = time.perf_counter()
            for idx in indices:
                buffer.batch(idx)
            samples.append((time.perf_counter() - start) / draws * 1e6)
        results[name] = (float(np.median(adds)), float(np.median(samples)))
    print(f"{'buffer':20}{'add, us':>10}{'batch, us':>12}")
    for name, (add, sample) in results.items():
        print(f"{name:20}{add:>10.1f}{sample:>12.1f}")
    (old_add, old_batch), (new_add, new_batch) = results.values()
    print(f"FrameReplayBuffer / ReplayBuffer: add {new_add / old_add:.2f}x, "
          f"batch {new_batch / old_batch:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--fill", type=int, default=200_000, help="real Pong transitions (0: none)")
    parser.add_argument("--capacity", type=int, default=100_000, help="of the filled buffer")
    parser.add_argument("--speed", action="store_true", help="time add and batch instead")
    args = parser.parse_args()
    if args.speed:
        speed()
        return
    dtype_table()
    atari_table()
    if args.fill:
        fill_from_pong(args.fill, args.capacity)


if __name__ == "__main__":
    main()
