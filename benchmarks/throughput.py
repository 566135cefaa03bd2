"""Training throughput (images/s) and peak memory per paper, scale and resolution.

Each measurement runs in a fresh subprocess so its peak memory is its own (CPU: max RSS; CUDA: the allocator's
peak). Rows that belong together (e.g. 1 vs 2 CPU threads, fp32 nets of each scale) are printed side by side.

    python benchmarks/throughput.py                          # ProGAN reduced nets, 4²–32², CPU
    python benchmarks/throughput.py --scale full --resolutions 128 1024 --device cuda --steps 50
    python benchmarks/throughput.py --threads 1 2            # compare thread counts in one run
    python benchmarks/throughput.py --paper biggan --resolutions 32 --precision fp32 bf16 --channels-last
    python benchmarks/throughput.py --paper biggan --scale full --resolutions 128 --device cuda --batch 256 \
        --precision fp32 bf16 --channels-last --peak-tflops 989      # ImageNet-128 ch96, MFU vs bf16 peak
    python benchmarks/throughput.py --paper alphagan         # alphaGAN search epoch and retrain, reduced nets, 32²
    python benchmarks/throughput.py --paper alphagan --scale full --steps 1 --warmup 0 --epoch-steps 1
                                                             # G 256 / D 128 channels on a CPU: one T = R = S = 1 epoch

alphaGAN has two entries (``--part``), each on synthetic uint8 images in an ImageBank (no renderer, no dataset):

* ``alphagan search`` — one step is one Alg. 1 search epoch of the supernet (T weight steps, R D̄ steps, R Ḡ steps,
  S architecture steps). img/s counts every real image the epoch draws: T · n_critic · batch training-half images
  in the weight part plus R · batch (D̄) and S · batch (architecture part) validation-half images; Ḡ's steps draw
  none. ``--epoch-steps N`` times epochs of T = R = S = N (0: the preset's); the row names the T/R/S it ran, and
  its s/epoch is that epoch's, not the preset's.
* ``alphagan retrain`` — one step is one retrain G iteration of the published alphaGAN(s) genotype; img/s counts
  D's real images (retrain_d_batch · retrain_n_critic per iteration); it/s is G iterations per second. ``--batch``
  sets the D batch, and the G batch keeps the preset's G:D ratio (2:1).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the workers import gancore from this checkout, installed or not


FIRST_STEP_S = [0.0]  # the first warm-up step's seconds (torch.compile's compile time, cuDNN's autotuning)


def _timed(step, steps: int, warmup: int, dev) -> tuple[int, float, float]:
    """Run ``step`` (returns images used) warmup + steps times; images, seconds and peak MiB of the timed part."""
    import torch

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(warmup):
        t0 = time.perf_counter()
        step()
        if i == 0:
            if dev.type == "cuda":
                torch.cuda.synchronize()
            FIRST_STEP_S[0] = time.perf_counter() - t0
    if dev.type == "cuda":
        torch.cuda.synchronize()
    t0, n = time.perf_counter(), 0
    for _ in range(steps):
        n += step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return n, time.perf_counter() - t0, peak


def measure_progan(cfg_args: dict, resolution: int, batch: int | None, steps: int, warmup: int, precision: str,
                   channels_last: bool, overrides: dict | None = None):
    import torch
    from gancore.engine.device import prepare as prepare_device
    from gancore.growth import Growth
    from gancore.recipes import progan
    from gancore.schedule import Phase, Schedule

    cfg = progan.load_config(**cfg_args, precision=precision, channels_last=channels_last, **(overrides or {}))
    dev = prepare_device(cfg)  # the engine's: the device, and cuDNN autotuning as the run would set it
    method = progan.ProGANMethod(cfg=cfg, device=dev)
    bs = batch or (cfg.batch_size if cfg.keep_batch else cfg.batch_sizes.get(resolution, cfg.batch_size))
    # One stabilization phase at the measured resolution and batch: the growth the method steps through.
    method.growth = Growth(schedule=Schedule([Phase(0, f"bench{resolution}", resolution, "stabilize", 0, None, bs)],
                                             natural_end_nimg=1))
    gen = torch.Generator().manual_seed(0)
    # Synthetic reals: the benchmark measures the networks and the loss, not data loading.
    real = torch.rand(bs, 3, resolution, resolution, generator=gen, device="cpu").mul(2).sub(1).to(dev)
    reals = lambda n, resolution=None: (real[:n], None)  # noqa: E731
    step = lambda: method.train_step(0, reals, gen)[1]  # noqa: E731
    return (bs, dev, step, *_timed(step, steps, warmup, dev))


# BigGAN App. B latent sizes per resolution (hierarchical z must split evenly over the blocks).
_BIGGAN_DIM_Z = {32: 128, 64: 120, 128: 120, 256: 140, 512: 128}


def measure_biggan(cfg_args: dict, resolution: int, batch: int | None, steps: int, warmup: int, precision: str,
                   channels_last: bool, overrides: dict | None = None):
    """One BigGAN iteration (2 D steps + 1 G step) on one micro-batch of synthetic reals; images = reals used."""
    import torch
    from gancore.recipes import biggan
    from gancore.engine.device import prepare as prepare_device

    base = biggan.load_config(**cfg_args)
    changes = dict(precision=precision, channels_last=channels_last, accumulate=1, sv_every_kimg=0.0,
                   **(overrides or {}))
    if resolution != base.resolution:
        changes.update(resolution=resolution, dim_z=_BIGGAN_DIM_Z[resolution] if base.arch == "biggan" else base.dim_z,
                       attention_res=[r for r in base.attention_res if r <= resolution])
    bs = batch or base.micro_batch
    cfg = biggan.load_config(**cfg_args, **changes, batch_size=bs)
    num_classes = biggan.class_count(cfg, None)  # no data is read: the dataset's known count (ImageNet: 1000)
    dev = prepare_device(cfg)  # the engine's: the device, and cuDNN autotuning as the run would set it
    method = biggan.BigGANMethod(cfg=cfg, num_classes=num_classes, device=dev)
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(bs, 3, resolution, resolution, generator=gen).mul(2).sub(1).to(dev)
    labels = torch.randint(num_classes, (bs,), generator=gen).to(dev)
    reals = lambda n, resolution=None: (real[:n], labels[:n])  # noqa: E731
    step = lambda: method.train_step(0, reals, gen)[1]  # noqa: E731
    return (bs, dev, step, *_timed(step, steps, warmup, dev))


def measure_alphagan(cfg_args: dict, resolution: int, batch: int | None, steps: int, warmup: int, part: str,
                     epoch_steps: int, overrides: dict | None = None):
    """alphaGAN: one search epoch (``part="search"``) or one retrain G iteration (``"retrain"``) on synthetic uint8
    images; images = every real image the step draws (see the module docstring)."""
    import torch
    from gancore.recipes import alphagan
    from gancore.models.alphagan_space import load_genotype
    from gancore.engine.device import prepare as prepare_device

    base = alphagan.load_config(**cfg_args, **(overrides or {}))
    changes: dict = dict(resolution=resolution, **(overrides or {}))
    if part == "search":
        if epoch_steps:
            changes.update(weight_steps=epoch_steps, worst_steps=epoch_steps, arch_steps=epoch_steps)
        if batch:
            changes.update(batch_size=batch)
    elif part == "retrain":
        if batch:
            changes.update(retrain_d_batch=batch,
                           retrain_g_batch=max(1, round(batch * base.retrain_g_batch / base.retrain_d_batch)))
    else:
        raise SystemExit(f"unknown alphaGAN part {part!r}; parts: search, retrain")
    cfg = alphagan.load_config(**cfg_args, **changes)
    dev = prepare_device(cfg)  # the engine's: the device, and cuDNN autotuning as the run would set it

    class CountingBank(alphagan.ImageBank):
        """An ImageBank that counts the real images its batches hand out."""
        drawn = 0

        def batch(self, idx, **kwargs):
            self.drawn += len(idx)
            return super().batch(idx, **kwargs)

    gen = torch.Generator().manual_seed(0)
    bs = cfg.batch_size if part == "search" else cfg.retrain_d_batch
    n = 8 * bs  # synthetic reals: the benchmark measures the networks and the losses, not data loading
    images = torch.randint(0, 256, (n, 3, resolution, resolution), generator=gen, dtype=torch.uint8)
    labels = torch.zeros(n, dtype=torch.long)
    if part == "search":
        train_idx, val_idx = alphagan.split_halves(n, val_fraction=cfg.val_fraction, seed=cfg.seed)
        train = CountingBank(images=images[train_idx], labels=labels[train_idx])
        val = CountingBank(images=images[val_idx], labels=labels[val_idx])
        method = alphagan.SearchMethod(cfg=cfg, device=dev, val=val)
        banks = (train, val)
    else:
        rcfg = alphagan.retrain_config(cfg, genotype="alphagan_s", out_dir=cfg.out_dir)
        train = CountingBank(images=images, labels=labels)
        method = alphagan.RetrainMethod(cfg=rcfg, genotype=load_genotype("alphagan_s"), device=dev)
        banks = (train,)
    reals = lambda k, resolution=None: train.batch(torch.arange(k) % len(train), device=dev)  # noqa: E731

    def step() -> int:
        before = sum(b.drawn for b in banks)
        method.train_step(0, reals, gen)
        return sum(b.drawn for b in banks) - before

    return (bs, dev, step, *_timed(step, steps, warmup, dev), cfg)


def measure_dggan(cfg_args: dict, resolution: int, batch: int | None, steps: int, warmup: int, precision: str,
                  channels_last: bool, overrides: dict | None = None):
    """One step of a full-scale DGGAN candidate: the symmetric net at the search's top resolution with one more
    3×3 conv in G and D (what most of a search trains), WGAN-GP at the preset's batch."""
    import torch
    from gancore.engine.device import prepare as prepare_device
    from gancore.models.dggan import Action
    from gancore.recipes import dggan
    from gancore.recipes.dggan.candidate import CandidateMethod
    from gancore.recipes.dggan.config import candidate_config

    cfg = dggan.load_config(**cfg_args, resolution=resolution, precision=precision, channels_last=channels_last,
                            **(overrides or {}))
    dev = prepare_device(cfg)  # the engine's: the device, and cuDNN autotuning as the run would set it
    spec = dggan.initial_spec(cfg)
    while spec.resolution < cfg.resolution:
        spec = spec.child(Action("grow"))
    conv = next(a for a in cfg.action_set() if a.net != "grow" and a.kernel == 3)
    spec = spec.child(conv).child(Action("D", conv.kernel, conv.filters))
    ccfg = candidate_config(cfg, cid="bench", spec=spec.to_dict(), out_dir=cfg.out_dir,
                            batch_size=batch or cfg.batch_size)
    method = CandidateMethod(cfg=ccfg, device=dev)
    bs, res = ccfg.batch_size, spec.resolution
    gen = torch.Generator().manual_seed(0)
    real = torch.rand(bs, 3, res, res, generator=gen).mul(2).sub(1).to(dev)
    reals = lambda n, resolution=None: (real[:n], None)  # noqa: E731
    step = lambda: method.train_step(0, reals, gen)[1]  # noqa: E731
    return (bs, dev, step, *_timed(step, steps, warmup, dev))


