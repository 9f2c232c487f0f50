"""The TD loss of a plain MLP Q network and its gradient, written out instead of taped.

For a Q network of Linear layers with ReLU or Tanh between them (rlkit's MLP torso and the plain
Q head), :class:`QLossGradient` computes

    L = E_i[ w_i * l(Q(s_i, a_i) - y_i) ]   and   dL/dtheta

by calling the kernels autograd calls, on the same operands, in the same order: the forward
pass ``x <- act(x W^T + b)`` keeping each layer's input, then

    dL/dQ(s, a)  = l'(Q - y) * w / n          (the loss kernel's own backward)
    dL/dW = g^T x,  dL/db = sum_rows g,  g <- (g W) * act'(x W^T + b)   (layer by layer, down)

The gradients are therefore bit-identical to ``loss.backward()`` in the same process (both run
the same torch kernels; tests/fast/test_td_gradient.py checks it under every CPU capability)
and are written straight into the parameters' ``.grad`` tensors (no accumulation). What it
saves is autograd's bookkeeping: recording the graph and running the engine over ~18 nodes
costs about 150 microseconds per DQN gradient step on a 4-256-256-2 network, a fifth of the
step, against ~300 microseconds of matrix products. Anything else (other
layers, a dueling head) is left to autograd: :meth:`QLossGradient.of` returns None.
``QNetwork.loss_gradient`` picks between the two.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]
"""``(Q(s, a), y, w) -> L``"""
_MEAN, _NONE = 1, 0  # torch's reduction codes for the loss kernels' backward


class QLossGradient:
    """Loss, Q(s, a) and gradients of one minibatch for a Linear/ReLU/Tanh Q network."""

    ACTIVATIONS = (nn.ReLU, nn.Tanh)

    def __init__(self, layers: list[nn.Module], loss: str, loss_fn: LossFn) -> None:
        self.layers = layers
        self.loss = loss
        self.loss_fn = loss_fn

    @classmethod
    def of(cls, layers: list[nn.Module], loss: str, loss_fn: LossFn) -> QLossGradient | None:
        """For a Q network that is these ``layers`` in a row, on flattened observations (an
        MLP torso with no one-hot, norm or dropout, then a plain head:
        ``QNetwork.plain_layers``); None if any layer is other than Linear, ReLU or Tanh.
        ``loss`` is "huber" or "mse" and ``loss_fn(q, targets, weights)`` computes L with it
        (the agent's own loss function). The parameters' ``.grad`` tensors must exist
        (``FlatOptimizer`` keeps them)."""
        for layer in layers:
            linear = isinstance(layer, nn.Linear) and layer.bias is not None
            if not (linear or type(layer) in cls.ACTIVATIONS):
                return None
        return cls(layers, loss, loss_fn)

    def __call__(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        targets: torch.Tensor,
        weights: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write dL/dtheta into every parameter's ``.grad``; returns L and Q(s, a)."""
        with torch.no_grad():
            x = obs.flatten(1) if obs.dim() != 2 else obs
            x = x if x.dtype == torch.float32 else x.float()
            saved = []  # the input of each Linear, the output of each activation
            for layer in self.layers:
                if isinstance(layer, nn.Linear):
                    saved.append(x)
                    x = torch.addmm(layer.bias, x, layer.weight.t())
                else:
                    x = torch.relu(x) if isinstance(layer, nn.ReLU) else torch.tanh(x)
                    saved.append(x)
            index = actions.unsqueeze(1)
            q = x.gather(1, index).squeeze(1)
            grad_q = self._loss_backward(q, targets, weights)
            loss = self.loss_fn(q, targets, weights)
            grad = torch.zeros_like(x).scatter_add_(1, index, grad_q.unsqueeze(1))
            for i in range(len(self.layers) - 1, -1, -1):
                layer, kept = self.layers[i], saved[i]
                if isinstance(layer, nn.Linear):
                    torch.mm(grad.t(), kept, out=layer.weight.grad)
                    torch.sum(grad, 0, out=layer.bias.grad)
                    if i > 0:
                        grad = grad.mm(layer.weight)
                elif isinstance(layer, nn.ReLU):
                    grad = torch.ops.aten.threshold_backward(grad, kept, 0)
                else:
                    grad = torch.ops.aten.tanh_backward(grad, kept)
        return loss, q

    def _loss_backward(self, q: torch.Tensor, targets: torch.Tensor,
                       weights: torch.Tensor | None) -> torch.Tensor:
        """dL/dQ(s, a), as autograd's loss, mul and mean nodes compute it."""
        one = torch.ones((), dtype=q.dtype, device=q.device)  # dL/dL
        if weights is None:
            grad, reduction = one, _MEAN
        else:
            grad = one.expand(q.shape) / q.numel() * weights  # mean, then w *
            reduction = _NONE
        if self.loss == "huber":
            return torch.ops.aten.smooth_l1_loss_backward(grad, q, targets, reduction, 1.0)
        return torch.ops.aten.mse_loss_backward(grad, q, targets, reduction)
