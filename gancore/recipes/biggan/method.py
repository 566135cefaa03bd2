"""BigGAN's networks and update step (Brock et al. 2019).

- §3 / App. B networks from :mod:`gancore.models.biggan` (shared embedding, hierarchical z, projection D,
  self-attention, spectral norm in G and D, orthogonal init; BigGAN-deep with ``arch="deep"``);
- App. C optimisation: hinge loss, ``d_steps`` = 2 D steps per G step, Adam(β1=0, β2=0.999) with lr_D = 2e-4 and
  lr_G = 5e-5, batches of 2048 through gradient accumulation (:func:`gancore.steps.accumulated_step`); G's EMA of
  0.9999 from ``ema_start_kimg`` is the engine's;
- §3.1 off-diagonal orthogonal regularization of G (β = 1e-4), §4.2 optional zero-centred R1 on D;
- App. C cross-replica BatchNorm: :func:`sync_batchnorm_if_distributed`;
- §4.1 top-3 singular values of every weight, logged and watched for collapse (:class:`SpectralHook`).
"""
from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from gancore import losses
from gancore.engine.loop import Hooks, RunState
from gancore.engine.recipe import MethodBase
from gancore.models.biggan import Discriminator, DiscriminatorDeep, Generator, GeneratorDeep
from gancore.nn import ConditionalBatchNorm2d, SelfAttention
from gancore.precision import autocast, resolve_precision, to_channels_last
from gancore.recipes.biggan.config import BigGANConfig
from gancore.steps import accumulated_step


