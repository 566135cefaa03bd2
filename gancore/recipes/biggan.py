"""BigGAN (Brock et al. 2019) on gancore's shared loop: class-conditional hinge GAN with the paper's tricks.

- §3 / App. B networks from :mod:`gancore.models.biggan` (shared embedding, hierarchical z, projection D,
  self-attention, spectral norm in G and D, orthogonal init; BigGAN-deep with ``arch="deep"``),
- App. C optimisation: hinge loss, ``d_steps`` = 2 D steps per G step, Adam(β1=0, β2=0.999) with lr_D = 2e-4 and
  lr_G = 5e-5, G EMA 0.9999 from ``ema_start_kimg``; batches of 2048 through gradient accumulation,
- §3.1 off-diagonal orthogonal regularization of G (β = 1e-4), §4.2 optional zero-centred R1 on D,
- App. C cross-replica BatchNorm: :func:`sync_batchnorm_if_distributed`,
- §4.1 top-3 singular values of every weight, logged and watched for collapse (:mod:`gancore.metrics.spectral`),
- §3.1 exact truncation, App. C.1 standing statistics, the truncation sweep and per-class accuracy
  (:mod:`gancore.sampling`) at the end of a run.
"""
from __future__ import annotations

import copy
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch
from torch import Tensor, nn

from gancore import distributed, losses
from gancore.config import resolve
from gancore.data import KNOWN_NUM_CLASSES
from gancore.errors import ConfigError, DataError
from gancore.models.biggan import Discriminator, DiscriminatorDeep, Generator, GeneratorDeep
from gancore.nn import ConditionalBatchNorm2d
from gancore.precision import autocast, resolve_precision, to_channels_last
from gancore.recipes import common
from gancore.recipes.biggan_config import BigGANConfig
from gancore.schedule import Phase, Schedule, fixed_schedule
from gancore.train import Hooks, RealImages, RunState, Trainer, TrainingDiverged, count_params, pick_device

PAPER = "biggan"


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> BigGANConfig:
    """Resolve a BigGAN config: dataclass defaults ← papers/biggan/<scale>[-preset].yaml ← Table 1 row ← overrides."""
    return resolve(BigGANConfig, paper=PAPER, scale=scale, preset=preset, overrides=overrides)


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


