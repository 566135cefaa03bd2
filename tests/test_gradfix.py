"""gancore.nn.gradfix: the convolution whose every order of gradient is a (transposed) convolution equals autograd's
own convolution in value, first and second derivatives (float64, to round-off), for strides, padding, dilation,
groups and bias; and a WGAN-GP penalty through ProGAN's D gives the same gradients with it on or off."""
import pytest
import torch
import torch.nn.functional as F

from gancore.nn import gradfix

CASES = [  # (stride, padding, dilation, groups, bias, kernel, size)
    (1, 1, 1, 1, True, 3, (9, 8)),
    (2, 1, 1, 1, False, 3, (9, 8)),
    (2, 0, 1, 2, True, 4, (10, 11)),
    (1, 2, 2, 1, True, 3, (9, 9)),
    (3, 1, 1, 4, False, 1, (7, 8)),
    ((2, 1), (1, 0), (1, 2), 1, True, 3, (9, 10)),
]


def _inputs(stride, padding, dilation, groups, bias, k, size, *, transpose=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    c_in, c_out = 4, 8
    x = torch.randn(2, c_in, *size, dtype=torch.float64, generator=g, requires_grad=True)
    shape = (c_in, c_out // groups, k, k) if transpose else (c_out, c_in // groups, k, k)
    w = torch.randn(*shape, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(c_out, dtype=torch.float64, generator=g, requires_grad=True) if bias else None
    return x, w, b


def _derivatives(f, x, w, b, seed=1):
    """Value, first derivatives (for a random upstream gradient) and the second derivatives of a penalty on them."""
    y = f(x, w, b)
    gy = torch.randn(y.shape, dtype=y.dtype, generator=torch.Generator().manual_seed(seed))
    params = [t for t in (x, w, b) if t is not None]
    first = torch.autograd.grad((y * gy).sum(), params, create_graph=True)
    # A penalty on every first derivative (as a GP is on ∂D/∂x), differentiated again w.r.t. everything.
    penalty = sum((g_ ** 2).sum() * (i + 1) for i, g_ in enumerate(first)) + (first[0] * x).sum()
    second = torch.autograd.grad(penalty, params, allow_unused=True)
    return y, first, second


@pytest.mark.parametrize("stride,padding,dilation,groups,bias,k,size", CASES)
def test_conv2d_values_and_two_orders_of_derivatives_equal_autograd(stride, padding, dilation, groups, bias, k, size):
    x, w, b = _inputs(stride, padding, dilation, groups, bias, k, size)
    ref = _derivatives(lambda x, w, b: F.conv2d(x, w, b, stride, padding, dilation, groups), x, w, b)
    fix = _derivatives(lambda x, w, b: gradfix.conv2d(x, w, b, stride, padding, dilation, groups), x, w, b)
    for r, f in zip([ref[0], *ref[1], *ref[2]], [fix[0], *fix[1], *fix[2]]):
        if r is None:
            assert f is None or torch.count_nonzero(f) == 0
        else:
            torch.testing.assert_close(f, r, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("stride,padding,dilation,groups,bias,k,size", CASES[:4])
def test_conv_transpose2d_values_and_two_orders_of_derivatives_equal_autograd(stride, padding, dilation, groups,
                                                                              bias, k, size):
    x, w, b = _inputs(stride, padding, dilation, groups, bias, k, size, transpose=True)
    op = 1 if stride > 1 else 0  # the row a strided convolution never reached
    ref = _derivatives(lambda x, w, b: F.conv_transpose2d(x, w, b, stride, padding, op, groups, dilation), x, w, b)
    fix = _derivatives(lambda x, w, b: gradfix.conv_transpose2d(x, w, b, stride, padding, op, groups, dilation),
                       x, w, b)
    for r, f in zip([ref[0], *ref[1], *ref[2]], [fix[0], *fix[1], *fix[2]]):
        if r is None:
            assert f is None or torch.count_nonzero(f) == 0
        else:
            torch.testing.assert_close(f, r, rtol=1e-10, atol=1e-10)


def test_numerical_second_derivatives():
    """gradgradcheck: the analytic second derivatives against finite differences (independent of autograd's conv)."""
    x, w, b = _inputs(2, 1, 1, 2, True, 3, (6, 5))
    assert torch.autograd.gradcheck(lambda x, w, b: gradfix.conv2d(x, w, b, 2, 1, 1, 2), (x, w, b))
    assert torch.autograd.gradgradcheck(lambda x, w, b: gradfix.conv2d(x, w, b, 2, 1, 1, 2), (x, w, b))


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_wgan_gp_penalty_through_progan_d_is_the_same_with_gradfix(tiny_progan_overrides, precision):
    from gancore import losses
    from gancore.precision import autocast
    from gancore.recipes import progan

    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides)
    _, D = progan.build_networks(cfg)
    real = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(3))
    fake = torch.randn(4, 3, 8, 8, generator=torch.Generator().manual_seed(4))

    def grads(on: bool):
        gradfix.enable(D, on=on)
        D.zero_grad()
        with autocast(torch.device("cpu"), precision):
            critic = lambda x: D(x, resolution=8).float()  # noqa: E731
            gp = losses.gradient_penalty(critic, real, fake, generator=torch.Generator().manual_seed(5))
        gp.backward()
        return gp.detach(), [p.grad.clone() for p in D.parameters() if p.grad is not None]

    assert gradfix.enable(D, on=True) > 0
    (gp_on, on), (gp_off, off) = grads(True), grads(False)
    tol = dict(rtol=1e-4, atol=1e-5) if precision == "fp32" else dict(rtol=0.1, atol=0.05)
    torch.testing.assert_close(gp_on, gp_off, **tol)
    assert len(on) == len(off) > 0
    for a, b in zip(on, off):
        torch.testing.assert_close(a, b, **tol)


def test_a_penalty_with_gradfix_costs_the_same_flops_as_autograds_own(tiny_progan_overrides):
    """The penalty asks only for ∇ₓ̂D: input_gradient_only keeps gradfix from building weight gradients nobody
    reads (without it the step counted 5.6% more FLOPs)."""
    from gancore import losses
    from gancore.flops import count_flops
    from gancore.recipes import progan

    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides)
    _, D = progan.build_networks(cfg)
    real, fake = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))

    def penalty_and_backward():
        losses.gradient_penalty(lambda x: D(x, resolution=8), real, fake,
                                generator=torch.Generator().manual_seed(1)).backward()

    gradfix.enable(D, on=False)
    plain = count_flops(penalty_and_backward)
    gradfix.enable(D, on=True)
    assert count_flops(penalty_and_backward) == plain > 0
    with gradfix.input_gradient_only():
        assert gradfix._input_gradient_only
    assert not gradfix._input_gradient_only
