"""DGGAN's typed configs (Dynamically Grown GANs). Defaults are the paper's CIFAR-10 search ("CIFAR-10:
Implementation Details", "Discussion on Efficiency").

Every value and its section is in ``papers/dggan/paper.yaml``, with every decision the paper leaves open and its
reason. Two configs:

* :class:`DGGANConfig` — the whole search (its ``out_dir`` holds ``search_state.json``, ``candidates/``,
  ``baseline/``, ``final/``);
* :class:`CandidateConfig` — one candidate's run folder (``config.json`` holds the spec that rebuilds its nets), built
  by the search from the search config; never written by hand.

Lengths are in iterations (one D step and one G step each, as the paper counts them), not kimg; ``total_kimg``
must stay 0.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Optional

from gancore.config import ConfigError, RunConfig, check_range
from gancore.models.dggan import FILTERS, KERNELS, Action, action_space

# Fields of the search config that decide which candidates exist and what they learn: a resumed search must have
# the same values (search_state.json keeps them), the others (executor, workers, cadences) may change. The data and
# the Inception weights are identified by their fingerprints (gancore.recipes.dggan.search.search_identity), not by
# data_dir and inception_weights: a search whose data moved to a new mount resumes, as every other gancore run does.
SEARCH_FIELDS = ("dataset", "dataset_size", "max_images", "seed", "resolution", "base_resolution", "latent_dim",
                 "fmap_base", "fmap_max", "kernels", "filters", "actions", "top_k", "sample_p", "max_layers",
                 "stop_resolution", "force_grow", "max_steps", "candidate_iterations", "fade_fraction", "batch_size",
                 "lr", "beta1", "beta2", "adam_eps", "gp_lambda", "gp_gamma", "drift", "n_critic", "mbstd_group",
                 "ema_decay", "baseline_seeds", "baseline_match", "fid_num_images", "extractor")

# Fields a candidate run copies from the search config (training, data and evaluation; not the search's own).
CANDIDATE_FIELDS = ("dataset", "data_dir", "download", "dataset_size", "strict_images", "mirror_augment", "device",
                    "ema_decay", "num_threads", "batch_size", "lr", "beta1", "beta2", "adam_eps", "gp_lambda",
                    "gp_gamma", "drift", "n_critic", "mbstd_group", "fade_fraction", "fid_num_images", "extractor",
                    "inception_weights", "log_every_kimg", "keep_checkpoints", "precision", "channels_last",
                    "conv_gradfix", "eval_precision", "eval_batch", "cudnn_benchmark")


@dataclass
class DGGANConfig(RunConfig):
    """DGGAN "Dynamically Grown GAN", Alg. 1, "Implementation Details" and "Discussion on Efficiency"."""

    paper: str = "dggan"
    # ---- networks ("Generator and Discriminator Base Architecture") ----
    resolution: int = 32  # the search's top resolution (CIFAR-10 32², LSUN 256²); grow is not offered beyond it
    base_resolution: int = 8  # d0: the initial candidate is ProGAN's G and D up to d0 × d0
    latent_dim: int = 128  # 128 for CIFAR-10, 512 otherwise
    fmap_base: int = 8192  # ProGAN's channel table of the base and fade-in blocks: min(fmap_base / 2^stage, fmap_max)
    fmap_max: int = 512
    # ---- the action space ("Action Search Space") ----
    kernels: list[int] = field(default_factory=lambda: list(KERNELS))  # conv kernel sizes, {3, 7}
    filters: list[int] = field(default_factory=lambda: list(FILTERS))  # conv filters, {32, …, 1024}
    actions: list[str] = field(default_factory=list)  # explicit subset of action names ([]: all 2·|k|·|f| + grow)
    # ---- Alg. 1 ----
    top_k: int = 20  # K parents kept per step
    sample_p: float = 0.4  # p: each (parent, action) pair becomes a child with this probability
    max_layers: int = 24  # "while not reaching maximum number of layers": G + D convs of a child (not given; see
    # paper.yaml: the depth at which gancore.recipes.dggan.replay gives the paper's 2k+ CIFAR-10 models at K = 20,
    # p = 0.4, with children that cannot reach the top resolution skipped)
    stop_resolution: int = 0  # also stop after the first step whose best child is at this resolution (0: off)
    force_grow: bool = False  # gancore option: a step with no sampled grow child gets the best parent's grow child
    max_steps: int = 0  # also stop after this many search steps (0: no limit)
    # ---- every candidate's training (WGAN-GP on ProGAN's schedule) ----
    candidate_iterations: int = 100000  # "train each new candidate with 100k iterations after weight inheritance"
    fade_fraction: float = 0.5  # share of a grow child's iterations spent fading the new block in (ProGAN: half)
    batch_size: int = 64
    lr: float = 0.001  # ProGAN App. A.1: Adam(0.001, 0, 0.99, 1e-8)
    beta1: float = 0.0
    beta2: float = 0.99
    adam_eps: float = 1e-8
    gp_lambda: float = 10.0  # WGAN-GP λ
    gp_gamma: float = 1.0  # WGAN-GP target norm (ProGAN's γ)
    drift: float = 0.001  # ProGAN's ε_drift
    n_critic: int = 1  # ProGAN: one D step per G step
    mbstd_group: int = 4
    ema_decay: float = 0.999  # G EMA, ProGAN's
    # ---- speed (not in the paper): ProGAN's switches, for every candidate ----
    precision: Literal["fp32", "bf16", "auto"] = "fp32"  # bf16 autocast of forward passes (losses stay fp32)
    channels_last: bool = False  # NHWC memory layout
    conv_gradfix: Literal["auto", "on", "off"] = "auto"  # the penalty's double backward on convolution kernels
    baseline_seeds: int = 2  # seeds of the symmetric ProGAN baseline (their spread is the claims' noise)
    baseline_match: Literal["stage", "depth"] = "stage"  # what a candidate's FID is normalized by: "stage" (the
    # paper: the baseline after its ProGAN stages up to that resolution) or "depth" (gancore: the baseline at that
    # resolution trained as long in total as the candidate's lineage, one more candidate length per action)
    final_iterations: int = 200000  # the final architecture (and the baseline's) trained this much longer
    # The final pair's lr and G EMA (None: lr, ema_decay). A search whose candidates train a few hundred steps needs
    # a large step and a short average (the reduced preset); a long final training can go back to the paper's.
    final_lr: Optional[float] = None
    final_ema_decay: Optional[float] = None
    fid_num_images: int = 10000  # generated images per candidate FID (the search's feedback)
    # ---- executors ----
    executor: Literal["local", "ray"] = "local"  # local: one candidate after another in this process
    ray_address: Optional[str] = None  # None: a local Ray started here; else a cluster ("ray://host:10001", "auto")
    workers: int = 1  # candidates trained at once (Ray tasks)
    gpus_per_candidate: float = 1.0  # Ray on GPU nodes: one GPU each, or a fraction to pack small candidates
    gpus_follow_size: bool = False  # Ray: gpus_per_candidate is the share of the symmetric top-resolution
    # candidate, and each candidate gets that share scaled by its conv cost (in 1/8 steps, at most one GPU)
    progress: bool = True  # per-candidate progress bars (off in Ray workers)
    prune_checkpoints: bool = True  # drop checkpoints no later step needs (a full search trains thousands): a
    # finished candidate keeps its last checkpoint only, and during a step only the best K so far keep theirs
    retry_failed: int = 1  # a rerun retries a failed candidate it asks for again this many times (a diverged one
    # never: its seeded run would diverge again); restart=True on the same config retries them whatever the count

    RESUMABLE_CHANGES: ClassVar[tuple[str, ...]] = RunConfig.RESUMABLE_CHANGES + (
        "executor", "ray_address", "workers", "gpus_per_candidate", "progress", "final_iterations",
        "final_lr", "final_ema_decay", "prune_checkpoints", "retry_failed", "gpus_follow_size")

    def action_set(self) -> list[Action]:
        """The actions of this search, in canonical order."""
        kernels, filters = tuple(self.kernels), tuple(self.filters)
        if not self.actions:
            return action_space(kernels=kernels, filters=filters)
        parsed = [Action.parse(a, kernels=kernels, filters=filters) for a in self.actions]
        if len({a.name for a in parsed}) != len(parsed):
            raise ConfigError(f"actions={self.actions} lists an action twice")
        return parsed

    def validate(self) -> None:
        for name in ("kernels", "filters"):
            values = getattr(self, name)
            if not values or any(int(v) < 1 for v in values):
                raise ConfigError(f"{name}={values} must be a non-empty list of positive integers")
        if any(int(k) % 2 == 0 for k in self.kernels):
            raise ConfigError(f"kernels={self.kernels}: 'same' padding needs odd kernel sizes (the paper's are 3, 7)")
        self.action_set()  # unknown names, k or f outside the set
        for name in ("top_k", "latent_dim", "candidate_iterations", "batch_size", "n_critic", "baseline_seeds",
                     "fid_num_images", "workers", "mbstd_group"):
            check_range(self, name, ge=1)
        for name in ("max_steps", "final_iterations", "stop_resolution", "retry_failed"):
            check_range(self, name, ge=0)
        check_range(self, "sample_p", gt=0, le=1)
        check_range(self, "fade_fraction", ge=0, lt=1)
        check_range(self, "gpus_per_candidate", gt=0, le=1024)
        for name in ("lr", "adam_eps", "gp_gamma"):
            check_range(self, name, gt=0)
        for name in ("gp_lambda", "drift"):
            check_range(self, name, ge=0)
        for name in ("beta1", "beta2", "ema_decay"):
            check_range(self, name, ge=0, lt=1)
        if self.final_lr is not None:
            check_range(self, "final_lr", gt=0)
        if self.final_ema_decay is not None:
            check_range(self, "final_ema_decay", ge=0, lt=1)
        for name in ("resolution", "base_resolution"):
            value = getattr(self, name)
            if value < 8 or value & (value - 1):
                raise ConfigError(f"{name}={value} must be a power of two >= 8")
        if self.base_resolution > self.resolution:
            raise ConfigError(f"base_resolution={self.base_resolution} exceeds resolution={self.resolution}")
        if self.stop_resolution and self.stop_resolution not in self.resolutions():
            raise ConfigError(f"stop_resolution={self.stop_resolution} is not one of the search's resolutions "
                              f"{self.resolutions()} (0 turns it off)")
        base_layers = 1 + 4 * (self.base_resolution // 8).bit_length()  # G's 4² conv + two convs per stage, G and D
        if self.max_layers < base_layers:
            raise ConfigError(f"max_layers={self.max_layers} is below the base architecture's {base_layers} conv "
                              "layers (G + D), so the search could not add one")
        top_layers = base_layers + 4 * (len(self.resolutions()) - 1)  # the symmetric ProGAN at the top resolution
        if self.max_layers < top_layers:
            raise ConfigError(f"max_layers={self.max_layers} is below the {top_layers} conv layers (G + D) of the "
                              f"symmetric ProGAN at {self.resolution}², so no candidate could reach the top resolution")
        if self.total_kimg:
            raise ConfigError(f"total_kimg={self.total_kimg}: DGGAN's lengths are candidate_iterations and "
                              "final_iterations; leave total_kimg at 0")
        if self.dataset in ("cifar10", "folder") and not self.data_dir and not self.dry_run:
            raise ConfigError(f"dataset={self.dataset!r} needs data_dir (a folder); shapes needs none")
        if self.extractor == "inception" and not self.inception_weights and not self.dry_run:
            # FID is the search's feedback, so the full presets ask for Inception; a dry run computes none.
            raise ConfigError("extractor='inception' needs inception_weights=PATH (pt_inception-2015-12-05 weights; "
                              "nothing is downloaded), e.g. -y 'overrides: {inception_weights: /w/pt_inception.pth}'")
        if self.executor == "local" and self.workers > 1:
            raise ConfigError(f"workers={self.workers} needs executor='ray' (the local executor trains one candidate "
                              "at a time)")

    def resolutions(self) -> list[int]:
        """The resolutions the search can reach, d0 first."""
        out, r = [], self.base_resolution
        while r <= self.resolution:
            out.append(r)
            r *= 2
        return out

    def final_training(self) -> dict[str, Any]:
        """The candidate-config values the final model and its baseline train with instead of the search's."""
        values = {"lr": self.final_lr, "ema_decay": self.final_ema_decay}
        return {k: v for k, v in values.items() if v is not None}

    def search_values(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in SEARCH_FIELDS}