def step_flops(step) -> float:
    """FLOPs of one training step, the gradient penalty's double backward included (gancore.flops)."""
    from gancore.flops import count_flops

    return float(count_flops(step))


def measure(paper: str, scale: str, preset: str, resolution: int, device: str, steps: int, warmup: int,
            threads: int, batch: int | None, precision: str = "fp32", channels_last: bool = False,
            peak_tflops: float = 0.0, part: str = "search", epoch_steps: int = 0,
            overrides: dict | None = None) -> dict:
    import torch

    if threads:
        torch.set_num_threads(threads)
    cfg_args = dict(scale=scale, preset=preset, dry_run=True, device=device, out_dir="/tmp/gancore-bench")
    extra: dict = {}
    if paper in ("progan", "dggan"):
        fn = measure_progan if paper == "progan" else measure_dggan
        bs, dev, step, n, dt, peak = fn(cfg_args, resolution, batch, steps, warmup, precision, channels_last,
                                        overrides)
    elif paper == "biggan":
        bs, dev, step, n, dt, peak = measure_biggan(cfg_args, resolution, batch, steps, warmup, precision,
                                                    channels_last, overrides)
    elif paper == "alphagan":
        if precision != "fp32" or channels_last:
            raise SystemExit("alphaGAN runs in fp32 with the default memory layout only")
        bs, dev, step, n, dt, peak, cfg = measure_alphagan(cfg_args, resolution, batch, steps, warmup, part,
                                                           epoch_steps, overrides)
        if part == "search":
            extra = {"part": part, "s_epoch": dt / steps, "epoch": f"T={cfg.weight_steps} R={cfg.worst_steps} "
                                                                    f"S={cfg.arch_steps}"}
        else:
            extra = {"part": part, "it_s": steps / dt}
    else:
        raise SystemExit(f"unknown paper {paper!r}; benchmarks exist for: progan, biggan, dggan, alphagan")
    flops = step_flops(step) if peak_tflops else 0.0
    achieved = flops * steps / dt / 1e12 if flops else 0.0
    word = {True: "on", False: "off"}
    switches = "".join(f"+{k}={word.get(v, v) if isinstance(v, bool) else v}" for k, v in (overrides or {}).items())
    return {"paper": paper, "scale": scale + (f"-{preset}" if preset else ""), "res": resolution, "batch": bs,
            "device": str(dev), "threads": torch.get_num_threads(), "img_s": n / dt, "ms_step": 1000 * dt / steps,
            "peak_mib": peak, "precision": precision + ("+NHWC" if channels_last else "") + switches,
            "tflops": achieved, "mfu": achieved / peak_tflops if peak_tflops else 0.0,
            "first_step_s": FIRST_STEP_S[0], **extra}


