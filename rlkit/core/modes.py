"""Train and eval mode: acting and evaluating run in eval mode, updates in train mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import nn


@contextmanager
def eval_mode(*modules: Any) -> Iterator[None]:
    """Eval mode inside (batch norm reads its running statistics and leaves them alone,
    dropout is off), each module's own mode restored after. Acting and evaluating run in it;
    updates run in train mode, PyTorch's default, as in SB3's ``set_training_mode``."""
    # Only modules in train mode are switched (train() walks every submodule), so a nested
    # eval_mode, e.g. predict() inside an evaluation loop, costs next to nothing per step.
    # (Objects that are no nn.Module, a test's stub policy, are left alone.)
    training = [m for m in modules if isinstance(m, nn.Module) and m.training]
    for module in training:
        module.train(False)
    try:
        yield
    finally:
        for module in training:
            module.train(True)