@dataclass
class CandidateConfig(RunConfig):
    """One candidate's run folder: its spec, its lineage and how it trains (WGAN-GP, ProGAN's schedule)."""

    paper: str = "dggan"
    cid: str = ""  # candidate id: "<parent id>+<action>" (the base is "base")
    parent: str = ""  # parent id ("" for an initial candidate)
    action: str = ""  # the action that made it from its parent
    spec: dict = field(default_factory=dict)  # ArchSpec.to_dict(): rebuilds G and D
    inherit_from: str = ""  # the parent's run folder, whose final checkpoint it inherits
    iterations: int = 100000  # after inheritance
    fade_fraction: float = 0.5
    batch_size: int = 64
    lr: float = 0.001
    beta1: float = 0.0
    beta2: float = 0.99
    adam_eps: float = 1e-8
    gp_lambda: float = 10.0
    gp_gamma: float = 1.0
    drift: float = 0.001
    n_critic: int = 1
    mbstd_group: int = 4
    fid_num_images: int = 10000
    precision: Literal["fp32", "bf16", "auto"] = "fp32"
    channels_last: bool = False
    conv_gradfix: Literal["auto", "on", "off"] = "auto"
    swd_num_images: int = 0  # also SWD (ProGAN §5, Table 3) on this many images at 16² and above (0: off; the
    # final pair only: SWD needs thousands of images per side, too many for every candidate)
    metrics_cache: str = ""  # the search's shared real-set statistics folder
    metrics_key: str = ""  # names the search's real set in that cache (dataset, source; resolution and n are added)
    progress: bool = True

    RESUMABLE_CHANGES: ClassVar[tuple[str, ...]] = RunConfig.RESUMABLE_CHANGES + (
        "progress", "inherit_from", "metrics_cache", "metrics_key", "conv_gradfix", "swd_num_images")

    def validate(self) -> None:
        for name in ("iterations", "batch_size", "n_critic", "fid_num_images"):
            check_range(self, name, ge=1)

    def images(self) -> int:
        """Real images D sees over ``iterations`` (n_critic batches per iteration)."""
        return self.iterations * self.n_critic * self.batch_size


def candidate_config(cfg: DGGANConfig, **values: Any) -> CandidateConfig:
    """A candidate's config from the search's: the shared training fields plus ``values`` (id, spec, folder, …)."""
    shared = {k: getattr(cfg, k) for k in CANDIDATE_FIELDS}
    out = CandidateConfig(scale=cfg.scale, preset=cfg.preset, **shared)
    out = dataclasses.replace(out, **values)
    out.validate()
    return out


__all__ = ["CandidateConfig", "DGGANConfig", "SEARCH_FIELDS", "candidate_config"]
