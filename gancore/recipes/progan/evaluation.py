"""ProGAN's metrics (§5): SWD per Laplacian level during training, FID/IS/KID, SWD and MS-SSIM at the end, and the
critic probe (which differences the trained D has learned)."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gancore.diagnostics import critic_probe as probe_critic
from gancore.data import to_float
from gancore.precision import autocast
from gancore.recipes import common
from gancore.recipes.progan.config import ProGANConfig
from gancore.sampling import sample_uint8


def generate_uint8(G: nn.Module, *, n: int, latent_dim: int, resolution: int, alpha: float = 1.0, seed: int = 0,
                   batch_size: int = 256, device: torch.device | str = "cpu", precision: str = "fp32") -> Tensor:
    """``n`` samples of G (eval mode) at ``resolution`` and fade-in ``alpha`` as uint8 on the CPU, from latents
    seeded independently of training."""
    return sample_uint8(G, n=n, dim=latent_dim, seed=seed, gen_kwargs={"resolution": resolution, "alpha": alpha},
                        batch_size=batch_size, precision=precision)


class ProGANEvaluator:
    """SWD per Laplacian level during training (§5), FID/IS/KID (+ MS-SSIM) at the end, with cached references."""

    def __init__(self, *, cfg: ProGANConfig, data, device: torch.device, growth=None):
        self.cfg, self.data, self.device, self.growth = cfg, data, device, growth
        self._swd_refs: dict[Any, Any] = {}

    def reals(self, resolution: int, n: int) -> Tensor:
        return self.data.images(resolution, n)

    def swd(self, G: nn.Module, resolution: int, alpha: float, n: int) -> dict[str, float]:
        from gancore.metrics.swd import SWDReference

        if resolution < 16:  # §5: the pyramid starts at 16×16
            return {}
        n = min(n, len(self.data))
        key = (resolution, n)
        if key not in self._swd_refs:
            self._swd_refs[key] = SWDReference(self.reals(resolution, n), seed=self.cfg.seed)
        fake = generate_uint8(G, n=n, latent_dim=self.cfg.latent_dim, resolution=resolution, alpha=alpha,
                              seed=self.cfg.seed + 7, device=self.device,
                              batch_size=self.cfg.eval_batch, precision=self.cfg.eval_precision)
        return self._swd_refs[key].score(fake)

    def fidelity(self, G: nn.Module, n: int, *, resolution: int | None = None, alpha: float = 1.0) -> dict[str, float]:
        """FID/IS/KID with the shipped shapes network or Inception from a path (default: the final resolution)."""
        cfg = self.cfg
        res = resolution or cfg.resolution
        if not common.can_score(cfg, warn=True):
            return {}
        n = min(n, len(self.data))
        fake = generate_uint8(G, n=n, latent_dim=cfg.latent_dim, resolution=res, alpha=alpha, seed=cfg.seed + 11,
                              device=self.device, batch_size=cfg.eval_batch, precision=cfg.eval_precision)
        return common.score(cfg, fake, self.reals(res, n), resolution=res, device=self.device)

    def final_at(self, G: nn.Module, *, resolution: int | None = None, alpha: float = 1.0) -> dict[str, float]:
        """All end-of-run metrics at ``resolution`` and ``alpha`` (default: the final resolution, grown)."""
        from gancore.metrics.msssim import ms_ssim_pairs

        cfg = self.cfg
        res = resolution or cfg.resolution
        n = cfg.final_num_images
        out = dict(self.fidelity(G, n, resolution=res, alpha=alpha))
        out.update(self.swd(G, res, alpha, n))
        fake = generate_uint8(G, n=min(n, 1000), latent_dim=cfg.latent_dim, resolution=res, alpha=alpha,
                              seed=cfg.seed + 13, device=self.device)
        if res >= 16:
            out["ms_ssim"] = ms_ssim_pairs(fake, num_pairs=min(1000, len(fake) * 2), seed=cfg.seed)
        return out

    # ---- the engine's Evaluator ------------------------------------------------------------------------------
    def initial(self, G: nn.Module) -> dict[str, float]:
        """The untrained G's FID/IS/KID: the yardstick of "training helped" (e.g. FID at most half of it)."""
        return self.fidelity(G, min(self.cfg.final_num_images, 1024))

    def during_training(self, G: nn.Module, nimg: int) -> dict[str, float]:
        phase, alpha = self.growth.at(nimg)
        return self.swd(G, phase.resolution, alpha, self.cfg.metric_num_images)

    def final(self, G: nn.Module, nimg: int) -> dict[str, float]:
        """At the resolution and α the run reached (a time-limited run may stop mid-growth)."""
        phase, alpha = self.growth.at(nimg)
        return self.final_at(G, resolution=phase.resolution, alpha=alpha)


def critic_probe(run, *, n: int = 256) -> list[dict[str, Any]]:
    """The trained critic's scores on reals, blurred / octave-reduced / noisy reals and the EMA G's samples, at the
    resolution and α the run reached (:func:`gancore.diagnostics.critic_probe`): which differences D has learned."""
    if run.summary.get("status") == "dry_run" or run.evaluator is None or run.evaluator.data is None:
        raise ValueError("critic_probe needs a trained run with data (this one is a dry run)")
    phase, alpha = run.method.growth.at(run.trainer.state.nimg)
    res = phase.resolution
    device, D = run.method.device, run.method.D
    reals = to_float(run.evaluator.reals(res, n)).to(device)
    fakes = to_float(generate_uint8(run.G_ema, n=len(reals), latent_dim=run.cfg.latent_dim, resolution=res,
                                    alpha=alpha, seed=run.cfg.seed + 23, device=device)).to(device)
    was = D.training
    D.eval()
    try:
        with autocast(device, run.method.precision):
            return probe_critic(lambda x: D(x, resolution=res, alpha=alpha), reals, fakes, seed=run.cfg.seed)
    finally:
        D.train(was)
