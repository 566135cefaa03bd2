"""alphaGAN's search (Tian et al., Alg. 1 with Alg. 2): one training run of the supernet in which one step is one
Alg. 1 epoch.

An epoch is T D steps on the training half with a G step after every ``n_critic``-th D step (the authors' schedule),
the worst-case copies D̄ and Ḡ of Alg. 2 (R steps each on the validation half, fresh optimizers), then S architecture steps that minimise
V = Adv(G, D̄) − Adv(Ḡ, D) (eq. 3/5) over α on the validation half. The checkpoint after an epoch holds α, every
weight, the three persistent optimizers (G, D, α), the epoch and both halves' stream positions, so a killed search
resumes bitwise. The derived genotype (argmax per edge) is logged after every epoch (Fig. 3).

Adv(G, D) is the D side's value, −(D loss): for hinge E[min(0, D(x) − 1)] + E[min(0, −1 − D(G(z)))], for the
non-saturating loss E[log σ(D(x))] + E[log(1 − σ(D(G(z))))]. D̄ maximises it; Ḡ takes steps on the usual G loss,
as the authors' code does.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gancore.data import BatchStream
from gancore.engine.loop import Hooks, RunState
from gancore.engine.recipe import MethodBase, Training
from gancore.models.alphagan import AlphaGANGenerator, derive_d_ops
from gancore.models.alphagan_space import Genotype, derive_genotype
from gancore.nn import count_params
from gancore.recipes.alphagan.config import AlphaGANConfig
from gancore.recipes.alphagan.data import ImageBank, build_images, split_halves
from gancore.recipes.alphagan.nets import adam, build_networks, loss_fns
from gancore.search.duality_gap import duality_gap, worst_case_discriminator, worst_case_generator
from gancore.steps import d_step, g_step, joint_d_loss


class SearchMethod(MethodBase):
    """One ``train_step`` = one Alg. 1 epoch: weight part, worst-case part (Alg. 2), architecture part."""

    def __init__(self, *, cfg: AlphaGANConfig, device: torch.device, val: ImageBank | None):
        super().__init__()
        self.cfg, self.device, self.val = cfg, device, val
        torch.manual_seed(cfg.seed)  # network and α init are part of the seeded run
        G, D = build_networks(cfg, genotype=None)
        self.G, self.D = G.to(device), D.to(device)
        betas = (cfg.beta1, cfg.beta2)
        self.opt_g = adam(self.G.weight_parameters(), lr=cfg.lr_g, betas=betas)
        self.opt_d = adam(self.D.weight_parameters(), lr=cfg.lr_d, betas=betas)
        self.opt_arch = adam(self.G.arch_parameters() + self.D.arch_parameters(), lr=cfg.arch_lr,
                              betas=(cfg.arch_beta1, cfg.arch_beta2), weight_decay=cfg.arch_weight_decay)
        self.resolution, self.batch_size = cfg.resolution, cfg.batch_size
        self.length_nimg = int(round(cfg.epochs * cfg.epoch_images() / 1000 * 1000))
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

    def loop_hooks(self) -> Hooks:
        return Hooks(on_step=[SearchLogHook(self)])

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

    def arch_part_skipped(self, epoch: int) -> bool:
        """Table 9's warm-up epoch costs only its weight part: the authors run neither Alg. 2 nor the arch part while
        α is fixed (search.py: ``if epoch > fix_alphas_epochs: train_gan_alpha``). The α-frozen control still
        measures V (the gap_falls claim needs it), and ``warmup_measure_gap`` keeps measuring it in warm-up too."""
        cfg = self.cfg
        return (cfg.warmup and not cfg.warmup_measure_gap and not cfg.freeze_alpha
                and epoch < cfg.epochs // 2)

    # ---- one epoch ------------------------------------------------------------------------------------------
    def train_step(self, nimg: int, reals, rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        cfg, B = self.cfg, self.cfg.batch_size
        d_sum, g_sum, g_steps = self._weight_part(reals, rng)  # Alg. 1 lines 3–7 ("weight_part")
        out = {"loss_d": d_sum / cfg.weight_steps, "loss_g": g_sum / max(g_steps, 1)}
        skipped = self.arch_part_skipped(self.epoch)
        if not skipped:
            self.opt_arch.zero_grad(set_to_none=True)  # the weight steps also left gradients on α
            D_bar, G_bar = self._worst_case(rng)  # Alg. 1 line 9 / Alg. 2 ("test_weight_part")
            gap, minmax, maxmin = self._arch_part(D_bar, G_bar, rng)  # Alg. 1 lines 10–13 ("arch_part")
            # Only epochs that measure V log it; the loop flushes its losses every epoch (one log per epoch,
            # search_loop_config), so epochs with and without these keys never share a flush.
            out.update(gap=gap, minmax=minmax, maxmin=maxmin)
        self.epoch += 1
        self.last = {k: float(v) for k, v in out.items()} | {
            "alpha_frozen": self.alpha_frozen_for(self.epoch - 1), "arch_part": not skipped, "g_steps": g_steps}
        return out, cfg.weight_steps * B

    def _weight_part(self, reals, rng: torch.Generator) -> tuple[Tensor, Tensor, int]:
        """T D steps on training-half batches; a G step follows every ``n_critic``-th D step, counted over the whole
        search (the authors' ``inner_step % n_critic == 0`` in train_gan_parameter), so the schedule needs no
        state beyond the epoch and a resumed search keeps it. Returns (sum of D losses, sum of G losses, G steps)."""
        cfg, B = self.cfg, self.cfg.batch_size
        d_sum = g_sum = torch.zeros((), device=self.device)
        g_steps = 0
        nets = dict(G=self.G, D=self.D, latents=self._z, rng=rng, batch=B, g_kwargs={"gumbel_rng": rng})
        for t in range(cfg.weight_steps):
            d_sum = d_sum + d_step(**nets, opt_d=self.opt_d, reals=reals, d_loss=self.d_loss)
            if (self.epoch * cfg.weight_steps + t) % cfg.n_critic == 0:
                g_sum, g_steps = g_sum + g_step(**nets, opt_g=self.opt_g, g_loss=self.g_loss), g_steps + 1
        return d_sum, g_sum, g_steps

    def _worst_case(self, rng: torch.Generator) -> tuple[nn.Module, nn.Module]:
        """Alg. 2: D̄ from R steps on the validation half (G fixed), Ḡ from R steps of the G loss (D fixed);
        fresh optimizers each epoch with the weights' settings (α's for Ḡ's α, Table 4), the weights' learning rate
        scaled by ``worst_lr_scale`` (the authors halve it after epoch 30)."""
        cfg, B = self.cfg, self.cfg.batch_size
        betas = (cfg.beta1, cfg.beta2)
        scale = cfg.worst_lr_scale(self.epoch)  # the authors halve the copies' lr after epoch 30
        # Ḡ draws no Gumbel noise unless gbar_gumbel (the authors: gen_worst.set_gumbel(False)); D̄'s fakes come
        # from the live G, which keeps its relaxation.
        gbar_rng = rng if cfg.gbar_gumbel else None

        def d_loss(G: nn.Module, D_bar: nn.Module, r: int) -> Tensor:
            with torch.no_grad():
                fake = G(self._z(B, rng), gumbel_rng=rng)
            return joint_d_loss(D_bar, self.d_loss, self._val_reals(B), fake)

        def g_loss(G_bar: nn.Module, D: nn.Module, r: int) -> Tensor:
            return self.g_loss(D(G_bar(self._z(B, rng), gumbel_rng=gbar_rng)))

        def g_optimizer(G_bar: AlphaGANGenerator) -> torch.optim.Optimizer:
            groups = []
            if cfg.gbar_update in ("weights", "both"):
                groups.append({"params": G_bar.weight_parameters(), "lr": cfg.lr_g * scale, "betas": betas})
            if cfg.gbar_update in ("alpha", "both"):
                groups.append({"params": G_bar.arch_parameters(), "lr": cfg.arch_lr,
                               "betas": (cfg.arch_beta1, cfg.arch_beta2), "weight_decay": cfg.arch_weight_decay})
            return torch.optim.Adam(groups)

        D_bar = worst_case_discriminator(G=self.G, D=self.D, steps=cfg.worst_steps, d_loss=d_loss,
                                         optimizer=lambda m: adam(m.weight_parameters(), lr=cfg.lr_d * scale, betas=betas))
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
                        gbar_rng = rng if cfg.gbar_gumbel else None  # Ḡ without Gumbel noise (the authors)
                        fake = (gen(z2, weights=G.edge_weights(gumbel_rng=gbar_rng)) if cfg.gbar_alpha_grad
                                else gen(z2, gumbel_rng=gbar_rng))
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


def search_loop_config(cfg: AlphaGANConfig) -> AlphaGANConfig:
    """The search's cadences in images, derived from epochs: log every epoch, checkpoints and grids every
    ``ckpt_every_epochs`` / ``sample_every_epochs``. The EMA copies G each epoch (one update per epoch averages
    nothing meaningful); retrain runs keep the config's EMA."""
    ep = cfg.epoch_images() / 1000
    return dataclasses.replace(cfg, log_every_kimg=ep, ckpt_every_kimg=ep * cfg.ckpt_every_epochs,
                               sample_every_kimg=ep * cfg.sample_every_epochs, ema_decay=0.0)


class SearchPart(Training):
    """The search as one training run in the alphaGAN run folder (the pipeline writes genotype.json after it)."""

    def build_data(self, cfg: AlphaGANConfig) -> ImageBank | None:
        return build_images(cfg)

    def split_data(self, cfg: AlphaGANConfig, data: ImageBank) -> tuple[ImageBank, ImageBank]:
        train_idx, val_idx = split_halves(len(data), val_fraction=cfg.val_fraction, seed=cfg.seed)
        return data.subset(train_idx), data.subset(val_idx)

    def build_method(self, cfg: AlphaGANConfig, *, data, held_out, device: torch.device) -> SearchMethod:
        return SearchMethod(cfg=cfg, device=device, val=held_out)

    def loop_config(self, cfg: AlphaGANConfig) -> AlphaGANConfig:
        return search_loop_config(cfg)

    def describe(self, cfg: AlphaGANConfig, *, method: SearchMethod, trainer, data, device) -> dict[str, Any]:
        return {"epochs": cfg.epochs, "params_supernet_G": count_params(method.G), "params_D": count_params(method.D)}

    def results(self, outcome) -> dict[str, Any]:
        return {"epochs_done": outcome.method.epoch}
