"""Reference models (gancore.references, scripts/train_reference.py): export and load round trip, the integrity
check, clear errors, the notebook's choice of model, and the references gancore ships."""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
import torch

from gancore import references
from gancore.recipes import alphagan, biggan, dggan, progan

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import train_reference  # noqa: E402

RECIPES = {"progan": progan, "biggan": biggan, "alphagan": alphagan, "dggan": dggan}
# alphaGAN's reference is a retrain of a published genotype, whose G and log live in the run's retrain/ folder.
SMOKE = {"alphagan": dict(mode="retrain", genotype="alphagan_s")}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Smoke runs of both papers exported as references into a temporary folder: (folder, {paper: run G})."""
    root = tmp_path_factory.mktemp("refs")
    out, gens = root / "references", {}
    for paper in RECIPES:
        cfg, summary, G, log = train_reference.train(paper, root / paper, scale="smoke", preset="", progress=False,
                                                     num_threads=1, **SMOKE.get(paper, {}))
        train_reference.export(paper, cfg, summary, G, log_path=log,
                               command=f"python scripts/train_reference.py {paper}", dest=out)
        gens[paper] = G
    return out, gens


@pytest.mark.parametrize("paper", sorted(RECIPES))
def test_export_and_load_round_trip(exported, paper):
    folder, gens = exported
    G, info = references.load_reference(paper, directory=folder)
    assert not G.training
    for (k, a), (k2, b) in zip(gens[paper].state_dict().items(), G.state_dict().items()):
        assert k == k2 and torch.equal(a.cpu(), b), k
    blob = (folder / f"{paper}.pt").read_bytes()
    assert hashlib.sha256(blob).hexdigest() == info["sha256"] and len(blob) == info["bytes"]
    assert set(torch.load(folder / f"{paper}.pt", weights_only=True)) == {"G"}
    # The manifest says how to reproduce the weights and what they are.
    assert info["command"] == f"python scripts/train_reference.py {paper}"
    assert info["config"]["resolution"] == info["trained"]["resolution"] and "out_dir" not in info["config"]
    assert info["trained"]["kimg"] > 0 and info["trained"]["train_seconds"] > 0 and info["trained"]["cpu"]
    log = [json.loads(line) for line in (folder / f"{paper}.log.jsonl").read_text().splitlines()]
    assert log and {r["kind"] for r in log} <= {"train", "metric"}
    text = references.describe(info)
    assert f"reference {paper} model" in text and "kimg" in text and info["command"] in text


def test_altered_or_truncated_weights_are_refused(exported, tmp_path):
    folder, _ = exported
    for name in ("progan.json", "progan.pt"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    blob = bytearray((tmp_path / "progan.pt").read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (tmp_path / "progan.pt").write_bytes(bytes(blob))
    with pytest.raises(references.ReferenceError, match="do not match their manifest"):
        references.load_reference("progan", directory=tmp_path)
    (tmp_path / "progan.pt").write_bytes(bytes(blob[:100]))
    with pytest.raises(references.ReferenceError, match="altered or truncated"):
        references.load_reference("progan", directory=tmp_path)
    (tmp_path / "progan.json").write_text("{not json")
    with pytest.raises(references.ReferenceError, match="unreadable"):
        references.load_reference("progan", directory=tmp_path)


def test_missing_reference_names_the_command(tmp_path):
    with pytest.raises(references.ReferenceError, match="train_reference.py dggan"):
        references.load_reference("dggan", directory=tmp_path)
    with pytest.raises(references.ReferenceError, match="train_reference.py alphagan"):
        references.load_reference("alphagan", directory=tmp_path)
    assert references.available(directory=tmp_path) == []


def test_explorable_picks_the_run_or_the_reference(exported):
    folder, gens = exported
    cfg = progan.load_config(scale="smoke")
    run = references.explorable("progan", explore="run", run_G=gens["progan"], run_cfg=cfg)
    assert run.G is gens["progan"] and run.latent_dim == cfg.latent_dim and "this notebook's run" in run.label
    assert references.explorable("progan", explore="run", run_G=None, run_cfg=cfg) is None  # a dry run
    ref = references.explorable("biggan", explore="reference", run_G=None, run_cfg=None, directory=folder)
    assert ref.info["paper"] == "biggan" and ref.resolution == 32 and len(ref.class_names) == ref.G.num_classes
    assert ref.label.startswith("reference biggan model")
    with pytest.raises(ValueError, match="explore"):
        references.explorable("progan", explore="refrence", run_G=None, run_cfg=cfg)


def test_dggan_reference_rebuilds_the_grown_architecture(exported, tmp_path):
    """The grown G is rebuilt from the manifest's spec (not from the config, which names no architecture); a
    manifest whose spec is lost is refused with the reason."""
    folder, gens = exported
    G, info = references.load_reference("dggan", directory=folder)
    search = info["search"]
    assert search["spec"]["g"] and search["cid"].startswith("base") and search["steps"] >= 1
    assert search["history"] == [part for part in search["cid"].split("+")[1:]]
    assert sum(p.numel() for p in G.parameters()) == info["params_G"] == sum(p.numel() for p in gens["dggan"].parameters())
    label = references.describe(info)
    assert f"{search['steps']}-step search over {search['candidates']} candidates" in label
    assert "symmetric baseline trained alike" in label and "min of search and training" in label
    broken = {**info, "search": {k: v for k, v in search.items() if k != "spec"}}
    for name in ("dggan.pt",):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "dggan.json").write_text(json.dumps(broken))
    with pytest.raises(references.ReferenceError, match="no usable architecture spec"):
        references.load_reference("dggan", directory=tmp_path)


@pytest.mark.parametrize("paper", ["progan", "biggan", "alphagan", "dggan"])
def test_shipped_reference_loads_and_draws(paper):
    assert paper in references.available(), f"gancore ships no {paper} reference"
    G, info = references.load_reference(paper)
    assert info["preset"] == references.REFERENCE_PRESET and info["scale"] == "reduced"
    assert (references.REFERENCE_DIR / f"{paper}.log.jsonl").stat().st_size > 0
    z = torch.randn(4, info["config"].get("latent_dim") or info["config"]["dim_z"])
    inputs = {"progan": dict(resolution=info["config"]["resolution"]), "biggan": dict(y=torch.arange(4))}
    with torch.no_grad():
        x = G(z, **inputs.get(paper, {}))
    assert x.shape == (4, 3, info["config"]["resolution"], info["config"]["resolution"])
    assert torch.isfinite(x).all()
    # What the notebook prints beside the widgets: what was trained, how long, where, and how to reproduce it.
    label = references.describe(info)
    assert f"{info['trained']['kimg']:.0f} kimg" in label and info["command"] in label
    assert ("min of search and training" if paper == "dggan" else "min of training") in label


def test_shipped_references_stay_small():
    total = sum(p.stat().st_size for p in references.REFERENCE_DIR.iterdir())
    assert total < 8 * 2**20, f"gancore/references holds {total / 2**20:.1f} MiB"
