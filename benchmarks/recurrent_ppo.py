"""rlkit PPO with an LSTM vs sb3-contrib's RecurrentPPO on rlkit/CartPoleNoVel-v0.

    python benchmarks/recurrent_ppo.py [--steps 100000] [--seed 0]

Both take rlkit's shipped CartPoleNoVel config: 8 envs x 32 steps, batch 256, 10 epochs, gamma
0.995, GAE 0.95, lr 1e-3 and clip range 0.2 decayed linearly, observations and rewards
normalized, and the same networks: a 64-unit ReLU layer, then a 64-unit LSTM, then linear
heads, for the actor and (separately) the critic. One torch thread each; the final
deterministic evaluation (10 episodes, the state carried) is outside the timed part.

The sides differ in how they replay a rollout: rlkit runs whole-env sequences (a minibatch is
``256 // 32 = 8`` envs' 32 steps), sb3-contrib pads episode chunks into sequences.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from common import agent_maker, parse, print_results, sb3_model, side_by_side_parser, timed

from rlkit.training.evaluation import evaluate

ENV_ID = "rlkit/CartPoleNoVel-v0"


def sb3_recurrent_eval(model, vec_normalize, episodes: int = 10, seed: int = 1_000_000) -> float:
    """Deterministic RecurrentPPO episodes with the LSTM state carried and obs normalized."""
    returns = []
    for i in range(episodes):
        env = gym.make(ENV_ID)
        obs, _ = env.reset(seed=seed + i)
        state, start, done, total = None, np.ones(1, bool), False, 0.0
        while not done:
            normalized = vec_normalize.normalize_obs(obs[None])
            action, state = model.predict(normalized, state=state, episode_start=start,
                                          deterministic=True)
            obs, reward, terminated, truncated, _ = env.step(int(action[0]))
            start = np.zeros(1, bool)
            total += float(reward)
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main() -> None:
    parser = side_by_side_parser(100_000)
    args = parse(parser)

    make_agent = agent_maker("ppo", ENV_ID, args.seed, eval_freq=0)

    agent = make_agent()
    cfg = agent.config
    results = {}
    # SB3 first: rlkit's training fixes the process's malloc thresholds (rlkit/fast/heap.py),
    # which SB3 would inherit here.
    if args.only in (None, "sb3"):
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.vec_env import VecNormalize

        env = VecNormalize(make_vec_env(ENV_ID, n_envs=cfg.n_envs, seed=args.seed),
                           norm_obs=cfg.normalize_obs, norm_reward=cfg.normalize_reward,
                           gamma=cfg.gamma)
        model = sb3_model("ppo", cfg, env, args.seed)  # sb3-contrib's RecurrentPPO
        seconds, _ = timed(lambda: model.learn(args.steps))
        env.training = False
        results["sb3"] = (seconds, sb3_recurrent_eval(model, env))

    if args.only in (None, "rlkit"):
        agent = make_agent()
        seconds, _ = timed(lambda: agent.learn(args.steps))
        results["rlkit"] = (seconds, evaluate(agent, 10)["mean_return"])

    print_results(f"PPO + LSTM {ENV_ID}", args.steps, results)


if __name__ == "__main__":
    main()
