"""DGGAN candidates per hour: the sequential executor and the Ray executor side by side, and the cost of one
full-scale CIFAR-10 candidate (100k iterations) extrapolated from a few timed steps.

    python benchmarks/dggan_candidates.py                       # reduced candidates, local vs Ray (2 workers)
    python benchmarks/dggan_candidates.py --candidates 6 --workers 2 --full-steps 5
    python benchmarks/dggan_candidates.py --device cuda --workers 4 --gpus-per-candidate 0.25   # GPU packing

* **Candidates per hour**: the same jobs (reduced-scale children of the base: one per action of the preset's set,
  each trained ``candidate_iterations`` with its FID) run once through the local executor and once through Ray,
  in one invocation, on fresh run folders, with the machine otherwise idle. Ray includes its start-up and object
  transfers, as a search pays them.
* **Full-scale candidate**: the paper's symmetric 32² CIFAR-10 nets (ProGAN channels, latent 128, batch 64)
  with one conv action each side, ``--full-steps`` timed WGAN-GP steps after a warm-up, times 100k, plus nothing
  for FID (10k Inception images cost minutes on a GPU, small beside the training). On a GPU this also gives the
  GPU-days of a whole search for a number of candidates (``--search-candidates``, the paper's 2k+ for 580 days).
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def reduced_jobs(out: Path, n: int, scale: str):
    from gancore.recipes import dggan
    from gancore.recipes.dggan.candidate import candidate_seed, train_candidate
    from gancore.recipes.dggan.config import candidate_config

    cfg = dggan.load_config(scale=scale, out_dir=str(out), progress=False, num_threads=1)
    data = dggan.build_data(cfg)
    base = dggan.initial_spec(cfg)
    parent = candidate_config(cfg, cid="base", spec=base.to_dict(), out_dir=str(out / "base"), progress=False,
                              metrics_cache=str(out / ".metrics"), metrics_key="bench", seed=candidate_seed(0, "base"),
                              iterations=cfg.candidate_iterations)
    train_candidate(parent, data)  # every job inherits from it; also fills the metrics cache
    actions = cfg.action_set()[:n]

    def jobs(tag: str):
        return [(a.name, candidate_config(cfg, cid=f"base+{a.name}", parent="base", action=a.name,
                                          spec=base.child(a).to_dict(), out_dir=str(out / tag / a.name),
                                          inherit_from=str(out / "base"), progress=False, seed=1,
                                          metrics_cache=str(out / ".metrics"), metrics_key="bench",
                                          iterations=cfg.candidate_iterations)) for a in actions]
    return cfg, data, jobs, train_candidate


def executor_rates(args) -> list[dict]:
    from gancore.search.executors import LocalExecutor, RayExecutor

    out = Path(tempfile.mkdtemp(prefix="dggan-bench-"))
    try:
        cfg, data, jobs, fn = reduced_jobs(out, args.candidates, args.scale)
        rows = []
        for name in args.executors:
            t0 = time.perf_counter()
            if name == "local":
                import torch
                torch.set_num_threads(1)
                ex = LocalExecutor()
            else:
                ex = RayExecutor(address=args.ray_address, workers=args.workers,
                                 gpus_per_candidate=args.gpus_per_candidate, use_gpu=args.device == "cuda")
            done = []
            ex.run(fn, jobs(name), shared=data, on_done=lambda k, r: done.append(r))
            dt = time.perf_counter() - t0
            ok = sum(r.get("status") == "complete" for r in done)
            rows.append({"executor": name if name == "local" else f"ray ×{args.workers}", "candidates": len(done),
                         "ok": ok, "seconds": dt, "per_hour": 3600 * len(done) / dt})
        return rows
    finally:
        shutil.rmtree(out, ignore_errors=True)


def full_candidate_cost(args) -> dict:
    import torch

    from gancore.models.dggan import Action
    from gancore.recipes import dggan
    from gancore.recipes.dggan.candidate import CandidateMethod
    from gancore.recipes.dggan.config import candidate_config

    cfg = dggan.load_config(scale=args.full_scale, out_dir=tempfile.mkdtemp(prefix="dggan-full-"), dry_run=True)
    spec = dggan.initial_spec(cfg)
    while spec.resolution < cfg.resolution:
        spec = spec.child(Action("grow"))
    conv = next(a for a in cfg.action_set() if a.net != "grow" and a.kernel == 3)
    spec = spec.child(conv).child(Action("D", conv.kernel, conv.filters))
    ccfg = candidate_config(cfg, cid="bench", spec=spec.to_dict(), out_dir=cfg.out_dir, device=args.device)
    dev = torch.device(args.device)
    method = CandidateMethod(cfg=ccfg, device=dev)
    rng = torch.Generator().manual_seed(0)
    bs = method.schedule.phases[0].batch_size
    res = spec.resolution
    reals = lambda n, resolution=None: (torch.randn(n, 3, res, res, device=dev), None)  # noqa: E731
    for _ in range(2):
        method.train_step(0, reals, rng)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(args.full_steps):
        method.train_step(0, reals, rng)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - t0) / args.full_steps
    hours = per_step * 100_000 / 3600  # the paper's 100k iterations per candidate, whatever the preset
    return {"s_step": per_step, "img_s": bs / per_step, "hours": hours, "res": res, "scale": args.full_scale,
            "search_gpu_days": hours * args.search_candidates / 24, "batch": bs}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="reduced", choices=["smoke", "reduced"])
    ap.add_argument("--candidates", type=int, default=4, help="reduced candidates per executor")
    ap.add_argument("--executors", nargs="*", default=["local", "ray"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--gpus-per-candidate", type=float, default=1.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--full-steps", type=int, default=3, help="timed steps of the full-scale candidate (0: skip)")
    ap.add_argument("--full-scale", default="full", help="preset of the extrapolated candidate (tests: smoke)")
    ap.add_argument("--search-candidates", type=int, default=2000, help="candidates of a whole search")
    args = ap.parse_args(argv)
    print(f"DGGAN candidates per hour at {args.scale} scale ({args.candidates} candidates each, device {args.device})")
    for r in executor_rates(args):
        print(f"  {r['executor']:<10} {r['candidates']} candidates ({r['ok']} ok) in {r['seconds']:.1f} s: "
              f"{r['per_hour']:.0f} candidates/hour")
    if args.full_steps:
        f = full_candidate_cost(args)
        print(f"{f['scale']}-scale candidate ({f['res']}², batch {f['batch']}): {f['s_step'] * 1000:.0f} ms/step "
              f"({f['img_s']:.0f} img/s) → {f['hours']:.2f} h per 100k-iteration candidate on {args.device}; "
              f"{args.search_candidates} candidates ≈ {f['search_gpu_days']:.0f} device-days (paper: 580 GPU-days "
              "for 2k+)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
