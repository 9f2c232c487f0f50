"""FlatOptimizer and the compiled Adam step: the same numbers as torch's optimizers."""

import numpy as np
import pytest
import torch

from rlkit.optim import FlatOptimizer, adam_kernel, clip_coefficient


@pytest.mark.parametrize(
    ("optimizer_cls", "kwargs"),
    [(torch.optim.Adam, dict(lr=0.01)), (torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
     (torch.optim.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-5)),
     (torch.optim.RMSprop, dict(lr=0.01, momentum=0.9)), (torch.optim.SGD, dict(lr=0.1))],
)
def test_flat_optimizer_matches_per_tensor_optimizer_and_clipping(optimizer_cls, kwargs):
    torch.manual_seed(0)
    make = lambda: torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(),  # noqa: E731
                                       torch.nn.Linear(8, 2))
    flat_net, ref_net = make(), make()
    ref_net.load_state_dict(flat_net.state_dict())
    flat = FlatOptimizer(flat_net, optimizer_cls, **kwargs)
    ref = optimizer_cls(ref_net.parameters(), **kwargs)
    x = torch.randn(16, 3)
    for i in range(6):
        lr = kwargs["lr"] * (1.0 - i / 10)  # a changing (annealed) learning rate
        flat.set_lr(lr)
        for group in ref.param_groups:
            group["lr"] = lr
        if i == 3:  # a checkpoint round trip in the middle
            flat.load_state_dict(flat.state_dict())
        flat.zero_grad()
        (flat_net(x) ** 2).sum().backward()
        norm = flat.step(max_grad_norm=0.5)
        ref.zero_grad()
        (ref_net(x) ** 2).sum().backward()
        ref_norm = torch.nn.utils.clip_grad_norm_(ref_net.parameters(), 0.5)
        ref.step()
        torch.testing.assert_close(norm, ref_norm)
        for a, b in zip(flat_net.parameters(), ref_net.parameters(), strict=True):
            torch.testing.assert_close(a, b)


def test_clip_coefficient_equals_torchs_clipping_coefficient():
    norms = np.concatenate([np.random.default_rng(0).uniform(0, 30, 2000), [0.0, 1e-7, 1e6]])
    for norm in norms.astype(np.float32):
        for max_norm in (0.5, 10.0):
            expected = torch.clamp(max_norm / (torch.tensor(norm) + 1e-6), max=1.0).item()
            assert clip_coefficient(float(norm), max_norm) == expected


def test_compiled_adam_is_bit_identical_to_torchs_fused_adam():
    """Scaled gradients, 40 steps; the size leaves a tail after the vectorized loop."""
    torch.manual_seed(0)
    n, lr, betas, eps = 1003, 3e-3, (0.9, 0.999), 1e-8
    ref = torch.nn.Parameter(torch.randn(n))
    ref_opt = torch.optim.Adam([ref], lr=lr, betas=betas, eps=eps, fused=True)
    param = ref.detach().numpy().copy()
    exp_avg, exp_avg_sq = np.zeros(n, np.float32), np.zeros(n, np.float32)
    width = 16 if torch.backends.cpu.get_cpu_capability().startswith("AVX512") else 8
    for t in range(1, 41):
        grad = torch.randn(n) * torch.rand(n) * 3
        scale = clip_coefficient(float(torch.linalg.vector_norm(grad)), 20.0)
        ref.grad = grad * scale
        ref_opt.step()
        adam_kernel(param, grad.numpy(), exp_avg, exp_avg_sq, scale, *betas,
                    lr / (1 - betas[0] ** t), (1 - betas[1] ** t) ** 0.5, eps, width)
    state = ref_opt.state[ref]
    if torch.backends.cpu.get_cpu_capability() in ("AVX2", "AVX512"):
        np.testing.assert_array_equal(param, ref.detach().numpy())
        np.testing.assert_array_equal(exp_avg, state["exp_avg"].numpy())
        np.testing.assert_array_equal(exp_avg_sq, state["exp_avg_sq"].numpy())
    else:  # other builds round their vector loop differently
        np.testing.assert_allclose(param, ref.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_flat_adam_takes_the_compiled_step_and_keeps_its_state_in_torchs_optimizer():
    torch.manual_seed(0)
    net = torch.nn.Linear(5, 3)
    flat = FlatOptimizer(net, torch.optim.Adam, lr=1e-2)
    for _ in range(3):
        flat.zero_grad()
        net(torch.randn(8, 5)).pow(2).sum().backward()
        norm = flat.step(max_grad_norm=0.1)
        assert norm is not None and norm > 0.1  # clipped
    assert flat._functional_step.__name__ == "compiled_adam_step"
    assert flat.state_dict()["state"][0]["step"].item() == 3
