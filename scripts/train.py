"""Train one paper's method outside a notebook: one process, or data parallel under torchrun.

    python scripts/train.py biggan --scale reduced --set out_dir=runs/bg total_kimg=60
    torchrun --standalone --nproc_per_node 8 scripts/train.py biggan --scale full --set data_dir=/data/imagenet

Under torchrun every rank trains a replica on its slice of each global batch (gancore.distributed); BigGAN's G
uses cross-replica (Sync) BatchNorm on GPUs, as App. C does across TPU cores. ``batch_size`` stays the per-rank
(per-process) batch, so a step sees ``nproc × batch_size`` images. Rank 0 writes the run folder; rerunning the same
command resumes it exactly. Evaluation at the end runs on rank 0. The notebooks call the same ``run`` functions.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_OWN_FLAGS = {"scale": "--scale", "preset": "--preset", "paper": "the first argument"}


def parse_sets(items: list[str]) -> dict:
    """``key=value`` pairs; values are read as YAML (numbers, booleans, lists), so ``ch=8`` gives an int."""
    from gancore.config import ConfigError, parse_key_values

    try:
        return parse_key_values(items, reserved=_OWN_FLAGS)
    except ConfigError as e:
        raise SystemExit(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    from gancore.engine import registry

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paper", choices=registry.papers())
    ap.add_argument("--scale", default="reduced", choices=["smoke", "reduced", "full"])
    ap.add_argument("--preset", default="")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    ap.add_argument("--no-eval", action="store_true", help="skip the end-of-run metrics")
    args = ap.parse_args(argv)

    from gancore import preflight
    from gancore.errors import GancoreError

    recipe = registry.recipe(args.paper)
    try:
        cfg = recipe.load_config(scale=args.scale, preset=args.preset, **parse_sets(args.set))
        preflight.check(cfg, recipe=recipe)  # device, paths and memory, before a process group or a tensor exists
        return _train(recipe, cfg, args)
    except GancoreError as e:  # bad input: the message names what is wrong and how to go on; a traceback buries it
        raise SystemExit(f"{args.paper}: {type(e).__name__}: {e}") from None


def _train(recipe, cfg, args) -> int:
    from gancore import distributed, engine
    from gancore.errors import ConfigError

    dist_info = distributed.init_from_env(engine.pick_device(cfg.device))
    try:
        if dist_info.world_size > 1 and recipe.single_process:
            raise ConfigError(f"{recipe.single_process}; launch scripts/train.py without torchrun")
        result = engine.run(recipe, cfg, progress=dist_info.is_main, evaluate=not args.no_eval)
        line, identical = recipe.result_line(result), True
        if result.trainer is not None:  # the replicas of a data-parallel run must not drift apart
            nets = [*result.method.G.parameters(), *result.method.D.parameters(), *result.trainer.ema.parameters()]
            identical = distributed.same_on_all_ranks(nets)
            line += f" on {dist_info.world_size} process(es); replicas identical: {identical}"
        if dist_info.is_main:
            print(f"{line}; run folder {cfg.out_dir}")
        return 0 if identical else 1
    finally:
        if dist_info.active:
            import torch.distributed as dist

            dist.barrier()  # no rank tears gloo down while another still talks to it (seen: SIGABRT at exit)
            dist.destroy_process_group()


if __name__ == "__main__":
    raise SystemExit(main())
