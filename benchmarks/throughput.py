"""Training throughput (images/s) and peak memory per paper, scale and resolution.

Each measurement runs in a fresh subprocess so its peak memory is its own (CPU: max RSS; CUDA: the allocator's
peak). Rows that belong together (e.g. 1 vs 2 CPU threads, fp32 nets of each scale) are printed side by side.

    python benchmarks/throughput.py                          # ProGAN reduced nets, 4²–32², CPU
    python benchmarks/throughput.py --scale full --resolutions 128 1024 --device cuda --steps 50
    python benchmarks/throughput.py --threads 1 2            # compare thread counts in one run
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time


def measure(paper: str, scale: str, preset: str, resolution: int, device: str, steps: int, warmup: int,
            threads: int, batch: int | None) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    from gancore.recipes import progan
    from gancore.schedule import Phase
    from gancore.train import pick_device

    if paper != "progan":
        raise SystemExit(f"unknown paper {paper!r}; benchmarks exist for: progan")
    cfg = progan.load_config(scale=scale, preset=preset, dry_run=True, device=device, out_dir="/tmp/gancore-bench")
    dev = pick_device(cfg.device)
    method = progan.ProGANMethod(cfg=cfg, device=dev)
    bs = batch or cfg.batch_sizes.get(resolution, cfg.batch_size)
    phase = Phase(0, f"bench{resolution}", resolution, "stabilize", 0, None, bs)
    gen = torch.Generator().manual_seed(0)
    # Synthetic reals: the benchmark measures the networks and the loss, not data loading.
    real = torch.rand(bs, 3, resolution, resolution, generator=gen, device="cpu").mul(2).sub(1).to(dev)
    reals = lambda n: (real[:n], None)  # noqa: E731
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(warmup):
        method.train_step(phase, 1.0, reals, gen)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0, n = time.perf_counter(), 0
    for _ in range(steps):
        _, used = method.train_step(phase, 1.0, reals, gen)
        n += used
    if dev.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    dt = time.perf_counter() - t0
    return {"paper": paper, "scale": scale + (f"-{preset}" if preset else ""), "res": resolution, "batch": bs,
            "device": str(dev), "threads": torch.get_num_threads(), "img_s": n / dt, "ms_step": 1000 * dt / steps,
            "peak_mib": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paper", default="progan")
    ap.add_argument("--scale", nargs="+", default=["reduced"])
    ap.add_argument("--preset", default="")
    ap.add_argument("--resolutions", type=int, nargs="+", default=[4, 8, 16, 32])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, nargs="+", default=[0], help="CPU threads (0: torch default)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None, help="override the per-resolution minibatch")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(measure(args.paper, args.scale[0], args.preset, args.resolutions[0], args.device,
                                 args.steps, args.warmup, args.threads[0], args.batch)))
        return
    header = f"{'paper':8} {'scale':16} {'res':>5} {'batch':>5} {'device':7} {'thr':>3} {'img/s':>9} {'ms/step':>9} {'peak MiB':>9}"
    print(header)
    print("-" * len(header))
    for scale in args.scale:
        for res in args.resolutions:
            for threads in args.threads:
                cmd = [sys.executable, __file__, "--worker", "--paper", args.paper, "--scale", scale, "--preset",
                       args.preset, "--resolutions", str(res), "--device", args.device, "--threads", str(threads),
                       "--steps", str(args.steps), "--warmup", str(args.warmup)]
                if args.batch:
                    cmd += ["--batch", str(args.batch)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    print(f"{args.paper:8} {scale:16} {res:5d} failed: {proc.stderr.strip().splitlines()[-1]}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"{r['paper']:8} {r['scale']:16} {r['res']:5d} {r['batch']:5d} {r['device']:7} "
                      f"{r['threads']:3d} {r['img_s']:9.1f} {r['ms_step']:9.1f} {r['peak_mib']:9.0f}", flush=True)


if __name__ == "__main__":
    main()
