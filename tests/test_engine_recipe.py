"""The recipe contract (gancore/engine/README.md): every registered paper satisfies it, the README's worked example
of a fifth paper trains, resumes bit for bit and is known to the scripts through one registry line, old import paths
still work, and training never imports UI code."""
import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from gancore import checkpoint as ckpt_io
from gancore import engine, preflight
from gancore.engine import Paper, Pipeline, Training, registry
from gancore.errors import ConfigError
from gancore.preflight import MemoryEstimate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
from state_compare import assert_same_state  # noqa: E402


@pytest.mark.parametrize("paper", registry.papers())
def test_every_registered_paper_keeps_the_contract(paper):
    recipe = registry.recipe(paper)
    assert isinstance(recipe, Paper) and isinstance(recipe, (Training, Pipeline)) and recipe.paper == paper
    cfg = recipe.load_config(scale="smoke", dry_run=True)
    assert isinstance(cfg, recipe.config_class) and cfg.paper == paper
    estimate = recipe.memory_estimate(cfg)
    assert isinstance(estimate, MemoryEstimate) and estimate.total() > 0
    recipe.check_inputs(cfg)
    # The package keeps today's names: a notebook's `from gancore.recipes import <paper>` then `<paper>.run(...)`.
    package = importlib.import_module(registry.PAPERS[paper])
    assert package.RECIPE is recipe and callable(package.run) and callable(package.load_config)


def test_an_unknown_paper_is_a_clear_error():
    with pytest.raises(ConfigError, match="unknown paper 'stylegan'.*progan"):
        registry.recipe("stylegan")


@pytest.mark.parametrize("old,new", [
    ("gancore.recipes.progan_config", "gancore.recipes.progan.config"),
    ("gancore.recipes.dggan_analysis", "gancore.recipes.dggan.analysis"),
    ("gancore.recipes.alphagan_report", "gancore.recipes.alphagan.report"),
    ("gancore.search.genotype", "gancore.models.alphagan_space"),
    ("gancore.train", "gancore.engine"),
])
def test_old_import_paths_give_the_new_modules(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_training_imports_no_ui_code():
    """Recipes, the engine and a whole run's imports stay below the widgets and the figures."""
    code = ("import sys; import gancore.engine; from gancore.recipes import progan, biggan, alphagan, dggan; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('ipywidgets', 'matplotlib', 'IPython') "
            "or m.startswith(('gancore.widgets', 'gancore.viz', 'gancore.recipes.biggan.widgets'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout


# ---- the README's fifth paper ---------------------------------------------------------------------------------------
SMOKE = {"resolution": 16, "width": 4, "latent_dim": 8, "batch_size": 8, "total_kimg": 0.064, "dataset_size": 64,
         "log_every_kimg": 0.016, "ckpt_every_kimg": 0.032, "sample_every_kimg": 0.032, "num_threads": 1}


@pytest.fixture
def fifth_paper(tmp_path, monkeypatch):
    """The README's DCGAN block as a module, one registry line, and its smoke preset in a papers/ folder."""
    text = (ROOT / "gancore" / "engine" / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "the README's worked example is one python block"
    (tmp_path / "dcgan_example.py").write_text(blocks[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("dcgan_example", None)
    module = importlib.import_module("dcgan_example")
    monkeypatch.setitem(registry.PAPERS, "dcgan", "dcgan_example")
    root = tmp_path / "root"
    (root / "papers" / "dcgan").mkdir(parents=True)
    (root / "papers" / "dcgan" / "smoke.yaml").write_text("".join(f"{k}: {v}\n" for k, v in SMOKE.items()))
    monkeypatch.setenv("GANCORE_ROOT", str(root))
    return module


def _final_state(out_dir: Path) -> dict:
    _, ck = ckpt_io.latest_good_checkpoint(out_dir / "checkpoints")
    return {k: ck[k] for k in ("G", "D", "G_ema", "optimizers", "stream", "rng", "nimg", "step")}


def test_the_readme_fifth_paper_trains_resumes_and_is_registered(fifth_paper, tmp_path):
    recipe = registry.recipe("dcgan")
    assert recipe is fifth_paper.RECIPE
    cfg = recipe.load_config(scale="smoke", out_dir=str(tmp_path / "straight"))
    preflight.check(cfg)  # found through the registry by its paper name
    run = fifth_paper.run(cfg, progress=False)
    s = run.summary
    assert s["status"] == "complete" and s["kimg"] == pytest.approx(0.064) and s["params"]["G"] > 0
    assert all(torch.isfinite(torch.tensor(v)) for v in run.log()[-1].values() if isinstance(v, float))
    folder = Path(cfg.out_dir)
    assert {"config.json", "log.jsonl", "summary.json", "progress.json"} <= {p.name for p in folder.iterdir()}
    assert list((folder / "samples").glob("final-*-res16.png"))
    # Interrupted halfway and resumed: the same final state, bit for bit.
    part = tmp_path / "part"
    fifth_paper.run(recipe.load_config(scale="smoke", out_dir=str(part), total_kimg=0.032), progress=False)
    resumed = fifth_paper.run(recipe.load_config(scale="smoke", out_dir=str(part)), progress=False)
    assert resumed.trainer.resumed_from is not None
    assert_same_state(_final_state(folder), _final_state(part))
    # A mistyped field is refused with the valid choices, like every paper's.
    with pytest.raises(ConfigError, match="widht"):
        recipe.load_config(scale="smoke", widht=8)
    assert json.loads((folder / "summary.json").read_text())["paper"] == "dcgan"
