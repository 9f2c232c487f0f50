"""rlkit A2C vs SB3 A2C on CartPole-v1: same hyperparameters, env count and seed.

    python benchmarks/a2c_cartpole.py [--steps 100000] [--seed 0] [--only rlkit|sb3]

Both use rlkit's tuned CartPole config from ``configs/a2c.yaml`` (8 envs, [64, 64] tanh
actor and critic, RMSprop), one torch thread, and no evaluation during training; the final
deterministic evaluation (10 episodes) is outside the timed part. Each side steps its 8 envs
the way it does by default: rlkit with Gymnasium's CartPole vector env (``vectorization:
auto``), SB3 with its DummyVecEnv.
"""

from common import cartpole_side_by_side

if __name__ == "__main__":
    cartpole_side_by_side("a2c", "A2C CartPole-v1")
