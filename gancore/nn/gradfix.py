"""2-D convolution whose every order of gradient runs on ordinary convolution kernels.

A gradient penalty (ProGAN's WGAN-GP, BigGAN's R1) differentiates D's gradient with respect to its input once more.
For ``torch.nn.functional.conv2d`` that second derivative is ``aten::_convolution_double_backward``, which on CUDA
falls back to generic, non-tensor-core kernels: measured on an H200, 84% (fp32) and 97% (bf16) of a ProGAN 1024²
step (issue 25). Written as convolutions, the same derivatives use cuDNN's fast paths:

For y = conv2d(x, w) with stride s, padding p, dilation d and groups g (cross-correlation):

* ∂L/∂x = conv_transpose2d(∂L/∂y, w; s, p, d, g), with the output padding that gives x's size back;
* ∂L/∂w = Σ over the batch of the correlation of x with ∂L/∂y (``aten::convolution_backward`` with only the
  weight's mask set), a bilinear map of (∂L/∂y, x) whose own derivatives are again a convolution of x with the
  incoming weight gradient and a transposed convolution of ∂L/∂y with it;
* ∂L/∂b = the sum of ∂L/∂y over batch and space.

A transposed convolution is the adjoint of the convolution with the same weight, so its derivatives are the same
three maps with the roles of input and output exchanged. Each map is itself one of these autograd functions, so a
derivative of any order stays on convolution kernels. The values equal autograd's own to round-off (tested in
float64). :func:`conv2d` is a drop-in for ``F.conv2d``; layers call it when their ``gradfix`` flag is on.
"""
from __future__ import annotations

import contextlib
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["conv2d", "conv_transpose2d", "enable", "input_gradient_only", "wanted"]

Pair = tuple[int, int]

# A custom autograd function learns which inputs need gradients when it runs forward, not which ones the current
# torch.autograd.grad call asks for: a penalty's grad with respect to D's input alone would also build every
# weight gradient (5.6% more FLOPs in a ProGAN step). Global, not thread-local: CUDA's backward runs in autograd's
# device threads.
_input_gradient_only = False


@contextlib.contextmanager
def input_gradient_only():
    """Within: gradfix layers skip their weight (and bias) gradients. For a penalty's ``autograd.grad`` with respect
    to D's input, whose graph then needs only input gradients; the outer backward still reaches the weights through
    those input gradients (they are functions of the weights)."""
    global _input_gradient_only
    before, _input_gradient_only = _input_gradient_only, True
    try:
        yield
    finally:
        _input_gradient_only = before


