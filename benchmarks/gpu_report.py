"""One GPU report (issue 25): every paper's full configuration, the plain fp32 eager path beside the optimized one,
in one table, plus the projected wall time of each paper's full run. Within a time budget (default 8 minutes).

    PYTHONPATH=. python benchmarks/gpu_report.py                 # on a GPU node (make bench-gpu)
    python benchmarks/gpu_report.py --rows progan-1024 fid       # a subset
    python benchmarks/gpu_report.py --tiny --device cpu          # plumbing check on tiny nets (the tests run this)

Each row runs in a fresh subprocess (its own peak memory, its own CUDA context) through
``benchmarks/throughput.py``'s measurements, so the numbers mean the same as there: img/s counts the real images a
step draws; ms/step is one training step (BigGAN: one iteration, 2 D steps + 1 G step, on one micro-batch);
MFU = counted FLOPs (gancore.flops, the penalty's double backward included) per second over the GPU's dense bf16
peak (H100/H200: 989 TFLOP/s) for every row, fp32 ones too, so rows compare. Rows that would not finish in the
remaining budget are skipped and say so.

Rows, each "plain" (fp32, NCHW, autograd's own convolution gradients, no cuDNN autotuning) then "fast":

* ``biggan-128``: BigGAN ch96, 1000 classes, batch 256; fast = bf16, NHWC, fused attention, cudnn.benchmark;
  ``biggan-compile`` adds torch.compile (its compile time is printed apart).
* ``progan-128`` (batch 16) and ``progan-1024`` (the paper's batch 3; and keep_batch's 16): fast = bf16, NHWC,
  gradfix, G's fused upsample + conv (the authors' fused_scale), cudnn.benchmark.
* ``fid``: 20k BigGAN-128 samples and their Inception features, scaled to 50k (untrained G; Inception at random weights, since
  nothing downloads: the speed is the network's); fast = bf16 generation at batch 1000, fp16 features; the FID of
  the same images with fp16 and with fp32 features (shipped shapes network) is printed as a check.
* ``alphagan``: the search epoch at T = R = S = 2 and the retrain iteration, full widths, fp32 (alphaGAN has no fast
  path yet: cudnn.benchmark alone measured +4% and 0%).
* ``dggan``: one full 32² candidate step, batch 64; then 4 candidates at once on the one GPU (what Ray's
  fractional GPUs do), and the GPU-days of the 2,000-candidate CIFAR-10 search.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
THROUGHPUT = Path(__file__).with_name("throughput.py")
FAST = ["cudnn_benchmark=true"]
FAST_PENALTY = FAST + ["conv_gradfix=on"]
PLAIN_PENALTY = ["conv_gradfix=off"]  # auto would switch gradfix on under CUDA
PROGAN_FAST, PROGAN_PLAIN = FAST_PENALTY + ["fused_upsample=on"], PLAIN_PENALTY + ["fused_upsample=off"]
FID_IMAGES = 20000  # timed, then scaled to 50k (both parts are linear in the count)
# Seconds each row took on an H200 (fresh process, warm-up and FLOP count included), +20%: the budget's plan.
COST = {("biggan-128", "plain"): 30, ("biggan-128", "fast"): 52, ("progan-1024", "plain"): 21, ("fid-50k", "plain"): 30,
        ("fid-50k", "fast"): 30, ("biggan-compile", "fast + compile"): 150}
PEAKS = {"H200": 989.0, "H100": 989.0, "A100": 312.0, "L40S": 362.0, "A10": 125.0}  # dense bf16 TFLOP/s


def _env() -> dict:
    path = os.pathsep.join(p for p in [str(ROOT), os.environ.get("PYTHONPATH", "")] if p)
    return {**os.environ, "PYTHONPATH": path}


def plan(tiny: bool) -> list[dict]:
    """The rows in the order they run (most wanted first, so a short budget keeps the important ones)."""
    s = "smoke" if tiny else "full"
    r = (lambda full, small: small if tiny else full)  # noqa: E731
    bg = dict(paper="biggan", scale=s, res=r(128, 32), batch=r(256, 4), steps=r(5, 1))
    pg128 = dict(paper="progan", scale=s, res=r(128, 8), batch=r(16, 4), steps=r(10, 1))
    pg1024 = dict(paper="progan", scale=s, res=r(1024, 16), batch=r(3, 2), steps=r(5, 1))
    dg = dict(paper="dggan", scale=s, res=r(32, 16), batch=r(64, 4), steps=r(20, 1))
    ag = dict(paper="alphagan", scale=s, res=32, steps=1, warmup=r(1, 0))
    rows = [
        dict(name="biggan-128", mode="plain", **bg),
        dict(name="biggan-128", mode="fast", precision="bf16", nhwc=True, set=FAST + ["fused_attention=true"], **bg),
        dict(name="progan-1024", mode="plain", set=PROGAN_PLAIN, **pg1024),
        dict(name="progan-1024", mode="fast", precision="bf16", nhwc=True, set=PROGAN_FAST, **pg1024),
        dict(name="progan-1024", mode="fast keep_batch", precision="bf16", nhwc=True, set=PROGAN_FAST,
             **{**pg1024, "batch": r(16, 4)}),
        dict(name="progan-128", mode="plain", set=PROGAN_PLAIN, **pg128),
        dict(name="progan-128", mode="fast", precision="bf16", nhwc=True, set=PROGAN_FAST, **pg128),
        dict(name="fid-50k", mode="plain", kind="fid", n=r(FID_IMAGES, 64), gen_batch=256, feat_batch=256,
             gen_precision="fp32", feat_precision="fp32", scale=s),
        dict(name="fid-50k", mode="fast", kind="fid", n=r(FID_IMAGES, 64), gen_batch=1000, feat_batch=1000,
             gen_precision="bf16", feat_precision="fp16", scale=s),
        dict(name="dggan-32", mode="plain", set=PLAIN_PENALTY, **dg),
        dict(name="dggan-32", mode="fast", precision="bf16", nhwc=True, set=FAST_PENALTY, **dg),
        dict(name="alphagan-search", mode="plain", part="search", **ag),
        dict(name="alphagan-retrain", mode="plain", part="retrain", **{**ag, "steps": r(20, 1)}),
    ]
    rows += [dict(name="dggan-32", mode=f"fast ×{k} on one GPU", kind="pack", copies=k, precision="bf16", nhwc=True,
                  set=FAST_PENALTY, **{**dg, "steps": r(40, 2)}) for k in r([4], [2])]
    rows.append(dict(name="biggan-compile", mode="fast + compile", precision="bf16", nhwc=True,
                     set=FAST + ["fused_attention=true", "compile=true"], **{**bg, "warmup": 3}))
    return rows


def throughput_cmd(row: dict, device: str, peak: float) -> list[str]:
    cmd = [sys.executable, str(THROUGHPUT), "--worker", "--paper", row["paper"], "--scale", row["scale"],
           "--resolutions", str(row["res"]), "--device", device, "--steps", str(row["steps"]),
           "--warmup", str(row.get("warmup", 2)), "--precision", row.get("precision", "fp32"),
           "--peak-tflops", str(peak), "--threads", "0"]
    if row.get("batch"):
        cmd += ["--batch", str(row["batch"])]
    if row.get("nhwc"):
        cmd.append("--channels-last")
    if row.get("part"):
        cmd += ["--part", row["part"], "--epoch-steps", "2"]
    if row.get("set"):
        cmd += ["--set", *row["set"]]
    return cmd


def run_row(row: dict, device: str, peak: float, timeout: float, tiny: bool) -> dict:
    kind = row.get("kind", "train")
    if kind == "train":
        cmd = throughput_cmd(row, device, peak)
    else:
        cmd = [sys.executable, __file__, "--worker", json.dumps(row), "--device", device, "--peak", str(peak)]
        if tiny:
            cmd.append("--tiny")
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_env(), timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"over its {timeout:.0f} s share of the budget"}
    if proc.returncode:
        tail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        return {"error": tail[-1] if tail else f"exit {proc.returncode}"}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


# ---- workers: FID timing and several candidates on one GPU ---------------------------------------------------------
def fid_worker(row: dict, device: str, tiny: bool) -> dict:
    """Time ``n`` BigGAN samples and their features (IS's pass: the fake side of FID, what a run pays per metric);
    then FID of two sample sets with these features vs fp32 features (the precision check)."""
    import torch
    from gancore.metrics.fidelity import fidelity_metrics
    from gancore.recipes import biggan
    from gancore.sampling import sample_conditional

    dev = torch.device(device)
    cfg = biggan.load_config(scale=row["scale"], dry_run=True, device=device, out_dir="/tmp/gancore-bench")
    G = biggan.BigGANMethod(cfg=cfg, num_classes=biggan.class_count(cfg, None), device=dev).G
    if row["gen_precision"] == "bf16":
        G = G.to(memory_format=torch.channels_last)
    feat = dict(extractor="shapes") if tiny else dict(extractor="inception", inception_weights=_random_inception())

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    sample_conditional(G, n=8, seed=1, batch_size=8, precision=row["gen_precision"])  # warm-up
    sync()
    t0 = time.perf_counter()
    fake, _ = sample_conditional(G, n=row["n"], seed=0, batch_size=row["gen_batch"], precision=row["gen_precision"])
    sync()
    t_gen = time.perf_counter() - t0
    fidelity_metrics(fake[:8], None, metrics=("is",), device=device, batch_size=8, **feat)  # loads the network
    t0 = time.perf_counter()
    fidelity_metrics(fake, None, metrics=("is",), device=device, batch_size=row["feat_batch"],
                     precision=row["feat_precision"], **feat)
    sync()
    t_feat = time.perf_counter() - t0
    out = {"gen_s": t_gen, "feat_s": t_feat, "img_s": row["n"] / (t_gen + t_feat),
           "ms_step": 1000 * (t_gen + t_feat), "batch": row["gen_batch"], "res": cfg.resolution,
           "peak_mib": torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else 0.0}
    if row["feat_precision"] != "fp32":
        out.update(feature_precision_check(row["feat_precision"], device, n=200 if tiny else 5000))
    return out


def feature_precision_check(precision: str, device: str, *, n: int) -> dict:
    """FID of the same two image sets with features in ``precision`` and in fp32, on the shipped (trained) shapes
    network: noisy renders against clean ones (Inception's random weights here would make every FID ~0)."""
    import torch
    from gancore.data.shapes import render_shapes
    from gancore.metrics.fidelity import fidelity_metrics

    real = render_shapes(n, resolution=32, seed=1)[0]
    clean = render_shapes(n, resolution=32, seed=2)[0].float()
    noise = torch.randn(clean.shape, generator=torch.Generator().manual_seed(3)) * 40
    fake = (clean + noise).round().clamp(0, 255).to(torch.uint8)
    fids = [fidelity_metrics(fake, real, metrics=("fid",), device=device, precision=p)["fid"]
            for p in ("fp32", precision)]
    return {"fid_fp32": fids[0], "fid_fast": fids[1], "fid_rel": (fids[1] - fids[0]) / fids[0]}


def _random_inception() -> str:
    """torch-fidelity's Inception with its own random init: nothing downloads on a GPU node, and the speed is the
    architecture's. (A real FID passes inception_weights=PATH.)"""
    import torch
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    FeatureExtractorInceptionV3.load_state_dict = lambda self, *a, **k: None  # this process only
    path = Path(tempfile.gettempdir()) / "gancore-random-inception.pt"
    torch.save({}, path)
    return str(path)


def pack_worker(row: dict, device: str, go: Path, ready: Path) -> dict:
    """One of ``copies`` candidates sharing the GPU: warm up, say so, wait for the others, then time."""
    sys.path.insert(0, str(THROUGHPUT.parent))
    import throughput

    from gancore.config import parse_key_values

    overrides = parse_key_values(row.get("set", []))
    bs, dev, step, *_ = throughput.measure_dggan(dict(scale=row["scale"], preset="", dry_run=True, device=device,
                                                      out_dir="/tmp/gancore-bench"), row["res"], row["batch"], 1,
                                                 2, row.get("precision", "fp32"), row.get("nhwc", False), overrides)
    ready.touch()
    while not go.exists():
        time.sleep(0.01)
    n, dt, peak = throughput._timed(step, row["steps"], 0, dev)
    return {"img_s": n / dt, "ms_step": 1000 * dt / row["steps"], "batch": bs, "peak_mib": peak}


def pack_row(row: dict, device: str, timeout: float, tiny: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="gancore-pack-") as tmp:
        go = Path(tmp) / "go"
        procs = []
        for i in range(row["copies"]):
            cmd = [sys.executable, __file__, "--worker", json.dumps({**row, "kind": "pack-one"}), "--device", device,
                   "--go", str(go), "--ready", str(Path(tmp) / f"ready{i}")]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          env=_env()))
        t0 = time.perf_counter()
        while sum((Path(tmp) / f"ready{i}").exists() for i in range(row["copies"])) < row["copies"]:
            if any(p.poll() not in (None, 0) for p in procs) or time.perf_counter() - t0 > timeout:
                for p in procs:
                    p.kill()
                return {"error": "a packed candidate failed to start or warm up in time"}
            time.sleep(0.05)
        go.touch()
        results = []
        for p in procs:
            out, err = p.communicate(timeout=max(1.0, timeout - (time.perf_counter() - t0)))
            if p.returncode:
                return {"error": (err.strip().splitlines() or ["?"])[-1]}
            results.append(json.loads(out.strip().splitlines()[-1]))
    img_s = sum(r["img_s"] for r in results)  # concurrent: the GPU's aggregate rate
    return {"img_s": img_s, "ms_step": 1000 * row["batch"] * len(results) / img_s, "batch": row["batch"],
            "peak_mib": sum(r["peak_mib"] for r in results), "wall_s": time.perf_counter() - t0}


