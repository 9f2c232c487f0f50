"""rlkit PPO vs Stable-Baselines3's PPO on an Atari game: steps per second on one device.

    python benchmarks/atari_ppo.py [--env ALE/Pong-v5] [--steps 20480] [--device cpu|cuda]

Both train the ``ALE/*`` candidate of ``benchmarks/candidates/ppo.yaml`` (rl-zoo's values,
not yet verified by rlkit: 8 envs x 128 steps, 4 minibatches of 256, 4 epochs, lr 2.5e-4 and
clip 0.1 decayed, entropy 0.01, rewards clipped to their sign) on the same envs: rlkit's Atari
preprocessing (Gymnasium's AtariPreprocessing and 4 stacked frames, built by
``rlkit.training.environment.make_env``), in one process each (sync vector envs), with the Nature
CNN shared by pi and V (SB3's ``CnnPolicy``). One torch thread each on the CPU. The budget is too
short to learn Pong; the figure is throughput. No evaluation is counted.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from common import agent_maker, parse, sb3_model, side_by_side_parser, timed

from rlkit.training.environment import make_env
from rlkit.training.metrics import read_metrics

CANDIDATE = Path(__file__).parent / "candidates" / "ppo.yaml"  # rl-zoo's values, not verified


def main() -> None:
    parser = side_by_side_parser(20_480)
    parser.add_argument("--env", default="ALE/Pong-v5")
    parser.add_argument("--device", default="cpu")
    args = parse(parser)

    make_agent = agent_maker("ppo", args.env, args.seed, torch_threads=1, eval_freq=0,
                             device=args.device, config_file=CANDIDATE)

    agent = make_agent()
    cfg = agent.config
    sps = {}
    # SB3 first: rlkit's training fixes the process's malloc thresholds (rlkit/fast/heap.py),
    # which SB3 would inherit here.
    if args.only in (None, "sb3"):
        from stable_baselines3.common.vec_env import DummyVecEnv

        def make(rank: int):
            def thunk() -> gym.Env:
                env = make_env(args.env)
                env = gym.wrappers.TransformReward(env, lambda r: float(np.sign(r)))
                env.reset(seed=args.seed + rank)
                return env
            return thunk

        env = DummyVecEnv([make(i) for i in range(cfg.n_envs)])
        model = sb3_model("ppo", cfg, env, args.seed, args.device)
        rollout = agent.steps_per_collect  # the same number of whole rollouts as rlkit's
        steps = max(1, args.steps // rollout) * rollout
        seconds, _ = timed(lambda: model.learn(steps))
        sps["sb3"] = model.num_timesteps / seconds

    if args.only in (None, "rlkit"):
        agent = make_agent()
        # The loop's own figure: its last row's SPS is taken before the final evaluation
        # (which a learn() call always runs), so both sides count training alone.
        run_dir = tempfile.mkdtemp(prefix="atari-rlkit-")
        agent.learn(args.steps, run_dir=run_dir)
        sps["rlkit"] = [row["charts/SPS"] for row in read_metrics(run_dir)
                        if "charts/SPS" in row][-1]

    device = torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"\nPPO {args.env}, {agent.global_step or args.steps} env steps on {device}, "
          f"torch threads = {torch.get_num_threads()}")
    for name, value in sps.items():
        print(f"{name:8}{value:>10.0f} SPS")
    if len(sps) == 2:
        print(f"ratio rlkit/SB3 wall time: {sps['sb3'] / sps['rlkit']:.2f}")


if __name__ == "__main__":
    main()