def _pair(v: int | Sequence[int]) -> Pair:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _output_padding(x_size: Sequence[int], y_size: Sequence[int], k: Sequence[int], s: Pair, p: Pair,
                    d: Pair) -> Pair:
    """The output padding that makes conv_transpose2d of a y-sized map return x's size (the rows a strided
    convolution never reached)."""
    return tuple(x_size[i] - ((y_size[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + 1) for i in range(2))  # type: ignore[return-value]


def _autocast_dtype(t: Tensor) -> torch.dtype | None:
    device = t.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    return None


class _Conv(torch.autograd.Function):
    """y = conv2d(x, w) + b, with derivatives written as (transposed) convolutions."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, s: Pair, p: Pair, d: Pair, g: int) -> Tensor:
        ctx.save_for_backward(x, w)
        ctx.conf = (s, p, d, g, b is not None)
        return F.conv2d(x, w, b, s, p, d, g)

    @staticmethod
    def backward(ctx, gy: Tensor):
        x, w = ctx.saved_tensors
        s, p, d, g, has_bias = ctx.conf
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            op = _output_padding(x.shape[2:], gy.shape[2:], w.shape[2:], s, p, d)
            gx = _ConvT.apply(gy, w.to(gy.dtype), None, s, p, op, d, g)
        if ctx.needs_input_grad[1] and not _input_gradient_only:
            gw = _WeightGrad.apply(gy, x.to(gy.dtype), tuple(w.shape), s, p, d, g)
        if has_bias and ctx.needs_input_grad[2] and not _input_gradient_only:
            gb = gy.sum((0, 2, 3))
        return gx, gw, gb, None, None, None, None


class _ConvT(torch.autograd.Function):
    """y = conv_transpose2d(x, w) + b (w: C_in × C_out/g × kh × kw), the adjoint of :class:`_Conv`."""

    @staticmethod
    def forward(ctx, x: Tensor, w: Tensor, b: Tensor | None, s: Pair, p: Pair, op: Pair, d: Pair, g: int) -> Tensor:
        ctx.save_for_backward(x, w)
        ctx.conf = (s, p, d, g, b is not None)
        return F.conv_transpose2d(x, w, b, s, p, op, g, d)

    @staticmethod
    def backward(ctx, gy: Tensor):
        x, w = ctx.saved_tensors
        s, p, d, g, has_bias = ctx.conf
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _Conv.apply(gy, w.to(gy.dtype), None, s, p, d, g)
        if ctx.needs_input_grad[1] and not _input_gradient_only:
            # <gy, convT(x, w)> = <conv(gy, w), x>: the weight gradient of the convolution of gy, at output grad x.
            gw = _WeightGrad.apply(x.to(gy.dtype), gy, tuple(w.shape), s, p, d, g)
        if has_bias and ctx.needs_input_grad[2] and not _input_gradient_only:
            gb = gy.sum((0, 2, 3))
        return gx, gw, gb, None, None, None, None, None


class _WeightGrad(torch.autograd.Function):
    """gw = ∂<gy, conv2d(x, w)>/∂w (independent of w): bilinear in (gy, x)."""

    @staticmethod
    def forward(ctx, gy: Tensor, x: Tensor, w_shape: tuple, s: Pair, p: Pair, d: Pair, g: int) -> Tensor:
        ctx.save_for_backward(gy, x)
        ctx.conf = (s, p, d, g)
        empty = gy.new_empty(w_shape)  # only its shape and dtype are read
        return torch.ops.aten.convolution_backward(gy, x, empty, None, list(s), list(p), list(d), False, [0, 0], g,
                                                   [False, True, False])[1]

    @staticmethod
    def backward(ctx, ggw: Tensor):
        gy, x = ctx.saved_tensors
        s, p, d, g = ctx.conf
        ggy = gx = None
        if ctx.needs_input_grad[0]:  # gw is linear in gy: its adjoint is the convolution of x with ggw
            ggy = _Conv.apply(x, ggw.to(x.dtype), None, s, p, d, g)
        if ctx.needs_input_grad[1]:  # … and linear in x: the input gradient of that convolution at output grad gy
            op = _output_padding(x.shape[2:], gy.shape[2:], ggw.shape[2:], s, p, d)
            gx = _ConvT.apply(gy, ggw.to(gy.dtype), None, s, p, op, d, g)
        return ggy, gx, None, None, None, None, None


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] = 0, dilation: int | Sequence[int] = 1, groups: int = 1) -> Tensor:
    """``F.conv2d`` whose gradients of every order are (transposed) convolutions. Under autocast the inputs are
    cast as autocast would cast them, once, and the derivatives run in that precision."""
    if isinstance(padding, str):
        raise ValueError("gradfix.conv2d takes numeric padding (as ProGAN's layers give it)")
    dtype = _autocast_dtype(x)
    if dtype is not None:
        x, weight = x.to(dtype), weight.to(dtype)
        bias = bias.to(dtype) if bias is not None else None
    with torch.autocast(x.device.type, enabled=False):
        return _Conv.apply(x, weight, bias, _pair(stride), _pair(padding), _pair(dilation), groups)


def conv_transpose2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: int | Sequence[int] = 1,
                     padding: int | Sequence[int] = 0, output_padding: int | Sequence[int] = 0, groups: int = 1,
                     dilation: int | Sequence[int] = 1) -> Tensor:
    """``F.conv_transpose2d`` whose gradients of every order are (transposed) convolutions."""
    dtype = _autocast_dtype(x)
    if dtype is not None:
        x, weight = x.to(dtype), weight.to(dtype)
        bias = bias.to(dtype) if bias is not None else None
    with torch.autocast(x.device.type, enabled=False):
        return _ConvT.apply(x, weight, bias, _pair(stride), _pair(padding), _pair(output_padding), _pair(dilation),
                            groups)


def wanted(setting: str, device: torch.device) -> bool:
    """A config's ``conv_gradfix``: "on", "off", or "auto" (on where it pays: CUDA; elsewhere autograd's own
    double backward is as fast, and leaving it keeps CPU results bit for bit those of earlier versions)."""
    return setting == "on" or (setting == "auto" and device.type == "cuda")


def enable(*modules: torch.nn.Module, on: bool = True) -> int:
    """Switch every layer with a ``gradfix`` flag under ``modules`` (returns how many were switched)."""
    count = 0
    for module in modules:
        for m in module.modules():
            if hasattr(m, "gradfix"):
                m.gradfix = on
                count += 1
    return count