def label(row: dict) -> str:
    """precision+NHWC+switches, as throughput.py names a row."""
    return row.get("precision", "fp32") + ("+NHWC" if row.get("nhwc") else "") + "".join(
        "+" + item.replace("=true", "=on") for item in row.get("set", []))


# ---- projections and the table -------------------------------------------------------------------------------------
def projections(rows: list[dict], tiny: bool) -> list[str]:
    """Each paper's full run at the fast rows' speed (and the plain rows' for comparison)."""
    from gancore.recipes import alphagan, biggan, dggan, progan

    s = "smoke" if tiny else "full"
    got = {(r["name"], r["mode"]): r for r in rows if "img_s" in r}
    lines = []
    for mode in ("plain", "fast"):
        def rate(name):
            r = got.get((name, mode))
            return r["img_s"] if r else None

        bg = rate("biggan-128")
        if bg:
            kimg = biggan.load_config(scale=s, dry_run=True).total_kimg
            lines.append(f"BigGAN-128 ({mode}): {kimg * 1000 / bg / 86400:.1f} GPU-days for {kimg:,.0f} kimg")
        lo, hi = rate("progan-128"), rate("progan-1024")
        if lo and hi:
            cfg = progan.load_config(scale=s, dry_run=True)
            sched = progan.build_schedule(cfg)
            total = 0.0
            for ph in sched.phases:
                end = ph.end_nimg if ph.end_nimg is not None else sched.natural_end_nimg
                # ms per image interpolated in pixel count between the measured 128² and 1024² (≤ 128²: 128²'s,
                # an upper bound for the small phases)
                lo_res, hi_res = (128, 1024) if not tiny else (8, 16)
                t = min(max((ph.resolution ** 2 - lo_res ** 2) / (hi_res ** 2 - lo_res ** 2), 0.0), 1.0)
                total += (end - ph.start_nimg) * ((1 - t) / lo + t / hi)
            lines.append(f"ProGAN 1024² ({mode}, paper's batches): {total / 86400:.1f} GPU-days for "
                         f"{sched.natural_end_nimg / 1000:,.0f} kimg")
        se = got.get(("alphagan-search", mode)) or got.get(("alphagan-search", "plain"))
        rt = got.get(("alphagan-retrain", mode)) or got.get(("alphagan-retrain", "plain"))
        if se and rt:
            cfg = alphagan.load_config(scale=s, dry_run=True)
            steps = cfg.weight_steps + cfg.worst_steps + cfg.arch_steps
            search = cfg.epochs * se["s_epoch"] * steps / (3 * 2)  # measured at T = R = S = 2
            retrain = cfg.retrain_iterations / rt["it_s"]
            lines.append(f"alphaGAN(s) ({mode}): search {search / 60:.1f} min, retrain {retrain / 60:.1f} min")
        dg = rate("dggan-32")
        if dg:
            cfg = dggan.load_config(scale=s, dry_run=True)
            best = max([dg] + [r["img_s"] for (n, m), r in got.items() if n == "dggan-32" and m.startswith("fast ×")]
                       if mode == "fast" else [dg])
            days = 2000 * cfg.candidate_iterations * cfg.batch_size / best / 86400
            lines.append(f"DGGAN 2,000 candidates ({mode}{', best packing' if mode == 'fast' else ''}): "
                         f"{days:.1f} GPU-days (paper: 580)")
        fid = got.get(("fid-50k", mode))
        if fid:
            k = 50000 / fid["n"]
            lines.append(f"FID-50k ({mode}): {k * fid['gen_s']:.1f} s generation + {k * fid['feat_s']:.1f} s features "
                         f"= {k * (fid['gen_s'] + fid['feat_s']):.1f} s (timed on {fid['n']:,} images)")
    return lines


