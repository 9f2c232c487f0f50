"""The attention torso: what a step may see (not the future, not across an episode start, not
beyond the context), positions, and the state carried between calls."""

import gymnasium as gym
import pytest
import torch

from rlkit.approximators import build_torso
from rlkit.approximators.attention import attention_mask, sinusoidal_encoding
from rlkit.config import ApproximatorConfig, from_dict
from rlkit.errors import ConfigError

BOX = gym.spaces.Box(-1.0, 1.0, (3,))


def _torso(**overrides):
    torch.manual_seed(0)
    config = dict(type="attention", hidden_size=8, n_heads=2, num_layers=2, context=3,
                  encoder={"hidden_sizes": [4]})
    return build_torso(BOX, from_dict(ApproximatorConfig, {**config, **overrides})).eval()


def test_mask_by_hand():
    """One env, 5 steps, episodes [0, 1, 2] and [3, 4]; context 2. Step 2 sees 1 and 2 (not 0:
    beyond the context); step 3 starts an episode and sees only itself; step 4 sees 3 and 4.
    Step 1 is invalid as a key: step 2 does not see it, though it sees itself."""
    episode = torch.tensor([[0], [0], [0], [1], [1]])
    valid = torch.tensor([[True], [False], [True], [True], [True]])
    allowed = attention_mask(episode, valid, context=2)[0].int()
    assert allowed.tolist() == [
        [1, 0, 0, 0, 0],
        [1, 1, 0, 0, 0],  # an invalid query sees its own slot and what it may
        [0, 0, 1, 0, 0],
        [0, 0, 0, 1, 0],
        [0, 0, 0, 1, 1],
    ]


def test_sinusoidal_encoding_by_hand():
    pe = sinusoidal_encoding(torch.tensor([0.0, 1.0]), 4)
    # width 4: frequencies 1 and 1 / 100: (sin p, cos p, sin p / 100, cos p / 100)
    torch.testing.assert_close(pe[0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    p = torch.tensor(1.0)
    torch.testing.assert_close(pe[1], torch.stack([p.sin(), p.cos(), (p / 100).sin(),
                                                   (p / 100).cos()]))


# 7 steps, 2 envs: env 0 starts episodes at t = 0 and 4; env 1 only at t = 0.
STARTS = torch.zeros(7, 2)
STARTS[0] = 1
STARTS[4, 0] = 1


def _features(torso, obs):
    with torch.no_grad():
        return torso.unroll(obs, torso.initial_state(2), STARTS)[0]


def test_a_step_never_sees_the_future():
    torso, obs = _torso(), torch.randn(7, 2, 3)
    changed = obs.clone()
    changed[5:] += 4.0
    before, after = _features(torso, obs), _features(torso, changed)
    torch.testing.assert_close(after[:5], before[:5])
    assert not torch.allclose(after[5:], before[5:])


def test_a_step_never_sees_across_an_episode_start():
    """Env 0's steps 4-6 are a new episode: what it saw at 0-3 does not reach them."""
    torso, obs = _torso(), torch.randn(7, 2, 3)
    changed = obs.clone()
    changed[:4, 0] += 4.0
    before, after = _features(torso, obs), _features(torso, changed)
    torch.testing.assert_close(after[4:, 0], before[4:, 0])
    assert not torch.allclose(after[3, 0], before[3, 0])
    torch.testing.assert_close(after[:, 1], before[:, 1])  # env 1 is untouched


def test_a_step_sees_exactly_the_last_context_steps():
    """Context 3 with two blocks: step t sees t - 2 .. t in each block, so through the lower
    block step 6 of env 1 depends on steps 2..6, and not on 0 or 1."""
    torso, obs = _torso(), torch.randn(7, 2, 3)
    base = _features(torso, obs)[6, 1]
    for t, reaches in [(0, False), (1, False), (2, True), (4, True)]:
        changed = obs.clone()
        changed[t, 1] += 4.0
        assert (not torch.allclose(_features(torso, changed)[6, 1], base)) == reaches, t


def test_the_state_carries_across_calls():
    """Acting step by step (the state carries the last (context - 1) x blocks = 4 tokens and
    the position) gives the features of one call over the whole sequence."""
    torso, obs = _torso(), torch.randn(7, 2, 3)
    whole = _features(torso, obs)
    state, pieces = torso.initial_state(2), []
    with torch.no_grad():
        for t in range(7):
            out, state = torso.unroll(obs[t : t + 1], state, STARTS[t : t + 1])
            pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces), whole)
    assert state[2].tolist() == [[3.0, 7.0]]  # the next step's index within its episode


def test_gradients_reach_every_parameter():
    torso = _torso().train()
    features, _ = torso.unroll(torch.randn(7, 2, 3), torso.initial_state(2), STARTS)
    features.sum().backward()
    for name, p in torso.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_width_must_split_into_heads():
    with pytest.raises(ConfigError, match=r"hidden_size' \(6\) must be a multiple of 'n_heads'"):
        from_dict(ApproximatorConfig, {"type": "attention", "hidden_size": 6, "n_heads": 4})
