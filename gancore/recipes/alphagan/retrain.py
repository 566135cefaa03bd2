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
from gancore.checkpoint import atomic_save
from gancore.recipes.alphagan.nets import adam, build_networks, init_retrain_weights, loss_fns
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
        if cfg.retrain_init == "xavier":  # the authors' weights_init (train_geno_gan.py); PyTorch's defaults else
            init_retrain_weights(G), init_retrain_weights(D)
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
    """FID/IS/KID of ``n`` samples of G against the training images (shapes network, or Inception from a path).
    The reference statistics use the whole training set (the authors' fid_stats_cifar10_train and STL-10
    train+unlabeled files), or its first ``fid_real_images`` images when that is set."""
    if not common.can_score(cfg, warn=True):
        return {}
    n = min(n, len(images))
    reals = images.images[:cfg.fid_real_images] if cfg.fid_real_images else images.images
    fake = sample_uint8(G, n=n, seed=cfg.seed + 11, batch_size=cfg.eval_batch, precision=cfg.eval_precision)
    return common.score(cfg, fake, reals, resolution=cfg.resolution, device=device)


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
    """FID/IS/KID of the retrained G: the untrained G's (the yardstick), every ``retrain_eval_every_epochs`` passes
    over the data (the authors' ``val_freq``) and the final one. Each evaluation is kept in the method's state (so in
    every checkpoint); the best-FID one's G_ema is written to ``best_G_ema.pt`` (atomic), and with
    ``retrain_select='best'`` it is the run's reported result, as the authors report their best epoch."""

    BEST_FILE = "best_G_ema.pt"

    def __init__(self, *, cfg: AlphaGANConfig, images: ImageBank, device: torch.device, method: RetrainMethod):
        self.cfg, self.images, self.device, self.method = cfg, images, device, method

    def _score(self, G: nn.Module, nimg: int) -> dict[str, float]:
        scores = fidelity(self.cfg, G, self.images, n=self.cfg.final_num_images, device=self.device)
        evals = self.method.extra.setdefault("evals", [])
        if scores and not any(e["nimg"] == nimg for e in evals):
            evals.append({"nimg": int(nimg), **scores})
            best = self.method.extra.get("best")
            if scores.get("fid") is not None and (best is None or scores["fid"] < best["fid"]):
                self.method.extra["best"] = {"nimg": int(nimg), **scores}
                atomic_save({"nimg": int(nimg), "G_ema": G.state_dict()}, Path(self.cfg.out_dir) / self.BEST_FILE)
        return scores

    def initial(self, G: nn.Module) -> dict[str, float]:
        return fidelity(self.cfg, G, self.images, n=self.cfg.final_num_images, device=self.device)

    def during_training(self, G: nn.Module, nimg: int) -> dict[str, float]:
        return self._score(G, nimg)

    def final(self, G: nn.Module, nimg: int) -> dict[str, float]:
        # A periodic evaluation at the last step already scored this very G_ema: reuse it (a 50k FID costs minutes).
        done = next((e for e in self.method.extra.get("evals", []) if e["nimg"] == nimg), None)
        return {k: v for k, v in done.items() if k != "nimg"} if done else self._score(G, nimg)


class RetrainPart(Training):
    """The retrain of one genotype as a training run (the alphaGAN pipeline's second part)."""

    BEST_FILE_NAME = RetrainEvaluator.BEST_FILE

    def __init__(self, genotype: Genotype):
        self.genotype = genotype

    def build_data(self, cfg: AlphaGANConfig) -> ImageBank | None:
        return build_images(cfg)

    def build_method(self, cfg: AlphaGANConfig, *, data, held_out, device: torch.device) -> RetrainMethod:
        self.num_images = len(data) if data is not None else 0  # one "epoch" of the evaluation cadence
        return RetrainMethod(cfg=cfg, genotype=self.genotype, device=device)

    def build_evaluator(self, cfg: AlphaGANConfig, *, data, method, device) -> RetrainEvaluator:
        return RetrainEvaluator(cfg=cfg, images=data, device=device, method=method)

    def loop_config(self, cfg: AlphaGANConfig) -> AlphaGANConfig:
        """Periodic FID/IS every ``retrain_eval_every_epochs`` passes over the data (the authors' val_freq 20)."""
        epochs = cfg.retrain_eval_every_epochs
        n = getattr(self, "num_images", 0)
        return dataclasses.replace(cfg, metrics_every_kimg=epochs * n / 1000) if epochs and n else cfg

    def results(self, outcome) -> dict[str, Any]:
        """With ``retrain_select='best'`` the reported ``final`` is the best-FID evaluation (periodic or last); the
        last G's scores stay in ``final_last`` and every evaluation in ``evals``."""
        extra, cfg = outcome.method.extra, outcome.cfg
        out: dict[str, Any] = {"evals": extra.get("evals", []), "final_last": outcome.final,
                               "selection": {"rule": cfg.retrain_select, "eval_every_epochs":
                                             cfg.retrain_eval_every_epochs}}
        best = extra.get("best")
        if cfg.retrain_select == "best" and best is not None and outcome.final:
            out["final"] = {k: v for k, v in best.items() if k != "nimg"}
            out["selection"].update(nimg=best["nimg"], file=self.BEST_FILE_NAME)
        return out

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