def print_table(rows: list[dict], file=None, header: bool = True) -> None:
    file = file or sys.stdout
    head = (f"{'what':17} {'path':22} {'res':>5} {'batch':>5} {'precision and switches':44} {'img/s':>9} "
            f"{'ms/step':>9} {'peak GiB':>8} {'MFU':>6}")
    if header:
        print(head, file=file)
        print("-" * len(head), file=file)
    for r in rows:
        if "error" in r:
            print(f"{r['name']:17} {r['mode']:22} not measured: {r['error']}", file=file)
            continue
        switches = r.get("precision_label") or r.get("precision", "")
        if r.get("kind") == "fid":
            switches = (f"{r['n']} imgs: gen {r['gen_precision']} b{r['gen_batch']}, "
                        f"feat {r['feat_precision']} b{r['feat_batch']}")
        print(f"{r['name']:17} {r['mode']:22} {r.get('res', 0):5} {r.get('batch', 0):5} {switches:44.44} "
              f"{r['img_s']:9.1f} {r['ms_step']:9.1f} {r.get('peak_mib', 0) / 1024:8.1f} {r.get('mfu', 0):6.1%}",
              file=file)
        if "compile=true" in r.get("set", []) and r.get("first_step_s"):
            print(f"{'':17} {'':22} first step (compiles G and D): {r['first_step_s']:.1f} s", file=file)
        if "fid_rel" in r:
            print(f"{'':17} {'':22} shapes-net FID, {r['feat_precision']} features vs fp32, same images: "
                  f"{r['fid_fast']:.4f} vs {r['fid_fp32']:.4f} ({r['fid_rel']:+.3%})", file=file)


