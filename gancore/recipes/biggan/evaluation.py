"""BigGAN's metrics of the EMA G (§3.1 truncation, App. C.1 standing statistics, per-class accuracy): FID/IS/KID
untruncated and along the truncation sweep, and the class accuracy of the shipped shapes classifier."""
from __future__ import annotations

import copy
from typing import Any

import torch
from torch import Tensor, nn

from gancore.recipes import common
from gancore.recipes.biggan.config import BigGANConfig


class BigGANEvaluator:
    """End-of-run metrics of the EMA G with standing statistics: FID/IS/KID, class accuracy, truncation sweep."""

    def __init__(self, *, cfg: BigGANConfig, data, device: torch.device):
        self.cfg, self.data, self.device = cfg, data, device
        # The untruncated standing-statistics copy of the last G given to final(): the sweep's first point, the class
        # accuracy and the notebook's figures all use it, so its (up to 100) passes run once.
        self._untruncated: tuple[int, nn.Module] | None = None

    def reals(self, n: int) -> Tensor:
        return self.data.images(self.cfg.resolution, n)

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

    def sweep(self, G: nn.Module, *, n: int, thresholds: list[float] | None = None) -> list[dict[str, Any]]:
        """IS/FID (+ class accuracy on shapes) per truncation threshold, each with its own standing statistics."""
        from gancore.metrics.shapes_net import classify
        from gancore.sampling import truncation_sweep

        cfg = self.cfg
        if not common.can_score(self.cfg):
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
                include_untruncated=t is None, classifier=classifier, batch_size=cfg.eval_batch,
                precision=cfg.eval_precision)
        return rows

    def class_accuracy(self, G: nn.Module, *, n_per_class: int) -> dict[str, Any]:
        from gancore.sampling import class_accuracy

        if self.cfg.dataset != "shapes":
            return {}
        return class_accuracy(self.prepared(G), n_per_class=n_per_class, seed=self.cfg.seed + 13)

    def fidelity(self, G: nn.Module, *, n: int) -> dict[str, float]:
        """Untruncated FID/IS/KID of G as it is (no standing statistics): the untrained-G yardstick."""
        from gancore.sampling import sample_conditional

        if not common.can_score(self.cfg):
            return {}
        n = min(n, len(self.data))
        fake, _ = sample_conditional(G, n=n, seed=self.cfg.seed + 11, batch_size=self.cfg.eval_batch,
                                     precision=self.cfg.eval_precision)
        return common.score(self.cfg, fake, self.reals(n), resolution=self.cfg.resolution, device=self.device)

    def metrics(self, G: nn.Module, *, n: int, sweep: bool = True) -> dict[str, Any]:
        """The end-of-run metrics of ``G`` from ``n`` samples (the truncation sweep unless ``sweep`` is False)."""
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

    # ---- the engine's Evaluator ------------------------------------------------------------------------------
    def initial(self, G: nn.Module) -> dict[str, float]:
        """The untrained G's FID/IS/KID: the yardstick of "training helped"."""
        return self.fidelity(G, n=min(self.cfg.final_num_images, 1024))

    def final(self, G: nn.Module, nimg: int) -> dict[str, Any]:
        return self.metrics(G, n=self.cfg.final_num_images)
