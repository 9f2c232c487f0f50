"""Optimizers over one flat copy of a module's parameters.

Small RL networks spend more time in per-tensor bookkeeping (zeroing ten gradients, a norm per
tensor for clipping, a fused-Adam launch over ten tensors) than in arithmetic. Here every
parameter of the module becomes a view into one flat tensor and every gradient a view into
another, so zero_grad, gradient-norm clipping and the optimizer step are one kernel each. The
module itself is unchanged for everything else (forward, state_dict, load_state_dict).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn
from torch.optim.adam import adam
from torch.optim.rmsprop import rmsprop


def clip_coefficient(norm: float, max_norm: float) -> float:
    """min(1, max_norm / (||g|| + 1e-6)): the factor ``clip_grad_norm_`` scales gradients by."""
    return min(1.0, max_norm / (norm + 1e-6))


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
        self._functional_step: Callable[[float], None] | None = None  # takes the grad scale

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def set_lr(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def zero_grad(self) -> None:
        self.flat.grad.zero_()

    def step(self, max_grad_norm: float | None = None) -> torch.Tensor | None:
        """Scale the gradients so that ||g||_2 <= ``max_grad_norm`` (if given), then take one
        optimizer step on the flat parameters; returns ||g||_2 before clipping (or None).

        The scale is torch's ``clip_grad_norm_`` coefficient. The first step of a new optimizer
        goes through ``Optimizer.step``, which creates the state. Every later step (also the
        first one after ``load_state_dict``) calls torch.optim's functional ``adam``/``rmsprop``
        on that state with the group's current hyperparameters: the same kernels without
        ``Optimizer.step``'s per-call bookkeeping (hooks, profiler records, state lookups),
        which costs as much as the update itself for a network of ~10k weights.
        """
        norm, scale = None, 1.0
        if max_grad_norm is not None:
            norm = torch.linalg.vector_norm(self.flat.grad)
            scale = clip_coefficient(norm.item(), max_grad_norm)
        if self._functional_step is None:
            if scale != 1.0:
                self.flat.grad.mul_(scale)
            self.optimizer.step()
            self._functional_step = self._make_functional_step()
        else:
            self._functional_step(scale)
        return norm

    def _make_functional_step(self) -> Callable[[float], None]:
        opt, flat = self.optimizer, self.flat
        group, state = opt.param_groups[0], opt.state[flat]
        common = dict(foreach=group.get("foreach"), maximize=group.get("maximize", False),
                      differentiable=False, capturable=group.get("capturable", False))
        def scaled(step: Callable[[], None]) -> Callable[[float], None]:
            def scaled_step(scale: float) -> None:
                with torch.no_grad():
                    if scale != 1.0:
                        flat.grad.mul_(scale)
                    step()
            return scaled_step

        if isinstance(opt, torch.optim.Adam) and not group["amsgrad"]:
            def adam_step() -> None:
                beta1, beta2 = group["betas"]
                adam([flat], [flat.grad], [state["exp_avg"]], [state["exp_avg_sq"]], [],
                     [state["step"]], fused=group["fused"],
                     decoupled_weight_decay=group.get("decoupled_weight_decay", False),
                     amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"],
                     weight_decay=group["weight_decay"], eps=group["eps"], **common)
            return scaled(adam_step)
        if (isinstance(opt, torch.optim.RMSprop) and group["momentum"] == 0
                and not group["centered"]):
            def rmsprop_step() -> None:
                rmsprop([flat], [flat.grad], [state["square_avg"]], [], [], [state["step"]],
                        lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
                        weight_decay=group["weight_decay"], momentum=0.0, centered=False,
                        **common)
            return scaled(rmsprop_step)
        return scaled(opt.step)  # anything else: the optimizer's own step

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state)
        # The state tensors were replaced. A resumed run must step exactly as the uninterrupted
        # one: its next step takes the functional path too, not Optimizer.step, whose kernel
        # may round differently.
        self._functional_step = self._make_functional_step() if self.optimizer.state else None
