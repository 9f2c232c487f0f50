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
    """Six 4 MB tensors made and freed 20 times: with glibc's own thresholds every round
    faults the pages in again (about 120k faults here); with the heap path, none."""
    script = textwrap.dedent("""
        import resource
        import torch
        from rlkit.fast.heap import keep_freed_memory

        def faults():
            start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            for _ in range(20):
                tensors = [torch.ones(2**20) for _ in range(6)]
                del tensors
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start

        faults()
        before = faults()
        applied = keep_freed_memory()
        faults()
        print(applied, before, faults())
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout.split()
    applied, before, after = out[0] == "True", int(out[1]), int(out[2])
    assert applied
    assert before > 20 * 6 * 1024 // 2  # at least half the pages of every round
    assert after < before / 20


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
