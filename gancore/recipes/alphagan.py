"""alphaGAN (Tian et al.) on gancore's shared loop: the duality-gap-guided search (Alg. 1, 2) and the retrain.

* **Search** — one :class:`~gancore.train.Trainer` run of the supernet in which one ``train_step`` is one Alg. 1
  epoch: T weight steps on the training half (``n_critic`` D steps and one G step each), the worst-case copies
  D̄ and Ḡ of Alg. 2 (R steps each on the validation half, fresh optimizers), then S architecture steps that
  minimise V = Adv(G, D̄) − Adv(Ḡ, D) (eq. 3/5) over α on the validation half. The checkpoint after an epoch holds
  α, every weight, the three persistent optimizers (G, D, α), the epoch and both halves' stream positions, so a
  killed search resumes bitwise. The derived genotype (argmax per edge) is logged after every epoch (Fig. 3) and
  written to ``genotype.json`` at the end.
* **Retrain** (App. 9.1) — an ordinary run in ``out_dir/retrain/`` of the plain G built from a genotype (the
  searched one, a file, a published name or ``random:<seed>``) with the fixed D.

Adv(G, D) is the D side's value, −(D loss): for hinge E[min(0, D(x) − 1)] + E[min(0, −1 − D(G(z)))], for the
non-saturating loss E[log σ(D(x))] + E[log(1 − σ(D(G(z))))]. D̄ maximises it; Ḡ takes steps on the usual G loss,
as the authors' code does.
"""
from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore import losses
from gancore.config import resolve
from gancore.data import BatchStream
from gancore.errors import ConfigError
from gancore.models.alphagan import AlphaGANDiscriminator, AlphaGANGenerator, count_flops, derive_d_ops
from gancore.recipes import common
from gancore.recipes.alphagan_config import AlphaGANConfig
from gancore.schedule import Phase, Schedule, fixed_schedule
from gancore.search.duality_gap import duality_gap, worst_case_discriminator, worst_case_generator
from gancore.search.genotype import Genotype, derive_genotype, load_genotype
from gancore.train import Hooks, RunState, Trainer, TrainingDiverged, count_params, pick_device

PAPER = "alphagan"


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> AlphaGANConfig:
    """Resolve an alphaGAN config: dataclass defaults ← papers/alphagan/<scale>[-preset].yaml ← overrides."""
    return resolve(AlphaGANConfig, paper=PAPER, scale=scale, preset=preset, overrides=overrides)


