"""Writes the checkpoints in this folder (run once, with the rlkit of commit 34fa538, before the
layout of issue 32 moved rlkit's modules): small agents trained a few hundred steps, and the
actions and values each gives on fixed observations, which tests/training/test_checkpoint_compat.py
expects the current rlkit to reproduce from the files.

    python tests/data/checkpoints/make_checkpoints.py
"""

import json
from pathlib import Path

import numpy as np
import torch

import rlkit

HERE = Path(__file__).parent
SMALL = {"hidden_sizes": [8]}
CASES = {
    "ppo_cartpole": ("ppo", "CartPole-v1", {"approximator": SMALL, "n_envs": 2, "n_steps": 32,
                                            "batch_size": 32}),
    "ppo_lstm_cartpole": ("ppo", "CartPole-v1", {"approximator": {"type": "lstm", "hidden_size": 8,
                                                                  "hidden_sizes": [8]},
                                                 "n_envs": 2, "n_steps": 32, "batch_size": 32}),
    "dqn_cartpole": ("dqn", "CartPole-v1", {"approximator": SMALL, "buffer_size": 500,
                                            "learning_starts": 64, "batch_size": 16}),
    "qlearning_frozenlake": ("qlearning", "FrozenLake-v1", {}),
}



def parameter_sum(module: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum() for p in module.parameters()))


if __name__ == "__main__":
    torch.set_num_threads(1)
    expected = {}
    for name, (algo, env_id, overrides) in CASES.items():
        agent = rlkit.make(algo, env_id, seed=0, **overrides)
        agent.learn(128)
        agent.save(HERE / f"{name}.pt")
        obs = np.stack([agent.observation_space.sample() for _ in range(4)]) \
            if algo != "qlearning" else np.arange(4)
        actions = agent.predict(obs, deterministic=True)
        if isinstance(actions, tuple):
            actions = actions[0]
        expected[name] = {"algo": algo, "env_id": env_id, "global_step": agent.global_step,
                          "obs": np.asarray(obs).tolist(),
                          "actions": np.asarray(actions).tolist(),
                          "parameters": {key: parameter_sum(module)
                                         for key, module in agent.modules().items()
                                         if isinstance(module, torch.nn.Module)}}
        if algo == "qlearning":
            expected[name]["parameters"]["values"] = float(agent.table.values.sum())
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
