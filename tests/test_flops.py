"""gancore.flops: FLOPs of a step, a gradient penalty's double backward included (issue 25's MFU column)."""
from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from gancore.flops import FlopCount, count_flops


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 8, 3, stride=2, padding=1),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 1))


@pytest.mark.parametrize("backward", [False, True])
def test_the_count_equals_flopcountermode_where_that_works(backward):
    net, x = _net(), torch.randn(4, 3, 8, 8)

    def step():
        y = net(x).sum()
        if backward:
            y.backward()

    reference = FlopCounterMode(display=False)
    with reference:
        step()
    assert count_flops(step) == reference.get_total_flops() > 0


def test_an_independent_count_of_one_convolution_and_one_linear_layer():
    conv, lin = nn.Conv2d(3, 5, 3, padding=1), nn.Linear(7, 2)
    x = torch.randn(2, 3, 6, 6)
    # a 3×3 conv: 2·k²·C_in MACs-to-FLOPs for each of N·C_out·H·W outputs; a linear layer: 2·in·out per row
    assert count_flops(lambda: conv(x)) == 2 * 3 * 3 * 3 * (2 * 5 * 6 * 6)
    assert count_flops(lambda: lin(torch.randn(4, 7))) == 2 * 7 * 2 * 4


def test_a_double_backward_is_counted():
    """FlopCounterMode gives up inside autograd.grad(create_graph=True); the count goes on, and the penalty step
    costs more than the plain one."""
    net, x = _net(), torch.randn(4, 3, 8, 8)

    def plain():
        net(x).sum().backward()

    def penalized():
        xr = x.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(net(xr).sum(), xr, create_graph=True)
        (net(x).sum() + g.square().sum()).backward()

    counter = FlopCount()
    with counter:
        penalized()
    assert counter.total > count_flops(plain) > 0
    assert counter.by_op and sum(counter.by_op.values()) == counter.total
