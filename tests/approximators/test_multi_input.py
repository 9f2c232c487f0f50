"""The multi-input encoder: each entry of a packed observation encoded by its kind, worked by
hand, and every torso on top of it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlkit.approximators import CNN, MLP, build_torso
from rlkit.approximators.heads import QNetwork
from rlkit.approximators.multi_input import MultiInput, entry_tensor
from rlkit.config import ApproximatorConfig
from rlkit.core.aligned import to_tensor
from rlkit.core.observations import PackedObservations
from rlkit.errors import ConfigError

MIXED = gym.spaces.Dict({
    "a_id": gym.spaces.Discrete(3),
    "b_ids": gym.spaces.MultiDiscrete([2, 3], start=[1, 0]),
    "c_bits": gym.spaces.MultiBinary(2),
    "d_vec": gym.spaces.Box(-5, 5, (2,), np.float32),
})
IMAGE = gym.spaces.Dict({
    "cue": gym.spaces.Box(0, 1, (2,), np.float32),
    "image": gym.spaces.Box(0, 255, (6, 6, 3), np.uint8),
})


def rows(space: PackedObservations, obs) -> torch.Tensor:
    return to_tensor(space.pack(obs))


def test_each_entry_is_encoded_by_its_kind_and_concatenated_in_order():
    space = PackedObservations(MIXED)
    encoder = MultiInput(space, ApproximatorConfig())
    x = rows(space, {"a_id": np.array([2, 0]), "b_ids": np.array([[2, 1], [1, 0]]),
                     "c_bits": np.array([[1, 0], [0, 1]]),
                     "d_vec": np.array([[0.5, -1.5], [3, 4]], np.float32)})
    features = encoder(x)
    assert encoder.out_dim == 3 + (2 + 3) + 2 + 2
    torch.testing.assert_close(features, torch.tensor([
        # one-hot 3 | one-hot 2 (2 - start 1 = 1), one-hot 3 (1) | bits | the vector as it is
        [0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0.5, -1.5],
        [1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 3.0, 4.0],
    ]))


def test_an_image_entry_goes_through_a_cnn_scaled_and_the_vector_beside_it():
    space = PackedObservations(IMAGE)
    torch.manual_seed(0)
    encoder = MultiInput(space, ApproximatorConfig())
    assert len(encoder.cnns) == 1 and isinstance(encoder.cnns["1"], CNN)
    image = np.random.default_rng(0).integers(0, 256, (2, 6, 6, 3), dtype=np.uint8)
    cue = np.array([[1, 0], [0, 1]], np.float32)
    features = encoder(rows(space, {"cue": cue, "image": image}))
    cnn = encoder.cnns["1"]
    assert features.shape == (2, 2 + cnn.out_dim)
    torch.testing.assert_close(features[:, :2], torch.as_tensor(cue))
    torch.testing.assert_close(features[:, 2:], cnn(torch.as_tensor(image)))
    # the CNN reads the frames as CHW floats in [0, 1]
    torch.testing.assert_close(cnn.inputs(torch.as_tensor(image)),
                               torch.as_tensor(image).permute(0, 3, 1, 2).float() / 255)


def test_entries_read_back_from_rows_at_any_offset():
    space = PackedObservations(MIXED)
    batch = rows(space, {"a_id": np.arange(3), "b_ids": np.array([[1, 0], [2, 2], [1, 1]]),
                         "c_bits": np.zeros((3, 2), np.int8),
                         "d_vec": np.arange(6, dtype=np.float32).reshape(3, 2)})
    vec = space.entries[3]
    torch.testing.assert_close(entry_tensor(batch[1:], vec), torch.tensor([[2.0, 3], [4, 5]]))
    odd = torch.zeros(3 * space.shape[0] + 1, dtype=torch.uint8)[1:].view(3, -1)
    odd.copy_(batch)  # rows at an odd address: read through a copy
    torch.testing.assert_close(entry_tensor(odd, vec), entry_tensor(batch, vec))


@pytest.mark.parametrize("kind", ["mlp", "cnn", "linear", "lstm", "gru", "rnn", "attention",
                                  "autoencoder", "vae"])
def test_every_torso_reads_a_packed_observation(kind):
    space = PackedObservations(MIXED)
    torso = build_torso(space, ApproximatorConfig(type=kind, hidden_size=8, context=4))
    batch = rows(space, {
        "a_id": np.array([0, 1, 2, 1]), "b_ids": np.array([[1, 0], [2, 2], [1, 1], [2, 0]]),
        "c_bits": np.eye(2, dtype=np.int8)[[0, 1, 0, 1]],
        "d_vec": np.ones((4, 2), np.float32)})
    steps = batch.view(2, 2, -1)  # (T, B, nbytes)
    features, _ = torso.unroll(steps, torso.initial_state(2), torch.zeros(2, 2, dtype=torch.bool))
    assert features.shape == (2, 2, torso.out_dim) and torch.isfinite(features).all()


def test_a_cnn_torso_on_a_dict_puts_its_convolutions_on_the_frames_and_layers_on_top():
    config = ApproximatorConfig(type="cnn", conv_layers=[[4, 3, 1]], conv_dense=16,
                                hidden_sizes=[32])
    torso = build_torso(PackedObservations(IMAGE), config)
    assert isinstance(torso, MLP) and torso.out_dim == 32
    cnn = torso.multi_input.cnns["1"]
    assert cnn.out_dim == 16 and cnn.conv[0].out_channels == 4


def test_linear_features_refuse_frames_and_polynomials_of_entries():
    with pytest.raises(ConfigError, match="linear features cannot read frames"):
        build_torso(PackedObservations(IMAGE), ApproximatorConfig(type="linear"))
    with pytest.raises(ConfigError, match="'poly' features need a Box"):
        build_torso(PackedObservations(MIXED), ApproximatorConfig(type="linear",
                                                                  features="poly"))


def test_packed_inputs_keep_dqn_off_the_written_out_fast_paths():
    network = QNetwork(PackedObservations(MIXED), 2, ApproximatorConfig(), dueling=False)
    assert network.plain_layers() is None and network.numpy_q_function() is None


def test_an_autoencoder_refuses_frames_inside_a_dict():
    with pytest.raises(ConfigError, match="frames inside .* CNN; use an mlp"):
        build_torso(PackedObservations(IMAGE), ApproximatorConfig(type="vae"))
