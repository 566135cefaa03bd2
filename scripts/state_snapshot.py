"""Prove that a refactor left training unchanged, bit for bit (DEVELOPERS.md: "Refactors prove themselves").

    python scripts/state_snapshot.py save DIR      # before the change: smoke runs of every paper into DIR
    python scripts/state_snapshot.py compare DIR   # after it: the same runs again, and a resume of DIR's runs

``save`` trains the smoke preset of each paper (a DGGAN search with its grows, alphaGAN's search and retrain) on one
fixed thread, each in its own process, keeping every checkpoint. ``compare`` then

1. trains the same runs with the current code into a new folder and asserts, with ``tests/state_compare.py``, that
   every run folder's final checkpoint (networks, EMA, optimizers, data position, random generators, the method's
   own state, image and step counts) equals the saved one, and that the final metrics are the same numbers;
2. copies the saved run folders, drops their newest checkpoint (and summary), and lets the current code resume
   them: a checkpoint written by the old code must continue to the same final state.

Timings (``train_seconds``) and the saved config (new fields get defaults) are left out of the comparison.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

PAPERS = ("progan", "biggan", "alphagan", "dggan")
# Checkpoint keys that must match; "train_seconds" is wall time and "config" gains fields as gancore grows.
STATE_KEYS = ("G", "D", "G_ema", "optimizers", "stream", "rng", "method", "nimg", "step")
# Summary/record keys that are timings or paths, not results.
VOLATILE = {"train_seconds", "wall_seconds_this_session", "wall_seconds_this_call", "img_per_s", "seconds", "time",
            "device", "final_seconds"}
OVERRIDES = {"num_threads": 1, "keep_checkpoints": 1000}


def train(paper: str, out_dir: Path) -> None:
    """One smoke run of ``paper`` in a fresh process (no thread pool, cache or RNG state leaks between papers)."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); from gancore.recipes import {paper} as r; "
            f"cfg = r.load_config(scale='smoke', out_dir={str(out_dir)!r}, **{OVERRIDES!r}); "
            f"r.run(cfg, progress=False)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def run_folders(root: Path) -> dict[str, Path]:
    """Every folder under ``root`` that holds checkpoints, by its path relative to ``root``."""
    return {str(p.parent.relative_to(root)): p.parent for p in sorted(root.rglob("checkpoints")) if p.is_dir()
            and any(p.glob("ckpt-*.pt"))}


def final_state(folder: Path) -> dict:
    from gancore import checkpoint as ckpt_io

    path, ck = ckpt_io.latest_good_checkpoint(folder / "checkpoints")
    return {k: ck[k] for k in STATE_KEYS if k in ck}


def results(folder: Path) -> dict:
    """summary.json (and a search's state records) without timings."""
    def clean(x):
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items() if k not in VOLATILE}
        if isinstance(x, list):
            return [clean(v) for v in x]
        return x

    out = {}
    for name in ("summary.json", "search_state.json"):
        if (folder / name).exists():
            out[name] = clean(json.loads((folder / name).read_text()))
    return out


def assert_same(saved: Path, new: Path, what: str) -> int:
    from state_compare import assert_same_state

    a, b = run_folders(saved), run_folders(new)
    assert a.keys() == b.keys(), f"{what}: run folders differ: {sorted(a.keys() ^ b.keys())}"
    for key in a:
        assert_same_state(final_state(a[key]), final_state(b[key]), f"{what}:{key}")
    for key, folder in {".": saved, **a}.items():
        old, now = results(folder), results(new / key)
        for name, value in old.items():
            for field in ("final", "initial", "records", "steps", "parents", "baseline", "best", "fid", "genotype"):
                if field in value:
                    assert_kept(value[field], now[name].get(field), f"{what}:{key}/{name}:{field}")
    return len(a)


def assert_kept(old, new, where: str) -> None:
    """Every value ``old`` holds is in ``new`` unchanged (``new`` may hold more keys: summaries grow fields)."""
    if isinstance(old, dict):
        assert isinstance(new, dict), where
        for k, v in old.items():
            assert k in new, f"{where}.{k} is gone"
            assert_kept(v, new[k], f"{where}.{k}")
    elif isinstance(old, list):
        assert isinstance(new, list) and len(old) == len(new), where
        for i, (x, y) in enumerate(zip(old, new)):
            assert_kept(x, y, f"{where}[{i}]")
    else:
        assert old == new, f"{where}: {old!r} → {new!r}"


def trim_to_mid_checkpoint(root: Path) -> int:
    """Drop each run folder's newest checkpoint and its summary, so that a rerun resumes an older checkpoint."""
    trimmed = 0
    state = root / "search_state.json"
    folders = run_folders(root)
    if state.exists():  # DGGAN: the searched candidates stay finished; the final pair is trained (resumed) again
        folders = {k: v for k, v in folders.items() if k in ("final", "baseline/final")}
    for folder in folders.values():
        ckpts = sorted((folder / "checkpoints").glob("ckpt-*.pt"))
        if len(ckpts) >= 2:
            ckpts[-1].unlink()
            (folder / "summary.json").unlink(missing_ok=True)
            trimmed += 1
    if state.exists():
        s = json.loads(state.read_text())
        for key in ("final", "baseline/final"):
            s["records"].pop(key, None)
        state.write_text(json.dumps(s))
    return trimmed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["save", "compare"])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--papers", nargs="*", default=list(PAPERS), choices=PAPERS)
    args = ap.parse_args(argv)
    root = args.dir.resolve()
    if args.action == "save":
        for paper in args.papers:
            if (root / paper).exists():
                shutil.rmtree(root / paper)
            train(paper, root / paper / "run")
            print(f"{paper}: saved {len(run_folders(root / paper / 'run'))} run folder(s)", flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="gancore-state-") as tmp:
        for paper in args.papers:
            fresh = Path(tmp) / paper / "run"
            train(paper, fresh)
            n = assert_same(root / paper / "run", fresh, f"{paper} fresh")
            resumed = Path(tmp) / paper / "resumed"
            shutil.copytree(root / paper / "run", resumed)
            k = trim_to_mid_checkpoint(resumed)
            train(paper, resumed)
            assert_same(root / paper / "run", resumed, f"{paper} resumed")
            print(f"{paper}: {n} run folder(s) bit-identical; {k} resumed from an older checkpoint, identical",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
