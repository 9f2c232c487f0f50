"""The compiled Adam step agrees with torch's fused Adam at float32 tolerance."""

import numpy as np
import pytest
import torch

from rlkit import fast
from rlkit.fast.adam import adam_kernel
from rlkit.optim import FlatOptimizer, clip_coefficient

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY


def test_compiled_adam_agrees_with_torchs_fused_adam():
    """Scaled (clipped) gradients, 40 steps, an odd size; any CPU and kernel set."""
    torch.manual_seed(0)
    n, lr, betas, eps = 1003, 3e-3, (0.9, 0.999), 1e-8
    ref = torch.nn.Parameter(torch.randn(n))
    ref_opt = torch.optim.Adam([ref], lr=lr, betas=betas, eps=eps, fused=True)
    param = ref.detach().numpy().copy()
    exp_avg, exp_avg_sq = np.zeros(n, np.float32), np.zeros(n, np.float32)
    for t in range(1, 41):
        grad = torch.randn(n) * torch.rand(n) * 3
        scale = clip_coefficient(float(torch.linalg.vector_norm(grad)), 20.0)
        ref.grad = grad * scale
        ref_opt.step()
        adam_kernel(param, grad.numpy(), exp_avg, exp_avg_sq, scale, *betas,
                    lr / (1 - betas[0] ** t), (1 - betas[1] ** t) ** 0.5, eps)
    state = ref_opt.state[ref]
    np.testing.assert_allclose(exp_avg, state["exp_avg"].numpy(), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(exp_avg_sq, state["exp_avg_sq"].numpy(), rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(param, ref.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(param, ref.detach().numpy() + lr)  # one lr step apart is caught


def test_adam_kernel_by_hand():
    """One step from zero state: m = (1 - b1) g, v = (1 - b2) g^2, so with both bias
    corrections the step is lr * g / (|g| + eps) = lr * sign(g) (eps = 0)."""
    param = np.array([1.0, -2.0, 0.5], np.float32)
    grad = np.array([0.5, -4.0, 2.0], np.float32)
    m, v = np.zeros(3, np.float32), np.zeros(3, np.float32)
    adam_kernel(param, grad, m, v, 0.5, 0.9, 0.999, 0.1 / (1 - 0.9), (1 - 0.999) ** 0.5, 0.0)
    np.testing.assert_allclose(m, 0.1 * 0.5 * grad, rtol=1e-6)  # scaled gradient 0.5 g
    np.testing.assert_allclose(v, 0.001 * (0.5 * grad) ** 2, rtol=1e-5)
    np.testing.assert_allclose(param, [0.9, -1.9, 0.4], rtol=1e-5)


@pytest.mark.parametrize("allowed", [True, False])
def test_flat_adam_takes_the_compiled_step_only_where_the_switch_allows(allowed):
    torch.manual_seed(0)
    net = torch.nn.Linear(5, 3)
    with fast.switch(allowed):
        flat = FlatOptimizer(net, torch.optim.Adam, lr=1e-2)
    for _ in range(3):
        flat.zero_grad()
        net(torch.randn(8, 5)).pow(2).sum().backward()
        norm = flat.step(max_grad_norm=0.1)
        assert norm is not None and norm > 0.1  # clipped
    compiled = flat._functional_step.__qualname__.startswith("compiled_adam_step")
    assert compiled == allowed
    assert flat.state_dict()["state"][0]["step"].item() == 3


def test_adam_variants_the_kernel_does_not_cover_keep_torchs_step():
    net = torch.nn.Linear(5, 3)
    flat = FlatOptimizer(net, torch.optim.Adam, lr=1e-2, amsgrad=True)
    flat.zero_grad()
    net(torch.randn(8, 5)).sum().backward()
    flat.step()
    assert not flat._functional_step.__qualname__.startswith("compiled_adam_step")
