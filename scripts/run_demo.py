"""`make demo`: run every paper notebook through papermill and write a short summary.

Each notebook runs at the given scale (reduced by default) on the embedded shapes data, into
``<out>/<paper>/`` (the run folder) and ``<out>/<paper>.ipynb`` (the executed notebook). The summary goes to
``<out>/summary.md`` and is printed. Re-running resumes finished or interrupted runs instead of retraining.
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
import threading
import time
from pathlib import Path

import nbformat
import papermill as pm

ROOT = Path(__file__).resolve().parents[1]


def summarize(paper: str, run_dir: Path, seconds: float, error: str | None) -> list[str]:
    from gancore.engine import registry

    lines = [f"## {paper}", f"- wall time: {seconds:.0f} s"]
    if error:
        return lines + [f"- **FAILED**: {error}"]
    path = run_dir / "summary.json"
    if not path.exists():
        return lines + ["- no summary.json written"]
    s = json.loads(path.read_text())
    lines += registry.recipe(paper).demo_lines(s)
    for c in s.get("claims", []):
        # Newer claims tables carry a verdict that can also say "within noise" (gancore.claims).
        verdict = c.get("verdict") or {True: "holds", False: "does NOT hold", None: "not tested"}[c["holds"]]
        lines.append(f"- claim {verdict}: {c['claim']} — {c['this run']}")
    return lines


# The search notebooks' whole-notebook seconds at reduced scale were measured in fp32 on the machine the README
# times (AMD EPYC Zen 3, AVX2 only, 2 cores; each recipe's demo_seconds); this is ProGAN's estimate rate at 32² (a
# fade step, fp32, 2 threads) measured there, idle: 49.6 and 52.9 in two tries. Another machine scales them by its
# own rate.
CALIBRATION_IMG_S = 51.0


@functools.lru_cache(maxsize=None)
def _calibration_img_s(scale: str) -> float:
    """This machine's rate at the calibration point (measured once per demo, shared by the search notebooks)."""
    from gancore.engine import registry

    progan = registry.recipe("progan")
    return max(progan.estimate(progan.load_config(scale=scale), claims=False).img_per_s.items())[1]


def estimate_seconds(stem: str, scale: str) -> tuple[float | None, str]:
    """(seconds, how) a notebook should take here: from steps of its own networks measured now (training only) where
    the recipe can say, else the search notebooks' measured time scaled by this machine's speed."""
    from gancore.engine import registry

    if scale != "reduced":
        return None, "no estimate at this scale"
    recipe = registry.recipe(stem)
    measured = recipe.estimate(recipe.load_config(scale=scale))
    if measured is not None:
        return measured.total, "its training, from steps measured here"
    if recipe.demo_seconds:
        rate = _calibration_img_s(scale)
        return (recipe.demo_seconds * CALIBRATION_IMG_S / rate,
                f"{recipe.demo_seconds:.0f} s on the README's CPU × its speed / this one's")
    return None, "no estimate for this notebook"


def _running_cell(path: Path) -> str | None:
    """The heading of the section whose cell papermill is executing now, read from the output notebook that
    papermill saves as it goes (None while it is unreadable, e.g. mid-write)."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:
        return None
    heading = None
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            heading = cell.source.lstrip().splitlines()[0].lstrip("# ").strip()
        if cell.get("metadata", {}).get("papermill", {}).get("status") == "running":
            return f"cell {i + 1}/{len(nb.cells)}" + (f" ({heading})" if heading else "")
    return None


def _training_progress(run_dir: Path) -> str | None:
    """The most recently updated ``progress.json`` under the run folder (the main run or a claims side run)."""
    best = None
    for path in run_dir.rglob("progress.json"):
        try:
            p = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        finished = p.get("nimg", 0) >= p.get("total_nimg", 0) or p.get("eta_s") == 0
        if finished or time.time() - p.get("updated", 0) > 120:
            continue  # a finished or stale run: the notebook is evaluating or elsewhere
        if best is None or p["updated"] > best[1]["updated"]:
            best = (path.parent, p)
    if best is None:
        return None
    where, p = best
    name = "main run" if where == run_dir else str(where.relative_to(run_dir))
    eta = f", ETA {p['eta_s'] / 60:.1f} min" if p.get("eta_s") is not None else ""
    return (f"training {name}: {p['nimg'] / 1000:.1f}/{p['total_nimg'] / 1000:.1f} kimg at {p['res']}², "
            f"{p['img_s']:.0f} img/s{eta}")


def execute_with_progress(nb: Path, out_nb: Path, run_dir: Path, params: dict, *, every_s: float = 15.0) -> None:
    """Run ``nb`` through papermill while printing, every ``every_s`` seconds, the section in progress and the
    training progress with its ETA (papermill's own output shows nothing for minutes inside a training cell)."""
    error: list[BaseException] = []

    def target() -> None:
        try:
            pm.execute_notebook(str(nb), str(out_nb), cwd=str(nb.parent), parameters=params, progress_bar=False,
                                autosave_cell_every=10)
        except BaseException as e:  # noqa: BLE001  (re-raised in the caller's thread)
            error.append(e)

    worker = threading.Thread(target=target, daemon=True)
    t0, last = time.perf_counter(), None
    worker.start()
    while worker.is_alive():
        worker.join(every_s)
        if not worker.is_alive():
            break
        line = " — ".join(x for x in (_running_cell(out_nb), _training_progress(run_dir)) if x)
        if line and line != last:
            print(f"   [{time.perf_counter() - t0:5.0f} s] {nb.stem}: {line}", flush=True)
            last = line
    if error:
        raise error[0]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--scale", default="reduced", choices=["smoke", "reduced", "full"])
    ap.add_argument("--out", default="runs", help="folder for executed notebooks and run folders")
    ap.add_argument("--only", nargs="*", help="paper names to run (default: every notebook)")
    args = ap.parse_args(argv)
    out = (ROOT / args.out).resolve() if not Path(args.out).is_absolute() else Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if args.only:
        notebooks = [nb for nb in notebooks if nb.stem in args.only]
    report = [f"# gancore demo ({args.scale} scale)", ""]
    failed = 0
    if args.scale == "reduced":
        print("== estimating how long each notebook takes on this machine (a few measured training steps) …",
              flush=True)
        total = 0.0
        for nb in notebooks:
            seconds, how = estimate_seconds(nb.stem, args.scale)
            total += seconds or 0.0
            print(f"   {nb.stem}: " + (f"~{seconds / 60:.0f} min ({how})" if seconds else how), flush=True)
        print(f"== the whole demo: roughly {total / 60:.0f} min plus evaluation; a rerun resumes finished runs",
              flush=True)
    for nb in notebooks:
        run_dir = out / f"{nb.stem}-{args.scale}"
        print(f"== {nb.stem}: running at {args.scale} scale → {run_dir}", flush=True)
        t0, error = time.perf_counter(), None
        try:
            execute_with_progress(nb, out / f"{nb.stem}-{args.scale}.ipynb", run_dir,
                                  {"scale": args.scale, "out_dir": str(run_dir)})
        except Exception as e:  # report every notebook, then fail at the end
            error, failed = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}", failed + 1
        report += summarize(nb.stem, run_dir, time.perf_counter() - t0, error) + [""]
    (out / "summary.md").write_text("\n".join(report))
    print("\n".join(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