def build_networks(cfg: BigGANConfig, *, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G and D of App. B (BigGAN or BigGAN-deep) with the Table 1 switches of ``cfg``."""
    att = tuple(cfg.attention_res)
    d_ch = cfg.d_ch or cfg.ch
    common_args = dict(resolution=cfg.resolution, num_classes=num_classes, attention_res=att, sn_eps=cfg.sn_eps,
                       ortho_init=cfg.ortho_init)
    if cfg.arch == "deep":
        G = GeneratorDeep(ch=cfg.ch, dim_z=cfg.dim_z, shared_dim=cfg.shared_dim, depth=cfg.depth,
                          channel_ratio=cfg.channel_ratio, bn_eps=cfg.bn_eps, **common_args)
        D = DiscriminatorDeep(ch=d_ch, depth=cfg.depth, channel_ratio=cfg.channel_ratio, **common_args)
    else:
        G = Generator(ch=cfg.ch, dim_z=cfg.dim_z, shared_dim=cfg.shared_dim, hier=cfg.hier, shared=cfg.shared,
                      bn_eps=cfg.bn_eps, **common_args)
        D = Discriminator(ch=d_ch, **common_args)
    return G, D


def sync_batchnorm_if_distributed(G: nn.Module, device: torch.device | None = None) -> nn.Module:
    """App. C cross-replica BatchNorm: under torch.distributed every BatchNorm of G becomes SyncBatchNorm.

    BigGAN's statistics are computed over the whole batch across all TPU cores; SyncBatchNorm does the same across
    ranks. On one process G is returned unchanged (the two are identical there). torch's SyncBatchNorm runs on GPUs
    only, so a multi-process CPU run keeps per-rank statistics and warns.
    """
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1):
        return G
    if device is not None and device.type == "cpu":
        warnings.warn("cross-replica BatchNorm needs GPUs (torch's SyncBatchNorm is CUDA-only): this CPU run keeps "
                      "per-process BatchNorm statistics", stacklevel=2)
        return G
    return nn.SyncBatchNorm.convert_sync_batchnorm(G)


def ortho_weights(G: nn.Module) -> list[Tensor]:
    """The weights §3.1's orthogonal regularization acts on: every ≥2-D weight of G except class-embedding tables.

    Embedding tables (the shared embedding, and the non-spectrally-normalised per-layer CBN maps of one-hot classes
    that stand for SAGAN's per-layer embeddings) are rows per class, not filters, so decorrelating them has no
    meaning; the authors' code excludes the shared embedding likewise.
    """
    skip: set[int] = set()
    for module in G.modules():
        if isinstance(module, nn.Embedding):
            skip.add(id(module.weight))
        if isinstance(module, ConditionalBatchNorm2d) and isinstance(module.gain, nn.Linear) \
                and not hasattr(module.gain, "parametrizations"):
            skip.update({id(module.gain.weight), id(module.bias.weight)})
    return [p for p in G.parameters() if p.ndim >= 2 and id(p) not in skip]


class BigGANMethod(MethodBase):
    """One BigGAN iteration (App. C): ``d_steps`` D steps then one G step, each over ``accumulate`` micro-batches."""

    def __init__(self, *, cfg: BigGANConfig, num_classes: int, device: torch.device):
        super().__init__()
        self.cfg, self.device, self.num_classes = cfg, device, num_classes
        self.precision = resolve_precision(cfg.precision, device)
        torch.manual_seed(cfg.seed)  # network init is part of the seeded run
        G, D = build_networks(cfg, num_classes=num_classes)
        self.G, self.D = sync_batchnorm_if_distributed(G, device).to(device), D.to(device)
        if cfg.channels_last:
            to_channels_last(self.G, self.D)
        for m in [*self.G.modules(), *self.D.modules()]:
            if isinstance(m, SelfAttention):
                m.fused = cfg.fused_attention
        # The update step calls compiled wrappers that share the modules' parameters; the modules themselves (their
        # checkpoints, the EMA copy of G) stay plain. R1's double backward keeps D eager (torch.compile cannot).
        self.G_step = torch.compile(self.G) if cfg.compile else self.G
        self.D_step = torch.compile(self.D) if cfg.compile and cfg.r1_gamma == 0 else self.D
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2),
                                      eps=cfg.adam_eps)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                                      eps=cfg.adam_eps)
        self.resolution, self.batch_size = cfg.resolution, cfg.batch_size
        self.length_nimg = int(round((cfg.total_kimg or 1.0) * 1000))
        self._ortho = ortho_weights(self.G) if cfg.ortho and cfg.ortho_beta > 0 else []
        self.d_loss, self.g_loss = ((losses.hinge_d_loss, losses.hinge_g_loss) if cfg.loss == "hinge"
                                    else (losses.ns_d_loss, losses.ns_g_loss))
        self.spectral = None  # the §4.1 monitor, attached by SpectralHook

    def latent_dim(self) -> int:
        return self.cfg.dim_z

    def extra_state(self) -> dict[str, Any]:
        out = dict(self.extra)
        if self.spectral is not None:  # read at checkpoint time only: the monitor's running D-loss sum included
            out["spectral"] = self.spectral.state_dict()
        return out

    def grid_labels(self, n: int) -> Tensor:
        return torch.arange(n) % self.num_classes  # the columns of a sample grid are classes

    def loop_hooks(self) -> Hooks:
        return Hooks(on_step=[SpectralHook(cfg=self.cfg, method=self)] if self.cfg.sv_every_kimg > 0 else [])

    def sample_inputs(self, n: int, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """Training z ~ N(0, I) (truncation is a sampling-time trick only, §3.1) and uniform class labels."""
        z = torch.randn(n, self.cfg.dim_z, generator=rng)
        y = torch.randint(self.num_classes, (n,), generator=rng)
        return z.to(self.device), y.to(self.device)

    def generate(self, G: nn.Module, z: Tensor, labels: Tensor | None = None, *, nimg: int = 0) -> Tensor:
        if labels is None:
            labels = torch.arange(z.shape[0], device=z.device) % self.num_classes
        return self.render(G, z, y=labels)

    def autocast(self):
        """bf16 autocast of the forward passes when ``precision="bf16"``: weights, optimizer state and the losses
        stay fp32 (mixed precision), only matmuls/convolutions run in bf16."""
        return autocast(self.device, self.precision)

    def _ortho_penalty(self) -> Tensor:
        """§3.1 eq. (3), added once per G step (it does not depend on the batch); fp32 always."""
        with torch.autocast(self.device.type, enabled=False):
            return losses.orthogonal_regularization(self._ortho, beta=self.cfg.ortho_beta)

    def train_step(self, nimg: int, reals, rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        cfg = self.cfg
        with self.autocast():
            return accumulated_step(G=self.G_step, D=self.D_step, opt_g=self.opt_g, opt_d=self.opt_d, reals=reals,
                                    inputs=self.sample_inputs, rng=rng, d_loss=self.d_loss, g_loss=self.g_loss,
                                    d_steps=cfg.d_steps, micro_batch=cfg.micro_batch, accumulate=cfg.accumulate,
                                    r1_gamma=cfg.r1_gamma, g_penalty=self._ortho_penalty if self._ortho else None,
                                    penalty_name="ortho", device=self.device)


class SpectralHook:
    """Logs the §4.1 singular values every ``sv_every_kimg`` and warns on σ0 explosion / D-loss collapse.

    The monitor sees every step's D loss (kept on the device, so no host sync per step) and records every
    ``sv_every_kimg`` worth of iterations. Its state travels in the method's extra state, so a resumed run keeps
    its references and warns exactly as an uninterrupted one.
    """

    def __init__(self, *, cfg: BigGANConfig, method: BigGANMethod):
        from gancore.metrics.spectral import SpectralMonitor

        self.method = method
        per_step = cfg.d_steps * cfg.batch_size
        every = max(1, int(round(cfg.sv_every_kimg * 1000 / per_step)))
        self.monitor = SpectralMonitor(every_steps=every, explode_factor=cfg.sv_explode_factor,
                                       warmup_steps=every)  # σ0 grows fastest right after init: not a collapse
        if "spectral" in method.extra:
            self.monitor.load_state_dict(method.extra["spectral"])
        method.spectral = self.monitor

    def __call__(self, state: RunState, losses: dict[str, Tensor]) -> dict | None:
        record = self.monitor.update(state.step, self.method.G, self.method.D, d_loss=losses.get("loss_d"))
        return {"kind": "spectral", "step": state.step, **record} if record else None
