"""Every paper notebook at smoke scale through papermill (with parameters) and nbval (stored defaults)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import papermill as pm
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
pytestmark = pytest.mark.slow


def _execute(nb: Path, out: Path, **params):
    return pm.execute_notebook(str(nb), str(out / "executed.ipynb"), parameters=params, cwd=str(nb.parent),
                               progress_bar=False, kernel_name="python3")


# Notebooks whose widgets can explore a shipped reference model: papermill runs them with it (nbval keeps the
# default, the notebook's own run), so both paths of the widget section execute.
WITH_REFERENCE = {"progan", "biggan", "alphagan", "dggan"}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_smoke_through_papermill(nb, tmp_path):
    run_dir = tmp_path / "run"
    extra = {"explore": "reference"} if nb.stem in WITH_REFERENCE else {}
    _execute(nb, tmp_path, scale="smoke", out_dir=str(run_dir), seed=1, **extra)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["params"]["G"] > 0
    assert (run_dir / "config.json").is_file() and (run_dir / "log.jsonl").is_file()
    executed = nbformat.read(tmp_path / "executed.ipynb", as_version=4)
    pngs = sum(1 for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", [])
               if "image/png" in o.get("data", {}))
    assert pngs >= 5, "figures should survive a headless run"
    if extra:
        text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
        assert f"reference {nb.stem} model" in text and "scripts/train_reference.py" in text
    assert summary.get("claims"), "the claims table is filled"
    for claim in summary["claims"]:
        assert {"claim", "paper", "this run", "holds"} <= set(claim)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_dry_run_at_full_scale(nb, tmp_path):
    run_dir = tmp_path / "run"
    _execute(nb, tmp_path, scale="full", dry_run=True, out_dir=str(run_dir))
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "dry_run"
    assert not list((run_dir / "checkpoints").glob("*.pt")) if (run_dir / "checkpoints").exists() else True


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_rejects_mistyped_parameter(nb, tmp_path):
    with pytest.raises(pm.PapermillExecutionError, match="did you mean 'scale'"):
        _execute(nb, tmp_path, scael="smoke", out_dir=str(tmp_path / "run"))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_under_nbval(nb, tmp_path):
    # nbval runs the stored defaults (reduced); the environment override gives smoke without editing the notebook.
    env = {**os.environ, "GANCORE_SCALE": "smoke", "GANCORE_OUT_DIR": str(tmp_path / "run")}
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
                           "-p", "no:xdist", str(nb)], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_notebook_cells_are_short():
    for nb in NOTEBOOKS:
        for cell in nbformat.read(nb, as_version=4).cells:
            if cell.cell_type == "code":
                lines = [l for l in cell.source.splitlines() if l.strip() and not l.strip().startswith("#")]
                # The parameters cell is declarations only, one per line (papermill's contract + a paper's knobs).
                limit = 20 if "parameters" in cell.metadata.get("tags", []) else 15
                assert len(lines) <= limit, (nb.name, cell.source[:80])


def test_committed_notebooks_are_clean():
    for nb in NOTEBOOKS:
        content = nbformat.read(nb, as_version=4)
        params = [c for c in content.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, nb.name
        assert 'scale: str = "reduced"' in params[0].source  # users get reduced by default
        assert all(not c.get("outputs") for c in content.cells if c.cell_type == "code"), "strip outputs"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_sees_every_parameter(nb):
    # papermill's parser skips annotations it cannot read (e.g. `str | None`); such a parameter then triggers
    # "Passed unknown parameter" and is missing from --help-notebook.
    import re

    cell = next(c for c in nbformat.read(nb, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    declared = [m.group(1) for line in cell.source.splitlines() if (m := re.match(r"^(\w+)\s*:", line))]
    seen = pm.inspect_notebook(str(nb))
    assert declared and set(declared) == set(seen), set(declared) ^ set(seen)


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_on_a_small_image_folder_with_three_classes(nb, tmp_path):
    # A user's own data: few classes (the BigGAN widgets once assumed at least 4) and mixed image modes.
    from PIL import Image

    gen = __import__("torch").Generator().manual_seed(0)
    for c, name in enumerate(("cat", "dog", "bird")):
        folder = tmp_path / "imgs" / name
        folder.mkdir(parents=True)
        for i in range(12):
            px = (__import__("torch").rand(20 + i, 24, 3, generator=gen) * 255).byte().numpy()
            img = Image.fromarray(px)
            (img.convert("L") if i % 4 == 0 else img).save(folder / f"{i}.png")
    run_dir = tmp_path / "run"
    _execute(nb, tmp_path, scale="smoke", dataset="folder", data_dir=str(tmp_path / "imgs"), out_dir=str(run_dir),
             run_claims=False, overrides={"num_threads": 1})
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "complete" and summary["dataset"] == "folder"
