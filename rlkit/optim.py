"""Optimizers over one flat copy of a module's parameters.

Small RL networks spend more time in per-tensor bookkeeping (zeroing ten gradients, a norm per
tensor for clipping, a fused-Adam launch over ten tensors) than in arithmetic. Here every
parameter of the module becomes a view into one flat tensor and every gradient a view into
another, so zero_grad, gradient-norm clipping and the optimizer step are one kernel each. The
module itself is unchanged for everything else (forward, state_dict, load_state_dict).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import nn


class FlatOptimizer:
    """``optimizer_cls`` (Adam, RMSprop, ...) on the flattened parameters of ``module``.

    ``module`` may also be an iterable of parameters (e.g. the actor's part of a network).

    Build it after the module is on its device. Gradients stay allocated (zeroed in place,
    never set to None) so that backward accumulates into the flat buffer.
    """

    def __init__(self, module: nn.Module | Iterable[nn.Parameter],
                 optimizer_cls: type[torch.optim.Optimizer], **kwargs: Any) -> None:
        if isinstance(module, nn.Module):
            module = module.parameters()
        params = [p for p in module if p.requires_grad]
        first = params[0]
        total = sum(p.numel() for p in params)
        data = torch.empty(total, dtype=first.dtype, device=first.device)
        grad = torch.zeros_like(data)
        offset = 0
        for p in params:
            n = p.numel()
            data[offset : offset + n].copy_(p.detach().flatten())
            p.data = data[offset : offset + n].view_as(p)
            p.grad = grad[offset : offset + n].view_as(p)
            offset += n
        self.flat = nn.Parameter(data)
        self.flat.grad = grad
        try:
            self.optimizer = optimizer_cls([self.flat], fused=True, **kwargs)
        except (RuntimeError, TypeError):  # no fused kernel for this optimizer/device
            self.optimizer = optimizer_cls([self.flat], **kwargs)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def zero_grad(self) -> None:
        self.flat.grad.zero_()

    def clip_grad_norm(self, max_norm: float) -> torch.Tensor:
        """Scale gradients so that ||g||_2 <= max_norm; returns the norm before clipping."""
        norm = torch.linalg.vector_norm(self.flat.grad)
        self.flat.grad.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))
        return norm

    def step(self) -> None:
        self.optimizer.step()

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)