def device_peak(device: str, given: float) -> tuple[str, float]:
    import torch

    if device.startswith("cuda") and torch.cuda.is_available():
        name = torch.cuda.get_device_name()
        return name, given or next((v for k, v in PEAKS.items() if k in name), 0.0)
    return "cpu", given


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--budget", type=float, default=480.0, help="seconds for the whole report")
    ap.add_argument("--rows", nargs="*", default=[], help="only these row names (default: all)")
    ap.add_argument("--peak-tflops", type=float, default=0.0, help="default: the GPU's dense bf16 peak by name")
    ap.add_argument("--fast-only", action="store_true", help="skip the plain rows (e.g. a second, shorter pass)")
    ap.add_argument("--tiny", action="store_true", help="smoke nets and a few images: the plumbing, on any device")
    ap.add_argument("--json", default="", help="also write the rows here")
    ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
    ap.add_argument("--peak", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--go", default="", help=argparse.SUPPRESS)
    ap.add_argument("--ready", default="", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        row = json.loads(args.worker)
        out = (fid_worker(row, args.device, args.tiny) if row["kind"] == "fid"
               else pack_worker(row, args.device, Path(args.go), Path(args.ready)))
        print(json.dumps(out))
        return 0
    name, peak = device_peak(args.device, args.peak_tflops)
    print(f"gancore GPU report on {name} (MFU against {peak:g} TFLOP/s dense bf16), budget {args.budget:.0f} s",
          flush=True)
    start, rows = time.perf_counter(), []
    todo = [r for r in plan(args.tiny) if (not args.rows or r["name"] in args.rows)
            and not (args.fast_only and r["mode"] == "plain")]
    cost = [COST.get((r["name"], r["mode"]), 20.0) * (0.2 if args.tiny else 1.0) for r in todo]
    for i, row in enumerate(todo):
        left = args.budget - (time.perf_counter() - start)
        share = max(left - sum(cost[i + 1:]), min(left, 1.5 * cost[i]))  # what the rows still to come need
        if left < min(15.0, cost[i]):
            result = {"error": "skipped: the budget is spent"}
        elif row.get("kind") == "pack":
            result = pack_row(row, args.device, share, args.tiny)
        else:
            result = run_row(row, args.device, peak, share, args.tiny)
        merged = {**row, **result, "precision_label": result.get("precision", label(row))}
        rows.append(merged)
        print_table([merged], header=i == 0)
        sys.stdout.flush()
    print(f"\nfull runs, projected (total report time {time.perf_counter() - start:.0f} s):")
    for line in projections(rows, args.tiny):
        print("  " + line)
    if args.json:
        Path(args.json).write_text(json.dumps({"device": name, "peak_tflops": peak, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
