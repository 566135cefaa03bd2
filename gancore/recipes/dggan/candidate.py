"""One DGGAN candidate: inherit from the parent, train with WGAN-GP on ProGAN's schedule, evaluate FID.

Each candidate is an ordinary training run of the engine (:func:`gancore.engine.train`) in its own run folder
(``config.json`` with the spec that rebuilds its nets, ``log.jsonl``, ``checkpoints/``, ``samples/``,
``summary.json``), so it resumes on its own: a candidate cut off mid-training continues from its last checkpoint
when the search runs it again.

* **Inheritance** ("Dynamic Growing Overview"): the child's G and D copy every tensor they share with the parent's
  final checkpoint, by name (:func:`gancore.models.dggan.inherit`); new layers start random. The G EMA inherits the
  parent's EMA the same way and goes on averaging (ProGAN keeps its average G across growth). Adam starts fresh:
  ProGAN's own code resets the optimizer state at every new resolution (``reset_opt_for_new_lod``), and an
  inherited moment estimate of a tensor whose neighbour was just replaced describes gradients that no longer exist.
* **Schedule** ("Implementation Details": ProGAN's schedule for every candidate): a grow child fades its new block in
  over the first ``fade_fraction`` of its iterations (α 0→1 in G, D and the reals, :class:`gancore.growth.Growth`),
  then stabilizes; any other child trains at its resolution throughout. The update is ProGAN's
  (:class:`gancore.recipes.growing_wgan.GrowingWGANGP`, the same class ProGAN's method is).
* **Feedback**: FID of the EMA G at the candidate's resolution, with the shipped shapes network (reduced scale) or
  Inception from a path (full scale); the real-set statistics are cached once for the whole search. IS (Table 1)
  comes from the same features of the same samples at no extra pass; the final pair also gets ProGAN's SWD
  (Table 3; ``swd_num_images``, 16² and above), which needs far more images than a candidate's FID.
"""
from __future__ import annotations

import hashlib
import time
import traceback
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gancore import checkpoint as ckpt_io
from gancore import engine
from gancore.engine.recipe import Training
from gancore.errors import TrainingDiverged
from gancore.growth import Growth
from gancore.latents import sample_latents
from gancore.models.dggan import ArchSpec, build, inherit
from gancore.nn import count_params
from gancore.recipes.dggan.config import CandidateConfig
from gancore.recipes.growing_wgan import GrowingWGANGP
from gancore.sampling import sample_uint8 as draw
from gancore.schedule import Phase, Schedule


