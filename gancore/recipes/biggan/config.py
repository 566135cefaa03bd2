"""BigGAN's typed config (Brock et al. 2019). Defaults are the 128×128 ImageNet model of Table 1's last rows.

Hyperparameters come from App. B/C (values the text extraction lost are listed, with sections, in
``papers/biggan/paper.yaml``). Table 1's columns ``shared``, ``hier`` and ``ortho`` are plain switches, and
``table1_row`` selects a whole row of that table (batch, ch and the three switches) from ``paper.yaml``.

Lengths are in kimg like every gancore run: one kimg is a thousand *real* images shown to D. A BigGAN iteration is
``d_steps`` D steps of ``batch_size`` reals each plus one G step, so ``iterations = kimg·1000 / (d_steps·batch_size)``;
:meth:`BigGANConfig.iterations` converts.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from gancore.config import ConfigError, RunConfig, check_range, load_yaml, papers_dir

RESOLUTIONS = (32, 64, 128, 256, 512)


def _default_truncations() -> list[float]:
    # §3.1 / Fig. 2(a): thresholds swept from 2 down to 0.04 (plus the untruncated N(0, I) point).
    return [2.0, 1.5, 1.0, 0.75, 0.5, 0.25, 0.04]


@dataclass
class BigGANConfig(RunConfig):
    """BigGAN §3–4, App. B/C. Every Table 1 switch is a field."""

    paper: str = "biggan"
    table1_row: int = -1  # Table 1 row (0–8) to reproduce: sets batch, ch, shared, hier, ortho (-1: use the fields)
    # ---- networks (§3, App. B) ----
    arch: Literal["biggan", "deep"] = "biggan"  # BigGAN or BigGAN-deep (App. B, Fig. 16)
    resolution: int = 128  # output resolution: 32 (CIFAR layout), 64, 128, 256, 512
    ch: int = 96  # channel multiplier (Table 1)
    d_ch: int = 0  # D's channel multiplier (0: same as ch, as in the paper)
    dim_z: int = 120  # latent size (App. B: 120 at 128², 140 at 256², 128 at 512² and for BigGAN-deep)
    shared_dim: int = 128  # shared class embedding size (§3)
    num_classes: int = 0  # 0: taken from the dataset (1000 for ImageNet, 10 for CIFAR-10, 8 for shapes)
    shared: bool = True  # Table 1 "shared": one class embedding projected into every CBN (§3)
    hier: bool = True  # Table 1 "hier": hierarchical latents, one z chunk per G block (§3)
    attention_res: list[int] = field(default_factory=lambda: [64])  # self-attention at these resolutions (App. B)
    depth: int = 2  # BigGAN-deep: blocks per resolution
    channel_ratio: int = 4  # BigGAN-deep: bottleneck channel reduction
    sn_eps: float = 1e-4  # spectral-norm eps (App. C)
    bn_eps: float = 1e-4  # BatchNorm eps (App. C)
    ortho_init: bool = True  # orthogonal initialisation (App. C)
    precision: Literal["fp32", "bf16", "auto"] = "fp32"  # bf16 autocast of forward passes; auto: bf16 if the
    # device has bf16 hardware (CUDA with bf16, CPUs with AMX/AVX512-BF16), else fp32
    channels_last: bool = False  # NHWC memory layout (faster convolutions on CUDA tensor cores and oneDNN CPUs)
    fused_attention: bool = False  # self-attention through F.scaled_dot_product_attention (same maths, no HW² matrix)
    compile: bool = False  # torch.compile G's and D's forward (R1's double backward keeps D eager)
    # ---- loss and optimisation (App. B/C, §3.1, §4.2) ----
    loss: Literal["hinge", "ns"] = "hinge"  # App. B: hinge loss
    d_steps: int = 2  # App. C: two D steps per G step
    batch_size: int = 2048  # images per D step (Table 1's batch)
    accumulate: int = 8  # gradient accumulation: batch_size is split into this many micro-batches (memory)
    lr_g: float = 5e-5  # App. C
    lr_d: float = 2e-4  # App. C
    beta1: float = 0.0  # App. C
    beta2: float = 0.999  # App. C
    adam_eps: float = 1e-8  # Adam ε (not stated in the paper; torch's default)
    ortho: bool = True  # Table 1 "ortho": off-diagonal orthogonal regularization of G (§3.1, eq. 3)
    ortho_beta: float = 1e-4  # §3.1: β = 1e-4
    r1_gamma: float = 0.0  # §4.2: zero-centred R1 penalty on D's real inputs (γ=10 in §4.2; 0 = off)
    ema_decay: float = 0.9999  # App. C: G EMA decay
    # ---- sampling and analysis (§3.1, §4.1, App. C.1) ----
    standing_stats_batches: int = 100  # App. C.1: "typically 100" forward passes for standing statistics
    standing_stats_batch_size: int = 64  # batch of each standing-statistics pass
    truncations: list[float] = field(default_factory=_default_truncations)  # thresholds of the truncation sweep
    sv_every_kimg: float = 10.0  # §4.1 top-3 singular values of every weight, logged at this cadence (0: off)
    sv_explode_factor: float = 5.0  # warn when a layer's σ0 grows this much over its recent median (§4.1)
    # ---- the notebook's claim experiments (short runs beside the main one) ----
    claims_kimg: float = 0.0  # length of each Table 1 column run (0: no claim runs)
    claims_num_images: int = 512  # images per truncation point in the claim runs
    claims_seeds: int = 2  # seeds of each Table 1 column run: their spread is the verdicts' noise band

    RESUMABLE_CHANGES: ClassVar[tuple[str, ...]] = RunConfig.RESUMABLE_CHANGES + (
        "fused_attention", "compile",
        "standing_stats_batches", "standing_stats_batch_size", "truncations", "claims_kimg", "claims_num_images",
        "claims_seeds", "sv_every_kimg", "sv_explode_factor")

    def validate(self) -> None:
        if self.resolution not in RESOLUTIONS:
            raise ConfigError(f"resolution={self.resolution} must be one of {list(RESOLUTIONS)}")
        for name in ("ch", "dim_z", "shared_dim", "d_steps", "batch_size", "accumulate", "depth", "channel_ratio",
                     "standing_stats_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name}={getattr(self, name)} must be >= 1")
        if self.d_ch < 0 or self.num_classes < 0 or self.standing_stats_batches < 0:
            raise ConfigError("d_ch, num_classes and standing_stats_batches must be >= 0")
        if self.batch_size % self.accumulate:
            raise ConfigError(f"batch_size={self.batch_size} must be a multiple of accumulate={self.accumulate} "
                              "(each D/G step sums the gradients of `accumulate` equal micro-batches)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay={self.ema_decay} must be in [0, 1)")
        for name in ("lr_g", "lr_d", "sn_eps", "bn_eps"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name}={getattr(self, name)} must be > 0")
        if self.ortho_beta < 0 or self.r1_gamma < 0:
            raise ConfigError("ortho_beta and r1_gamma must be >= 0")
        for name in ("beta1", "beta2"):
            check_range(self, name, ge=0, lt=1)
        check_range(self, "adam_eps", gt=0)
        for name in ("sv_every_kimg", "claims_kimg"):
            check_range(self, name, ge=0)
        check_range(self, "sv_explode_factor", gt=1)
        check_range(self, "claims_num_images", ge=2)
        check_range(self, "claims_seeds", ge=1)
        if any(not t > 0 for t in self.truncations):
            raise ConfigError(f"truncations={self.truncations} must all be > 0 (the untruncated point is added)")
        bad = [r for r in self.attention_res if r not in (2**k for k in range(3, 10)) or r > self.resolution]
        if bad:
            raise ConfigError(f"attention_res={self.attention_res}: {bad} are not block resolutions ≤ "
                              f"resolution={self.resolution}")
        rows = len(table1_rows())
        if not -1 <= self.table1_row < rows:
            raise ConfigError(f"table1_row={self.table1_row} must be -1 (off) or a Table 1 row in 0..{rows - 1}")
        if self.dataset in ("cifar10", "folder") and not self.data_dir and not self.dry_run:
            raise ConfigError(f"dataset={self.dataset!r} needs data_dir (a folder); shapes needs none")
        if self.extractor == "inception" and not self.inception_weights:
            raise ConfigError("extractor='inception' needs inception_weights=PATH (nothing is downloaded)")

    def apply_ablation(self, values: dict[str, Any]) -> dict[str, Any]:
        """Table 1: a row sets the shared / hier / ortho switches and, at full scale, its batch size and ch.

        Smoke and reduced runs keep their own batch and width: the rows' 256–2048 images of 64–96 channels are the
        scale itself (a smoke run of row 4 would otherwise train a 2048-image batch), and the switches are what the
        rows compare.
        """
        if self.table1_row < 0:
            return values
        row = table1_rows()[self.table1_row]
        switches = {"shared": row["shared"], "hier": row["hier"], "ortho": row["ortho"]}
        if self.scale != "full":
            return {**values, **switches}
        return {**values, "batch_size": row["batch"], "ch": row["ch"], **switches}

    def iterations(self, kimg: float | None = None) -> float:
        """G iterations for ``kimg`` (default total_kimg): each takes d_steps·batch_size real images."""
        kimg = self.total_kimg if kimg is None else kimg
        return kimg * 1000 / (self.d_steps * self.batch_size)

    @property
    def micro_batch(self) -> int:
        return self.batch_size // self.accumulate


@functools.lru_cache(maxsize=1)
def table1_rows() -> list[dict[str, Any]]:
    """Table 1 rows of papers/biggan/paper.yaml as dicts (batch, ch, params_m, shared, hier, ortho, …)."""
    table = load_yaml(papers_dir() / "biggan" / "paper.yaml")["reported"]["table1"]
    return [dict(zip(table["columns"], row)) for row in table["rows"]]
