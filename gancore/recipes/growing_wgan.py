"""ProGAN's training step on a growth schedule (App. A.1): WGAN-GP with ε_drift at the schedule's resolution and
fade-in α, Adam on both nets. ProGAN's method and every DGGAN candidate are this step on their own nets and schedule;
the speed switches (precision, channels_last, conv_gradfix) are set up here once for both."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gancore.engine.loop import Hooks
from gancore.engine.recipe import MethodBase
from gancore.growth import Growth
from gancore.nn import gradfix
from gancore.precision import autocast, resolve_precision, to_channels_last
from gancore.steps import wgan_gp_step


class GrowingWGANGP(MethodBase):
    """A subclass builds its nets and schedule and calls :meth:`setup`; it provides ``latents``."""

    def setup(self, *, G: nn.Module, D: nn.Module, growth: Growth) -> None:
        """Place the nets, apply the config's speed switches, make the optimizers (cfg: lr, beta1/2, adam_eps,
        precision, channels_last, conv_gradfix)."""
        cfg, device = self.cfg, self.device
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
        self.growth = growth
        self.schedule, self.length_nimg = growth.schedule, growth.length_nimg

    def where(self, nimg: int) -> dict[str, Any]:
        return self.growth.where(nimg)

    def loop_hooks(self) -> Hooks:
        return Hooks(before_step=[self.growth.phase_end_grids(self.render)])

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
