"""The data pipeline side by side: preparing a store, streaming minibatches from it, and the memory a process needs.

    python benchmarks/data_pipeline.py                      # 20k and 200k images at 128², 4k at 1024² (≈ 22 GB disk)
    python benchmarks/data_pipeline.py --sets 2000x64 --prepare-images 200 --batches 5   # a quick look

For every set (``<images>x<resolution>``) a store is written synthetically (random pixels straight into the files,
so large stores take seconds, not hours of decoding), then each loader configuration runs in a fresh process:
today's in-memory path (where the set fits in memory) and the streamed store with 0, 2 and 4 reader threads, at
batch 256. Each prints real images per second (read, to float, [-1, 1]) and the process's peak resident memory.
Decoding speed is measured apart, on a folder of ``--prepare-images`` PNG files, with 0 and ``--workers`` worker
processes. Without ``--keep`` the stores are deleted at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_synthetic_store(folder: Path, n: int, res: int) -> Path:
    """A complete store of ``n`` random images at ``res`` (what :func:`gancore.data.prepare_store` writes)."""
    from gancore.data.store import DECODE, STORE_FORMAT

    folder.mkdir(parents=True, exist_ok=True)
    images = np.lib.format.open_memmap(folder / "images.npy", mode="w+", dtype=np.uint8, shape=(n, 3, res, res))
    rng = np.random.default_rng(0)
    tile = rng.integers(0, 256, size=(min(n, 512), 3, res, res), dtype=np.uint8)
    for start in range(0, n, len(tile)):
        stop = min(n, start + len(tile))
        images[start:stop] = tile[: stop - start] ^ np.uint8(start // len(tile) % 251)
    images.flush()
    del images
    np.save(folder / "labels.npy", np.arange(n, dtype=np.int64) % 10)
    np.save(folder / "valid.npy", np.arange(n, dtype=np.int64))
    (folder / "meta.json").write_text(json.dumps({
        "format": STORE_FORMAT, "complete": True, "kind": "folder", "source": {"synthetic": True}, "fingerprint": "",
        "resolution": res, "decode": DECODE, "class_names": [str(c) for c in range(10)], "count": n,
        "skipped_count": 0}))
    return folder


def measure_loader(store: str, mode: str, workers: int, batch: int, batches: int, device: str = "cpu") -> dict:
    """In a fresh process: images per second through the engine's reader, and peak RSS (MiB). On a CPU the reader
    hands over uint8 minibatches (what the host holds); on CUDA they are also copied and turned into float [-1, 1]
    on the GPU, as training does."""
    import torch

    from gancore.data import BatchStream
    from gancore.data.imageset import ImageData
    from gancore.engine.data import RealImages

    torch.set_num_threads(1)
    data = ImageData.open(store, in_memory=mode == "memory")
    dev = torch.device(device)
    reals = RealImages(data=data, workers=workers, device=dev if dev.type == "cuda" else None)
    stream = BatchStream(num_items=len(data), seed=0)
    ahead = None
    t0, n = time.perf_counter(), 0
    for _ in range(batches):
        idx = ahead if ahead is not None else stream.next_indices(batch)
        if ahead is not None:
            stream.next_indices(batch)
        x = reals.batch(idx, device=dev)[0] if dev.type == "cuda" else reals.read(idx, dev)
        n += len(x)
        if reals.prefetches:  # what the loop does: read the next minibatch while this one trains
            import copy

            ahead = copy.copy(stream).next_indices(batch)
            reals.prefetch(ahead)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    reals.close()
    return {"img_s": n / seconds, "peak_mib": peak_rss_mib()}


def peak_rss_mib() -> float:
    """This process's peak resident memory. VmHWM belongs to the process image (a fresh one after exec), where
    ru_maxrss keeps the parent's peak at fork, e.g. a parent that just wrote a store through a memory map."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover - not Linux
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_prepare(n: int, res: int, workers: int, tmp: Path) -> float:
    """Images per second decoding a folder of ``n`` PNG files into a store at ``res``."""
    from PIL import Image

    from gancore.data.store import Source, prepare_store

    folder = tmp / f"png-{n}"
    if not folder.is_dir():
        folder.mkdir(parents=True)
        rng = np.random.default_rng(1)
        for i in range(n):
            side = int(res * 1.5)
            Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(folder / f"{i:06d}.png")
    store_parent = tmp / f"stores-{workers}"
    shutil.rmtree(store_parent, ignore_errors=True)
    t0 = time.perf_counter()
    prepare_store(Source("folder", res, root=str(folder)), store_parent, workers=workers, progress=False)
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="*", default=["20000x128", "200000x128", "4000x1024"])
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--loader-workers", nargs="*", type=int, default=[0, 2, 4])
    ap.add_argument("--prepare-images", type=int, default=4000)
    ap.add_argument("--prepare-resolution", type=int, default=128)
    ap.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="decoding processes")
    ap.add_argument("--dir", default="", help="where the stores go (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default="", help="also write the rows to this file")
    ap.add_argument("--device", default="cpu", help="cuda: also copy to the GPU and convert there, as training does")
    ap.add_argument("--measure", nargs=4, metavar=("STORE", "MODE", "WORKERS", "BATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.measure:  # the fresh process of one loader row
        store, mode, workers, batch = args.measure
        print(json.dumps(measure_loader(store, mode, int(workers), int(batch), args.batches, args.device)))
        return 0
    from gancore.data.registry import in_memory_limit

    tmp = Path(args.dir or tempfile.mkdtemp(prefix="gancore-data-bench-"))
    rows = []
    try:
        for workers in (0, args.workers):
            rate = measure_prepare(args.prepare_images, args.prepare_resolution, workers, tmp)
            rows.append({"what": f"prepare {args.prepare_images} PNG → {args.prepare_resolution}²",
                         "workers": workers, "img_s": round(rate, 1)})
            print(rows[-1], flush=True)
        for spec in args.sets:
            n, res = (int(v) for v in spec.split("x"))
            t0 = time.perf_counter()
            store = write_synthetic_store(tmp / f"store-{spec}", n, res)
            gb = n * 3 * res * res / 1e9
            print(f"{spec}: synthetic store of {gb:.1f} GB written in {time.perf_counter() - t0:.0f} s", flush=True)
            modes = [("memory", 0)] if n * 3 * res * res <= in_memory_limit() * 2 else []
            for mode, workers in modes + [("stream", w) for w in args.loader_workers]:
                cmd = [sys.executable, __file__, "--batches", str(args.batches), "--device", args.device,
                       "--measure", str(store), mode, str(workers), str(args.batch)]
                env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
                out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                rows.append({"what": f"{spec} ({gb:.1f} GB)", "path": "in memory" if mode == "memory" else "streamed",
                             "workers": workers, "batch": args.batch, "img_s": round(result["img_s"], 1),
                             "peak_mib": round(result["peak_mib"])})
                print(rows[-1], flush=True)
            if not args.keep:
                shutil.rmtree(store)
    finally:
        if not args.keep and not args.dir:
            shutil.rmtree(tmp, ignore_errors=True)
    print("\n| what | path | workers | batch | images/s | peak RSS (MiB) |\n|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['what']} | {r.get('path', 'prepare')} | {r['workers']} | {r.get('batch', '')} | {r['img_s']} | "
              f"{r.get('peak_mib', '')} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
