"""FlatOptimizer: the same numbers as torch's optimizers, one flat tensor."""

import pytest
import torch

from rlkit.core.optim import FlatOptimizer, clip_coefficient

pytestmark = pytest.mark.numerics  # CI runs these under every ATEN_CPU_CAPABILITY


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


def test_clip_coefficient_is_torchs_clipping_coefficient():
    for norm in (0.0, 1e-7, 0.3, 0.5, 7.0, 1e6):
        for max_norm in (0.5, 10.0):
            expected = torch.clamp(max_norm / (torch.tensor(norm) + 1e-6), max=1.0).item()
            assert clip_coefficient(norm, max_norm) == pytest.approx(expected, rel=1e-6)
    assert clip_coefficient(3.0, 0.5) == pytest.approx(0.5 / 3.0)  # by hand: 0.5 / (3 + 1e-6)
    assert clip_coefficient(0.2, 0.5) == 1.0  # under the bound: unscaled


def test_the_first_step_after_a_load_takes_the_path_every_later_step_takes():
    """Resume is exact only if a loaded optimizer steps as the one it was saved from."""
    net = torch.nn.Linear(5, 3)
    flat = FlatOptimizer(net, torch.optim.Adam, lr=1e-2)
    assert flat._functional_step is None  # a new optimizer has no state yet
    flat.zero_grad()
    net(torch.randn(8, 5)).pow(2).sum().backward()
    flat.step()
    reloaded = FlatOptimizer(torch.nn.Linear(5, 3), torch.optim.Adam, lr=1e-2)
    reloaded.load_state_dict(flat.state_dict())
    assert reloaded._functional_step is not None
    assert reloaded._functional_step.__qualname__ == flat._functional_step.__qualname__
