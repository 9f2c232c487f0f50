"""The plain_conv fast path: a CNN acting on a few small frames skips oneDNN, everything else
(training passes, large batches, the path switched off, SB3's copy of the torso) keeps it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlkit
from rlkit import fast
from rlkit.approximators import build_torso
from rlkit.config import ApproximatorConfig
from rlkit.fast.plain_conv import MAX_POSITIONS, plain_convolution, worth_it

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY

MINATAR = gym.spaces.Box(0, 1, (10, 10, 4), bool)  # small stack: 8x8 after conv 1


def _watch(module: torch.nn.Module) -> list[bool]:
    """oneDNN's flag as each convolution of ``module`` saw it."""
    seen: list[bool] = []
    for conv in module.modules():
        if isinstance(conv, torch.nn.Conv2d):
            conv.register_forward_pre_hook(lambda *_: seen.append(torch.backends.mkldnn.enabled))
    return seen


def _torso(fast_paths: bool = True):
    with fast.switch(fast_paths):
        return build_torso(MINATAR, ApproximatorConfig(type="cnn"))


def _frames(n: int) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(0).random((n, 10, 10, 4)) > 0.5)


def test_threshold_counts_frames_times_first_layer_positions():
    with torch.no_grad():
        assert worth_it(10, 64)  # 10 MinAtar frames: 640 positions
        assert not worth_it(11, 64)
        assert worth_it(1, 400)  # one Atari frame stack, Nature stack
        assert not worth_it(2, 400)
    assert not worth_it(1, 1)  # with gradients: never
    assert MAX_POSITIONS == 640


@pytest.mark.parametrize(("frames", "grad", "plain"), [
    (8, False, True), (10, False, True), (11, False, False), (256, False, False),
    (8, True, False)])
def test_only_gradient_free_passes_over_few_frames_skip_onednn(frames, grad, plain):
    torso = _torso()
    seen = _watch(torso)
    before = torch.backends.mkldnn.enabled
    with torch.set_grad_enabled(grad):
        torso(_frames(frames))
    assert seen == [before and not plain] * 2  # both convolutions
    assert torch.backends.mkldnn.enabled == before  # restored


@pytest.mark.parametrize("switched_off", ["config", "environment"])
def test_switched_off_the_torso_keeps_onednn(monkeypatch, switched_off):
    if switched_off == "environment":
        monkeypatch.setenv(fast.ENV_VAR, "-plain_conv")
    torso = _torso(fast_paths=switched_off != "config")
    assert not torso.plain_conv
    seen = _watch(torso)
    with torch.inference_mode():
        torso(_frames(8))
    assert seen == [torch.backends.mkldnn.enabled] * 2


def test_flag_is_restored_when_the_pass_fails():
    before = torch.backends.mkldnn.enabled
    with pytest.raises(RuntimeError, match="inside"), plain_convolution():
        assert not torch.backends.mkldnn.enabled
        raise RuntimeError("inside")
    assert torch.backends.mkldnn.enabled == before


@pytest.mark.parametrize("frames", [1, 8, 10])
def test_same_features_as_onednn_at_float32_tolerance(frames):
    torso, reference = _torso(), _torso(fast_paths=False)
    reference.load_state_dict(torso.state_dict())
    x = _frames(frames)
    with torch.inference_mode():
        torch.testing.assert_close(torso(x), reference(x), rtol=1e-5, atol=1e-5)


def test_sb3_extractor_runs_torchs_own_kernels():
    from rlkit.experiments.sb3 import TorsoExtractor

    extractor = TorsoExtractor(MINATAR, ApproximatorConfig(type="cnn"))
    assert not extractor.torso.plain_conv


def test_ppo_acts_on_the_plain_kernel_and_updates_on_onednn():
    """The agent's own collect and update: acting (8 envs, PixelGrid's 5x5 first layer) takes
    the plain kernel; V of the whole rollout (one 72-frame pass) and every training pass keep
    oneDNN."""
    agent = rlkit.make("ppo", "rlkit/PixelGrid-v0", seed=0, n_steps=8, batch_size=64,
                       n_epochs=1, eval_freq=0, checkpoint_freq=0)
    agent.runner = agent.make_runner()
    frames: list[int] = []
    for conv in agent.policy.modules():
        if isinstance(conv, torch.nn.Conv2d):
            conv.register_forward_pre_hook(lambda _, args: frames.append(len(args[0])))
    seen = _watch(agent.policy)
    agent.collect()
    acting = len(seen)
    assert [(n, used) for n, used in zip(frames, seen, strict=True)] == (
        [(8, False)] * 16 + [(72, True)] * 2)
    agent.update()
    assert len(seen) > acting and all(seen[acting:])