def per_step(r: dict) -> str:
    """alphaGAN's own unit of a step: seconds per search epoch (with its T/R/S), G iterations per second."""
    if r.get("part") == "search":
        return f"{r['s_epoch']:.2f} s/epoch ({r['epoch']})"
    if r.get("part") == "retrain":
        return f"{r['it_s']:.3g} it/s"
    return ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paper", default="progan")
    ap.add_argument("--scale", nargs="+", default=["reduced"])
    ap.add_argument("--preset", default="")
    ap.add_argument("--resolutions", type=int, nargs="+", default=None,
                    help="default: 4 8 16 32 (alphaGAN: 32, CIFAR-10's)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, nargs="+", default=[0], help="CPU threads (0: torch default)")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=None, help="override the per-resolution minibatch")
    ap.add_argument("--precision", nargs="+", default=["fp32"], choices=["fp32", "bf16"],
                    help="BigGAN: compare fp32 and bf16 autocast side by side")
    ap.add_argument("--channels-last", action="store_true", help="BigGAN: NHWC memory layout")
    ap.add_argument("--peak-tflops", type=float, default=0.0,
                    help="device peak TFLOP/s for an MFU estimate (e.g. 989 for H100 SXM bf16 dense, 67 for fp32)")
    ap.add_argument("--part", nargs="+", default=["search", "retrain"], choices=["search", "retrain"],
                    help="alphaGAN: time the search epoch and/or the retrain G iteration")
    ap.add_argument("--epoch-steps", type=int, default=0,
                    help="alphaGAN search: time epochs of T = R = S = this many steps (0: the preset's)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="config switches, e.g. conv_gradfix=on cudnn_benchmark=true fused_attention=true")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.resolutions is None:
        args.resolutions = [32] if args.paper == "alphagan" else [4, 8, 16, 32]
    from gancore.config import parse_key_values

    overrides = parse_key_values(args.set)
    if args.worker:
        print(json.dumps(measure(args.paper, args.scale[0], args.preset, args.resolutions[0], args.device,
                                 args.steps, args.warmup, args.threads[0], args.batch, args.precision[0],
                                 args.channels_last, args.peak_tflops, args.part[0], args.epoch_steps, overrides)))
        return
    parts = args.part if args.paper == "alphagan" else [""]
    w = 16 if parts != [""] else 8  # "alphagan retrain"
    header = (f"{'paper':{w}} {'scale':16} {'res':>5} {'batch':>5} {'device':7} {'thr':>3} {'precision':10} "
              f"{'img/s':>9} {'ms/step':>9} {'peak MiB':>9} {'TFLOP/s':>8} {'MFU':>6}")
    if parts != [""]:
        header += "  per step"
    print(header)
    print("-" * len(header))
    for scale in args.scale:
        for part in parts:
            name = f"{args.paper} {part}".strip()
            for res in args.resolutions:
                for threads, precision in [(t, p) for t in args.threads for p in args.precision]:
                    cmd = [sys.executable, __file__, "--worker", "--paper", args.paper, "--scale", scale,
                           "--preset", args.preset, "--resolutions", str(res), "--device", args.device,
                           "--threads", str(threads), "--steps", str(args.steps), "--warmup", str(args.warmup),
                           "--precision", precision, "--peak-tflops", str(args.peak_tflops)]
                    if args.batch:
                        cmd += ["--batch", str(args.batch)]
                    if args.channels_last:
                        cmd += ["--channels-last"]
                    if part:
                        cmd += ["--part", part, "--epoch-steps", str(args.epoch_steps)]
                    if args.set:
                        cmd += ["--set", *args.set]
                    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
                    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
                    if proc.returncode:
                        print(f"{name:{w}} {scale:16} {res:5d} failed: {proc.stderr.strip().splitlines()[-1]}")
                        continue
                    r = json.loads(proc.stdout.strip().splitlines()[-1])
                    line = (f"{name:{w}} {r['scale']:16} {r['res']:5d} {r['batch']:5d} {r['device']:7} "
                            f"{r['threads']:3d} {r['precision']:10} {r['img_s']:9.1f} {r['ms_step']:9.1f} "
                            f"{r['peak_mib']:9.0f} {r['tflops']:8.2f} {r['mfu']:6.1%}")
                    print(f"{line}  {per_step(r)}" if part else line, flush=True)


if __name__ == "__main__":
    main()
