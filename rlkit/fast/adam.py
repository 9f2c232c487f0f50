"""Adam with gradient clipping as one compiled loop over the flat parameters (numba).

torch's fused CPU Adam is one kernel too, but clipping first costs a norm, a scalar and a
multiply over the whole gradient, and each launch pays dispatch. Here the clipping scale goes
into the loop: one pass over memory for the whole step. It agrees with
``torch.optim.Adam(fused=True)`` at float32 tolerance (tests/fast/test_adam.py); the last bit
differs where torch's vector loop fuses a multiply-add, which depends on the CPU.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numba
import numpy as np
import torch


@numba.njit(cache=True, error_model="numpy")
def adam_kernel(
    param: np.ndarray, grad: np.ndarray, exp_avg: np.ndarray, exp_avg_sq: np.ndarray,
    grad_scale: float, beta1: float, beta2: float, step_size: float,
    bias_correction2_sqrt: float, eps: float,
) -> None:
    """One Adam step (Kingma & Ba 2015) in place, on the gradient scaled by s (clipping):

        g = s * grad,  m <- m + (1 - beta1) (g - m),  v <- beta2 v + (1 - beta2) g^2,
        param <- param - step_size * m / (sqrt(v) / bias_correction2_sqrt + eps),

    with step_size = lr / (1 - beta1^t) and bias_correction2_sqrt = sqrt(1 - beta2^t), in
    float32 arithmetic (the same formula as torch's Adam).
    """
    f32 = np.float32
    scale, one_minus_beta1 = f32(grad_scale), f32(1.0 - beta1)
    beta2_f, one_minus_beta2 = f32(beta2), f32(1.0 - beta2)
    neg_step, bc2_sqrt, eps_f = f32(-step_size), f32(bias_correction2_sqrt), f32(eps)
    for i in range(param.size):
        g = grad[i] * scale
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])
        v = exp_avg_sq[i] * beta2_f + one_minus_beta2 * g * g
        exp_avg[i] = m
        exp_avg_sq[i] = v
        param[i] = param[i] + neg_step * m / (math.sqrt(v) / bc2_sqrt + eps_f)


def compiled_adam_step(
    optimizer: torch.optim.Optimizer, flat: torch.nn.Parameter
) -> Callable[[float], None] | None:
    """``step(scale)``: Adam with gradient scale ``scale`` through :func:`adam_kernel`, on
    ``optimizer``'s own state tensors (so checkpoints stay torch's); None where the kernel
    does not apply (not Adam, AMSGrad, weight decay, maximize, not float32 on the CPU).
    """
    group = optimizer.param_groups[0]
    applies = (
        type(optimizer) is torch.optim.Adam
        and flat.device.type == "cpu" and flat.dtype == torch.float32
        and not group["amsgrad"] and group["weight_decay"] == 0 and not group["maximize"]
    )
    state = optimizer.state.get(flat)
    if not applies or not state:
        return None
    arrays = (flat.detach().numpy(), flat.grad.numpy(), state["exp_avg"].numpy(),
              state["exp_avg_sq"].numpy())
    step_count = state["step"].numpy()  # a view: the state tensor counts along

    def step(scale: float) -> None:
        beta1, beta2 = group["betas"]
        step_count[...] += 1
        t = float(step_count)
        adam_kernel(*arrays, scale, beta1, beta2, group["lr"] / (1.0 - beta1**t),
                    math.sqrt(1.0 - beta2**t), group["eps"])

    return step
