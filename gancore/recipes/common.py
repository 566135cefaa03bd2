"""What the papers' evaluations and claims share: FID/IS/KID against the run's real images with a cache that names
the real set exactly, the side-run configs of a notebook's claims, and the runs of a claim over its seeds."""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path
from typing import Any, Sequence

from torch import Tensor

from gancore.config import RunConfig, resolve


def fidelity_cache_key(cfg: RunConfig, *, resolution: int, n: int) -> str:
    """Cache name of the real-set statistics: dataset, source (folder path or shapes size+seed), resolution, n."""
    source = str(Path(cfg.data_dir).resolve()) if cfg.data_dir else f"size{cfg.dataset_size}-seed{cfg.seed}"
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    return f"{cfg.dataset}-{digest}-res{resolution}-n{n}"


def fidelity_cache_dir(cfg: RunConfig) -> Path:
    """Real-set feature cache shared by the runs under one parent folder (gancore's ``.npz`` format, never
    torch-fidelity's pickles; the old ``.fidelity-cache`` folder is not read)."""
    return Path(cfg.out_dir).parent / ".gancore-metrics-cache"


def can_score(cfg: RunConfig, *, warn: bool = False) -> bool:
    """Whether FID/IS/KID mean anything here: the shipped shapes network describes the shapes dataset only."""
    if cfg.extractor == "shapes" and cfg.dataset != "shapes":
        if warn:
            warnings.warn("FID/IS/KID skipped: the shipped shapes network only describes the shapes dataset; "
                          "pass extractor='inception' and inception_weights=PATH for real data", stacklevel=3)
        return False
    return True


def score(cfg: RunConfig, fake: Tensor, real: Tensor, *, resolution: int, device: Any,
          metrics: Sequence[str] = ("fid", "is", "kid")) -> dict[str, float]:
    """FID/IS/KID of uint8 ``fake`` against uint8 ``real`` with the run's feature network; the real set's statistics
    are cached under a key that names it exactly, so they are never reused for other data."""
    from gancore.metrics.fidelity import fidelity_metrics

    return fidelity_metrics(fake, real, metrics=tuple(metrics), extractor=cfg.extractor,
                            inception_weights=cfg.inception_weights, cache_dir=fidelity_cache_dir(cfg),
                            cache_key=fidelity_cache_key(cfg, resolution=resolution, n=len(real)),
                            device=str(device), batch_size=cfg.eval_batch)


def claim_config(cfg: RunConfig, *, name: str, ablation_key: str, changes: dict[str, Any]) -> RunConfig:
    """A side-run config of the notebook's claims: the main run's preset plus the *user's* overrides, then
    ``changes`` (an ablation row or switch), in ``out_dir/claims/<name>`` with checkpoints and grids only at exit.

    Only fields the user changed relative to the preset (with the same ``ablation_key`` value, e.g. ProGAN's Table 1
    row) carry over, so the side run's switches are never masked by the main run's values of the same fields.
    """
    cls = type(cfg)
    preset_cfg = resolve(cls, paper=cfg.paper, scale=cfg.scale, preset=cfg.preset,
                         overrides={ablation_key: getattr(cfg, ablation_key), "dry_run": True})
    skip = {"paper", "scale", "preset", ablation_key, "out_dir", "dry_run"}
    user = {k: v for k, v in cfg.to_dict().items() if k not in skip and getattr(preset_cfg, k) != v}
    values = {**user, "out_dir": str(Path(cfg.out_dir) / "claims" / name), "sample_every_kimg": 1e9,
              "ckpt_every_kimg": 1e9, **changes}
    return resolve(cls, paper=cfg.paper, scale=cfg.scale, preset=cfg.preset, overrides=values)


def seeds_of(results: dict[str, dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """The runs of claim ``name`` over all its seeds (``name``, ``name@1``, …), those that exist."""
    return [r for key, r in results.items() if key == name or key.startswith(name + "@")]
