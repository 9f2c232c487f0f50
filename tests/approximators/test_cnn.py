"""The CNN torso: the layers it computes, the channel order it reads, its default stacks, and
batch norm's modes while an agent acts, evaluates and updates."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
import torch.nn.functional as F

import rlkit
from rlkit.approximators import CNN, build_torso
from rlkit.approximators.cnn import image_layout
from rlkit.config import ApproximatorConfig
from rlkit.errors import ConfigError
from rlkit.training.evaluation import evaluate


def _convs(torso):
    return [m for m in torso.modules() if isinstance(m, torch.nn.Conv2d)]


@pytest.mark.parametrize(
    ("shape", "layout"),
    [((4, 84, 84), (4, 84, 84, True)), ((10, 10, 4), (4, 10, 10, False)),
     ((210, 160, 3), (3, 210, 160, False)), ((10, 10, 10), (10, 10, 10, False)),
     ((84, 84), (1, 84, 84, True))],
)
def test_channel_order_is_guessed_from_the_shape(shape, layout):
    assert image_layout(gym.spaces.Box(0, 255, shape, np.uint8)) == layout


def test_channels_first_key_overrides_the_guess():
    space = gym.spaces.Box(0, 1, (10, 10, 10), bool)
    assert image_layout(space, channels_first=True)[3] is True
    x = torch.rand(2, 10, 10, 10) > 0.5
    guessed = build_torso(space, ApproximatorConfig(type="cnn", conv_layers=[[3, 3, 1]]))
    told = build_torso(space, ApproximatorConfig(type="cnn", conv_layers=[[3, 3, 1]],
                                                 channels_first=True))
    told.load_state_dict(guessed.state_dict())
    with torch.no_grad():  # HWC permutes the frame first; CHW reads it as it is
        assert not torch.allclose(guessed(x), told(x))
        conv, dense = _convs(told)[0], told.dense[0]
        expected = torch.tanh(dense(torch.tanh(conv(x.float())).flatten(1)))
        torch.testing.assert_close(told(x), expected)


@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
def test_cnn_computes_the_configured_layers(norm):
    """h = f(N(conv(x / 255))) per layer ([channels, kernel, stride] each), then
    f(W flatten(h) + b) of width conv_dense; uint8 HWC frames are permuted to CHW and scaled."""
    space = gym.spaces.Box(0, 255, (9, 9, 2), np.uint8)
    config = ApproximatorConfig(type="cnn", conv_layers=[[4, 3, 1], [5, 2, 2]], conv_dense=7,
                                activation="relu", norm=norm)
    torso = build_torso(space, config)
    frames = torch.randint(0, 256, (3, 9, 9, 2), dtype=torch.uint8)
    x = frames.permute(0, 3, 1, 2).float() / 255.0
    for conv, (channels, kernel, stride) in zip(_convs(torso), config.conv_layers, strict=True):
        assert (conv.out_channels, conv.kernel_size, conv.stride) == (
            channels, (kernel, kernel), (stride, stride))
        z = F.conv2d(x, conv.weight, conv.bias, stride)
        if norm == "layer":  # over (C, H, W) of each frame
            z = (z - z.mean((1, 2, 3), keepdim=True)) / torch.sqrt(
                z.var((1, 2, 3), unbiased=False, keepdim=True) + 1e-5)
        elif norm == "batch":  # over (N, H, W) of each channel, train mode
            z = (z - z.mean((0, 2, 3), keepdim=True)) / torch.sqrt(
                z.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5)
        x = torch.relu(z)
    dense = torso.dense[0]
    expected = torch.relu(x.flatten(1) @ dense.weight.T + dense.bias)
    assert torso.out_dim == 7 == dense.out_features
    with torch.no_grad():
        torch.testing.assert_close(torso(frames), expected)


def test_default_stacks_nature_for_atari_frames_small_for_grids():
    atari = build_torso(gym.spaces.Box(0, 255, (4, 84, 84), np.uint8),
                        ApproximatorConfig(type="cnn", activation="relu"))
    assert [(c.out_channels, c.kernel_size[0], c.stride[0]) for c in _convs(atari)] == [
        (32, 8, 4), (64, 4, 2), (64, 3, 1)]
    assert atari.dense[0].in_features == 64 * 7 * 7 and atari.out_dim == 512
    grid = build_torso(gym.spaces.Box(0, 1, (10, 10, 4), bool), ApproximatorConfig(type="cnn"))
    assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in _convs(grid))
    assert grid.out_dim == 128
    assert grid(torch.zeros(2, 10, 10, 4, dtype=torch.bool)).shape == (2, 128)


def test_bool_and_float_frames_are_not_scaled():
    space = gym.spaces.Box(0.0, 1.0, (1, 6, 6), np.float32)
    torso = CNN(space, ApproximatorConfig(type="cnn", conv_layers=[[2, 3, 1]], conv_dense=3))
    x = torch.rand(2, 1, 6, 6)
    with torch.no_grad():
        conv = _convs(torso)[0]
        expected = torch.tanh(torso.dense[0](torch.tanh(conv(x)).flatten(1)))
        torch.testing.assert_close(torso(x), expected)


@pytest.mark.parametrize(
    ("space", "config", "match"),
    [(gym.spaces.Box(-1, 1, (4,)), {}, "needs an image observation space"),
     (gym.spaces.Discrete(3), {}, "needs an image observation space"),
     (gym.spaces.Box(0, 255, (5, 5, 1), np.uint8), {"conv_layers": [[8, 8, 4]]}, "leave nothing"),
     (gym.spaces.Box(0, 255, (9, 9, 1), np.uint8), {"conv_layers": [[8, 3]]}, "triples")],
)
def test_bad_cnn_settings_are_one_config_error(space, config, match):
    with pytest.raises(ConfigError, match=match):
        ApproximatorConfig(type="cnn", **config).validate()
        build_torso(space, ApproximatorConfig(type="cnn", **config))


def test_a_cnn_encoder_feeds_a_recurrent_cell():
    space = gym.spaces.Box(0, 255, (10, 10, 3), np.uint8)
    config = ApproximatorConfig(type="lstm", hidden_size=8,
                                encoder=ApproximatorConfig(type="cnn", conv_dense=16))
    torso = build_torso(space, config)
    assert isinstance(torso.encoder, CNN) and torso.core.input_size == 16
    frames = torch.randint(0, 256, (5, 2, 10, 10, 3), dtype=torch.uint8)
    features, _ = torso.unroll(frames, torso.initial_state(2), torch.zeros(5, 2))
    assert features.shape == (5, 2, 8)


# --- batch norm's modes inside an agent -----------------------------------------------------
def _running_stats(network: torch.nn.Module) -> list[torch.Tensor]:
    return [b.clone() for name, b in network.named_buffers() if "running" in name]


BATCH_NORM = {"approximator": {"hidden_sizes": [16], "norm": "batch"}}
AGENTS = {
    "ppo": dict(n_envs=2, n_steps=16, batch_size=16, n_epochs=1),
    "a2c": dict(n_envs=2, n_steps=8),
    "reinforce": dict(n_envs=2, rollout_steps=32, batch_episodes=1),
    "dqn": dict(learning_starts=0, batch_size=16, train_freq=16, buffer_size=200),
}


@pytest.mark.parametrize("algo", sorted(AGENTS))
def test_acting_and_evaluating_leave_batch_norm_alone_updating_moves_it(algo):
    agent = rlkit.make(algo, "CartPole-v1", seed=0, **AGENTS[algo], **BATCH_NORM)
    network = agent.q_net if algo == "dqn" else agent.policy
    agent.runner = agent.make_runner()
    before = _running_stats(network)
    assert before
    agent.collect()
    evaluate(agent, 2)
    agent.predict(np.zeros((3, 4), np.float32))
    for got, want in zip(_running_stats(network), before, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    for _ in range(200):  # until the first gradient step (REINFORCE: a complete episode)
        agent.collect()
        if any(key.startswith("losses/") for key in agent.update()):
            break
    assert any(not torch.equal(got, want)
               for got, want in zip(_running_stats(network), before, strict=True))
    if algo == "dqn":  # the target network always reads its running statistics
        assert not agent.q_target.training


@pytest.mark.parametrize("shape", [(10, 10, 4), (4, 84, 84), (84, 84)])
def test_inputs_are_contiguous_nchw(shape):
    """Channels-last frames reach the convolutions as a contiguous (N, C, H, W) copy, not a
    permuted view: mixed layouts slowed the training pass (see CNN.inputs)."""
    space = gym.spaces.Box(0, 255, shape, np.uint8)
    torso = build_torso(space, ApproximatorConfig(type="cnn", conv_layers=[[2, 3, 1]]))
    x = torso.inputs(torch.randint(0, 256, (2, *shape), dtype=torch.uint8))
    assert x.dtype == torch.float32 and x.is_contiguous()
    assert x.shape == (2, *image_layout(space)[:3])
