"""MultiDiscrete and MultiBinary actions for PPO, A2C and REINFORCE (issue 33): what the agents'
own collect stores and sends to the env, predict, and an update that moves the policy."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit.core.rollout import to_env_actions
from rlkit.errors import RlkitError

SPACES = {
    "multidiscrete": gym.spaces.MultiDiscrete([2, 3], start=[1, -1]),
    "multibinary": gym.spaces.MultiBinary(3),
}


class _Recorder(gym.Env):
    """Rewards action component 0 at its highest value; keeps every action it was sent."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
    sent: list = []

    def __init__(self, kind: str) -> None:
        self.action_space = SPACES[kind]
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(2, np.float32), {}

    def step(self, action):
        action = np.asarray(action)
        _Recorder.sent.append(action.copy())
        self.t += 1
        top = self.action_space.start[0] + 1 if hasattr(self.action_space, "nvec") else 1
        return np.zeros(2, np.float32), float(action[0] == top), False, self.t >= 8, {}


for _kind in SPACES:
    gym.register(f"rlkit_test/Recorder-{_kind}-v0", entry_point=_Recorder,
                 kwargs={"kind": _kind})


@pytest.mark.parametrize("kind", sorted(SPACES))
@pytest.mark.parametrize("algo", ["ppo", "a2c", "reinforce"])
def test_the_agent_collects_acts_and_learns_in_the_space(algo, kind):
    space = SPACES[kind]
    _Recorder.sent = []
    settings = {"reinforce": {"batch_episodes": 4}}.get(algo, {"n_steps": 16})
    agent = rlkit.make(algo, f"rlkit_test/Recorder-{kind}-v0", seed=0, n_envs=2, eval_freq=0,
                       learning_rate=0.05, **settings)
    before = [p.detach().clone() for p in agent.policy.parameters()]
    agent.learn(256)
    # every action the env got lies in its space, in its dtype (MultiBinary: int8 0/1;
    # MultiDiscrete: shifted by the space's start)
    assert _Recorder.sent and all(space.contains(a) for a in _Recorder.sent)
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.policy.parameters(),
                                                      strict=True))
    action = agent.predict(np.zeros(2, np.float32))
    assert space.contains(np.asarray(action)), action
    assert agent.predict(np.zeros((5, 2), np.float32)).shape == (5, 3 if kind == "multibinary"
                                                                 else 2)


def test_ppo_stores_component_ids_from_zero_and_sends_the_env_its_own_ids():
    agent = rlkit.make("ppo", "rlkit_test/Recorder-multidiscrete-v0", seed=0, n_envs=2,
                       n_steps=16, eval_freq=0)
    _Recorder.sent = []
    agent.learn(32)
    stored = agent.buffer.actions.reshape(-1, 2)
    assert stored.min() >= 0 and (stored.max(axis=0) <= [1, 2]).all()
    sent = np.stack(_Recorder.sent[-len(stored):])
    assert sent.min(axis=0).tolist() >= [1, -1] and (sent.max(axis=0) <= [2, 1]).all()


def test_to_env_actions_by_hand():
    md = gym.spaces.MultiDiscrete([2, 3], start=[1, -1])
    np.testing.assert_array_equal(to_env_actions(np.array([[0, 2], [1, 0]]), md),
                                  [[1, 1], [2, -1]])
    mb = to_env_actions(np.array([[1.0, 0.0, 1.0]], np.float32), gym.spaces.MultiBinary(3))
    assert mb.dtype == np.int8 and mb.tolist() == [[1, 0, 1]]


def test_dqn_says_in_one_line_that_it_acts_in_discrete_spaces_only():
    with pytest.raises(RlkitError, match=r"dqn cannot handle action space MultiDiscrete.*"
                                         r"supports: Discrete"):
        rlkit.make("dqn", "rlkit_test/Recorder-multidiscrete-v0")


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("env_id", ["rlkit/Keypad-v0", "rlkit/Switches-v0"])
def test_ppo_learns_actions_of_several_parts_from_its_defaults(learns, env_id, seed):
    """PPO with no entry and no flags (1 env, 2048-step rollouts) types the code shown: the
    best return is 16, a random policy's 4 (Keypad: 3 digits of 4) or 8 (Switches: 3 bits).
    2026-12-07, seeds 0-9 (benchmarks/LEARNING.md): 16 on all ten on both; untrained at most
    5.7 (Keypad) and 12.2 (Switches: the untrained net's tiny logits already follow the bits
    half the way). At 10k steps Switches ended at 15.3 on seed 3, hence 20k."""
    learns("ppo", env_id, seed=seed, bar=15, budget=20_480)
