"""What the loop shows of a run while it trains: sample grids of the EMA generator and ``progress.json``."""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import torch

from gancore.data import to_uint8

if TYPE_CHECKING:
    from gancore.engine.loop import Trainer


@torch.no_grad()
def save_grid(trainer: "Trainer", tag: str, *, generate: Callable | None = None, where: dict | None = None) -> Path:
    """``samples/<tag>-kimg…-res….png``: the EMA G on the fixed latents, by ``generate(G, z, labels)`` (default: the
    method's generator where training stands now); ``where`` is what the log record says about it."""
    from torchvision.utils import save_image

    nimg = trainer.state.nimg
    generate = generate or (lambda G, z, y: trainer.method.generate(G, z, y, nimg=nimg))
    labels = None if trainer.fixed_labels is None else trainer.fixed_labels.to(trainer.device)
    imgs = generate(trainer.ema.module, trainer.fixed_z.to(trainer.device), labels)
    path = trainer.folder.samples / f"{tag}-kimg{nimg / 1000:08.1f}-res{imgs.shape[-1]}.png"
    if not trainer.dist.is_main:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    save_image(to_uint8(imgs).float() / 255, path, nrow=8, padding=1)
    trainer.log({"kind": "sample", "path": str(path.relative_to(trainer.out)),
                 **(where if where is not None else trainer.method.where(nimg))})
    return path


def progress_record(trainer: "Trainer", rec: dict) -> dict:
    """Where training is and its ETA, from a log record of the loop (for watchers such as ``make demo``)."""
    state, cfg = trainer.state, trainer.cfg
    rate = rec["img_s"]
    eta = max(0, trainer.total_nimg - state.nimg) / rate if rate > 0 else None
    if cfg.max_seconds:  # a time-limited run (ProGAN's equal-time claim run) ends on the clock
        eta = min(eta if eta is not None else math.inf, max(0.0, cfg.max_seconds - state.train_seconds))
    return {"paper": cfg.paper, "nimg": state.nimg, "total_nimg": trainer.total_nimg, "img_s": round(rate, 2),
            "eta_s": None if eta is None else round(eta, 1),
            **{k: v for k, v in rec.items() if k in ("phase", "res", "alpha", "batch")}}
