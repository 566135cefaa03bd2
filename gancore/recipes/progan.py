"""ProGAN (Karras et al. 2018): progressive growing trained with WGAN-GP, evaluated with SWD, MS-SSIM and FID.

- §2 growth with fade-in (the schedule in :mod:`gancore.schedule`, real-image blending in
  :class:`gancore.train.RealImages`),
- App. A.1 WGAN-GP with ε_drift and n_critic = 1, Adam(0.001, 0, 0.99, 1e-8), G EMA 0.999,
- Table 1 rows as config switches (:mod:`gancore.recipes.progan_config`),
- §5 SWD per Laplacian level during training, and FID/IS/KID/MS-SSIM at the end.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gancore import distributed, losses
from gancore.diagnostics import critic_probe as probe_critic
from gancore.recipes import common
from gancore.config import resolve
from gancore.data import to_float
from gancore.models.progan import Discriminator, Generator, sample_latents
from gancore.precision import autocast, resolve_precision, to_channels_last
from gancore.recipes.progan_config import ProGANConfig
from gancore.schedule import Phase, Schedule, fixed_schedule, progressive_schedule, schedule_curve  # noqa: F401
from gancore.train import Hooks, RealImages, Trainer, TrainingDiverged, count_params, pick_device

PAPER = "progan"


def load_config(*, scale: str = "reduced", preset: str = "", **overrides: Any) -> ProGANConfig:
    """Resolve a ProGAN config: dataclass defaults ← papers/progan/<scale>[-preset].yaml ← ablation ← overrides."""
    return resolve(ProGANConfig, paper=PAPER, scale=scale, preset=preset, overrides=overrides)


def build_networks(cfg: ProGANConfig) -> tuple[Generator, Discriminator]:
    """G and D of Table 2 with the Table 1 switches of ``cfg``."""
    common = dict(resolution=cfg.resolution, fmap_base=cfg.fmap_base, fmap_max=cfg.fmap_max,
                  low_capacity=cfg.low_capacity, eq_lr=cfg.eq_lr)
    G = Generator(latent_dim=cfg.latent_dim, pixelnorm=cfg.pixelnorm, normalize_latent=cfg.normalize_latent,
                  norm=cfg.g_norm, act=cfg.g_act, out_act=cfg.g_out, **common)
    D = Discriminator(mbstd=cfg.mbstd, mbstd_group=cfg.mbstd_group, mbdisc=cfg.mbdisc, norm=cfg.d_norm, **common)
    return G, D


def memory_estimate(cfg: ProGANConfig) -> "MemoryEstimate":
    """Lower bound of the memory a run needs (:mod:`gancore.preflight`): training state, the largest phase's
    activations (per-image layer outputs × that phase's batch) and the shapes pyramid."""
    from gancore.preflight import MemoryEstimate, layer_output_bytes, state_bytes

    with torch.device("meta"):
        G, D = build_networks(cfg)
    parts = {"weights, gradients, Adam state and EMA": state_bytes(G, D)}
    if not cfg.dry_run:
        worst, per_image = (0, 0, 0), {}
        z = torch.empty(2, cfg.latent_dim, device="meta")
        for phase in build_schedule(cfg).phases:
            res, bs = phase.resolution, phase.batch_size
            if res not in per_image:  # a fade and a stabilization phase at one resolution cost the same
                per_image[res] = layer_output_bytes([G, D], lambda: D(G(z, resolution=res), resolution=res), batch=2)
            worst = max(worst, (per_image[res] * bs, bs, res))
        parts[f"activations (batch {worst[1]} at {worst[2]}²)"] = worst[0]
    if cfg.dataset == "shapes":
        parts["dataset"] = cfg.dataset_size * 3 * cfg.resolution ** 2 * 4 // 3  # uint8 pyramid
    return MemoryEstimate(parts, knobs={"state": "fmap_base, fmap_max, latent_dim, resolution",
                                        "activations": "batch_size / batch_sizes", "dataset": "dataset_size"},
                          host_only=("dataset",))


def build_schedule(cfg: ProGANConfig) -> Schedule:
    if not cfg.progressive:
        return fixed_schedule(resolution=cfg.resolution, batch_size=cfg.batch_sizes.get(cfg.resolution, cfg.batch_size),
                              kimg=cfg.total_kimg or cfg.stabilize_kimg)
    return progressive_schedule(start_resolution=cfg.start_resolution, resolution=cfg.resolution,
                                stabilize_kimg=cfg.stabilize_kimg, fade_kimg=cfg.fade_kimg,
                                batch_sizes=cfg.batch_sizes, default_batch=cfg.batch_size)


class ProGANMethod:
    """One WGAN-GP step of ProGAN App. A.1 at the schedule's current resolution and α."""

    def __init__(self, *, cfg: ProGANConfig, device: torch.device):
        self.cfg = cfg
        self.device = device
        torch.manual_seed(cfg.seed)  # network init is part of the seeded run
        G, D = build_networks(cfg)
        self.G, self.D = G.to(device), D.to(device)
        self.precision = resolve_precision(cfg.precision, device)
        if cfg.channels_last:
            to_channels_last(self.G, self.D)
        adam = dict(lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps)
        # Adam holds state only for parameters that got gradients, so blocks that are not grown yet stay untouched.
        self.opt_g = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), **adam)
        self.schedule = build_schedule(cfg)
        self.extra: dict[str, Any] = {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"G": self.opt_g, "D": self.opt_d}

    def latent_dim(self) -> int:
        return self.cfg.latent_dim

    def extra_state(self) -> dict[str, Any]:
        return dict(self.extra)

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.extra = dict(state)

    def latents(self, n: int, rng: torch.Generator) -> Tensor:
        # App. A.1: N(0, I) here, projected onto the hypersphere by G's input PixelNorm (normalize_latent).
        return sample_latents(n, self.cfg.latent_dim, generator=rng).to(self.device)

    def generate(self, G: nn.Module, z: Tensor, phase: Phase, alpha: float, labels: Tensor | None = None) -> Tensor:
        was = G.training
        G.eval()
        try:
            with autocast(self.device, self.precision):
                return G(z, resolution=phase.resolution, alpha=alpha).float()
        finally:
            G.train(was)

    def train_step(self, phase: Phase, alpha: float, reals, rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        with autocast(self.device, self.precision):
            return self._train_step(phase, alpha, reals, rng)

    def _train_step(self, phase: Phase, alpha: float, reals, rng: torch.Generator) -> tuple[dict[str, Tensor], int]:
        cfg = self.cfg
        return wgan_gp_step(G=self.G, D=self.D, opt_g=self.opt_g, opt_d=self.opt_d, reals=reals,
                            latents=self.latents, batch_size=phase.batch_size, rng=rng, n_critic=cfg.n_critic,
                            drift=cfg.drift, gp_lambda=cfg.gp_lambda, gp_gamma=cfg.gp_gamma,
                            net_kwargs={"resolution": phase.resolution, "alpha": alpha})


def wgan_gp_step(*, G: nn.Module, D: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, reals,
                 latents, batch_size: int, rng: torch.Generator, n_critic: int, drift: float, gp_lambda: float,
                 gp_gamma: float, net_kwargs: dict[str, Any]) -> tuple[dict[str, Tensor], int]:
    """One G/D update of ProGAN App. A.1: ``n_critic`` WGAN-GP critic steps with ε_drift, then one G step (DGGAN's
    candidates train with the same step). ``net_kwargs`` go to both nets (resolution and fade-in α)."""
    bs = batch_size
    critic = lambda x: D(x, **net_kwargs).float()  # noqa: E731  (fp32 losses under bf16)
    used = 0
    for _ in range(n_critic):  # App. A.2 row (a) uses 5 critic steps; ProGAN itself uses 1
        real, _ = reals(bs)
        used += bs
        with torch.no_grad():
            fake = G(latents(bs, rng), **net_kwargs)
        real_scores, fake_scores = critic(real), critic(fake)
        d_loss = losses.wgan_d_loss(real_scores, fake_scores, drift=drift)
        gp = losses.gradient_penalty(critic, real, fake, gamma=gp_gamma, generator=rng)
        opt_d.zero_grad(set_to_none=True)
        (d_loss + gp_lambda * gp).backward()
        distributed.all_reduce_grads(D)  # data parallel: the global batch's gradient (no-op on one process)
        opt_d.step()
    D.requires_grad_(False)  # G's step needs gradients through D, not for D's weights
    g_loss = losses.wgan_g_loss(critic(G(latents(bs, rng), **net_kwargs)))
    opt_g.zero_grad(set_to_none=True)
    g_loss.backward()
    distributed.all_reduce_grads(G)
    opt_g.step()
    D.requires_grad_(True)
    out = {"loss_d": d_loss.detach(), "loss_g": g_loss.detach(), "gp": gp.detach(),
           "d_real": real_scores.detach().mean()}
    return out, used


# ---------------------------------------------------------------------------------------------------------------------
# Evaluation
# ---------------------------------------------------------------------------------------------------------------------
def generate_uint8(G: nn.Module, *, n: int, latent_dim: int, resolution: int, alpha: float = 1.0, seed: int = 0,
                   batch_size: int = 256, device: torch.device | str = "cpu") -> Tensor:
    """``n`` samples of G (eval mode) as uint8 on the CPU, from latents seeded independently of training."""
    from gancore.widgets import generate_uint8 as render

    z = sample_latents(n, latent_dim, generator=torch.Generator().manual_seed(seed))
    return render(G, z, gen_kwargs={"resolution": resolution, "alpha": alpha}, batch_size=batch_size)


class ProGANEvaluator:
    """SWD per Laplacian level during training (§5), FID/IS/KID (+ MS-SSIM) at the end, with cached references."""

    def __init__(self, *, cfg: ProGANConfig, data, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        self._swd_refs: dict[int, Any] = {}

    def reals(self, resolution: int, n: int) -> Tensor:
        level = self.data.cache.at(resolution)
        return level[: min(n, len(level))]

    def swd(self, G: nn.Module, resolution: int, alpha: float, n: int) -> dict[str, float]:
        from gancore.metrics.swd import SWDReference

        if resolution < 16:  # §5: the pyramid starts at 16×16
            return {}
        n = min(n, len(self.data))
        key = (resolution, n)
        if key not in self._swd_refs:
            self._swd_refs[key] = SWDReference(self.reals(resolution, n), seed=self.cfg.seed)
        fake = generate_uint8(G, n=n, latent_dim=self.cfg.latent_dim, resolution=resolution, alpha=alpha,
                              seed=self.cfg.seed + 7, device=self.device)
        return self._swd_refs[key].score(fake)

    def during_training(self, G: nn.Module, phase: Phase, alpha: float) -> dict[str, float]:
        return self.swd(G, phase.resolution, alpha, self.cfg.metric_num_images)

    def fidelity(self, G: nn.Module, n: int, *, resolution: int | None = None, alpha: float = 1.0) -> dict[str, float]:
        """FID/IS/KID with the shipped shapes network or Inception from a path (default: the final resolution)."""
        from gancore.metrics.fidelity import fidelity_metrics

        cfg = self.cfg
        res = resolution or cfg.resolution
        if cfg.extractor == "shapes" and cfg.dataset != "shapes":
            warnings.warn("FID/IS/KID skipped: the shipped shapes network only describes the shapes dataset; "
                          "pass extractor='inception' and inception_weights=PATH for real data", stacklevel=2)
            return {}
        n = min(n, len(self.data))
        fake = generate_uint8(G, n=n, latent_dim=cfg.latent_dim, resolution=res, alpha=alpha, seed=cfg.seed + 11,
                              device=self.device)
        # The key names the real set exactly, so cached statistics are never reused for other data.
        return fidelity_metrics(fake, self.reals(res, n), metrics=("fid", "is", "kid"),
                                extractor=cfg.extractor, inception_weights=cfg.inception_weights,
                                cache_dir=common.fidelity_cache_dir(cfg),
                                cache_key=common.fidelity_cache_key(cfg, resolution=res, n=n),
                                device=str(self.device))

    def final(self, G: nn.Module, *, resolution: int | None = None, alpha: float = 1.0) -> dict[str, float]:
        """All end-of-run metrics at the resolution the run reached (a time-limited run may stop mid-growth)."""
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


# ---------------------------------------------------------------------------------------------------------------------
# A whole run
# ---------------------------------------------------------------------------------------------------------------------
@dataclass
class ProGANRun(common.RunAccess):
    cfg: ProGANConfig
    method: ProGANMethod
    trainer: Trainer
    evaluator: ProGANEvaluator
    summary: dict[str, Any]


def build_data(cfg: ProGANConfig):
    return common.build_data(cfg, resolution=cfg.resolution)


_NoData = common.NoData
write_summary = common.write_summary
update_summary = common.update_summary


@common.locked_run
def run(cfg: ProGANConfig, *, data=None, progress: bool = True, evaluate: bool = True,
        baseline: bool = True) -> ProGANRun:
    """Train (or resume, or dry-run) ProGAN under the run contract and return the run with its summary.

    ``data`` may pass in an already built dataset (from :func:`build_data` with the same config) to skip a rebuild.
    ``baseline`` measures the untrained G's FID first (the yardstick of the reduced-scale quality bar).
    """
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = pick_device(cfg.device)
    method = ProGANMethod(cfg=cfg, device=device)
    if data is None:
        data = build_data(cfg)
    images = (RealImages(data=data, device=device if device.type == "cuda" else None)
              if data is not None else _NoData())
    evaluator = ProGANEvaluator(cfg=cfg, data=data, device=device)
    evaluate = evaluate and distributed.info().is_main  # under torch.distributed only rank 0 evaluates
    hooks = Hooks(evaluate=evaluator.during_training if (evaluate and data is not None) else None)
    trainer = Trainer(cfg=cfg, method=method, data=images, device=device, hooks=hooks)
    summary_path = Path(cfg.out_dir) / "summary.json"
    base = {
        "paper": PAPER, "scale": cfg.scale, "preset": cfg.preset, "ablation": cfg.ablation,
        "dataset": cfg.dataset, "resolution": cfg.resolution, "device": str(device),
        "params": {"G": count_params(method.G), "D": count_params(method.D)},
        "schedule": method.schedule.to_list(),
        "growth_points_kimg": method.schedule.growth_points_kimg(),
        "total_kimg": trainer.total_nimg / 1000,
    }
    if cfg.dry_run:
        result = trainer.run(progress=False)
        summary = {**base, "status": "dry_run", "kimg": result["nimg"] / 1000}
        write_summary(cfg.out_dir, summary)
        return ProGANRun(cfg, method, trainer, evaluator, summary)

    previous = common.read_summary(cfg.out_dir)
    fresh = not trainer.try_resume()
    if fresh and evaluate and baseline:
        # The untrained G is the yardstick for "training helped" (e.g. FID at most half of it).
        method.extra["initial_metrics"] = evaluator.fidelity(trainer.ema.module, min(cfg.final_num_images, 1024))
    t0 = time.perf_counter()
    result = trainer.run(progress=progress)
    if common.finished_before(previous, result):
        summary = previous
    else:
        reached, alpha = method.schedule.at(result["nimg"])
        final = evaluator.final(trainer.ema.module, resolution=reached.resolution, alpha=alpha) if evaluate else {}
        train_s = trainer.state.train_seconds
        summary = {
            **base, "status": result["status"], "nimg": result["nimg"], "kimg": result["nimg"] / 1000,
            "train_seconds": round(train_s, 2), "wall_seconds_this_session": round(time.perf_counter() - t0, 2),
            "img_per_s": round(result["nimg"] / max(train_s, 1e-9), 2),
            "final_resolution": reached.resolution, "final_alpha": alpha,
            "initial": method.extra.get("initial_metrics", {}), "final": final,
            "claims": previous.get("claims", []),
        }
    write_summary(cfg.out_dir, summary)
    return ProGANRun(cfg, method, trainer, evaluator, summary)


def critic_probe(run: ProGANRun, *, n: int = 256) -> list[dict[str, Any]]:
    """The trained critic's scores on reals, blurred / octave-reduced / noisy reals and the EMA G's samples, at the
    resolution and α the run reached (:func:`gancore.diagnostics.critic_probe`): which differences D has learned."""
    if run.summary.get("status") == "dry_run" or run.evaluator.data is None:
        raise ValueError("critic_probe needs a trained run with data (this one is a dry run)")
    phase, alpha = run.method.schedule.at(run.trainer.state.nimg)
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


# ---------------------------------------------------------------------------------------------------------------------
# Architecture summary (Table 2) and the notebook's claim experiments
# ---------------------------------------------------------------------------------------------------------------------
def architecture_table(G: Generator, D: Discriminator) -> "pandas.DataFrame":
    """Parameters per resolution block of G and D, like Table 2 (toRGB/fromRGB listed separately)."""
    import pandas as pd

    rows = []
    for res in G.resolutions:
        g_block = sum(p.numel() for n, p in G.named_parameters() if _block_of(n) == ("block", res))
        g_rgb = sum(p.numel() for n, p in G.named_parameters() if _block_of(n) == ("rgb", res))
        d_block = sum(p.numel() for n, p in D.named_parameters() if _block_of(n) == ("block", res))
        d_rgb = sum(p.numel() for n, p in D.named_parameters() if _block_of(n) == ("rgb", res))
        rows.append({"resolution": f"{res}×{res}", "G block": g_block, "G toRGB": g_rgb,
                     "D block": d_block, "D fromRGB": d_rgb})
    sums = {c: sum(r[c] for r in rows) for c in ("G block", "G toRGB", "D block", "D fromRGB")}
    other_g = count_params(G) - sums["G block"] - sums["G toRGB"]
    other_d = count_params(D) - sums["D block"] - sums["D fromRGB"]
    if other_g or other_d:  # e.g. D's final dense head
        rows.append({"resolution": "head/other", "G block": other_g, "G toRGB": 0, "D block": other_d,
                     "D fromRGB": 0})
    rows.append({"resolution": "total", "G block": count_params(G), "G toRGB": "", "D block": count_params(D),
                 "D fromRGB": ""})
    return pd.DataFrame(rows)


def _block_of(name: str) -> tuple[str, int] | None:
    """Map a parameter name to ('block'|'rgb', resolution) using the networks' ModuleDicts keyed by resolution."""
    parts = name.split(".")
    if len(parts) > 2 and parts[1].isdigit():
        if parts[0] == "blocks":
            return "block", int(parts[1])
        if parts[0] in ("to_rgb", "from_rgb"):
            return "rgb", int(parts[1])
    return None


def _claim_config(cfg: ProGANConfig, name: str, **changes: Any) -> ProGANConfig:
    """A claims side run (:func:`gancore.recipes.common.claim_config`); Table 1 rows are its switches."""
    return common.claim_config(cfg, name=name, ablation_key="ablation",
                               changes={"metrics_every_kimg": 0.0, "log_every_kimg": 0.5, **changes})


def claim_experiments(cfg: ProGANConfig, *, progress: bool = False) -> dict[str, dict[str, Any]]:
    """Short runs beside the main one, each a full resumable run under ``out_dir/claims/<name>``.

    - ``progressive`` vs ``fixed`` (Fig. 4: progressive growing reaches a better SWD in the same wall-clock time).
      The budget is set so that every machine reaches the compared state: the progressive run trains first, to the
      end of its schedule (grown to ``claims_resolution`` and stabilized there, a fixed number of images), and the
      fixed-resolution run then gets the seconds the progressive run took *on this machine*. A fixed number of
      seconds would leave a slow CPU's progressive run at a lower resolution, with nothing to compare.
    - Table 1 rows (d), (e), (f), (g) for ``claims_kimg`` at ``claims_resolution``: minibatch stddev, equalized
      learning rate and pixelwise normalization enabled one by one. ``low_capacity`` is left as the preset has it
      so all rows share the reduced networks.

    The pair and row (g) repeat over ``claims_seeds`` seeds (``seed``, ``seed + 1``, …): their seed-to-seed spread
    is the noise band of the verdicts (:mod:`gancore.claims`). Results are keyed ``<name>`` for the first seed and
    ``<name>@<k>`` for the k-th further one.
    """
    # Fewer final images than the main run: these runs compare configurations, and MS-SSIM costs ~5 ms a pair.
    common = dict(final_num_images=min(cfg.final_num_images, 512), metric_num_images=min(cfg.metric_num_images, 512))
    res = min(cfg.claims_resolution, cfg.resolution)
    results: dict[str, dict[str, Any]] = {}

    def one(name: str, **changes: Any) -> dict[str, Any]:
        sub = _claim_config(cfg, name, **common, **changes)
        try:
            r = run(sub, progress=progress, evaluate=True, baseline=False)
        except TrainingDiverged as e:  # a diverging configuration is a result, not a reason to stop the notebook
            results[name] = {"diverged": str(e)}
            return results[name]
        results[name] = {"kimg": r.summary.get("kimg"), "train_seconds": r.summary.get("train_seconds"),
                         "resolution": r.summary.get("final_resolution"), "alpha": r.summary.get("final_alpha"),
                         "seed": sub.seed, **{k: v for k, v in r.summary.get("final", {}).items()}}
        return results[name]

    for k in range(cfg.claims_seeds):
        tag = "" if k == 0 else f"@{k}"
        prog = one("progressive" + tag, **_progressive_claim_changes(cfg, k))
        seconds = prog.get("train_seconds") or 0.0
        if seconds > 0:  # a diverged progressive run leaves no time to match
            one("fixed" + tag, progressive=False, max_seconds=seconds, total_kimg=1e6, ablation="", resolution=res,
                seed=cfg.seed + k)
    for name, changes in _row_claim_changes(cfg):
        one(name, **changes)
    return results


def _progressive_claim_changes(cfg: ProGANConfig, k: int) -> dict[str, Any]:
    """The Fig. 4 progressive run of seed ``seed + k``: grown to ``claims_resolution`` and to its schedule's end."""
    return dict(progressive=True, stabilize_kimg=cfg.claims_phase_kimg, fade_kimg=cfg.claims_phase_kimg,
                total_kimg=0.0, max_seconds=0.0, ablation="", resolution=min(cfg.claims_resolution, cfg.resolution),
                seed=cfg.seed + k)


def _row_claim_changes(cfg: ProGANConfig) -> list[tuple[str, dict[str, Any]]]:
    """(name, changes) of the Table 1 row runs (d), (e), (f) and (g), row (g) over ``claims_seeds`` seeds."""
    out = []
    for row in ("d", "e", "f", "g"):
        for k in range(cfg.claims_seeds if row == "g" else 1):
            out.append((f"row_{row}" + ("" if k == 0 else f"@{k}"), dict(
                ablation=row, resolution=min(cfg.claims_resolution, cfg.resolution), total_kimg=cfg.claims_kimg,
                stabilize_kimg=cfg.claims_kimg / 4, fade_kimg=cfg.claims_kimg / 4, low_capacity=cfg.low_capacity,
                batch_size=cfg.batch_size, latent_dim=cfg.latent_dim, seed=cfg.seed + k)))
    return out


def estimate(cfg: ProGANConfig, *, claims: bool = True) -> "gancore.estimate.Estimate":
    """Seconds per part of this notebook's training on this machine (:mod:`gancore.estimate`):
    the main run's schedule plus, with ``claims``, the Fig. 4 pair (the fixed run gets the progressive run's
    seconds) and the Table 1 rows, from a few measured steps at every resolution."""
    from gancore import estimate as est
    from gancore.train import pick_device

    device = pick_device(cfg.device)
    with torch.random.fork_rng(devices=[]), est.thread_policy(cfg, device):
        threads = torch.get_num_threads()
        method = ProGANMethod(cfg=cfg, device=device)
        rates = est.measure_img_per_s(method, method.schedule.phases, device=device)
    main = build_schedule(cfg)
    parts = {"main run": est.seconds(est.images_by_resolution(main, int(cfg.total_kimg * 1000)
                                                              or main.natural_end_nimg), rates)}
    if claims:
        common_ = dict(final_num_images=min(cfg.final_num_images, 512))
        pair = 0.0
        for k in range(cfg.claims_seeds):
            sub = _claim_config(cfg, "progressive", **common_, **_progressive_claim_changes(cfg, k))
            sched = build_schedule(sub)
            pair += 2 * est.seconds(est.images_by_resolution(sched, sched.natural_end_nimg), rates)
        rows = 0.0
        for name, changes in _row_claim_changes(cfg):
            sub = _claim_config(cfg, name, **common_, **changes)
            rows += est.seconds(est.images_by_resolution(build_schedule(sub), int(sub.total_kimg * 1000)), rates)
        parts.update({"Fig. 4 pair": pair, "Table 1 rows": rows})
    return est.Estimate(parts=parts, img_per_s=rates, threads=threads)


def _seeds_of(results: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The runs of claim ``name`` over all its seeds (``name``, ``name@1``, …), those that exist."""
    return [r for key, r in results.items() if key == name or key.startswith(name + "@")]


def claims_table(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of paper claim | paper's figure | this run | verdict, fed from papers/progan/paper.yaml.

    Verdicts follow :mod:`gancore.claims`: *holds* / *does not hold* only when the effect exceeds the seed-to-seed
    spread, *within noise* otherwise, and *not tested* (with the reason) when the comparison could not be made.
    ``holds`` is kept for older readers: True / False for a decided verdict, None otherwise.
    """
    from gancore.claims import mean, spread, verdict
    from gancore.config import load_yaml, papers_dir

    claims = load_yaml(papers_dir() / PAPER / "paper.yaml")["claims"]

    def swd(r: dict[str, Any]) -> float | None:
        v = r.get("swd_avg")
        return float(v) if v is not None and math.isfinite(float(v)) else None

    def row(key: str, this_run: str, v: str) -> dict[str, Any]:
        c = claims[key]
        holds = True if v == "holds" else False if v == "does not hold" else None
        return {"claim": c["claim"], "paper": c["paper"], "this run": this_run, "verdict": v, "holds": holds}

    def fmt(x: float | None) -> str:
        return "n/a" if x is None else f"{x:.2f}"

    # Fig. 4: progressive vs fixed at equal time, each seed's pair timed on this machine.
    progs, fixeds = _seeds_of(results, "progressive"), _seeds_of(results, "fixed")
    reached = [p for p in progs if p.get("alpha") == 1.0 and fixeds and p.get("resolution") == fixeds[0].get("resolution")]
    p_swd, f_swd = [swd(p) for p in progs], [swd(f) for f in fixeds]
    p_mean, f_mean = mean(p_swd), mean(f_swd)
    noise = max((x for x in (spread(p_swd), spread(f_swd)) if x is not None), default=None)
    res = fixeds[0].get("resolution") if fixeds else None
    if not progs or not fixeds or any("diverged" in r for r in progs + fixeds):
        text, v = "a run of the pair diverged or was not run", verdict(None, None, untested="no pair to compare")
    elif len(reached) < len(progs):
        text = f"progressive stopped at {progs[0].get('resolution')}², α={progs[0].get('alpha') or 0:.2f}"
        v = verdict(None, None, untested="the progressive run did not reach the compared resolution")
    else:
        text = (f"avg SWD×10³ at {res}², mean of {len(progs)} seeds: {fmt(p_mean)} (progressive, "
                f"{mean([p.get('kimg') for p in progs]) or 0:.1f} kimg) vs {fmt(f_mean)} (fixed, "
                f"{mean([f.get('kimg') for f in fixeds]) or 0:.1f} kimg), each pair in the seconds the progressive "
                f"run took here ({mean([p.get('train_seconds') for p in progs]) or 0:.0f} s); seed spread {fmt(noise)}")
        effect = None if p_mean is None or f_mean is None else f_mean - p_mean
        v = verdict(effect, noise, untested="an SWD was not finite")
    out = [row("progressive_vs_fixed", text, v)]

    # Table 1 rows: one seed per row; row (g) over several seeds gives the spread of one row's SWD.
    g_noise = spread([swd(r) for r in _seeds_of(results, "row_g")])
    for key, (a, b) in {"mbstd": ("d", "e"), "eq_lr": ("e", "f"), "pixelnorm": ("f", "g")}.items():
        sa, sb = swd(results.get(f"row_{a}", {})), swd(results.get(f"row_{b}", {}))
        effect = None if sa is None or sb is None else sa - sb
        out.append(row(key, f"avg SWD×10³ ({a}) {fmt(sa)} → ({b}) {fmt(sb)}; seed spread of (g) {fmt(g_noise)}",
                       verdict(effect, g_noise, untested=f"row ({a}) or ({b}) diverged or has no finite SWD")))
    ms = [results.get(f"row_{r}", {}).get("ms_ssim") for r in "defg"]
    sw = [swd(results.get(f"row_{r}", {})) for r in "defg"]
    if any(x is None or not math.isfinite(float(x)) for x in ms) or any(x is None for x in sw):
        out.append(row("msssim_blind", "a row diverged or has no finite MS-SSIM / SWD",
                       verdict(None, None, untested="needs finite MS-SSIM and SWD for rows d–g")))
    else:
        ms_spread, sw_spread = (spread(x) / max(1e-9, mean(x)) for x in (ms, sw))
        # Both are relative spreads of the same four runs, so they need no seed band: the claim is their order.
        out.append(row("msssim_blind", f"relative spread over rows d–g: MS-SSIM {ms_spread:.1%}, SWD {sw_spread:.1%}",
                       "holds" if ms_spread < sw_spread else "does not hold"))
    return out


def table2_check() -> list[dict[str, Any]]:
    """Parameter counts of the 1024² G and D (App. A.1 defaults) beside Table 2's 23.1M each."""
    G, D = build_networks(ProGANConfig(resolution=1024))
    rows = []
    for name, net in (("G", G), ("D", D)):
        n = count_params(net)
        rows.append({"network": name, "paper (M)": 23.1, "gancore (M)": round(n / 1e6, 3),
                     "difference": f"{(n / 23.1e6 - 1):+.2%}"})
    return rows


def pyramid_figure(data, *, n: int = 8):
    """The same ``n`` real images at every cached resolution (upscaled for display), finest last."""
    from gancore.viz import show_grid

    top = data.resolution
    rows = []
    for r in [2**k for k in range(2, top.bit_length()) if 2**k <= top]:
        level = data.cache.at(r)[:n].float()
        rows.append(torch.nn.functional.interpolate(level, size=top, mode="nearest").round().to(torch.uint8))
    return show_grid(torch.cat(rows), nrow=n, title="reals at 4×4 … full resolution (rows)")


def growth_figure(out_dir: str | Path, *, n: int = 8):
    """The first ``n`` fixed-latent samples at the end of every phase, one row each, upscaled to the largest size."""
    import numpy as np
    from PIL import Image
    from gancore.viz import show_grid

    folder = Path(out_dir, "samples")
    kimg = lambda p: float(p.stem.split("kimg")[1].split("-")[0])  # noqa: E731
    paths = sorted(folder.glob("end-*.png"), key=kimg) + sorted(folder.glob("final-*.png"), key=kimg)
    if not paths:
        raise FileNotFoundError(f"no phase-end samples in {folder}")
    rows = []
    for p in paths:
        res = int(p.stem.rsplit("res", 1)[1])
        grid = torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)
        # Trainer.save_samples writes 8 per row with 1 px padding: tile i of the first row starts at 1 + i·(res+1).
        tiles = [grid[:, 1:1 + res, 1 + i * (res + 1):1 + i * (res + 1) + res] for i in range(n)]
        rows.append(torch.stack(tiles))
    top = max(t.shape[-1] for t in rows)
    rows = [torch.nn.functional.interpolate(t.float(), size=top, mode="nearest").to(torch.uint8) for t in rows]
    names = ", ".join(p.stem.split("-kimg")[0].replace("end-", "") for p in paths)
    return show_grid(torch.cat(rows), nrow=n, title=f"rows: {names}")
