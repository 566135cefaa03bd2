"""alphaGAN's typed config (Tian et al.). Defaults are the paper's CIFAR-10 alphaGAN(s) search and its retrain.

Every value and its section is in ``papers/alphagan/paper.yaml``; the decisions the paper leaves open are there too,
each with its reason. Lengths are in Alg. 1 epochs (search) and G iterations (retrain), not kimg: the search's image
count follows from them (one epoch shows D ``weight_steps · batch_size`` training-half images: T counts D steps, as
the authors' ``inner_steps`` does), and ``total_kimg`` must stay 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from gancore.config import ConfigError, RunConfig, check_range


@dataclass
class AlphaGANConfig(RunConfig):
    """alphaGAN §3–5, Alg. 1–2, App. 9.1 and 10.2–10.3; every Table 4 / Table 9 switch is a field."""

    paper: str = "alphagan"
    mode: Literal["search+retrain", "search", "retrain"] = "search+retrain"  # what a run does
    genotype: str = ""  # retrain this: a genotype.json path, alphagan_s, alphagan_l or random:<seed> ("" = searched)
    # ---- networks (§4.2, App. 9.1) ----
    resolution: int = 32  # 32 (CIFAR-10) or 48 (STL-10, §5.2): the linear layer starts at resolution / 8
    dim_z: int = 128  # App. 9.1
    g_channels: int = 256  # App. 9.1: G channels
    d_channels: int = 128  # App. 9.1: D channels
    loss: Literal["hinge", "ns"] = "hinge"  # §4.1: hinge (default) or non-saturating
    # ---- the search (Alg. 1 and 2, App. 9.1) ----
    epochs: int = 100  # K
    weight_steps: int = 20  # T ("weight_part"); alphaGAN(l): 390
    worst_steps: int = 20  # R ("test-weight_part", Alg. 2); alphaGAN(l): 390
    arch_steps: int = 20  # S ("arch_part")
    n_critic: int = 5  # weight part: a G step after every n_critic-th D step (authors' cfg_search.py; paper silent)
    batch_size: int = 64  # App. 9.1: G and D batch in the search
    lr_g: float = 2e-4  # App. 9.1: weights ω_G
    lr_d: float = 2e-4  # App. 9.1: weights ω_D
    beta1: float = 0.0  # App. 9.1
    beta2: float = 0.999  # App. 9.1
    arch_lr: float = 3e-4  # App. 9.1: α
    arch_beta1: float = 0.5  # App. 9.1
    arch_beta2: float = 0.999  # App. 9.1
    arch_weight_decay: float = 1e-3  # App. 9.1
    val_fraction: float = 0.5  # §5.1: 25k/25k split of CIFAR-10's 50k training images
    relaxation: Literal["softmax", "gumbel"] = "softmax"  # eq. (7), or eq. (8)'s Gumbel-max trick (Table 9)
    gumbel_tau: float = 0.5  # eq. (8) temperature; the paper gives none, the authors' --t is 0.5 (cfg_search.py)
    gbar_gumbel: bool = False  # D̄/Ḡ see Gumbel noise too; the authors build them with set_gumbel(False) (functions.py)
    warmup: bool = False  # Table 9 "Warm-up": α fixed for the first half of the epochs
    warmup_measure_gap: bool = False  # warm-up epochs still build D̄/Ḡ and measure V (the authors skip all of it)
    freeze_alpha: bool = False  # α never updated: the control run of the duality-gap claim
    search_d: bool = False  # Table 4 "Search D": D's convs searched too
    gbar_update: Literal["weights", "alpha", "both"] = "weights"  # Table 4 "Obtain Ḡ": what the worst-case G updates
    gbar_alpha_grad: bool = False  # ∂V/∂α also through the Ḡ term (Ḡ runs on the live α); default: a value copy
    worst_lr_decay_epoch: int = 30  # D̄/Ḡ weight lr × worst_lr_decay after this many epochs (functions.py; 0: never)
    worst_lr_decay: float = 0.5  # the authors' factor (train_gan_alpha: "epoch > 30" → lr · 0.5)
    search_seeds: int = 1  # searches (seed, seed+1, …) each retrained; the lowest-FID one is kept (Table 2: best of 3)
    ckpt_every_epochs: int = 1  # search checkpoint cadence (a checkpoint is also written at exit)
    sample_every_epochs: int = 10  # search sample-grid cadence
    # ---- the retrain (App. 9.1; §5.2 for STL-10) ----
    retrain_iterations: int = 100000  # G iterations (App. 9.1; the official README's 50k × n_critic 5 is a preset)
    retrain_g_batch: int = 128  # App. 9.1
    retrain_d_batch: int = 64  # App. 9.1
    retrain_lr_g: float = 2e-4  # App. 9.1
    retrain_lr_d: float = 2e-4  # App. 9.1
    retrain_beta1: float = 0.0  # App. 9.1 (STL-10: 0.5)
    retrain_beta2: float = 0.9  # App. 9.1
    retrain_n_critic: int = 1  # D steps per G iteration
    retrain_init: Literal["xavier", "pytorch"] = "xavier"  # authors' weights_init (train_geno_gan.py, README)
    retrain_eval_every_epochs: int = 20  # FID/IS of G_ema every this many passes over the data (val_freq; 0: end only)
    retrain_select: Literal["best", "final"] = "best"  # report the best-FID evaluation (authors) or the final one
    ema_buffers: Literal["average", "live"] = "live"  # G_ema's BN stats: G's own (authors' copy_params) or averaged
    fid_real_images: int = 0  # real images for FID's reference statistics (0: the whole training set, as the
    #                           authors' fid_stats_cifar10_train / stl10_train_unlabeled files)
    # ---- the notebook's claim experiments (side runs under out_dir/claims/) ----
    claims_random: int = 2  # random genotypes retrained against the searched one
    claims_seeds: int = 2  # seeds per retrained genotype (their spread is the noise of the comparison)
    claims_retrain_iterations: int = 0  # retrain length of each claim run (0: retrain_iterations)
    ema_decay: float = 0.999  # G weight EMA (AutoGAN's evaluation average)

    RESUMABLE_CHANGES: ClassVar[tuple[str, ...]] = RunConfig.RESUMABLE_CHANGES + (
        "mode", "claims_random", "claims_seeds", "claims_retrain_iterations", "sample_every_epochs",
        "ckpt_every_epochs", "retrain_eval_every_epochs", "search_seeds")

    @property
    def bottom_width(self) -> int:
        """The linear layer's spatial size: three ×2 cells reach ``resolution``."""
        return self.resolution // 8

    def validate(self) -> None:
        if self.resolution % 8 or self.resolution < 8:
            raise ConfigError(f"resolution={self.resolution} must be a multiple of 8 (three ×2 cells from "
                              "resolution/8): 32 for CIFAR-10, 48 for STL-10")
        for name in ("epochs", "weight_steps", "worst_steps", "arch_steps"):
            check_range(self, name, gt=0)  # K, T, R, S
        for name in ("dim_z", "g_channels", "d_channels", "n_critic", "batch_size", "retrain_iterations",
                     "retrain_g_batch", "retrain_d_batch", "retrain_n_critic", "ckpt_every_epochs",
                     "sample_every_epochs", "claims_seeds", "search_seeds"):
            check_range(self, name, ge=1)
        for name in ("claims_random", "claims_retrain_iterations", "worst_lr_decay_epoch", "retrain_eval_every_epochs",
                     "fid_real_images"):
            check_range(self, name, ge=0)
        for name in ("lr_g", "lr_d", "arch_lr", "retrain_lr_g", "retrain_lr_d", "gumbel_tau"):
            check_range(self, name, gt=0)
        for name in ("beta1", "beta2", "arch_beta1", "arch_beta2", "retrain_beta1", "retrain_beta2"):
            check_range(self, name, ge=0, lt=1)
        check_range(self, "arch_weight_decay", ge=0)
        check_range(self, "worst_lr_decay", gt=0, le=1)
        if self.gbar_alpha_grad and self.gbar_update in ("alpha", "both"):
            # With gbar_alpha_grad Ḡ runs on the live α in V, so the α its R steps learned is never used.
            raise ConfigError(f"gbar_update={self.gbar_update!r} with gbar_alpha_grad=True: Ḡ would learn its own α in "
                              "Alg. 2 and V would then ignore it (Ḡ runs on the live α). Use gbar_update='weights' "
                              "with gbar_alpha_grad=True, or gbar_alpha_grad=False with gbar_update='alpha'/'both'")
        check_range(self, "val_fraction", gt=0, lt=1)
        check_range(self, "ema_decay", ge=0, lt=1)
        if self.total_kimg:
            raise ConfigError(f"total_kimg={self.total_kimg}: alphaGAN's lengths are `epochs` (the search, Alg. 1's "
                              "K) and `retrain_iterations` (G iterations); leave total_kimg at 0")
        if self.mode == "search+retrain" and self.genotype:
            raise ConfigError(f"genotype={self.genotype!r} with mode='search+retrain' would search and then retrain "
                              "another genotype; pass mode='retrain' to retrain it, or genotype='' to retrain the "
                              "searched one")
        if self.mode == "search" and self.genotype:
            raise ConfigError(f"genotype={self.genotype!r} is only used to retrain; mode='search' searches one. "
                              "Use mode='retrain' (or 'search+retrain' with genotype='')")
        if self.search_seeds > 1 and self.mode != "search+retrain":
            raise ConfigError(f"search_seeds={self.search_seeds} chooses among searches by their retrains' FID: it "
                              f"needs mode='search+retrain', not {self.mode!r}")
        if self.dataset in ("cifar10", "folder") and not self.data_dir and not self.dry_run:
            raise ConfigError(f"dataset={self.dataset!r} needs data_dir (a folder); shapes needs none")
        if self.extractor == "inception" and not self.inception_weights:
            raise ConfigError("extractor='inception' needs inception_weights=PATH (nothing is downloaded)")

    # ---- derived lengths -----------------------------------------------------------------------------------------
    def epoch_images(self) -> int:
        """Training-half real images D sees per search epoch (the unit of the search's kimg): T D steps."""
        return self.weight_steps * self.batch_size

    def g_steps_in_epoch(self, epoch: int) -> int:
        """G steps of the weight part of (0-based) ``epoch``: one after every n_critic-th D step, counted over the
        whole search as the authors' ``inner_step % n_critic == 0`` does."""
        first, last = epoch * self.weight_steps, (epoch + 1) * self.weight_steps
        return sum(1 for k in range(first, last) if k % self.n_critic == 0)

    def worst_lr_scale(self, epoch: int) -> float:
        """The D̄/Ḡ weight learning-rate factor in (0-based) ``epoch``: the authors' 1-based "epoch > 30"."""
        decay = self.worst_lr_decay_epoch and epoch + 1 > self.worst_lr_decay_epoch
        return self.worst_lr_decay if decay else 1.0

    def retrain_images(self, iterations: int | None = None) -> int:
        """Real images D sees in ``iterations`` retrain G iterations (default retrain_iterations)."""
        its = self.retrain_iterations if iterations is None else iterations
        return its * self.retrain_n_critic * self.retrain_d_batch
