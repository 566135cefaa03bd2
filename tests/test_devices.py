"""Device choice: auto picks CUDA, then Apple's MPS, then the CPU; an explicit device must exist."""
from __future__ import annotations

import pytest
import torch

from gancore.config import ConfigError
from gancore.engine import mps_available, pick_device


def test_auto_picks_cuda_then_mps_then_cpu():
    expected = "cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu"
    assert pick_device("auto").type == expected


@pytest.mark.parametrize("name, present", [("cuda", torch.cuda.is_available), ("mps", mps_available)])
def test_missing_device_is_a_clear_error(name, present):
    if present():
        pytest.skip(f"{name} exists on this machine")
    with pytest.raises(ConfigError, match=f"device='{name}' was asked for"):
        pick_device(name)


@pytest.mark.skipif(not mps_available(), reason="needs Apple's MPS backend")
def test_gradient_penalty_double_backward_on_mps():
    """WGAN-GP differentiates through a gradient: check MPS against the CPU on the same tiny critic."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.LeakyReLU(0.2), torch.nn.Flatten(),
                              torch.nn.Linear(4 * 8 * 8, 1))
    x = torch.randn(4, 3, 8, 8)
    grads = []
    for dev in ("cpu", "mps"):
        m, xi = net.to(dev), x.to(dev).requires_grad_(True)
        (g,) = torch.autograd.grad(m(xi).sum(), xi, create_graph=True)
        penalty = (g.flatten(1).norm(dim=1) - 1).pow(2).mean()
        m.zero_grad()
        penalty.backward()
        grads.append(torch.cat([p.grad.flatten().cpu() for p in m.parameters()]))
    assert torch.isfinite(grads[1]).all()
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-3, atol=1e-4)
