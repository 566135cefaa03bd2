"""Prepare a data store ahead of a run, or say what a store holds.

    python -m gancore.data prepare --dataset folder --data-dir /data/lsun_bedroom --resolution 256 --workers 16
    python -m gancore.data prepare --paper progan --scale full --preset lsun256 --set data_dir=/data/lsun_bedroom
    python -m gancore.data info /data/lsun_bedroom/.gancore_cache/folder-256-0123456789abcdef

With ``--paper`` the store is exactly the one that run reads (its dataset, resolution, max_images, store_dir);
otherwise the flags say it. A killed prepare continues where it stopped when the command is run again.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def _from_paper(args) -> dict:
    from gancore.config import parse_key_values
    from gancore.engine import registry

    overrides = parse_key_values(args.set, reserved={"scale": "--scale", "preset": "--preset", "paper": "--paper"})
    cfg = registry.recipe(args.paper).load_config(scale=args.scale, preset=args.preset, **overrides)
    res = cfg.resolution if cfg.resolution & (cfg.resolution - 1) == 0 else 1 << cfg.resolution.bit_length()
    return dict(name=cfg.dataset, resolution=res, data_dir=cfg.data_dir, size=cfg.dataset_size, seed=cfg.seed,
                strict=cfg.strict_images, max_images=cfg.max_images, store_dir=cfg.store_dir,
                on_changed=cfg.data_changed)


def prepare(args) -> int:
    from gancore.data.registry import build_dataset

    if args.paper:
        settings = _from_paper(args)
    else:
        if not args.dataset or not args.resolution:
            raise SystemExit("prepare needs --paper (with --scale/--preset/--set) or --dataset and --resolution")
        settings = dict(name=args.dataset, resolution=args.resolution, data_dir=args.data_dir, size=args.size,
                        seed=args.seed, strict=args.strict, max_images=args.max_images, store_dir=args.store_dir,
                        on_changed="refuse" if args.refuse_changed else "rebuild")
    t0 = time.perf_counter()
    data = build_dataset(**settings, in_memory="no", workers=args.workers)
    seconds = time.perf_counter() - t0
    if data.store is None:
        print(f"{settings['name']}: rendered in memory, nothing to prepare")
        return 0
    print(f"{data.store.folder}: {len(data):,} images at {data.stored_resolution}², "
          f"{data.nbytes / 1e9:.2f} GB, ready in {seconds:.0f} s")
    return 0


def info(args) -> int:
    from gancore.data.store import StoreReader

    store = StoreReader(args.store)
    meta = {k: v for k, v in store.meta.items() if k not in ("skipped",)}
    meta["bytes_on_disk"] = sum(f.stat().st_size for f in Path(args.store).iterdir() if f.is_file())
    print(json.dumps(meta, indent=1, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gancore.data", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="decode a data set into a store (resumable)")
    p.add_argument("--paper", help="prepare the store this paper's run reads (with --scale, --preset, --set)")
    p.add_argument("--scale", default="full", choices=["smoke", "reduced", "full"])
    p.add_argument("--preset", default="")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. data_dir=…")
    p.add_argument("--dataset", choices=["folder", "cifar10", "shapes"])
    p.add_argument("--data-dir")
    p.add_argument("--resolution", type=int)
    p.add_argument("--max-images", type=int, default=0, help="evenly spaced subset (0: every image)")
    p.add_argument("--size", type=int, default=10000, help="shapes: images to render")
    p.add_argument("--seed", type=int, default=0, help="shapes: stream seed")
    p.add_argument("--strict", action="store_true", help="an unreadable image is an error, not a skipped file")
    p.add_argument("--store-dir", help="where the store goes (default: <data-dir>/.gancore_cache)")
    p.add_argument("--refuse-changed", action="store_true", help="refuse a store whose source changed")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decoding processes")
    i = sub.add_parser("info", help="what a store holds")
    i.add_argument("store")
    args = ap.parse_args(argv)
    from gancore.errors import GancoreError

    try:
        return prepare(args) if args.command == "prepare" else info(args)
    except GancoreError as e:
        raise SystemExit(f"{type(e).__name__}: {e}") from None


if __name__ == "__main__":
    sys.exit(main())