def candidate_seed(seed: int, cid: str) -> int:
    """A candidate's own seed from the search seed and its id: independent of when or where it is trained."""
    digest = hashlib.blake2b(f"dggan-candidate:{seed}:{cid}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


def candidate_schedule(cfg: CandidateConfig, resolution: int) -> Schedule:
    """ProGAN's fade-in then stabilization for a grow child; one phase at its resolution otherwise."""
    total, bs = cfg.images(), cfg.batch_size
    if cfg.action == "grow" and cfg.fade_fraction > 0:
        fade = int(round(total * cfg.fade_fraction))
        phases = [Phase(0, f"fade{resolution}", resolution, "fade", 0, fade, bs),
                  Phase(1, f"stab{resolution}", resolution, "stabilize", fade, None, bs)]
    else:
        phases = [Phase(0, f"train{resolution}", resolution, "train", 0, None, bs)]
    return Schedule(phases, natural_end_nimg=total)


class CandidateMethod(GrowingWGANGP):
    """WGAN-GP with ε_drift for the G and D of one spec: ProGAN's step on the candidate's schedule."""

    def __init__(self, *, cfg: CandidateConfig, device: torch.device) -> None:
        super().__init__()
        self.cfg, self.device = cfg, device
        self.spec = ArchSpec.from_dict(cfg.spec)
        torch.manual_seed(cfg.seed)  # the new layers' init is part of the seeded candidate
        G, D = build(self.spec, mbstd_group=cfg.mbstd_group)
        # The nets are built at one resolution: they take the fade-in α alone.
        self.setup(G=G, D=D, growth=Growth(schedule=candidate_schedule(cfg, self.spec.resolution), inputs=("alpha",)))

    def latent_dim(self) -> int:
        return self.spec.latent_dim

    def on_fresh_run(self, trainer) -> None:
        if self.cfg.inherit_from:
            self.extra["inherited"] = inherit_from_parent(self, trainer, self.cfg.inherit_from)

    def latents(self, n: int, rng: torch.Generator) -> Tensor:
        return sample_latents(n, self.spec.latent_dim, generator=rng).to(self.device)


# ---------------------------------------------------------------------------------------------------------------------
# Inheritance and evaluation
# ---------------------------------------------------------------------------------------------------------------------
def parent_checkpoint(folder: str | Path) -> dict[str, Any]:
    """The parent's newest good checkpoint (its final one); a clear error when none is left."""
    found = ckpt_io.latest_good_checkpoint(Path(folder) / "checkpoints", map_location="cpu")
    if found is None:
        raise FileNotFoundError(f"the parent run {folder} has no readable checkpoint to inherit from")
    return found[1]


def inherit_from_parent(method: CandidateMethod, trainer, folder: str | Path) -> dict[str, int]:
    """Copy the parent's G, D and G EMA into a fresh child (see the module docstring); returns how many tensors
    were copied whole, sliced or are new, over G and D."""
    ck = parent_checkpoint(folder)
    report = {**{f"G.{k}": v for k, v in inherit(method.G, ck["G"]).items()},
              **{f"D.{k}": v for k, v in inherit(method.D, ck["D"]).items()}}
    # New layers of the EMA keep the child's fresh init (the EMA is a copy of the child's G before this).
    inherit(trainer.ema.module, ck["G_ema"], prefix="module.")
    trainer.continue_ema()
    return {kind: sum(1 for v in report.values() if v == kind) for kind in ("copied", "sliced", "new")}


def sample_uint8(G: nn.Module, *, n: int, seed: int, batch_size: int = 256, precision: str = "fp32") -> Tensor:
    """``n`` samples of a grown G (eval mode) as uint8, from latents seeded apart from training."""
    return draw(G, n=n, dim=G.latent_dim, seed=seed, batch_size=batch_size, precision=precision)


def candidate_scores(cfg: CandidateConfig, G: nn.Module, data: Any, *, device: torch.device) -> dict[str, float]:
    """FID and IS of G's samples (FID against the real images at G's resolution; the search warns once when the
    shipped shapes network scores other data: such scores rank candidates of one search, nothing more), and SWD
    ×10³ per level and ``swd_avg`` when ``swd_num_images`` asks for it and G is at 16² or above."""
    from gancore.metrics.fidelity import fidelity_metrics

    res = G.resolution
    n = min(cfg.fid_num_images, len(data))
    fake = sample_uint8(G, n=n, seed=cfg.seed + 11, batch_size=cfg.eval_batch, precision=cfg.eval_precision)
    scores = fidelity_metrics(fake, data.images(res, n), metrics=("fid", "is"),
                              extractor=cfg.extractor, inception_weights=cfg.inception_weights,
                              cache_dir=cfg.metrics_cache or None, cache_key=f"{cfg.metrics_key}-res{res}-n{n}",
                              device=str(device), batch_size=cfg.eval_batch)
    out = {k: float(scores[k]) for k in ("fid", "is_mean", "is_std")}
    if cfg.swd_num_images and res >= 16:  # ProGAN §5: the Laplacian pyramid starts at 16²
        from gancore.metrics.swd import SWDReference

        m = min(cfg.swd_num_images, len(data))
        ref = SWDReference(data.images(res, m), seed=cfg.seed)
        out.update(ref.score(sample_uint8(G, n=m, seed=cfg.seed + 13, batch_size=cfg.eval_batch,
                                          precision=cfg.eval_precision)))
    return out


class CandidateEvaluator:
    """A candidate's feedback: FID at the end (no untrained-G yardstick: the search normalizes by its baseline)."""

    def __init__(self, *, cfg: CandidateConfig, data: Any, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device

    def initial(self, G: nn.Module) -> None:
        return None

    def final(self, G: nn.Module, nimg: int) -> dict[str, float]:
        return candidate_scores(self.cfg, G, self.data, device=self.device)


class Candidate(Training):
    """One candidate as a training run of the engine."""

    def build_method(self, cfg: CandidateConfig, *, data, held_out, device: torch.device) -> CandidateMethod:
        return CandidateMethod(cfg=cfg, device=device)

    def build_evaluator(self, cfg: CandidateConfig, *, data, method, device) -> CandidateEvaluator:
        return CandidateEvaluator(cfg=cfg, data=data, device=device)

    def describe(self, cfg: CandidateConfig, *, method: CandidateMethod, trainer, data, device) -> dict[str, Any]:
        spec, G, D = method.spec, method.G, method.D
        g, d = spec.num_layers()
        pg, pd = count_params(G), count_params(D)
        return {"cid": cfg.cid, "parent": cfg.parent, "action": cfg.action, "resolution": spec.resolution,
                "layers_G": g, "layers_D": d, "params_G": pg, "params_D": pd, "g2d_ratio": pg / max(pd, 1),
                "history": list(spec.history), "params": {"G": pg, "D": pd}}

    def results(self, outcome) -> dict[str, Any]:
        return {**outcome.final, "inherited": outcome.method.extra.get("inherited", {}),
                "iterations": outcome.trainer.state.step}


CANDIDATE = Candidate()


def train_candidate(cfg: CandidateConfig, data: Any) -> dict[str, Any]:
    """Train one candidate in ``cfg.out_dir`` (resuming its own checkpoint) and evaluate it; failures come back as
    results with ``status: failed`` and the error, so the search goes on."""
    t0 = time.perf_counter()
    try:
        return engine.train(CANDIDATE, cfg, data=data, progress=cfg.progress).summary
    except TrainingDiverged as e:
        return {"status": "failed", "diverged": True, "error": str(e).splitlines()[0][:400],
                "seconds": round(time.perf_counter() - t0, 3)}
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001  (any candidate's failure is recorded; the search goes on)
        tb = traceback.format_exc(limit=-3)
        return {"status": "failed", "error": f"{type(e).__name__}: {e}"[:400], "traceback": tb[-1500:],
                "seconds": round(time.perf_counter() - t0, 3)}


__all__ = ["CANDIDATE", "Candidate", "CandidateMethod", "candidate_scores", "candidate_schedule", "candidate_seed",
           "inherit_from_parent", "train_candidate"]