class BigGANMethod:
    """One BigGAN iteration (App. C): ``d_steps`` D steps then one G step, each over ``accumulate`` micro-batches."""

    def __init__(self, *, cfg: BigGANConfig, num_classes: int, device: torch.device):
        self.cfg = cfg
        self.device = device
        self.num_classes = num_classes
        self.precision = resolve_precision(cfg.precision, device)
        torch.manual_seed(cfg.seed)  # network init is part of the seeded run
        G, D = build_networks(cfg, num_classes=num_classes)
        self.G, self.D = sync_batchnorm_if_distributed(G, device).to(device), D.to(device)
        if cfg.channels_last:
            to_channels_last(self.G, self.D)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2),
                                      eps=cfg.adam_eps)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2),
                                      eps=cfg.adam_eps)
        self.schedule: Schedule = fixed_schedule(resolution=cfg.resolution, batch_size=cfg.batch_size,
                                                 kimg=cfg.total_kimg or 1.0)
        self._ortho = ortho_weights(self.G) if cfg.ortho and cfg.ortho_beta > 0 else []
        self.d_loss, self.g_loss = ((losses.hinge_d_loss, losses.hinge_g_loss) if cfg.loss == "hinge"
                                    else (losses.ns_d_loss, losses.ns_g_loss))
        self.extra: dict[str, Any] = {}
        self.spectral = None  # the §4.1 monitor, attached by SpectralHook

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def latent_dim(self) -> int:
        return self.cfg.dim_z

    def extra_state(self) -> dict[str, Any]:
        out = dict(self.extra)
        if self.spectral is not None:  # read at checkpoint time only: the monitor's running D-loss sum included
            out["spectral"] = self.spectral.state_dict()
        return out

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.extra = dict(state)

    def sample_inputs(self, n: int, rng: torch.Generator) -> tuple[Tensor, Tensor]:
        """Training z ~ N(0, I) (truncation is a sampling-time trick only, §3.1) and uniform class labels."""
        z = torch.randn(n, self.cfg.dim_z, generator=rng)
        y = torch.randint(self.num_classes, (n,), generator=rng)
        return z.to(self.device), y.to(self.device)

    def generate(self, G: nn.Module, z: Tensor, phase: Phase, alpha: float, labels: Tensor | None = None) -> Tensor:
        if labels is None:
            labels = torch.arange(z.shape[0], device=z.device) % self.num_classes
        was = G.training
        G.eval()
        try:
            with self.autocast():
                return G(z, labels).float()
        finally:
            G.train(was)

    def autocast(self):
        """bf16 autocast of the forward passes when ``precision="bf16"``: weights, optimizer state and the losses
        stay fp32 (mixed precision), only matmuls/convolutions run in bf16."""
        return autocast(self.device, self.precision)

    def train_step(self, phase: Phase, alpha: float, reals: Callable[[int], tuple[Tensor, Tensor]],
                   rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        with self.autocast():
            return self._train_step(reals, rng)

    def _train_step(self, reals: Callable[[int], tuple[Tensor, Tensor]],
                    rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        cfg, G, D = self.cfg, self.G, self.D
        mb, k = cfg.micro_batch, cfg.accumulate
        used = 0
        zero = torch.zeros((), device=self.device)
        for _ in range(cfg.d_steps):
            self.opt_d.zero_grad(set_to_none=True)
            d_total, r1_total, real_mean, fake_mean = zero, zero, zero, zero
            for _ in range(k):
                x, y = reals(mb)
                used += mb
                z, y_fake = self.sample_inputs(mb, rng)
                with torch.no_grad():
                    fake = G(z, y_fake)
                if cfg.r1_gamma > 0:
                    x = x.detach().requires_grad_(True)
                # One D pass over reals and fakes together (D has no BatchNorm, so the scores are the same as two
                # passes); per-call overhead dominates small nets, and this is what the official code does too.
                scores = D(torch.cat([x, fake.to(x.dtype)]), torch.cat([y, y_fake])).float()
                real_scores, fake_scores = scores[:mb], scores[mb:]
                loss = self.d_loss(real_scores, fake_scores)
                if cfg.r1_gamma > 0:  # §4.2: (γ/2)·E‖∇ₓD(x)‖² on reals, from the same forward pass
                    (grad,) = torch.autograd.grad(real_scores.sum(), x, create_graph=True)
                    r1 = grad.flatten(1).square().sum(1).mean()
                    loss = loss + 0.5 * cfg.r1_gamma * r1
                    r1_total = r1_total + r1.detach() / k
                (loss / k).backward()
                d_total = d_total + loss.detach() / k
                real_mean = real_mean + real_scores.detach().mean() / k
                fake_mean = fake_mean + fake_scores.detach().mean() / k
            distributed.all_reduce_grads(D)  # data parallel: the global batch's gradient (no-op on one process)
            self.opt_d.step()
        D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
        self.opt_g.zero_grad(set_to_none=True)
        g_total = zero
        for _ in range(k):
            z, y_fake = self.sample_inputs(mb, rng)
            loss = self.g_loss(D(G(z, y_fake), y_fake).float())
            (loss / k).backward()
            g_total = g_total + loss.detach() / k
        ortho = zero
        if self._ortho:  # §3.1 eq. (3), added once per G step (it does not depend on the batch); fp32 always
            with torch.autocast(self.device.type, enabled=False):
                ortho = losses.orthogonal_regularization(self._ortho, beta=cfg.ortho_beta)
            ortho.backward()
            ortho = ortho.detach()
        distributed.all_reduce_grads(G)
        self.opt_g.step()
        D.requires_grad_(True)
        out = {"loss_d": d_total, "loss_g": g_total, "d_real": real_mean, "d_fake": fake_mean, "ortho": ortho}
        if cfg.r1_gamma > 0:
            out["r1"] = r1_total
        return out, used


# ---------------------------------------------------------------------------------------------------------------------
# §4.1 monitoring hook
# ---------------------------------------------------------------------------------------------------------------------
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


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation (§3.1 truncation, App. C.1 standing statistics, class accuracy)
# ---------------------------------------------------------------------------------------------------------------------
class BigGANEvaluator:
    """End-of-run metrics of the EMA G with standing statistics: FID/IS/KID, class accuracy, truncation sweep."""

    def __init__(self, *, cfg: BigGANConfig, data, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        # The untruncated standing-statistics copy of the last G given to final(): the sweep's first point, the class
        # accuracy and the notebook's figures all use it, so its (up to 100) passes run once.
        self._untruncated: tuple[int, nn.Module] | None = None

    def reals(self, n: int) -> Tensor:
        level = self.data.cache.at(self.cfg.resolution)
        return level[: min(n, len(level))]

    def prepared(self, G: nn.Module, *, truncation: float | None = None) -> nn.Module:
        """A copy of G with App. C.1 standing statistics for sampling at ``truncation`` (G itself is untouched)."""
        from gancore.sampling import standing_stats

        if truncation is None and self._untruncated is not None and self._untruncated[0] == id(G):
            return self._untruncated[1]
        G = copy.deepcopy(G)
        if self.cfg.standing_stats_batches > 0:
            standing_stats(G, num_batches=self.cfg.standing_stats_batches,
                           batch_size=self.cfg.standing_stats_batch_size, seed=self.cfg.seed + 17,
                           truncation=truncation)
        return G.eval()

    def _can_score(self) -> bool:
        return not (self.cfg.extractor == "shapes" and self.cfg.dataset != "shapes")

    def sweep(self, G: nn.Module, *, n: int, thresholds: list[float] | None = None) -> list[dict[str, Any]]:
        """IS/FID (+ class accuracy on shapes) per truncation threshold, each with its own standing statistics."""
        from gancore.metrics.shapes_net import classify
        from gancore.sampling import truncation_sweep

        cfg = self.cfg
        if not self._can_score():
            return []
        n = min(n, len(self.data))
        real = self.reals(n)
        classifier = classify if cfg.dataset == "shapes" else None
        rows = []
        for t in [None, *(cfg.truncations if thresholds is None else thresholds)]:
            rows += truncation_sweep(
                self.prepared(G, truncation=t), thresholds=[] if t is None else [t], real_uint8=real, n=n,
                seed=cfg.seed + 11, extractor=cfg.extractor, inception_weights=cfg.inception_weights,
                cache_dir=common.fidelity_cache_dir(cfg),
                cache_key=common.fidelity_cache_key(cfg, resolution=cfg.resolution, n=n), device=str(self.device),
                include_untruncated=t is None, classifier=classifier)
        return rows

    def class_accuracy(self, G: nn.Module, *, n_per_class: int) -> dict[str, Any]:
        from gancore.sampling import class_accuracy

        if self.cfg.dataset != "shapes":
            return {}
        return class_accuracy(self.prepared(G), n_per_class=n_per_class, seed=self.cfg.seed + 13)

    def fidelity(self, G: nn.Module, *, n: int) -> dict[str, float]:
        """Untruncated FID/IS/KID of G as it is (no standing statistics): the untrained-G yardstick."""
        from gancore.metrics.fidelity import fidelity_metrics
        from gancore.sampling import sample_conditional

        cfg = self.cfg
        if not self._can_score():
            return {}
        n = min(n, len(self.data))
        fake, _ = sample_conditional(G, n=n, seed=cfg.seed + 11)
        return fidelity_metrics(fake, self.reals(n), metrics=("fid", "is", "kid"), extractor=cfg.extractor,
                                inception_weights=cfg.inception_weights, cache_dir=common.fidelity_cache_dir(cfg),
                                cache_key=common.fidelity_cache_key(cfg, resolution=cfg.resolution, n=n),
                                device=str(self.device))

    def final(self, G: nn.Module, *, n: int, sweep: bool = True) -> dict[str, Any]:
        cfg = self.cfg
        self._untruncated = None
        self._untruncated = (id(G), self.prepared(G))  # G is final from here on: reuse its copy
        rows = self.sweep(G, n=n, thresholds=cfg.truncations if sweep else [])
        out: dict[str, Any] = {"truncation_sweep": rows}
        if rows:
            untrunc = rows[0]
            out.update({k: v for k, v in untrunc.items() if k != "truncation"})
        acc = self.class_accuracy(G, n_per_class=max(1, min(n, 1024) // self.data_num_classes()))
        if acc:
            out["class_accuracy"] = acc
        return out

    def data_num_classes(self) -> int:
        return int(self.data.num_classes) if self.data is not None else max(1, self.cfg.num_classes)


# ---------------------------------------------------------------------------------------------------------------------
# A whole run
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class BigGANRun(common.RunAccess):
    cfg: BigGANConfig
    method: BigGANMethod
    trainer: Trainer
    evaluator: BigGANEvaluator
    summary: dict[str, Any]
    data: Any = None

    def sampling_G(self, *, truncation: float | None = None) -> nn.Module:
        """The EMA G with standing statistics (App. C.1), ready for widgets and figures."""
        return self.evaluator.prepared(self.G_ema, truncation=truncation)


def memory_estimate(cfg: BigGANConfig) -> "MemoryEstimate":
    """Lower bound of the memory a run needs (:mod:`gancore.preflight`): training state, the activations of one
    micro-batch (G's forward plus D on reals and fakes together) and the shapes pyramid."""
    from gancore.preflight import MemoryEstimate, layer_output_bytes, state_bytes

    num_classes = cfg.num_classes or KNOWN_NUM_CLASSES.get(cfg.dataset, 1000)
    G, D = _shape_only_networks(cfg, num_classes)
    parts = {"weights, gradients, Adam state and EMA": state_bytes(G, D)}
    if not cfg.dry_run:
        z = torch.empty(2, cfg.dim_z, device="meta")
        y = torch.zeros(2, dtype=torch.long, device="meta")
        per_image = layer_output_bytes([G, D], lambda: D(torch.cat([G(z, y)] * 2), torch.cat([y, y])), batch=2)
        parts[f"activations (micro-batch {cfg.micro_batch})"] = per_image * cfg.micro_batch
    if cfg.dataset == "shapes":
        parts["dataset"] = cfg.dataset_size * 3 * cfg.resolution ** 2 * 4 // 3  # uint8 pyramid
    return MemoryEstimate(parts, knobs={"state": "ch, d_ch, dim_z, resolution, num_classes",
                                        "activations": "batch_size / accumulate", "dataset": "dataset_size"},
                          host_only=("dataset",))


def build_data(cfg: BigGANConfig):
    return common.build_data(cfg, resolution=cfg.resolution)


def class_count(cfg: BigGANConfig, data) -> int:
    """Classes the conditional nets are built for: ``cfg.num_classes``, else the data's, else the dataset's known count."""
    found = int(data.num_classes) if data is not None else 0
    if cfg.num_classes and found and cfg.num_classes != found:
        raise ConfigError(f"num_classes={cfg.num_classes} but the {cfg.dataset} data has {found} classes; "
                         "set num_classes=0 to take it from the data")
    # A dry run on real data decodes nothing, so fall back to the dataset's known class count (CIFAR-10 has 10; an
    # image folder is sized like ImageNet unless num_classes says otherwise).
    n = cfg.num_classes or found or KNOWN_NUM_CLASSES.get(cfg.dataset, 1000)
    if n < 2 and not cfg.dry_run:
        raise DataError(f"BigGAN is class-conditional and needs at least 2 classes; the {cfg.dataset} data at "
                         f"{cfg.data_dir} has {n} (use class subfolders for an image folder)")
    return n


@common.locked_run
def run(cfg: BigGANConfig, *, data=None, progress: bool = True, evaluate: bool = True,
        baseline: bool = True) -> BigGANRun:
    """Train (or resume, or dry-run) BigGAN under the run contract and return the run with its summary."""
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = pick_device(cfg.device)
    if data is None:
        data = build_data(cfg)
    num_classes = class_count(cfg, data)
    method = BigGANMethod(cfg=cfg, num_classes=num_classes, device=device)
    images = (RealImages(data=data, device=device if device.type == "cuda" else None)
              if data is not None else common.NoData())
    evaluator = BigGANEvaluator(cfg=cfg, data=data, device=device)
    label_sampler = lambda n, gen: torch.arange(n) % num_classes  # noqa: E731  (grid columns are classes)
    trainer = Trainer(cfg=cfg, method=method, data=images, device=device, hooks=Hooks(),
                      label_sampler=label_sampler)
    base = {
        "paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "table1_row": cfg.table1_row, "arch": cfg.arch,
        "dataset": cfg.dataset, "resolution": cfg.resolution, "num_classes": num_classes, "device": str(device),
        "class_names": list(getattr(data, "class_names", None) or [])[:num_classes],
        "params": {"G": count_params(method.G), "D": count_params(method.D),
                   "total_m": round((count_params(method.G) + count_params(method.D)) / 1e6, 3)},
        "switches": {"shared": cfg.shared, "hier": cfg.hier, "ortho": cfg.ortho},
        "batch_size": cfg.batch_size, "accumulate": cfg.accumulate, "precision": method.precision,
        "total_kimg": trainer.total_nimg / 1000, "iterations": cfg.iterations(trainer.total_nimg / 1000),
    }
    if cfg.dry_run:
        result = trainer.run(progress=False)
        summary = {**base, "status": "dry_run", "kimg": result["nimg"] / 1000}
        common.write_summary(cfg.out_dir, summary)
        return BigGANRun(cfg, method, trainer, evaluator, summary, data)

    previous = common.read_summary(cfg.out_dir)
    fresh = not trainer.try_resume()
    if cfg.sv_every_kimg > 0:
        trainer.hooks.on_step.append(SpectralHook(cfg=cfg, method=method))
    evaluate = evaluate and trainer.dist.is_main  # under torch.distributed only rank 0 evaluates
    if fresh and evaluate and baseline:
        # The untrained G is the yardstick for "training helped".
        method.extra["initial_metrics"] = evaluator.fidelity(trainer.ema.module, n=min(cfg.final_num_images, 1024))
    t0 = time.perf_counter()
    result = trainer.run(progress=progress)
    if common.finished_before(previous, result):
        summary = previous
    else:
        final = evaluator.final(trainer.ema.module, n=cfg.final_num_images) if evaluate else {}
        train_s = trainer.state.train_seconds
        summary = {
            **base, "status": result["status"], "nimg": result["nimg"], "kimg": result["nimg"] / 1000,
            "iterations_done": trainer.state.step,
            "train_seconds": round(train_s, 2), "wall_seconds_this_session": round(time.perf_counter() - t0, 2),
            "img_per_s": round(result["nimg"] / max(train_s, 1e-9), 2),
            "initial": method.extra.get("initial_metrics", {}), "final": final,
            "claims": previous.get("claims", []),
        }
    common.write_summary(cfg.out_dir, summary)
    return BigGANRun(cfg, method, trainer, evaluator, summary, data)


# ---------------------------------------------------------------------------------------------------------------------
# The notebook's claim experiments (Table 1 columns at equal steps)
# ---------------------------------------------------------------------------------------------------------------------
CLAIM_RUNS: dict[str, dict[str, bool]] = {
    "plain": {"shared": False, "hier": False, "ortho": False},  # Table 1 rows 1–5 (SAGAN-style conditioning)
    "shared_hier": {"shared": True, "hier": True, "ortho": False},  # row 7
    "shared_hier_ortho": {"shared": True, "hier": True, "ortho": True},  # row 8, the paper's final model
}
CLAIM_TRUNCATION = 0.5  # the threshold at which amenability to truncation is compared


def _claim_config(cfg: BigGANConfig, name: str, **changes: Any) -> BigGANConfig:
    """A claims side run (:func:`gancore.recipes.common.claim_config`): one Table 1 column, scored at τ = 0.5."""
    return common.claim_config(cfg, name=name, ablation_key="table1_row", changes={
        "sv_every_kimg": 0.0, "total_kimg": cfg.claims_kimg, "final_num_images": cfg.claims_num_images,
        "truncations": [CLAIM_TRUNCATION], **changes})


def claim_experiments(cfg: BigGANConfig, *, data=None, progress: bool = False) -> dict[str, dict[str, Any]]:
    """Resumable side runs of ``claims_kimg`` each under ``out_dir/claims/<name>``: Table 1's conditioning
    columns (plain → shared + hier → + ortho) at equal steps, each scored untruncated and at τ = 0.5.

    Every column repeats over ``claims_seeds`` seeds (``seed``, ``seed + 1``, …); their seed-to-seed spread is the
    noise band of the verdicts (:mod:`gancore.claims`). Results are keyed ``<name>`` for the first seed and
    ``<name>@<k>`` for the k-th further one. Equal *steps* (not seconds) make the comparison the same on every
    machine, as in Table 1, which compares FID at each column's own iteration count.
    """
    if cfg.claims_kimg <= 0:
        return {}
    results: dict[str, dict[str, Any]] = {}
    for k in range(cfg.claims_seeds):
        tag = "" if k == 0 else f"@{k}"
        for name, switches in CLAIM_RUNS.items():
            sub = _claim_config(cfg, name + tag, seed=cfg.seed + k, **switches)
            try:
                r = run(sub, data=data, progress=progress, evaluate=True, baseline=False)
            except TrainingDiverged as e:  # a diverging configuration is a result, not a reason to stop the notebook
                results[name + tag] = {"diverged": str(e), "seed": sub.seed}
                continue
            final = r.summary.get("final", {})
            sweep = {("none" if row["truncation"] is None else row["truncation"]): row
                     for row in final.get("truncation_sweep", [])}
            results[name + tag] = {
                "seed": sub.seed, "kimg": r.summary.get("kimg"), "iterations": r.summary.get("iterations_done"),
                "train_seconds": r.summary.get("train_seconds"), "fid": final.get("fid"),
                "is_mean": final.get("is_mean"), "accuracy": final.get("class_accuracy", {}).get("accuracy"),
                "fid_truncated": sweep.get(CLAIM_TRUNCATION, {}).get("fid"),
                "is_truncated": sweep.get(CLAIM_TRUNCATION, {}).get("is_mean")}
    return results


def estimate(cfg: BigGANConfig, *, claims: bool = True, num_classes: int = 8) -> "gancore.estimate.Estimate":
    """Seconds per part of this notebook's training on this machine (:mod:`gancore.estimate`):
    the main run and, with ``claims``, the Table 1 column runs, from a few measured iterations."""
    from gancore import estimate as est
    from gancore.train import pick_device

    device = pick_device(cfg.device)
    with torch.random.fork_rng(devices=[]), est.thread_policy(cfg, device):
        threads = torch.get_num_threads()
        method = BigGANMethod(cfg=cfg, num_classes=num_classes, device=device)
        rates = est.measure_img_per_s(method, method.schedule.phases, num_classes=num_classes, device=device)
    parts = {"main run": est.seconds({cfg.resolution: int(cfg.total_kimg * 1000)}, rates)}
    if claims and cfg.claims_kimg > 0:
        images = len(CLAIM_RUNS) * cfg.claims_seeds * int(cfg.claims_kimg * 1000)
        parts["Table 1 columns"] = est.seconds({cfg.resolution: images}, rates)
    return est.Estimate(parts=parts, img_per_s=rates, threads=threads)


def _seeds_of(results: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The runs of claim column ``name`` over all its seeds (``name``, ``name@1``, …), those that exist."""
    return [r for key, r in results.items() if key == name or key.startswith(name + "@")]


CLASS_CORRECT_BAR = 0.8  # "class-correct": at least 80% of samples classified as their class by the shapes net


def claims_table(summary: dict[str, Any], claim_results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of paper claim | paper's figure | this run | verdict, fed from papers/biggan/paper.yaml.

    Verdicts follow :mod:`gancore.claims` (holds / does not hold / within noise / not tested: why). The noise band
    of each row:

    - truncation trade-off (main run, one seed): the IS rise against the larger of the two IS split deviations
      (torch-fidelity's ``is_std``, the sampling spread of IS); the FID dip-then-rise is an order of the sweep;
    - shared + hier speed and ortho amenability: the seed-to-seed spread of the claim columns' FID (ratio);
    - class-correct: the binomial 95% half-width of the measured accuracy around the 80% bar.

    ``holds`` is kept for older readers: True / False for a decided verdict, None otherwise.
    """
    from gancore.claims import mean, spread, verdict
    from gancore.config import load_yaml, papers_dir

    claims = load_yaml(papers_dir() / PAPER / "paper.yaml")["claims"]

    def row(key: str, this_run: str, v: str) -> dict[str, Any]:
        c = claims[key]
        holds = True if v == "holds" else False if v == "does not hold" else None
        return {"claim": c["claim"], "paper": c["paper"], "this run": this_run, "verdict": v, "holds": holds}

    def fmt(x: float | None, spec: str = ".1f") -> str:
        return "n/a" if x is None or not math.isfinite(x) else format(x, spec)

    out = [row("truncation_tradeoff", *_truncation_verdict(summary.get("final", {}).get("truncation_sweep", [])))]

    runs = {name: _seeds_of(claim_results, name) for name in CLAIM_RUNS}
    plain, sh, sho = runs.values()
    ran = all(runs.values()) and not any("diverged" in r for rs in runs.values() for r in rs)
    n_seeds = min((len(rs) for rs in runs.values()), default=0)
    if not ran:
        why = ("claim runs not done (claims_kimg = 0)" if not any(runs.values())
               else "a claim run diverged: no equal-step comparison")
        for key in ("shared_hier_speed", "ortho_truncation"):
            out.append(row(key, why, verdict(None, None, untested=why)))
    else:
        fid = lambda rs: [r.get("fid") for r in rs]  # noqa: E731
        p_fid, s_fid = mean(fid(plain)), mean(fid(sh))
        noise = max((x for x in (spread(fid(plain)), spread(fid(sh))) if x is not None), default=None)
        acc = lambda rs: mean([r.get("accuracy") for r in rs])  # noqa: E731
        effect = None if p_fid is None or s_fid is None else p_fid - s_fid
        out.append(row("shared_hier_speed",
                       f"FID after {sh[0].get('iterations')} iterations, mean of {n_seeds} seeds: {fmt(p_fid)} (plain) "
                       f"vs {fmt(s_fid)} (shared + hier), seed spread {fmt(noise)}; class accuracy "
                       f"{fmt(acc(plain), '.0%')} vs {fmt(acc(sh), '.0%')}",
                       verdict(effect, noise, untested="an FID was not finite")))

        def ratios(rs):
            return [r["fid_truncated"] / r["fid"] if r.get("fid_truncated") and r.get("fid") else None for r in rs]

        r_sh, r_sho = mean(ratios(sh)), mean(ratios(sho))
        noise = max((x for x in (spread(ratios(sh)), spread(ratios(sho))) if x is not None), default=None)
        effect = None if r_sh is None or r_sho is None else r_sh - r_sho
        out.append(row("ortho_truncation",
                       f"FID(τ={CLAIM_TRUNCATION:g}) / FID(untruncated), mean of {n_seeds} seeds: {fmt(r_sh, '.2f')} "
                       f"without vs {fmt(r_sho, '.2f')} with orthogonal regularization (lower: truncation hurts "
                       f"less), seed spread {fmt(noise, '.2f')}",
                       verdict(effect, noise, untested="a truncated FID was not measured")))

    acc = summary.get("final", {}).get("class_accuracy", {})
    if acc:
        per, names = acc["per_class_accuracy"], acc.get("class_names") or summary.get("class_names")
        worst = min(range(len(per)), key=per.__getitem__)
        label = lambda c: names[c] if names and c < len(names) else str(c)  # noqa: E731
        n = int(acc.get("n_per_class") or 0) * len(per)
        p = float(acc["accuracy"])
        band = 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / n) if n else None
        flagged = [label(c) for c in acc.get("flagged") or []]
        out.append(row("class_correct",
                       f"shapes classifier on {n or '?'} generated samples: {p:.1%} correct (bar "
                       f"{CLASS_CORRECT_BAR:.0%}, ±{fmt(band, '.1%')} at 95%), worst class {label(worst)} at "
                       f"{per[worst]:.0%}; flagged: {', '.join(flagged) or 'none'}",
                       verdict(p - CLASS_CORRECT_BAR, band, untested="no sample count to bound the accuracy")))
    else:
        why = "needs the shapes dataset (the shipped classifier knows only shapes)"
        out.append(row("class_correct", why, verdict(None, None, untested=why)))
    return out


def _truncation_verdict(sweep: list[dict[str, Any]]) -> tuple[str, str]:
    """The §3.1 truncation trade-off on the main run's sweep: IS rises (beyond its split spread) as the threshold
    falls, while FID first improves and then worsens (best FID strictly inside the sweep)."""
    from gancore.claims import FAILS, HOLDS, verdict

    if len(sweep) < 3:
        why = "no truncation sweep (needs a shapes run or Inception weights)"
        return why, verdict(None, None, untested=why)
    untrunc, trunc = sweep[0], sorted(sweep[1:], key=lambda r: -r["truncation"])  # large → small threshold
    fids = [untrunc["fid"]] + [r["fid"] for r in trunc]
    best = min(range(len(fids)), key=fids.__getitem__)
    u_shape = 0 < best < len(fids) - 1
    label = "none" if best == 0 else f"{trunc[best - 1]['truncation']:g}"
    is_rise = trunc[-1]["is_mean"] - untrunc["is_mean"]
    stds = [r.get("is_std") for r in (untrunc, trunc[-1]) if r.get("is_std") is not None]
    is_noise = max(stds) if stds else 0.0  # without split deviations the IS order alone decides
    text = (f"IS {untrunc['is_mean']:.2f} (untruncated) → {trunc[-1]['is_mean']:.2f} (τ={trunc[-1]['truncation']:g}), "
            f"split spread ±{is_noise:.2f}; FID {fids[0]:.1f} → best {fids[best]:.1f} at τ={label} → {fids[-1]:.1f} at "
            f"τ={trunc[-1]['truncation']:g}")
    v = verdict(is_rise, is_noise, untested="an IS was not finite")
    if v == HOLDS and not u_shape:
        v = FAILS  # IS rose, but FID did not first improve and then worsen
    return text, v


__all__ = ["BigGANConfig", "BigGANMethod", "BigGANEvaluator", "BigGANRun", "SpectralHook", "build_data",
           "build_networks", "claim_experiments", "claims_table", "load_config", "ortho_weights", "run", "sync_batchnorm_if_distributed",
           "TrainingDiverged"]


# ---------------------------------------------------------------------------------------------------------------------
# Tables and figures for the notebook
# ---------------------------------------------------------------------------------------------------------------------
update_summary = common.update_summary


def _build_counts(cfg: BigGANConfig, num_classes: int) -> tuple[int, int]:
    """G and D parameter counts, built on the meta device (no memory, no init cost: only shapes matter)."""
    G, D = _shape_only_networks(cfg, num_classes)
    return count_params(G), count_params(D)


def _shape_only_networks(cfg: BigGANConfig, num_classes: int) -> tuple[nn.Module, nn.Module]:
    """G and D with the right shapes but no values: meta device, no orthogonal init, no SN registration."""
    from gancore.nn import skip_spectral_norm

    meta_cfg = copy.copy(cfg)
    meta_cfg.ortho_init = False
    with torch.device("meta"), skip_spectral_norm():
        return build_networks(meta_cfg, num_classes=num_classes)


def architecture_table(cfg: BigGANConfig, *, num_classes: int) -> list[dict[str, Any]]:
    """Per-block channels and parameters of this run's G and D (App. B), plus embedding/head rows."""
    G, D = _shape_only_networks(cfg, num_classes)
    rows = []
    for net_name, net in (("G", G), ("D", D)):
        for name, child in net.named_children():
            if isinstance(child, nn.ModuleList):
                for i, block in enumerate(child):
                    rows.append({"net": net_name, "part": f"{name}.{i} ({type(block).__name__})",
                                 "parameters": count_params(block)})
            elif isinstance(child, nn.ModuleDict):
                for key, block in child.items():
                    rows.append({"net": net_name, "part": f"{name}[{key}] ({type(block).__name__})",
                                 "parameters": count_params(block)})
            else:
                rows.append({"net": net_name, "part": f"{name} ({type(child).__name__.replace('Parametrized', 'SN ')})",
                             "parameters": count_params(child)})
        rows.append({"net": net_name, "part": "total", "parameters": count_params(net)})
    return rows


def table1_param_check() -> list[dict[str, Any]]:
    """G+D parameters of Table 1's 128×128 ImageNet models (1000 classes) as gancore builds them, beside the paper."""
    from gancore.recipes.biggan_config import table1_rows

    seen: dict[tuple, int] = {}
    rows = []
    for i, r in enumerate(table1_rows()):
        key = (r["ch"], r["shared"], r["hier"])
        if key not in seen:
            cfg = BigGANConfig(resolution=128, ch=r["ch"], shared=r["shared"], hier=r["hier"], dim_z=120,
                               attention_res=[64], num_classes=1000)
            seen[key] = sum(_build_counts(cfg, 1000))
        n = seen[key]
        rows.append({"row": i, "batch": r["batch"], "ch": r["ch"], "shared": r["shared"], "hier": r["hier"],
                     "ortho": r["ortho"], "paper (M)": r["params_m"], "gancore (M)": round(n / 1e6, 2),
                     "difference": f"{n / (r['params_m'] * 1e6) - 1:+.2%}", "paper FID": r["fid"],
                     "paper IS": r["is"]})
    return rows


def class_rows_figure(data, *, per_class: int = 8):
    """``per_class`` real images of every class, one row per class."""
    from gancore.viz import show_grid

    level = data.cache.at(data.resolution)
    picks = []
    for c in range(data.num_classes):
        idx = (data.labels == c).nonzero().flatten()[:per_class]
        picks.append(level[idx])
    names = ", ".join(data.class_names[: data.num_classes])
    return show_grid(torch.cat(picks), nrow=per_class, title=f"rows: {names}")


def class_grid_figure(G: nn.Module, *, class_names: list[str], per_class: int = 6, seed: int = 0,
                      truncation: float | None = None):
    """Samples of G with one column per class and one row per latent (the same z across each row)."""
    from gancore.latents import sample_latents
    from gancore.viz import show_grid
    from gancore.widgets import generate_uint8

    k = G.num_classes
    z = sample_latents(per_class, G.dim_z, seed=seed, truncation=truncation).repeat_interleave(k, dim=0)
    y = torch.arange(k).repeat(per_class)
    imgs = generate_uint8(G, z, gen_kwargs={"y": y})
    names = ", ".join(class_names[:k])
    return show_grid(imgs, nrow=k, title=f"columns: {names}" + ("" if truncation is None else f"; τ={truncation}"))