# ---------------------------------------------------------------------------------------------------------------------
# Data: the run's images at exactly its resolution, and the §5.1 train/validation split
# ---------------------------------------------------------------------------------------------------------------------
class ImageBank:
    """uint8 images at the run's resolution; ``batch`` returns float [-1, 1] minibatches (the Trainer's data API)."""

    def __init__(self, *, images: Tensor, labels: Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, idx: Tensor) -> "ImageBank":
        return ImageBank(images=self.images[idx], labels=self.labels[idx])

    def batch(self, idx: Tensor, *, resolution: int | None = None, alpha: float = 1.0, device: torch.device,
              flip: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x = self.images[idx].to(device).float().div_(127.5).sub_(1.0)
        if flip is not None and bool(flip.any()):
            x = torch.where(flip.to(device).view(-1, 1, 1, 1), x.flip(-1), x)
        return x, self.labels[idx].to(device)


def build_images(cfg: AlphaGANConfig) -> ImageBank | None:
    """The training images at ``cfg.resolution``. A resolution that is not a power of two (STL-10's 48², §5.2) is
    rendered or loaded at the next power of two and area-resized, as the paper resizes STL-10's 96² images."""
    res = cfg.resolution
    source = res if res & (res - 1) == 0 else 1 << res.bit_length()
    data = common.build_data(cfg, resolution=source)
    if data is None:
        return None
    images = data.cache.at(source)
    if source != res:
        resized = [F.interpolate(images[i:i + 512].float(), size=(res, res), mode="area")
                   for i in range(0, len(images), 512)]
        images = torch.cat(resized).round_().clamp_(0, 255).to(torch.uint8)
    return ImageBank(images=images, labels=data.labels)


def split_halves(n: int, *, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """§5.1's random split of the training set into a training and a validation half (seeded, disjoint)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 5_000_011))
    n_val = max(1, min(n - 1, int(round(n * val_fraction))))
    return perm[n_val:].sort().values, perm[:n_val].sort().values


# ---------------------------------------------------------------------------------------------------------------------
# Losses: the adversarial value Adv (eq. 3) and the training losses
# ---------------------------------------------------------------------------------------------------------------------
def loss_fns(name: str) -> tuple[Callable[[Tensor, Tensor], Tensor], Callable[[Tensor], Tensor]]:
    """(D loss, G loss) of ``hinge`` or ``ns``; Adv(G, D) = −D loss."""
    return (losses.hinge_d_loss, losses.hinge_g_loss) if name == "hinge" else (losses.ns_d_loss, losses.ns_g_loss)


def joint_d_loss(D: nn.Module, d_loss: Callable[[Tensor, Tensor], Tensor], x: Tensor, fake: Tensor) -> Tensor:
    """D's loss from one pass over reals and fakes together (D has no BatchNorm, so the scores equal two passes;
    per-call overhead dominates these small nets)."""
    scores = D(torch.cat([x, fake]))
    return d_loss(scores[: len(x)], scores[len(x):])


def build_networks(cfg: AlphaGANConfig, *, genotype: Genotype | None) -> tuple[AlphaGANGenerator, AlphaGANDiscriminator]:
    """The supernet (``genotype=None``) or a retrain G, and the fixed (or, in a search with ``search_d``, searched) D."""
    G = AlphaGANGenerator(channels=cfg.g_channels, dim_z=cfg.dim_z, bottom_width=cfg.bottom_width, genotype=genotype,
                          relaxation=cfg.relaxation, tau=cfg.gumbel_tau)
    D = AlphaGANDiscriminator(channels=cfg.d_channels, resolution=cfg.resolution,
                              searchable=cfg.search_d and genotype is None)
    return G, D


def _adam(params, *, lr: float, betas: tuple[float, float], weight_decay: float = 0.0) -> torch.optim.Adam:
    return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)


# ---------------------------------------------------------------------------------------------------------------------
# The search (Alg. 1 with Alg. 2)
# ---------------------------------------------------------------------------------------------------------------------
class SearchMethod:
    """One ``train_step`` = one Alg. 1 epoch: weight part, worst-case part (Alg. 2), architecture part."""

    def __init__(self, *, cfg: AlphaGANConfig, device: torch.device, val: ImageBank | None):
        self.cfg, self.device, self.val = cfg, device, val
        torch.manual_seed(cfg.seed)  # network and α init are part of the seeded run
        G, D = build_networks(cfg, genotype=None)
        self.G, self.D = G.to(device), D.to(device)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = _adam(self.G.weight_parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = _adam(self.D.weight_parameters(), lr=cfg.lr_d, betas=betas)
        self.opt_arch = _adam(self.G.arch_parameters() + self.D.arch_parameters(), lr=cfg.arch_lr,
                              betas=(cfg.arch_beta1, cfg.arch_beta2), weight_decay=cfg.arch_weight_decay)
        self.schedule: Schedule = fixed_schedule(resolution=cfg.resolution, batch_size=cfg.batch_size,
                                                 kimg=cfg.epochs * cfg.epoch_images() / 1000)
        self.d_loss, self.g_loss = loss_fns(cfg.loss)
        self.val_stream = BatchStream(num_items=max(1, len(val) if val is not None else 1), seed=cfg.seed + 7)
        self.epoch = 0
        self.last: dict[str, Any] = {}

    # ---- the Method protocol -------------------------------------------------------------------------------
    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d, "arch": self.opt_arch}

    def latent_dim(self) -> int:
        return self.cfg.dim_z

    def extra_state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "val_stream": self.val_stream.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.epoch = int(state["epoch"])
        self.val_stream.load_state_dict(state["val_stream"])

    def generate(self, G: nn.Module, z: Tensor, phase: Phase, alpha: float, labels: Tensor | None = None) -> Tensor:
        was = G.training
        G.eval()
        try:
            with torch.no_grad():
                return G(z)
        finally:
            G.train(was)

    # ---- helpers -----------------------------------------------------------------------------------------------
    def _z(self, n: int, rng: torch.Generator) -> Tensor:
        return torch.randn(n, self.cfg.dim_z, generator=rng).to(self.device)

    def _val_reals(self, n: int) -> Tensor:
        return self.val.batch(self.val_stream.next_indices(n), device=self.device)[0]

    def adv(self, real_scores: Tensor, fake_scores: Tensor) -> Tensor:
        """Adv(G, D) of eq. (3): the value D maximises, −(D loss)."""
        return -self.d_loss(real_scores, fake_scores)

    def alpha_frozen(self) -> bool:
        """α is not updated in this epoch: the α-frozen control, or the first half under Table 9's warm-up."""
        return self.alpha_frozen_for(self.epoch)

    def alpha_frozen_for(self, epoch: int) -> bool:
        return self.cfg.freeze_alpha or (self.cfg.warmup and epoch < self.cfg.epochs // 2)

    # ---- one epoch ------------------------------------------------------------------------------------------
    def train_step(self, phase: Phase, alpha: float, reals: Callable[[int], tuple[Tensor, Tensor]],
                   rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        cfg, G, D = self.cfg, self.G, self.D
        B = cfg.batch_size
        d_sum = g_sum = torch.zeros((), device=self.device)
        for _ in range(cfg.weight_steps):  # Alg. 1 lines 3–7 ("weight_part")
            for _ in range(cfg.n_critic):
                x = reals(B)[0]
                with torch.no_grad():
                    fake = G(self._z(B, rng), gumbel_rng=rng)
                self.opt_d.zero_grad(set_to_none=True)
                loss_d = self._d_step_loss(D, x, fake)
                loss_d.backward()
                self.opt_d.step()
                d_sum = d_sum + loss_d.detach()
            D.requires_grad_(False)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g = self.g_loss(D(G(self._z(B, rng), gumbel_rng=rng)))
            loss_g.backward()
            self.opt_g.step()
            D.requires_grad_(True)
            g_sum = g_sum + loss_g.detach()
        self.opt_arch.zero_grad(set_to_none=True)  # the weight steps also left gradients on α
        D_bar, G_bar = self._worst_case(rng)  # Alg. 1 line 9 / Alg. 2 ("test_weight_part")
        gap, minmax, maxmin = self._arch_part(D_bar, G_bar, rng)  # Alg. 1 lines 10–13 ("arch_part")
        self.epoch += 1
        steps = cfg.weight_steps
        out = {"loss_d": d_sum / (steps * cfg.n_critic), "loss_g": g_sum / steps, "gap": gap, "minmax": minmax,
               "maxmin": maxmin}
        self.last = {k: float(v) for k, v in out.items()} | {"alpha_frozen": self.alpha_frozen_for(self.epoch - 1)}
        return out, steps * cfg.n_critic * B

    def _d_step_loss(self, D: nn.Module, x: Tensor, fake: Tensor) -> Tensor:
        return joint_d_loss(D, self.d_loss, x, fake)

    def _worst_case(self, rng: torch.Generator) -> tuple[nn.Module, nn.Module]:
        """Alg. 2: D̄ from R steps on the validation half (G fixed), Ḡ from R steps of the G loss (D fixed);
        fresh optimizers each epoch with the weights' settings (α's for Ḡ's α, Table 4)."""
        cfg, B = self.cfg, self.cfg.batch_size
        betas = (cfg.beta1, cfg.beta2)

        def d_loss(G: nn.Module, D_bar: nn.Module, r: int) -> Tensor:
            with torch.no_grad():
                fake = G(self._z(B, rng), gumbel_rng=rng)
            return self._d_step_loss(D_bar, self._val_reals(B), fake)

        def g_loss(G_bar: nn.Module, D: nn.Module, r: int) -> Tensor:
            return self.g_loss(D(G_bar(self._z(B, rng), gumbel_rng=rng)))

        def g_optimizer(G_bar: AlphaGANGenerator) -> torch.optim.Optimizer:
            groups = []
            if cfg.gbar_update in ("weights", "both"):
                groups.append({"params": G_bar.weight_parameters(), "lr": cfg.lr_g, "betas": betas})
            if cfg.gbar_update in ("alpha", "both"):
                groups.append({"params": G_bar.arch_parameters(), "lr": cfg.arch_lr,
                               "betas": (cfg.arch_beta1, cfg.arch_beta2), "weight_decay": cfg.arch_weight_decay})
            return torch.optim.Adam(groups)

        D_bar = worst_case_discriminator(G=self.G, D=self.D, steps=cfg.worst_steps, d_loss=d_loss,
                                         optimizer=lambda m: _adam(m.weight_parameters(), lr=cfg.lr_d, betas=betas))
        G_bar = worst_case_generator(G=self.G, D=self.D, steps=cfg.worst_steps, g_loss=g_loss, optimizer=g_optimizer)
        D_bar.requires_grad_(False)
        G_bar.requires_grad_(False)
        return D_bar, G_bar

    def _arch_part(self, D_bar: nn.Module, G_bar: nn.Module, rng: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
        """S steps of Adam on α minimising V on validation batches; with α frozen, V is measured on the same batches
        and latents but nothing moves (so a control run consumes identical data)."""
        cfg, B, G, D = self.cfg, self.cfg.batch_size, self.G, self.D
        frozen = self.alpha_frozen()
        arch = self.G.arch_parameters() + self.D.arch_parameters()
        # Only Adv(G(α), D̄) depends on α unless Ḡ runs on the live α or D's α is searched (−Adv(Ḡ, D(α_D))).
        maxmin_grad = cfg.gbar_alpha_grad or cfg.search_d
        totals = [torch.zeros((), device=self.device) for _ in range(3)]
        weights_frozen = [p for p in G.weight_parameters() + D.weight_parameters() if p.requires_grad]
        for p in weights_frozen:
            p.requires_grad_(False)  # the arch part moves α only; no weight gradients are computed
        try:
            for _ in range(cfg.arch_steps):
                x = self._val_reals(B)
                z1, z2 = self._z(B, rng), self._z(B, rng)

                def adv(gen: nn.Module, dis: nn.Module) -> Tensor:
                    if gen is G:  # minmax = Adv(G(α), D̄)
                        scores = dis(torch.cat([x, gen(z1, gumbel_rng=rng)]))
                        return self.adv(scores[:B], scores[B:])
                    # maxmin = Adv(Ḡ, D): Ḡ on its own α copy, or on the live α (gbar_alpha_grad)
                    with torch.set_grad_enabled(maxmin_grad and not frozen):
                        fake = (gen(z2, weights=G.edge_weights(gumbel_rng=rng)) if cfg.gbar_alpha_grad
                                else gen(z2, gumbel_rng=rng))
                        scores = dis(torch.cat([x, fake]))
                        return self.adv(scores[:B], scores[B:])

                with torch.set_grad_enabled(not frozen):
                    gap, minmax, maxmin = duality_gap(adv=adv, G=G, D=D, G_bar=G_bar, D_bar=D_bar)
                if not frozen:
                    grads = torch.autograd.grad(gap, arch, allow_unused=True)
                    for p, g in zip(arch, grads):
                        p.grad = torch.zeros_like(p) if g is None else g
                    self.opt_arch.step()
                for i, v in enumerate((gap, minmax, maxmin)):
                    totals[i] = totals[i] + v.detach()
        finally:
            for p in weights_frozen:
                p.requires_grad_(True)
        return tuple(t / cfg.arch_steps for t in totals)  # type: ignore[return-value]

    # ---- what the search found ------------------------------------------------------------------------------
    def genotype(self) -> Genotype:
        """The derived genotype now (argmax per edge), with its α softmax in ``meta``."""
        wn, wu = (F.softmax(a.detach().float().cpu(), dim=-1) for a in (self.G.alpha_normal, self.G.alpha_up))
        meta = {"source": "gancore alphaGAN search", "epoch": self.epoch,
                "alpha_softmax": {"normal": [[round(v, 5) for v in row] for row in wn.tolist()],
                                  "up": [[round(v, 5) for v in row] for row in wu.tolist()]}}
        if self.cfg.search_d:
            meta["d_ops"] = derive_d_ops(self.D.alpha_d.detach().cpu())
        return derive_genotype(wn, wu, meta=meta)


class SearchLogHook:
    """After every epoch: the epoch's V, minmax and maxmin, the derived genotype and α's softmax (Fig. 3, Fig. 4)."""

    def __init__(self, method: SearchMethod):
        self.method = method

    def __call__(self, state: RunState, step_losses: dict[str, Tensor]) -> dict:
        g = self.method.genotype()
        return {"kind": "search", "epoch": self.method.epoch, **self.method.last,
                "normal": g.normal_ops(), "up": g.up_ops(), "alpha_softmax": g.meta["alpha_softmax"],
                **({"d_ops": g.meta["d_ops"]} if "d_ops" in g.meta else {})}


# ---------------------------------------------------------------------------------------------------------------------
# The retrain (App. 9.1)
# ---------------------------------------------------------------------------------------------------------------------
class RetrainMethod:
    """One ``train_step`` = one G iteration: ``retrain_n_critic`` D steps on ``retrain_d_batch`` reals, then one G
    step on ``retrain_g_batch`` latents; Adam(2e-4, β = (0, 0.9)) for both (App. 9.1)."""

    def __init__(self, *, cfg: AlphaGANConfig, genotype: Genotype, device: torch.device):
        self.cfg, self.device, self.genotype = cfg, device, genotype
        torch.manual_seed(cfg.seed)
        G, D = build_networks(cfg, genotype=genotype)
        self.G, self.D = G.to(device), D.to(device)
        betas = (cfg.retrain_beta1, cfg.retrain_beta2)
        self.opt_g = _adam(self.G.parameters(), lr=cfg.retrain_lr_g, betas=betas)
        self.opt_d = _adam(self.D.parameters(), lr=cfg.retrain_lr_d, betas=betas)
        self.schedule = fixed_schedule(resolution=cfg.resolution, batch_size=cfg.retrain_d_batch,
                                       kimg=cfg.retrain_images() / 1000)
        self.d_loss, self.g_loss = loss_fns(cfg.loss)
        self.extra: dict[str, Any] = {}  # e.g. the untrained G's metrics, kept in the checkpoint

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def latent_dim(self) -> int:
        return self.cfg.dim_z

    def extra_state(self) -> dict[str, Any]:
        return dict(self.extra)

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.extra = dict(state)

    generate = SearchMethod.generate

    def train_step(self, phase: Phase, alpha: float, reals: Callable[[int], tuple[Tensor, Tensor]],
                   rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        cfg, G, D = self.cfg, self.G, self.D
        bd, bg = cfg.retrain_d_batch, cfg.retrain_g_batch
        d_total = torch.zeros((), device=self.device)
        for _ in range(cfg.retrain_n_critic):
            x = reals(bd)[0]
            with torch.no_grad():
                fake = G(torch.randn(bd, cfg.dim_z, generator=rng).to(self.device))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d = joint_d_loss(D, self.d_loss, x, fake)
            loss_d.backward()
            self.opt_d.step()
            d_total = d_total + loss_d.detach() / cfg.retrain_n_critic
        D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g = self.g_loss(D(G(torch.randn(bg, cfg.dim_z, generator=rng).to(self.device))))
        loss_g.backward()
        self.opt_g.step()
        D.requires_grad_(True)
        return {"loss_d": d_total, "loss_g": loss_g.detach()}, bd * cfg.retrain_n_critic


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------------
@torch.no_grad()
def sample_uint8(G: nn.Module, *, n: int, seed: int, batch_size: int = 256) -> Tensor:
    """``n`` samples of G in eval mode as uint8 on the CPU, from latents seeded apart from training."""
    from gancore.widgets import generate_uint8

    z = torch.randn(n, G.dim_z, generator=torch.Generator().manual_seed(seed))
    return generate_uint8(G, z, batch_size=batch_size)


def fidelity(cfg: AlphaGANConfig, G: nn.Module, images: ImageBank, *, n: int, device: torch.device) -> dict[str, float]:
    """FID/IS/KID of G's samples against the training images (shapes network, or Inception from a path)."""
    from gancore.metrics.fidelity import fidelity_metrics

    if cfg.extractor == "shapes" and cfg.dataset != "shapes":
        warnings.warn("FID/IS/KID skipped: the shipped shapes network only describes the shapes dataset; pass "
                      "extractor='inception' and inception_weights=PATH for real data", stacklevel=2)
        return {}
    n = min(n, len(images))
    real = images.images[:n]
    return fidelity_metrics(sample_uint8(G, n=n, seed=cfg.seed + 11), real, metrics=("fid", "is", "kid"),
                            extractor=cfg.extractor, inception_weights=cfg.inception_weights,
                            cache_dir=common.fidelity_cache_dir(cfg),
                            cache_key=common.fidelity_cache_key(cfg, resolution=cfg.resolution, n=n),
                            device=str(device))


def genotype_summary(cfg: AlphaGANConfig, genotype: Genotype) -> dict[str, Any]:
    """Parameters (G, D) and FLOPs in both conventions of the plain G of ``genotype`` at ``cfg``'s width."""
    G = AlphaGANGenerator(channels=cfg.g_channels, dim_z=cfg.dim_z, bottom_width=cfg.bottom_width, genotype=genotype)
    D = AlphaGANDiscriminator(channels=cfg.d_channels, resolution=cfg.resolution)
    flops = count_flops(G)
    return {"params_G": count_params(G), "params_D": count_params(D), "params_G_m": round(count_params(G) / 1e6, 3),
            "macs_g": round(flops["macs"] / 1e9, 4), "flops_paper_convention_g": round(flops["paper"] / 1e9, 4)}


# ---------------------------------------------------------------------------------------------------------------------
# Whole runs
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class SearchResult(common.RunAccess):
    cfg: AlphaGANConfig
    method: SearchMethod
    trainer: Trainer
    genotype: Genotype
    summary: dict[str, Any]

    def search_log(self) -> list[dict]:
        return [r for r in self.log() if r.get("kind") == "search"]


@dataclass
class RetrainResult(common.RunAccess):
    cfg: AlphaGANConfig
    method: RetrainMethod
    trainer: Trainer
    genotype: Genotype
    summary: dict[str, Any]


@dataclass
class AlphaGANRun:
    cfg: AlphaGANConfig
    summary: dict[str, Any]
    search: SearchResult | None = None
    retrain: RetrainResult | None = None
    images: ImageBank | None = field(default=None, repr=False)

    @property
    def out_dir(self) -> Path:
        return Path(self.cfg.out_dir)


def search_trainer_config(cfg: AlphaGANConfig) -> AlphaGANConfig:
    """The search's cadences in images, derived from epochs: log every epoch, checkpoints and grids every
    ``ckpt_every_epochs`` / ``sample_every_epochs``. The EMA copies G each epoch (one update per epoch averages
    nothing meaningful); retrain runs keep the config's EMA."""
    ep = cfg.epoch_images() / 1000
    return dataclasses.replace(cfg, log_every_kimg=ep, ckpt_every_kimg=ep * cfg.ckpt_every_epochs,
                               sample_every_kimg=ep * cfg.sample_every_epochs, ema_decay=0.0)


def _device_and_threads(cfg: AlphaGANConfig) -> torch.device:
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    return pick_device(cfg.device)


def _search(cfg: AlphaGANConfig, images: ImageBank | None, *, progress: bool) -> SearchResult:
    device = _device_and_threads(cfg)
    if images is not None:
        train_idx, val_idx = split_halves(len(images), val_fraction=cfg.val_fraction, seed=cfg.seed)
        train, val = images.subset(train_idx), images.subset(val_idx)
    else:
        train = val = None
    method = SearchMethod(cfg=cfg, device=device, val=val)
    trainer = Trainer(cfg=search_trainer_config(cfg), method=method, data=train if train is not None
                      else common.NoData(), device=device, hooks=Hooks(on_step=[SearchLogHook(method)]))
    result = trainer.run(progress=progress)
    genotype = method.genotype()
    out = Path(cfg.out_dir)
    summary: dict[str, Any] = {
        "status": result["status"], "epochs_done": method.epoch, "epochs": cfg.epochs,
        "params_supernet_G": count_params(method.G), "params_D": count_params(method.D),
        "train_seconds": round(trainer.state.train_seconds, 2),
        "img_per_s": round(trainer.state.nimg / max(trainer.state.train_seconds, 1e-9), 2),
    }
    found = SearchResult(cfg, method, trainer, genotype, summary)
    if not cfg.dry_run:
        genotype.save(out / "genotype.json")
        summary["genotype"] = genotype.to_dict()
        summary["gap"] = [r["gap"] for r in found.search_log()]
    return found


def retrain_config(cfg: AlphaGANConfig, *, genotype: str, out_dir: str | Path, seed: int | None = None,
                   iterations: int | None = None) -> AlphaGANConfig:
    """The config of one retrain run folder: ``cfg`` with the genotype it trains, its folder, seed and length."""
    return dataclasses.replace(cfg, mode="retrain", genotype=genotype, out_dir=str(out_dir),
                               seed=cfg.seed if seed is None else seed,
                               retrain_iterations=cfg.retrain_iterations if iterations is None else iterations)


def _retrain(cfg: AlphaGANConfig, genotype: Genotype, images: ImageBank | None, *, progress: bool,
             evaluate: bool) -> RetrainResult:
    device = _device_and_threads(cfg)
    method = RetrainMethod(cfg=cfg, genotype=genotype, device=device)
    trainer = Trainer(cfg=cfg, method=method, data=images if images is not None else common.NoData(), device=device)
    previous = common.read_summary(cfg.out_dir)
    if not cfg.dry_run and not trainer.try_resume() and evaluate and images is not None:
        # The untrained G is the yardstick for "training helped" (a resumed run has it in its checkpoint).
        method.extra["initial_metrics"] = fidelity(cfg, trainer.ema.module, images, n=cfg.final_num_images,
                                                   device=device)
    result = trainer.run(progress=progress)
    summary: dict[str, Any] = {"genotype": genotype.to_dict(), **genotype_summary(cfg, genotype),
                               "status": result["status"], "iterations_done": trainer.state.step,
                               "iterations": cfg.retrain_iterations, "kimg": trainer.state.nimg / 1000,
                               "train_seconds": round(trainer.state.train_seconds, 2),
                               "img_per_s": round(trainer.state.nimg / max(trainer.state.train_seconds, 1e-9), 2),
                               "initial": method.extra.get("initial_metrics", {})}
    if cfg.dry_run:
        summary["status"] = "dry_run"
    elif common.finished_before(previous, result):
        summary["final"] = previous["final"]
    elif evaluate and images is not None:
        summary["final"] = fidelity(cfg, trainer.ema.module, images, n=cfg.final_num_images, device=device)
    common.write_summary(cfg.out_dir, summary)
    return RetrainResult(cfg, method, trainer, genotype, summary)


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


def check_inputs(cfg: AlphaGANConfig) -> None:
    """Called by :func:`gancore.preflight.check` (the notebook's parameter cell, scripts/train.py): a genotype to
    retrain must load before anything is built."""
    if cfg.genotype or cfg.mode == "retrain":
        resolve_genotype(cfg)


@common.locked_run
def run(cfg: AlphaGANConfig, *, images: ImageBank | None = None, progress: bool = True,
        evaluate: bool = True) -> AlphaGANRun:
    """Search and/or retrain under the run contract (``cfg.mode``); the search lives in ``out_dir`` and the retrain
    in ``out_dir/retrain``; ``out_dir/summary.json`` holds both parts."""
    if images is None:
        images = build_images(cfg)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    previous = common.read_summary(out)
    summary: dict[str, Any] = {"paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "mode": cfg.mode,
                               "dataset": cfg.dataset, "resolution": cfg.resolution,
                               "claims": previous.get("claims", [])}
    search = retrain = None
    if cfg.mode in ("search", "search+retrain"):
        search = _search(cfg, images, progress=progress)
        summary["search"] = search.summary
    if cfg.mode in ("retrain", "search+retrain"):
        if cfg.genotype:
            genotype = load_genotype(cfg.genotype, run_dir=out)
        else:
            genotype = search.genotype if search is not None else resolve_genotype(cfg)
        # The retrain folder's config names the genotype by its content, so a new search result (or an edited
        # genotype.json) is never resumed on top of another architecture's checkpoint.
        rcfg = retrain_config(cfg, genotype=genotype.compact(), out_dir=out / "retrain")
        retrain = _retrain(rcfg, genotype, images, progress=progress, evaluate=evaluate)
        summary["retrain"] = retrain.summary
    parts = [p.summary for p in (search, retrain) if p is not None]
    last = retrain if retrain is not None else search
    summary.update({
        "status": "dry_run" if cfg.dry_run else last.summary["status"],
        # The network a user ends up with: the retrained G when there is one, else the supernet.
        "params": {"G": count_params(last.method.G), "D": count_params(last.method.D)},
        "kimg": sum(p.trainer.state.nimg for p in (search, retrain) if p is not None) / 1000,
        "train_seconds": round(sum(p["train_seconds"] for p in parts), 2),
    })
    summary["img_per_s"] = round(summary["kimg"] * 1000 / max(summary["train_seconds"], 1e-9), 2)
    if retrain is not None and "final" in retrain.summary:
        summary["final"] = retrain.summary["final"]
        summary["initial"] = retrain.summary.get("initial", {})
    common.write_summary(out, summary)
    return AlphaGANRun(cfg, summary, search, retrain, images)


def memory_estimate(cfg: AlphaGANConfig):
    """Lower bound of a run's memory (:mod:`gancore.preflight`): the supernet's and D's state with the worst-case
    copies, and the activations of one search batch (or the retrain net's, when only retraining)."""
    from gancore.preflight import MemoryEstimate, layer_output_bytes, state_bytes
    from gancore.nn import skip_spectral_norm

    with torch.device("meta"), skip_spectral_norm():
        G, D = build_networks(cfg, genotype=resolve_genotype(cfg) if cfg.mode == "retrain" else None)
    parts = {"weights, gradients, Adam state, EMA and worst-case copies": 2 * state_bytes(G, D)}
    if not cfg.dry_run:
        z = torch.empty(2, cfg.dim_z, device="meta")
        per_image = layer_output_bytes([G, D], lambda: D(torch.cat([G(z)] * 2)), batch=2)
        batch = cfg.batch_size if cfg.mode != "retrain" else max(cfg.retrain_g_batch, cfg.retrain_d_batch)
        parts[f"activations (batch {batch})"] = per_image * batch
    if cfg.dataset == "shapes":
        parts["dataset"] = cfg.dataset_size * 3 * cfg.resolution ** 2 * 2
    return MemoryEstimate(parts, knobs={"state": "g_channels, d_channels, dim_z, resolution",
                                        "activations": "batch_size (search), retrain_g_batch / retrain_d_batch",
                                        "dataset": "dataset_size"}, host_only=("dataset",))


__all__ = ["AlphaGANConfig", "AlphaGANRun", "ImageBank", "RetrainMethod", "SearchMethod", "build_images",
           "build_networks", "fidelity", "genotype_summary", "load_config", "resolve_genotype", "retrain_config",
           "run", "split_halves", "TrainingDiverged"]
update_summary = common.update_summary
