"""The heap fast path: training fixes glibc's malloc thresholds, so that the memory of freed
tensors is reused instead of faulted in anew; the switch turns it off."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap

import pytest

import rlkit
from rlkit import fast
from rlkit.fast import heap

GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_freed_tensor_memory_is_reused_instead_of_faulted_in_again():
    """Two patterns, each repeated: six 4 MB tensors made and freed (needs the mmap threshold)
    and a small CNN's forward and backward at batch 256 (needs the trim threshold). glibc's
    own thresholds move with what the process has freed so far (after some histories they
    keep these blocks, after others they fault every page in again), so the test starts from
    glibc's initial values made static (128 kB each): both patterns fault their pages in every
    round; after ``keep_freed_memory``, none (under 1 %)."""
    script = textwrap.dedent("""
        import ctypes, resource
        import torch
        from torch import nn
        from rlkit.fast import heap

        torch.set_num_threads(1)
        net = nn.Sequential(nn.Conv2d(4, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 3), nn.ReLU(),
                            nn.Flatten(), nn.Linear(1152, 128))
        frames = torch.rand(256, 4, 10, 10)

        def blocks():
            tensors = [torch.ones(2**20) for _ in range(6)]
            del tensors

        def cnn():
            net(frames).sum().backward()

        def faults(pattern):
            pattern()
            start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(10):
                pattern()
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

        libc = ctypes.CDLL("libc.so.6")
        assert libc.mallopt(heap.M_MMAP_THRESHOLD, 128 * 1024)
        assert libc.mallopt(heap.M_TRIM_THRESHOLD, 128 * 1024)
        before = [faults(blocks), faults(cnn)]
        applied = heap.keep_freed_memory()
        print(applied, *before, faults(blocks), faults(cnn))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    applied, (blocks_before, cnn_before, blocks_after, cnn_after) = out[0], map(int, out[1:])
    assert applied == "True"
    assert blocks_before > 10 * 6 * 1024 // 2  # at least half the pages of every round
    assert cnn_before > 10 * 50
    assert blocks_after <= 2 * 1024  # two blocks faulted in once at most
    assert cnn_after < cnn_before / 100


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_applied_once_per_process():
    assert heap.keep_freed_memory() is True
    assert heap.keep_freed_memory() is True


def test_nothing_happens_without_glibc(monkeypatch):
    monkeypatch.setattr(heap, "_applied", None)
    monkeypatch.setattr(heap.platform, "libc_ver", lambda: ("", ""))
    assert heap.keep_freed_memory() is False
    monkeypatch.setattr(heap, "_applied", None)  # the real answer for the tests after this


@pytest.mark.parametrize(("fast_paths", "variable", "applied"), [
    (True, None, True), (False, None, False), (True, "-heap", False), (True, "heap", True)])
def test_train_applies_it_as_the_switch_says(monkeypatch, tmp_path, fast_paths, variable,
                                             applied):
    if variable is None:
        monkeypatch.delenv(fast.ENV_VAR, raising=False)
    else:
        monkeypatch.setenv(fast.ENV_VAR, variable)
    calls = []
    monkeypatch.setattr(heap, "keep_freed_memory", lambda: calls.append(1) or True)
    agent = rlkit.make("ppo", "CartPole-v1", seed=0, fast_paths=fast_paths, n_envs=2,
                       n_steps=8, batch_size=16, n_epochs=1, eval_freq=0, checkpoint_freq=0)
    assert agent.keep_heap is applied
    agent.learn(16)
    assert calls == ([1] if applied else [])
