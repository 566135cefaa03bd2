"""Train a paper's reference model and export what gancore ships under ``gancore/references/``.

    python scripts/train_reference.py progan     # papers/progan/reduced-reference.yaml
    python scripts/train_reference.py biggan     # papers/biggan/reduced-reference.yaml
    python scripts/train_reference.py alphagan   # papers/alphagan/reduced-reference.yaml (retrain of alphaGAN(s))
    python scripts/train_reference.py dggan      # papers/dggan/reduced-reference.yaml (the reduced search, final 25×)

The run trains under the usual run contract in ``runs/reference-<paper>`` (rerunning resumes it; a finished run is
not retrained), then writes three files:

- ``<paper>.pt``: the EMA generator's state dict (BigGAN's with its standing statistics, App. C.1), loadable with
  ``torch.load(weights_only=True)``;
- ``<paper>.json``: the manifest: the exact command, the fully resolved config, what was trained and for how long,
  on which CPU, the final metrics, and the SHA-256 of the weights that :mod:`gancore.references` checks on load;
- ``<paper>.log.jsonl``: the training and metric records of the run's log.

The presets fix ``num_threads`` and ``precision: fp32``, so a rerun on the same machine and torch trains the same
weights bit for bit; on another CPU the numbers differ in the last bits and the metrics by about a seed's spread.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gancore.checkpoint import atomic_write_bytes, atomic_write_text  # noqa: E402
from gancore.references import REFERENCE_DIR, REFERENCE_PRESET  # noqa: E402

# Keys of the final metrics that the manifest keeps (the rest stays in the run folder's summary.json).
_METRIC_KEYS = ("fid", "is_mean", "is_std", "kid_mean", "swd_avg", "swd", "ms_ssim")


def cpu_name() -> str:
    """The CPU model, as lscpu names it (Linux), else what the platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def train(paper: str, out_dir: Path, *, scale: str = "reduced", preset: str = REFERENCE_PRESET,
          progress: bool = True, **overrides: Any) -> tuple[Any, dict, Any, Path]:
    """Train (or resume) the reference run: (config, summary, generator to ship, training log)."""
    from gancore import engine

    recipe = engine.recipe(paper)
    cfg = recipe.load_config(scale=scale, preset=preset, out_dir=str(out_dir), **overrides)
    result = engine.run(recipe, cfg, progress=progress, evaluate=True)
    return (cfg, *recipe.reference_export(result))


def export(paper: str, cfg, summary: dict, G, *, log_path: Path, command: str, dest: Path = REFERENCE_DIR) -> dict:
    dest.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"G": {k: v.detach().cpu().clone() for k, v in G.state_dict().items()}}, buffer)
    weights = buffer.getvalue()
    s = summary
    final = s.get("final", {})
    metrics = {k: final[k] for k in _METRIC_KEYS if k in final}
    if "class_accuracy" in final:
        metrics["class_accuracy"] = final["class_accuracy"]["accuracy"]
        metrics["per_class_accuracy"] = final["class_accuracy"]["per_class_accuracy"]
    if "truncation_sweep" in final:
        metrics["truncation_sweep"] = [{k: r.get(k) for k in ("truncation", "fid", "is_mean", "accuracy")}
                                       for r in final["truncation_sweep"]]
    manifest = {
        "paper": paper, "scale": cfg.scale, "preset": cfg.preset, "file": f"{paper}.pt",
        "sha256": hashlib.sha256(weights).hexdigest(), "bytes": len(weights),
        "command": command,
        "trained": {"kimg": s.get("kimg"), "iterations": s.get("iterations_done"),
                    "train_seconds": s.get("train_seconds"), "img_per_s": s.get("img_per_s"),
                    "resolution": cfg.resolution, "cpu": cpu_name(), "threads": cfg.num_threads,
                    "precision": getattr(cfg, "precision", "fp32"), "torch": torch.__version__,
                    "date": time.strftime("%Y-%m-%d", time.gmtime())},
        "metrics": metrics, "initial": {k: v for k, v in (s.get("initial") or {}).items() if k in _METRIC_KEYS},
        "params_G": sum(p.numel() for p in G.parameters()),
        "class_names": list(s.get("class_names") or []),
        **({"search": s["search"]} if "search" in s else {}),
        "config": {k: v for k, v in cfg.to_dict().items() if k != "out_dir"},
    }
    atomic_write_bytes(dest / f"{paper}.pt", weights)
    atomic_write_text(dest / f"{paper}.json", json.dumps(manifest, indent=1, default=str) + "\n")
    log = Path(log_path).read_text().splitlines()
    keep = [line for line in log if json.loads(line).get("kind") in ("train", "metric")]
    atomic_write_text(dest / f"{paper}.log.jsonl", "".join(line + "\n" for line in keep))
    return manifest


def reference_papers() -> list[str]:
    """The papers with a reference preset (papers/<paper>/reduced-reference.yaml)."""
    from gancore.config import papers_dir
    from gancore.engine import registry

    return [p for p in registry.papers() if (papers_dir() / p / f"reduced-{REFERENCE_PRESET}.yaml").is_file()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("paper", choices=sorted(reference_papers()))
    ap.add_argument("--out", default="runs", help="parent folder of the run folder reference-<paper>")
    args = ap.parse_args(argv)
    out_dir = (ROOT / args.out / f"reference-{args.paper}").resolve()
    cfg, summary, G, log_path = train(args.paper, out_dir)
    command = f"python scripts/train_reference.py {args.paper}"
    manifest = export(args.paper, cfg, summary, G, log_path=log_path, command=command)
    print(json.dumps({k: manifest[k] for k in ("file", "sha256", "bytes", "trained", "metrics")}, indent=1,
                     default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
