"""Minibatch statistics in D: ProGAN §3 / App. A.1 minibatch stddev, and Salimans et al. 2016 minibatch
discrimination (ProGAN Table 1 row e*)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gancore.nn.resample import _require_4d


# ---------------------------------------------------------------------------------------------------------------------
# Minibatch statistics — ProGAN §3 / App. A.1 and Salimans et al. 2016 (ProGAN Table 1 row e*)
# ---------------------------------------------------------------------------------------------------------------------
def _largest_divisor_at_most(n: int, limit: int) -> int:
    return next(d for d in range(min(n, limit), 0, -1) if n % d == 0)


class MinibatchStdDev(nn.Module):
    """Minibatch standard deviation as one extra constant feature map (ProGAN §3, App. A.1).

    The batch is split into groups of G samples; per group, the (biased) std over the group is taken for every feature
    and pixel, averaged over features and pixels, and broadcast as channel C+1 to that group's samples. As in the
    official implementation, sample n belongs to group n mod (N/G) (the batch is viewed as G×(N/G)).

    G = min(group_size, N) when that divides N. Otherwise G falls back to the largest divisor of N that is ≤ group_size,
    so odd-sized batches (the paper's 1024² batch of 3, an evaluation tail batch) still run instead of failing; the
    statistic stays a per-group std, only over fewer samples. G = 1 (e.g. a prime N > group_size) yields a constant
    sqrt(1e-8) map, which is harmless but carries no information.

    Args:
        group_size: maximum number of samples that share one std statistic (4 in ProGAN).
    """

    def __init__(self, *, group_size: int = 4) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size = group_size

    def effective_group_size(self, batch_size: int) -> int:
        """The group size used for a batch of `batch_size` samples (see class docstring)."""
        if batch_size < 1:
            raise ValueError(f"batch size must be >= 1, got {batch_size}")
        return _largest_divisor_at_most(batch_size, self.group_size)

    def forward(self, x: Tensor) -> Tensor:
        _require_4d(x, "MinibatchStdDev")
        n, c, h, w = x.shape
        g = self.effective_group_size(n)
        # Statistics in at least float32: in half precision the +1e-8 would vanish and the variance underflow.
        y = x.reshape(g, n // g, c, h, w).to(torch.promote_types(x.dtype, torch.float32))
        # Biased variance with +1e-8 inside the sqrt, as in the official code, keeps the gradient finite at std=0.
        std = torch.sqrt(y.var(dim=0, correction=0) + 1e-8)  # (N/G)×C×H×W
        stat = std.mean(dim=(1, 2, 3)).to(x.dtype)  # N/G
        stat_map = stat.view(1, n // g, 1, 1, 1).expand(g, n // g, 1, h, w).reshape(n, 1, h, w)
        return torch.cat([x, stat_map], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class MinibatchDiscrimination(nn.Module):
    """Minibatch discrimination of Salimans et al. 2016 §3.2 (ProGAN §3, Table 1 row e*).

    A learnable tensor T ∈ R^{A×B×C} maps features f(x_i) ∈ R^A to M_i ∈ R^{B×C}; for every kernel b,
    o(x_i)_b = Σ_{j≠i} exp(-‖M_{i,b} − M_{j,b}‖₁). The B statistics are concatenated to the features (A+B outputs).
    The sum leaves out j = i: its term is always exp(0) = 1 and carries no information.

    Args:
        in_features: feature size A of the (flattened) input.
        num_kernels: number of statistics B appended per sample.
        kernel_dim: size C of each projected kernel row used in the L1 distance.
    """

    def __init__(self, *, in_features: int, num_kernels: int, kernel_dim: int) -> None:
        super().__init__()
        if min(in_features, num_kernels, kernel_dim) < 1:
            raise ValueError(f"in_features, num_kernels and kernel_dim must be >= 1, got "
                             f"{in_features}, {num_kernels}, {kernel_dim}")
        self.in_features = in_features
        self.num_kernels = num_kernels
        self.kernel_dim = kernel_dim
        # Scaled so that, for unit-variance features, the initial L1 distances are O(1): exp(-d) then starts away from
        # 0, where it would have vanishing gradient.
        std = 1.0 / (kernel_dim * math.sqrt(in_features))
        self.T = nn.Parameter(torch.randn(in_features, num_kernels * kernel_dim) * std)

    @property
    def out_features(self) -> int:
        return self.in_features + self.num_kernels

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"MinibatchDiscrimination expects N×{self.in_features}, got shape {tuple(x.shape)}")
        m = (x @ self.T).view(-1, self.num_kernels, self.kernel_dim)  # N×B×C
        l1 = (m.unsqueeze(0) - m.unsqueeze(1)).abs().sum(dim=3)  # N×N×B
        o = torch.exp(-l1).sum(dim=1) - 1.0  # drop the j = i term, exp(0) = 1
        return torch.cat([x, o], dim=1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, num_kernels={self.num_kernels}, kernel_dim={self.kernel_dim}"
