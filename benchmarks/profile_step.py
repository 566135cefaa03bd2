"""Where a training step's device time goes: torch.profiler over a few steps of one paper's configuration, the
operators with the most self time first (what issue 25's profiles were read from).

    PYTHONPATH=. python benchmarks/profile_step.py --paper progan --scale full --res 1024 --batch 3 --device cuda \
        --precision bf16 --channels-last --set conv_gradfix=on cudnn_benchmark=true
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--paper", default="progan", choices=["progan", "biggan", "dggan"])
    ap.add_argument("--scale", default="smoke")
    ap.add_argument("--res", type=int, default=8)
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--set", nargs="*", default=[])
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args(argv)
    import torch
    import throughput
    from gancore.config import parse_key_values

    measure = {"progan": throughput.measure_progan, "biggan": throughput.measure_biggan,
               "dggan": throughput.measure_dggan}[args.paper]
    cfg_args = dict(scale=args.scale, preset="", dry_run=True, device=args.device, out_dir="/tmp/gancore-bench")
    _, dev, step, *_ = measure(cfg_args, args.res, args.batch, 1, 2, args.precision, args.channels_last,
                               parse_key_values(args.set))
    activities = [torch.profiler.ProfilerActivity.CPU]
    if dev.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(args.steps):
            step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
    key = "self_cuda_time_total" if dev.type == "cuda" else "self_cpu_time_total"
    print(f"{args.paper} {args.scale} {args.res}² {args.precision}{'+NHWC' if args.channels_last else ''} "
          f"{' '.join(args.set)}: {args.steps} steps")
    print(prof.key_averages().table(sort_by=key, row_limit=args.top, max_name_column_width=48))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
