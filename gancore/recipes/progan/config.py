"""ProGAN's typed config (Karras et al. 2018). Defaults are App. A.1's CelebA-HQ 1024² setup.

Table 1's rows (a)–(h) are switches (``ablation``): each row's changes are read from ``papers/progan/paper.yaml``
and applied cumulatively on top of the preset, exactly as the table enables contributions one by one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from gancore.config import ConfigError, RunConfig, check_range, load_yaml, papers_dir

ABLATION_ROWS = ("", "a", "b", "c", "d", "e*", "e", "f", "g", "h")


def _default_batches() -> dict[int, int]:
    # App. A.1: 16 for 4²–128², then 256²→14, 512²→6, 1024²→3 (memory budget of a P100).
    return {4: 16, 8: 16, 16: 16, 32: 16, 64: 16, 128: 16, 256: 14, 512: 6, 1024: 3}


@dataclass
class ProGANConfig(RunConfig):
    """ProGAN §2–4 and App. A; every switch of Table 1 is a field."""

    paper: str = "progan"
    ablation: Literal["", "a", "b", "c", "d", "e*", "e", "f", "g", "h"] = ""  # Table 1 row ("" = paper's final)
    # ---- networks (App. A.1, Table 2) ----
    resolution: int = 1024  # final output resolution
    start_resolution: int = 4  # growth starts here (§2)
    latent_dim: int = 512  # App. A.1: 512-d latents
    fmap_base: int = 8192  # channels = min(fmap_base / res_stage, fmap_max) (Table 2)
    fmap_max: int = 512
    low_capacity: bool = False  # App. A.2: the smaller nets of §6.1 / Table 1
    eq_lr: bool = True  # §4.1 equalized learning rate
    pixelnorm: bool = True  # §4.2 pixelwise feature normalization in G
    normalize_latent: bool = True  # App. A.1 latents on the hypersphere
    g_norm: Literal["none", "batch"] = "none"  # row (a): batch norm in G
    d_norm: Literal["none", "layer"] = "none"  # row (a): layer norm in D
    g_act: Literal["lrelu", "relu"] = "lrelu"  # row (a): ReLU in G
    g_out: Literal["linear", "tanh"] = "linear"  # row (a): tanh output
    mbstd: bool = True  # §3 minibatch standard deviation
    mbstd_group: int = 4  # §3 / App. A.1 group size
    mbdisc: bool = False  # row (e*): Salimans et al. minibatch discrimination
    # ---- growth (§2, App. A.1/A.2) ----
    progressive: bool = True  # row (b) switch
    stabilize_kimg: float = 600.0  # App. A.1: 600k images per stabilization phase at 1024² (800k below)
    fade_kimg: float = 600.0  # App. A.1: 600k images per fade-in
    batch_sizes: dict[int, int] = field(default_factory=_default_batches)  # minibatch per resolution
    batch_size: int = 16  # minibatch for resolutions not in batch_sizes, and for non-progressive runs
    # ---- loss and optimizer (App. A.1, §6.5) ----
    gp_lambda: float = 10.0  # WGAN-GP weight λ
    gp_gamma: float = 1.0  # §6.5: target gradient norm γ (750 for the CIFAR-10 record)
    drift: float = 0.001  # App. A.1 ε_drift
    n_critic: int = 1  # App. A.1 alternates G and D per minibatch
    lr: float = 0.001  # Adam α
    beta1: float = 0.0
    beta2: float = 0.99
    adam_eps: float = 1e-8
    # ---- speed (not in the paper; gancore.precision) ----
    precision: Literal["fp32", "bf16", "auto"] = "fp32"  # bf16 autocast of forward passes (the gradient penalty's
    # norm and all losses stay fp32); auto: bf16 if the device has bf16 hardware, else fp32
    channels_last: bool = False  # NHWC memory layout (faster convolutions on oneDNN CPUs and CUDA tensor cores)
    # The WGAN-GP penalty's double backward as plain (transposed) convolutions (gancore.nn.gradfix); auto: on CUDA.
    conv_gradfix: Literal["auto", "on", "off"] = "auto"
    # G's 2× upsample + 3×3 conv as one stride-2 transposed conv (the authors' fused_scale, networks.py; the same
    # function, 0.44× its multiply-adds; gancore.nn.fused_scale); auto: on CUDA, so CPU runs stay bit for bit.
    fused_upsample: Literal["auto", "on", "off"] = "auto"
    # App. A.1 lowers the batch at 256²–1024² only for memory: keep_batch trains every resolution at batch_size
    # (preflight refuses it where it cannot fit). Off by default: the paper's schedule (papers/progan/paper.yaml).
    keep_batch: bool = False
    # ---- the notebook's claim experiments (short runs beside the main one) ----
    claims_seeds: int = 2  # seeds of each progressive / non-progressive run and of row (g): the noise band
    claims_phase_kimg: float = 2.0  # fade and stabilize length of the progressive claim run
    claims_kimg: float = 4.0  # length of each Table 1 row run (d, e, f, g)
    claims_resolution: int = 16  # resolution of the Table 1 row runs

    RESUMABLE_CHANGES: ClassVar[tuple[str, ...]] = RunConfig.RESUMABLE_CHANGES + (
        "claims_seeds", "claims_phase_kimg", "claims_kimg", "claims_resolution", "conv_gradfix",
        "fused_upsample")

    def validate(self) -> None:
        res_ok = [2**k for k in range(2, 11)]
        for name in ("resolution", "start_resolution"):
            if getattr(self, name) not in res_ok:
                raise ConfigError(f"{name}={getattr(self, name)} must be a power of two in {res_ok}")
        if self.start_resolution > self.resolution:
            raise ConfigError(f"start_resolution={self.start_resolution} exceeds resolution={self.resolution}")
        if self.n_critic < 1:
            raise ConfigError(f"n_critic={self.n_critic} must be ≥ 1")
        for name in ("latent_dim", "fmap_base", "fmap_max", "mbstd_group"):
            check_range(self, name, ge=1)
        for name in ("lr", "adam_eps", "gp_gamma", "stabilize_kimg", "claims_phase_kimg", "claims_kimg"):
            check_range(self, name, gt=0)
        check_range(self, "claims_seeds", ge=1)
        for name in ("gp_lambda", "drift", "fade_kimg"):
            check_range(self, name, ge=0)
        for name in ("beta1", "beta2"):
            check_range(self, name, ge=0, lt=1)
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay={self.ema_decay} must be in [0, 1)")
        if self.dataset in ("cifar10", "folder") and not self.data_dir and not self.dry_run:
            raise ConfigError(f"dataset={self.dataset!r} needs data_dir (a folder); shapes needs none")
        if self.extractor == "inception" and not self.inception_weights:
            raise ConfigError("extractor='inception' needs inception_weights=PATH (nothing is downloaded)")
        if self.claims_resolution not in res_ok:
            raise ConfigError(f"claims_resolution={self.claims_resolution} must be a power of two in {res_ok}")
        for r, b in self.batch_sizes.items():
            if b < 1:
                raise ConfigError(f"batch_sizes[{r}]={b} must be ≥ 1")

    def apply_ablation(self, values: dict[str, Any]) -> dict[str, Any]:
        """Table 1: accumulate the row changes from (a) down to the selected row (e* and e are alternatives)."""
        if not self.ablation:
            return values
        out = dict(values)
        for row in ablation_chain(self.ablation):
            out.update(table1_rows()[row]["set"])
        return out


def ablation_chain(row: str) -> list[str]:
    """Rows applied for ``row``: cumulative from (a), skipping the e*/e alternative not chosen."""
    order = [r for r in ABLATION_ROWS if r]
    if row not in order:
        raise ConfigError(f"ablation={row!r} is not a Table 1 row; choose one of {order}")
    chain = order[: order.index(row) + 1]
    if row != "e*" and "e*" in chain:
        chain.remove("e*")  # (e) replaces (e*) rather than adding to it
    return chain


@functools.lru_cache(maxsize=1)
def table1_rows() -> dict[str, dict[str, Any]]:
    rows = load_yaml(papers_dir() / "progan" / "paper.yaml")["table1"]["rows"]
    return {str(k): v for k, v in rows.items()}
