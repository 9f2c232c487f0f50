"""rlkit/Keypad-v0 and rlkit/Switches-v0: spaces, the reward by hand, the episode's length."""

import gymnasium as gym
import numpy as np

import rlkit.envs  # noqa: F401  registers the envs


def test_keypad_shows_a_one_hot_code_and_pays_the_fraction_typed_right():
    env = gym.make("rlkit/Keypad-v0")
    assert env.action_space == gym.spaces.MultiDiscrete([4, 4, 4])
    obs, _ = env.reset(seed=0)
    code = obs.reshape(3, 4).argmax(axis=1)
    assert obs.shape == (12,) and obs.sum() == 3
    wrong = (code + 1) % 4
    typed = np.array([code[0], code[1], wrong[2]])  # two of three right
    obs, reward, terminated, truncated, _ = env.step(typed)
    assert reward == 2 / 3 and not terminated and not truncated
    for step in range(2, 17):
        code = obs.reshape(3, 4).argmax(axis=1)
        obs, reward, terminated, truncated, _ = env.step(code)
        assert reward == 1.0 and truncated == (step == 16)


def test_switches_take_a_row_of_bits():
    env = gym.make("rlkit/Switches-v0")
    assert env.action_space == gym.spaces.MultiBinary(3)
    obs, _ = env.reset(seed=1)
    assert set(np.unique(obs)) <= {0.0, 1.0}
    flipped = 1 - obs.astype(np.int8)
    flipped[0] = int(obs[0])  # one of three right
    _, reward, _, _, _ = env.step(flipped)
    assert reward == 1 / 3


def test_a_seed_gives_the_same_codes():
    first, second = gym.make("rlkit/Keypad-v0"), gym.make("rlkit/Keypad-v0")
    a, _ = first.reset(seed=5)
    b, _ = second.reset(seed=5)
    for _ in range(5):
        np.testing.assert_array_equal(a, b)
        a = first.step(first.action_space.sample())[0]
        b = second.step(second.action_space.sample())[0]
