"""alphaGAN's retrain (App. 9.1): an ordinary training run in ``out_dir/retrain/`` of the plain G built from a
genotype (the searched one, a file, a published name or ``random:<seed>``) with the fixed D."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gancore.engine.recipe import MethodBase, Training
from gancore.errors import ConfigError
from gancore.models.alphagan_space import Genotype, load_genotype
from gancore.recipes import common
from gancore.recipes.alphagan.config import AlphaGANConfig
from gancore.recipes.alphagan.data import ImageBank, build_images
from gancore.recipes.alphagan.nets import adam, build_networks, loss_fns
from gancore.sampling import sample_uint8 as draw
from gancore.steps import alternating_step


class RetrainMethod(MethodBase):
    """One ``train_step`` = one G iteration: ``retrain_n_critic`` D steps on ``retrain_d_batch`` reals, then one G
    step on ``retrain_g_batch`` latents; Adam(2e-4, β = (0, 0.9)) for both (App. 9.1)."""

    def __init__(self, *, cfg: AlphaGANConfig, genotype: Genotype, device: torch.device):
        super().__init__()
        self.cfg, self.device, self.genotype = cfg, device, genotype
        torch.manual_seed(cfg.seed)
        G, D = build_networks(cfg, genotype=genotype)
        self.G, self.D = G.to(device), D.to(device)
        betas = (cfg.retrain_beta1, cfg.retrain_beta2)
        self.opt_g = adam(self.G.parameters(), lr=cfg.retrain_lr_g, betas=betas)
        self.opt_d = adam(self.D.parameters(), lr=cfg.retrain_lr_d, betas=betas)
        self.resolution, self.batch_size = cfg.resolution, cfg.retrain_d_batch
        self.length_nimg = int(round(cfg.retrain_images() / 1000 * 1000))
        self.d_loss, self.g_loss = loss_fns(cfg.loss)

    def latent_dim(self) -> int:
        return self.cfg.dim_z

    def _z(self, n: int, rng: torch.Generator) -> Tensor:
        return torch.randn(n, self.cfg.dim_z, generator=rng).to(self.device)

    def train_step(self, nimg: int, reals, rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        cfg = self.cfg
        d_losses, loss_g = alternating_step(G=self.G, D=self.D, opt_g=self.opt_g, opt_d=self.opt_d, reals=reals,
                                            latents=self._z, rng=rng, d_loss=self.d_loss, g_loss=self.g_loss,
                                            n_critic=cfg.retrain_n_critic, d_batch=cfg.retrain_d_batch,
                                            g_batch=cfg.retrain_g_batch)
        d_total = torch.zeros((), device=self.device)
        for loss_d in d_losses:
            d_total = d_total + loss_d / cfg.retrain_n_critic
        return {"loss_d": d_total, "loss_g": loss_g}, cfg.retrain_d_batch * cfg.retrain_n_critic


def sample_uint8(G: nn.Module, *, n: int, seed: int, batch_size: int = 256, precision: str = "fp32") -> Tensor:
    """``n`` samples of G in eval mode as uint8 on the CPU, from latents seeded apart from training."""
    return draw(G, n=n, dim=G.dim_z, seed=seed, batch_size=batch_size, precision=precision)


def fidelity(cfg: AlphaGANConfig, G: nn.Module, images: ImageBank, *, n: int, device: torch.device) -> dict[str, float]:
    """FID/IS/KID of G's samples against the training images (shapes network, or Inception from a path)."""
    if not common.can_score(cfg, warn=True):
        return {}
    n = min(n, len(images))
    fake = sample_uint8(G, n=n, seed=cfg.seed + 11, batch_size=cfg.eval_batch, precision=cfg.eval_precision)
    return common.score(cfg, fake, images.images[:n], resolution=cfg.resolution,
                        device=device)


def genotype_summary(cfg: AlphaGANConfig, genotype: Genotype) -> dict[str, Any]:
    """Parameters (G, D) and FLOPs in both conventions of the plain G of ``genotype`` at ``cfg``'s width."""
    from gancore.models.alphagan import AlphaGANDiscriminator, AlphaGANGenerator, count_flops
    from gancore.nn import count_params

    with torch.random.fork_rng(devices=[]):  # sizing a genotype never moves a run's random state
        G = AlphaGANGenerator(channels=cfg.g_channels, dim_z=cfg.dim_z, bottom_width=cfg.bottom_width,
                              genotype=genotype)
        D = AlphaGANDiscriminator(channels=cfg.d_channels, resolution=cfg.resolution)
        flops = count_flops(G)
    return {"params_G": count_params(G), "params_D": count_params(D), "params_G_m": round(count_params(G) / 1e6, 3),
            "macs_g": round(flops["macs"] / 1e9, 4), "flops_paper_convention_g": round(flops["paper"] / 1e9, 4)}


class RetrainEvaluator:
    """FID/IS/KID of the retrained G: the untrained G's (the yardstick) and the final one."""

    def __init__(self, *, cfg: AlphaGANConfig, images: ImageBank, device: torch.device):
        self.cfg, self.images, self.device = cfg, images, device

    def initial(self, G: nn.Module) -> dict[str, float]:
        return fidelity(self.cfg, G, self.images, n=self.cfg.final_num_images, device=self.device)

    def final(self, G: nn.Module, nimg: int) -> dict[str, float]:
        return fidelity(self.cfg, G, self.images, n=self.cfg.final_num_images, device=self.device)


class RetrainPart(Training):
    """The retrain of one genotype as a training run (the alphaGAN pipeline's second part)."""

    def __init__(self, genotype: Genotype):
        self.genotype = genotype

    def build_data(self, cfg: AlphaGANConfig) -> ImageBank | None:
        return build_images(cfg)

    def build_method(self, cfg: AlphaGANConfig, *, data, held_out, device: torch.device) -> RetrainMethod:
        return RetrainMethod(cfg=cfg, genotype=self.genotype, device=device)

    def build_evaluator(self, cfg: AlphaGANConfig, *, data, method, device) -> RetrainEvaluator:
        return RetrainEvaluator(cfg=cfg, images=data, device=device)

    def describe(self, cfg: AlphaGANConfig, *, method, trainer, data, device) -> dict[str, Any]:
        return {"genotype": self.genotype.to_dict(), **genotype_summary(cfg, self.genotype),
                "iterations": cfg.retrain_iterations}


def retrain_config(cfg: AlphaGANConfig, *, genotype: str, out_dir: str | Path, seed: int | None = None,
                   iterations: int | None = None) -> AlphaGANConfig:
    """The config of one retrain run folder: ``cfg`` with the genotype it trains, its folder, seed and length."""
    return dataclasses.replace(cfg, mode="retrain", genotype=genotype, out_dir=str(out_dir),
                               seed=cfg.seed if seed is None else seed,
                               retrain_iterations=cfg.retrain_iterations if iterations is None else iterations)


def resolve_genotype(cfg: AlphaGANConfig) -> Genotype:
    """The genotype a retrain trains: ``cfg.genotype`` (a path, a published name, random:<seed>), or with ``""``
    the ``genotype.json`` a search wrote into ``out_dir``."""
    if cfg.genotype:
        return load_genotype(cfg.genotype, run_dir=cfg.out_dir)
    path = Path(cfg.out_dir) / "genotype.json"
    if not path.is_file():
        raise ConfigError(f"mode='retrain' with genotype='' retrains the search result in {path}, which does not "
                          "exist: run the search first (mode='search+retrain' or 'search'), or pass genotype= a "
                          "genotype.json path, alphagan_s, alphagan_l or random:<seed>")
    return load_genotype(path)
