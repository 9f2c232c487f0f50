"""Q(s, .) of a small MLP Q network as numpy code, for acting one step at a time.

With one env, DQN needs a one-row forward pass per env step. torch's per-operation dispatch
makes that about 50 microseconds for a 4-256-256-2 MLP, against about 14 in numpy. The numpy
function reads the layers' weights through views of their memory (no copies), so it computes
with the current parameters as long as they are updated in place (the optimizers do that);
build it again if parameters are moved or replaced. It agrees with the torch forward pass at
float32 tolerance: numpy's BLAS sums in another order than torch, so where two actions' values
lie within rounding of each other the two may pick different actions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
from torch import nn

NumpyFunction = Callable[[np.ndarray], np.ndarray]

# In-place numpy versions of the activations
NUMPY_ACTIVATIONS: dict[type[nn.Module], NumpyFunction] = {
    nn.ReLU: lambda x: np.maximum(x, 0.0, out=x),
    nn.Tanh: lambda x: np.tanh(x, out=x),
}


def numpy_linear_stack(layers: Iterable[nn.Module]) -> NumpyFunction | None:
    """``layers`` (Linear layers and ReLU/Tanh) as one numpy function of float32 rows; None
    when a layer has no numpy counterpart here or the parameters are not float32 on the CPU."""
    steps: list[NumpyFunction] = []
    for layer in layers:
        if isinstance(layer, nn.Linear) and layer.bias is not None:
            weight, bias = layer.weight.detach(), layer.bias.detach()
            if weight.device.type != "cpu" or weight.dtype != torch.float32:
                return None
            steps.append(_numpy_linear(weight.numpy().T, bias.numpy()))
        elif type(layer) in NUMPY_ACTIVATIONS:
            steps.append(NUMPY_ACTIVATIONS[type(layer)])
        else:
            return None

    def forward(x: np.ndarray) -> np.ndarray:
        for step in steps:
            x = step(x)
        return x

    return forward


def _numpy_linear(weight_t: np.ndarray, bias: np.ndarray) -> NumpyFunction:
    """x -> x W^T + b on views of a Linear layer's parameters."""

    def linear(x: np.ndarray) -> np.ndarray:
        out = x @ weight_t
        out += bias
        return out

    return linear


def numpy_q_function(
    hidden: Iterable[nn.Module],
    q: nn.Module | None = None,
    value: nn.Module | None = None,
    advantage: nn.Module | None = None,
) -> NumpyFunction | None:
    """Q(s, .) as a numpy function of preprocessed observation rows: the ``hidden`` layers
    (Linear and ReLU/Tanh, on flattened rows), then a linear head ``q`` or a dueling head
    Q = V + A - mean_a A from ``value`` and ``advantage``. None where a layer has no numpy
    counterpart (``QNetwork.numpy_q_function`` says which networks it gives here)."""
    features_of = numpy_linear_stack(hidden)
    if features_of is None:
        return None

    def features(obs: np.ndarray) -> np.ndarray:
        x = obs.reshape(len(obs), -1)
        return features_of(x if x.dtype == np.float32 else x.astype(np.float32))

    if q is not None:
        linear_q = numpy_linear_stack([q])
        return None if linear_q is None else lambda obs: linear_q(features(obs))
    value_of, advantage_of = numpy_linear_stack([value]), numpy_linear_stack([advantage])
    if value_of is None or advantage_of is None:
        return None

    def dueling(obs: np.ndarray) -> np.ndarray:
        phi = features(obs)
        advantages = advantage_of(phi)
        return value_of(phi) + advantages - advantages.mean(-1, keepdims=True)

    return dueling
