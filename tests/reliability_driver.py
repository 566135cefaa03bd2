"""A training process for tests/test_reliability.py that can die by SIGKILL at a chosen moment.

    python tests/reliability_driver.py PAPER OUT_DIR [--kill-at-step N] [--kill-in-save N]

--kill-at-step N   SIGKILL itself at the start of this process's N-th training step (mid-run, between updates);
--kill-in-save N   SIGKILL itself inside the N-th checkpoint write of this process, after half of the temp file is
                   on disk (what a power cut during ``torch.save`` leaves).
--kill-mid-epoch N alphaGAN: SIGKILL itself at the N-th worst-case part (Alg. 2) of this process, i.e. in the
                   middle of a search epoch, after its weight steps.

Nothing here changes gancore: the kills are monkeypatches of this process only.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Small and fast, with a checkpoint every few steps so kills land before, between and during checkpoints.
OVERRIDES = {
    "progan": dict(dataset_size=64, ckpt_every_kimg=0.064, log_every_kimg=0.032, sample_every_kimg=1e9,
                   metrics_every_kimg=0.0, stabilize_kimg=0.096, fade_kimg=0.096),
    "biggan": dict(dataset_size=64, ckpt_every_kimg=0.064, log_every_kimg=0.032, sample_every_kimg=1e9,
                   sv_every_kimg=0.064, total_kimg=0.384),
    "alphagan": dict(dataset_size=64, mode="search", epochs=6, ckpt_every_epochs=1, sample_every_epochs=1000),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("paper", choices=sorted(OVERRIDES))
    ap.add_argument("out_dir")
    ap.add_argument("--kill-at-step", type=int, default=0)
    ap.add_argument("--kill-in-save", type=int, default=0)
    ap.add_argument("--kill-mid-epoch", type=int, default=0)
    args = ap.parse_args()

    import torch

    torch.set_num_threads(1)
    import importlib

    from gancore import checkpoint

    recipe = importlib.import_module(f"gancore.recipes.{args.paper}")
    method_cls = {"progan": "ProGANMethod", "biggan": "BigGANMethod", "alphagan": "SearchMethod"}[args.paper]
    if args.kill_mid_epoch:
        cls = getattr(recipe, method_cls)
        real_worst, calls = cls._worst_case, [0]

        def worst_case(self, *a, **k):
            calls[0] += 1
            if calls[0] == args.kill_mid_epoch:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_worst(self, *a, **k)

        cls._worst_case = worst_case
    if args.kill_at_step:
        cls = getattr(recipe, method_cls)
        real_step, steps = cls.train_step, [0]

        def train_step(self, *a, **k):
            steps[0] += 1
            if steps[0] == args.kill_at_step:
                os.kill(os.getpid(), signal.SIGKILL)
            return real_step(self, *a, **k)

        cls.train_step = train_step
    if args.kill_in_save:
        real_save, saves = torch.save, [0]

        def save(obj, f, *a, **k):
            real_save(obj, f, *a, **k)
            if not isinstance(f, (str, os.PathLike)):
                return
            saves[0] += 1
            if saves[0] == args.kill_in_save:
                size = os.path.getsize(f)
                with open(f, "r+b") as handle:
                    handle.truncate(size // 2)
                os.kill(os.getpid(), signal.SIGKILL)

        checkpoint.torch.save = save  # the module-level torch that atomic_save calls
    cfg = recipe.load_config(scale="smoke", out_dir=args.out_dir, **OVERRIDES[args.paper])
    result = recipe.run(cfg, progress=False, evaluate=False)
    trainer = result.search.trainer if args.paper == "alphagan" else result.trainer
    status = result.summary["search"]["status"] if args.paper == "alphagan" else result.summary.get("status")
    print("status", status, trainer.state.nimg, flush=True)


if __name__ == "__main__":
    main()
