"""ProGAN's networks and update step (Karras et al. 2018).

- Table 2 networks with the Table 1 switches of the config (:mod:`gancore.models.progan`);
- §2 progressive growing: the schedule of App. A.1 as a :class:`~gancore.growth.Growth` (phases, fade-in α, faded
  reals, a grid at the end of every phase);
- App. A.1 update: WGAN-GP with ε_drift and n_critic = 1 (:func:`gancore.steps.wgan_gp_step`), Adam(0.001, 0,
  0.99, 1e-8); G's EMA of 0.999 is the engine's.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gancore.engine.recipe import MethodBase
from gancore.growth import Growth
from gancore.models.progan import Discriminator, Generator, sample_latents
from gancore.nn import gradfix
from gancore.precision import autocast, resolve_precision, to_channels_last
from gancore.recipes.progan.config import ProGANConfig
from gancore.schedule import Schedule, fixed_schedule, progressive_schedule
from gancore.steps import wgan_gp_step


def build_networks(cfg: ProGANConfig) -> tuple[Generator, Discriminator]:
    """G and D of Table 2 with the Table 1 switches of ``cfg``."""
    common = dict(resolution=cfg.resolution, fmap_base=cfg.fmap_base, fmap_max=cfg.fmap_max,
                  low_capacity=cfg.low_capacity, eq_lr=cfg.eq_lr)
    G = Generator(latent_dim=cfg.latent_dim, pixelnorm=cfg.pixelnorm, normalize_latent=cfg.normalize_latent,
                  norm=cfg.g_norm, act=cfg.g_act, out_act=cfg.g_out, **common)
    D = Discriminator(mbstd=cfg.mbstd, mbstd_group=cfg.mbstd_group, mbdisc=cfg.mbdisc, norm=cfg.d_norm, **common)
    return G, D


def build_schedule(cfg: ProGANConfig) -> Schedule:
    """App. A.1's growth schedule (or one phase at the final resolution: Table 1 row (a) and the Fig. 4 control)."""
    batch_sizes = {} if cfg.keep_batch else cfg.batch_sizes  # keep_batch: batch_size at every resolution
    if not cfg.progressive:
        return fixed_schedule(resolution=cfg.resolution, batch_size=batch_sizes.get(cfg.resolution, cfg.batch_size),
                              kimg=cfg.total_kimg or cfg.stabilize_kimg)
    return progressive_schedule(start_resolution=cfg.start_resolution, resolution=cfg.resolution,
                                stabilize_kimg=cfg.stabilize_kimg, fade_kimg=cfg.fade_kimg,
                                batch_sizes=batch_sizes, default_batch=cfg.batch_size)


class ProGANMethod(MethodBase):
    """One WGAN-GP step of ProGAN App. A.1 at the growth schedule's current resolution and α."""

    def __init__(self, *, cfg: ProGANConfig, device: torch.device):
        super().__init__()
        self.cfg, self.device = cfg, device
        torch.manual_seed(cfg.seed)  # network init is part of the seeded run
        G, D = build_networks(cfg)
        self.G, self.D = G.to(device), D.to(device)
        self.precision = resolve_precision(cfg.precision, device)
        if cfg.channels_last:
            to_channels_last(self.G, self.D)
        if gradfix.wanted(cfg.conv_gradfix, device):
            gradfix.enable(self.D)  # the penalty differentiates D twice: keep that on convolution kernels
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps)
        # Adam holds state only for parameters that got gradients, so blocks that are not grown yet stay untouched.
        self.opt_g = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        self.growth = Growth(schedule=build_schedule(cfg))
        self.schedule = self.growth.schedule
        self.length_nimg = self.growth.length_nimg

    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def where(self, nimg: int) -> dict[str, Any]:
        return self.growth.where(nimg)

    def loop_hooks(self):
        from gancore.engine.loop import Hooks

        return Hooks(before_step=[self.growth.phase_end_grids(self.render)])

    def latents(self, n: int, rng: torch.Generator) -> Tensor:
        # App. A.1: N(0, I) here, projected onto the hypersphere by G's input PixelNorm (normalize_latent).
        return sample_latents(n, self.cfg.latent_dim, generator=rng).to(self.device)

    def generator_inputs(self, labels: Tensor | None, nimg: int) -> dict[str, Any]:
        return self.growth.net_kwargs(*self.growth.at(nimg))

    def train_step(self, nimg: int, reals, rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        phase, alpha = self.growth.at(nimg)
        cfg = self.cfg
        with autocast(self.device, self.precision):
            return wgan_gp_step(G=self.G, D=self.D, opt_g=self.opt_g, opt_d=self.opt_d,
                                reals=self.growth.reals(reals, phase, alpha), latents=self.latents,
                                batch_size=phase.batch_size, rng=rng, n_critic=cfg.n_critic, drift=cfg.drift,
                                gp_lambda=cfg.gp_lambda, gp_gamma=cfg.gp_gamma,
                                net_kwargs=self.growth.net_kwargs(phase, alpha))
