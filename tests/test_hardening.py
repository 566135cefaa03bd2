"""Issue 10: one writer per run folder, checkpoints that prove their integrity, no pickles on the load path,
"last good" that is good, every parameter checked first, image-folder edge cases, start-up."""
import json
import os
import pickle
import random
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gancore import checkpoint as ckpt_io
from gancore import preflight, runlock
from gancore.config import ConfigError
from gancore.errors import CheckpointError, DataError, RunFolderLocked, TrainingDiverged
from gancore.recipes import biggan, common, progan

ROOT = Path(__file__).resolve().parents[1]


def _progan(overrides, **kw):
    cfg = progan.load_config(scale="smoke", **overrides)
    return progan.run(cfg, progress=False, evaluate=kw.pop("evaluate", False), **kw)


# ---- 1. one writer per run folder ---------------------------------------------------------------------------
def _hold_lock_in_subprocess(folder: Path) -> subprocess.Popen:
    code = ("import sys, time; from gancore import runlock; runlock.acquire(sys.argv[1]); "
            "print('locked', flush=True); time.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_on_a_run_folder_is_refused_and_a_killed_holder_leaves_no_stale_lock(tmp_path,
                                                                                             tiny_progan_overrides):
    folder = Path(tiny_progan_overrides["out_dir"])
    holder = _hold_lock_in_subprocess(folder)
    try:
        with pytest.raises(RunFolderLocked, match=rf"{folder}.*PID {holder.pid}.*another out_dir"):
            _progan(tiny_progan_overrides)
        assert not (folder / "config.json").exists()  # refused before writing anything
    finally:
        holder.kill()
        holder.wait()
    r = _progan(tiny_progan_overrides)  # the kernel dropped the dead holder's lock
    assert r.summary["status"] == "complete"


def test_lock_is_reentrant_in_one_process_and_released_after(tmp_path):
    with runlock.run_folder_lock(tmp_path / "run"):
        with runlock.run_folder_lock(tmp_path / "run"):
            assert runlock.is_held(tmp_path / "run")
        assert runlock.is_held(tmp_path / "run")
    assert not runlock.is_held(tmp_path / "run")


def test_taking_the_lock_removes_temp_files_of_killed_writes(tiny_progan_overrides):
    out = Path(tiny_progan_overrides["out_dir"])
    (out / "checkpoints").mkdir(parents=True)
    leftovers = [out / "checkpoints" / ".ckpt-000000016.pt.x1y2.tmp", out / ".summary.json.abc.tmp"]
    for p in leftovers:
        p.write_bytes(b"half a file")
    with pytest.warns(UserWarning, match="removed 2 temp file"):
        _progan(tiny_progan_overrides)
    assert not any(p.exists() for p in leftovers)


# ---- 2. checkpoints that prove their integrity --------------------------------------------------------------
def _two_checkpoints(overrides):
    r = _progan({**overrides, "total_kimg": 0.032, "ckpt_every_kimg": 0.016})
    return r, ckpt_io.list_checkpoints(Path(r.cfg.out_dir) / "checkpoints")


def _tensor_data_offset(path: Path) -> int:
    """Offset of a byte inside the first large tensor record of a torch zip file."""
    import zipfile

    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with open(path, "rb") as f:  # local header: 30 bytes + name + extra, then the (stored) data
        f.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
    return info.header_offset + 30 + name_len + extra_len + info.file_size // 2


def test_a_flipped_byte_in_tensor_data_is_caught_and_the_previous_checkpoint_used(tiny_progan_overrides):
    r, ckpts = _two_checkpoints(tiny_progan_overrides)
    newest = ckpts[-1]
    raw = bytearray(newest.read_bytes())
    raw[_tensor_data_offset(newest)] ^= 0x10
    newest.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match="digest does not match"):
        ckpt_io.load_checkpoint(newest)
    with pytest.warns(UserWarning, match=f"skipping unreadable checkpoint.*{newest.name}.*digest") as rec:
        again = _progan({**tiny_progan_overrides, "total_kimg": 0.032, "ckpt_every_kimg": 0.016})
    assert again.trainer.resumed_from == ckpts[-2] and again.summary["nimg"] == 32  # retrained the corrupt part
    skip = [str(w.message) for w in rec if "skipping" in str(w.message)]
    assert all("\n" not in m and "weights_only=False" not in m for m in skip)


def test_random_byte_flips_never_load_changed_content(tiny_progan_overrides):
    _, ckpts = _two_checkpoints(tiny_progan_overrides)
    good = ckpts[-1].read_bytes()
    original = ckpt_io.load_checkpoint(ckpts[-1])
    rnd = random.Random(0)
    for _ in range(16):
        raw = bytearray(good)
        raw[rnd.randrange(len(raw))] ^= 1 << rnd.randrange(8)
        ckpts[-1].write_bytes(bytes(raw))
        try:
            loaded = ckpt_io.load_checkpoint(ckpts[-1])
        except CheckpointError:
            continue
        assert ckpt_io.content_digest(loaded) == ckpt_io.content_digest(original)  # a flip in unused bytes


@pytest.mark.parametrize("content,reason", [(b"", "empty"), (b"PK\x03\x04 truncated", "truncated or corrupt")])
def test_unreadable_checkpoint_reasons_are_one_line(tmp_path, content, reason):
    p = tmp_path / "ckpt-000000001.pt"
    p.write_bytes(content)
    with pytest.raises(CheckpointError, match=reason) as info:
        ckpt_io.load_checkpoint(p)
    assert "\n" not in str(info.value) and str(p) in str(info.value)


def test_digest_matches_an_independent_round_trip(tmp_path):
    payload = {"format": 1, "a": torch.arange(6.0).view(2, 3), "b": [1, 2.5, "x", None], "c": {3: torch.ones(1)},
               "bf16": torch.ones(2, dtype=torch.bfloat16), "t": (0.0, 0.99)}
    ckpt_io.save_checkpoint(payload, tmp_path / "ck.pt")
    raw = torch.load(tmp_path / "ck.pt", weights_only=True)
    assert raw["digest"] == ckpt_io.content_digest(payload)
    assert ckpt_io.content_digest({**payload, "a": payload["a"] + 1}) != raw["digest"]
    assert ckpt_io.content_digest({**payload, "t": [0.0, 0.99]}) != raw["digest"]  # structure counts too


# ---- 3. no pickle anywhere on the load path -------------------------------------------------------------------
class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _plant(path: Path, marker: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".pt":
        torch.save({"format": 1, "x": _Exploit(marker)}, path)
    else:
        path.write_bytes(pickle.dumps(_Exploit(marker)))


def test_planted_pickles_in_every_cache_and_checkpoint_location_never_run(tmp_path, tiny_progan_overrides,
                                                                          monkeypatch):
    marker = tmp_path / "PWNED"
    out = Path(tiny_progan_overrides["out_dir"])
    cfg = progan.load_config(scale="smoke", **tiny_progan_overrides)
    n = min(cfg.final_num_images, 1024, cfg.dataset_size)
    key = common.fidelity_cache_key(cfg, resolution=cfg.resolution, n=n)
    from gancore.metrics.fidelity import _extractor

    fe_id = _extractor("shapes", None)[2]
    for p in [out / "checkpoints" / "ckpt-000999999.pt",  # newest by name: tried first
              out.parent / ".gancore-metrics-cache" / f"{key}-{fe_id}.npz",
              out.parent / ".fidelity-cache" / f"{key}-shapes-net-features-features.pt",
              Path(os.environ.get("TORCH_HOME", tmp_path / "th")) / "fidelity_cache" / "x.pt"]:
        _plant(p, marker)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    with pytest.warns(UserWarning, match="pickled Python object, which gancore never loads"):
        r = progan.run(cfg, progress=False, evaluate=True)
    assert r.summary["final"]["fid"] > 0 and not marker.exists()
    # Inception weights, a data-cache entry and a CIFAR-10 batch, each crafted the same way.
    weights = tmp_path / "inception.pth"
    _plant(weights, marker)
    from gancore.metrics.fidelity import fidelity_metrics

    imgs = torch.zeros(4, 3, 8, 8, dtype=torch.uint8)
    with pytest.raises(ValueError, match="unreadable or not plain tensors"):
        fidelity_metrics(imgs, imgs, metrics=("fid",), extractor="inception", inception_weights=weights)
    from gancore.data.cache import MultiResCache

    _plant(tmp_path / "cache.pt", marker)
    with pytest.raises(ValueError, match="cannot read cache file"):
        MultiResCache.load(tmp_path / "cache.pt")
    from gancore.data import cifar

    folder = tmp_path / "c10" / cifar.CIFAR10_FOLDER
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["batches.meta"]:
        _plant(folder / name, marker)
    monkeypatch.setattr("torchvision.datasets.utils.check_integrity", lambda fpath, md5=None: True)
    with pytest.raises(DataError, match="not a CIFAR batch"):
        cifar.load_cifar10(tmp_path / "c10")
    assert not marker.exists()


def test_metrics_cache_leaves_the_global_rng_alone(tmp_path, tiny_progan_overrides):
    """Two identical runs in one parent folder: the second finds the feature cache filled, and yet both end with
    the same global torch RNG state in their checkpoint (torch's DataLoader draws from it)."""
    states = []
    for name in ("a", "b"):
        r = _progan({**tiny_progan_overrides, "out_dir": str(tmp_path / name)}, evaluate=True)
        states.append(ckpt_io.load_checkpoint(ckpt_io.list_checkpoints(r.out_dir / "checkpoints")[-1])["rng"])
    assert list((tmp_path / ".gancore-metrics-cache").glob("*.npz"))
    assert torch.equal(states[0]["torch"], states[1]["torch"])


def test_feature_cache_hit_gives_the_same_metrics_as_a_fresh_extraction(tmp_path):
    from gancore.metrics.fidelity import fidelity_metrics

    g = torch.Generator().manual_seed(0)
    real = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=g)
    fake = torch.randint(0, 256, (48, 3, 16, 16), dtype=torch.uint8, generator=g)
    kw = dict(metrics=("fid", "is", "kid", "prc"), kid_subset_size=16)
    fresh = fidelity_metrics(fake, real, **kw)
    filled = fidelity_metrics(fake, real, cache_dir=tmp_path, cache_key="k", **kw)
    hit = fidelity_metrics(fake, real, cache_dir=tmp_path, cache_key="k", **kw)
    assert fresh == filled == hit
    (entry,) = tmp_path.glob("k-shapes-net-*.npz")
    with np.load(entry, allow_pickle=False) as npz:  # loads with pickles refused
        assert npz["layer:features"].shape == (48, 128)


# ---- 4. "last good" must be good --------------------------------------------------------------------------------
def test_nonfinite_tensors_names_exactly_the_bad_ones():
    named = [("a", torch.ones(3)), ("b", torch.tensor([1.0, float("inf")])), ("c", torch.tensor([float("nan")])),
             ("steps", torch.tensor([5])), ("half", torch.tensor([1e4], dtype=torch.bfloat16)), ("empty", torch.ones(0))]
    expected = [n for n, t in named if t.is_floating_point() and not torch.isfinite(t).all()]
    assert ckpt_io.nonfinite_tensors(named) == expected == ["b", "c"]


@pytest.mark.parametrize("lr", [1e6, 1e4])
def test_progan_divergence_in_optimizer_state_stops_before_writing(tiny_progan_overrides, lr):
    overrides = {**tiny_progan_overrides, "lr": lr, "ckpt_every_kimg": 0.008}
    with pytest.raises(TrainingDiverged, match=r"(non-finite values|non-finite loss).*restart=True"):
        _progan(overrides)
    for p in ckpt_io.list_checkpoints(Path(overrides["out_dir"]) / "checkpoints"):
        ck = ckpt_io.load_checkpoint(p)
        assert not ckpt_io.nonfinite_tensors(
            [(k, v) for net in ("G", "D", "G_ema") for k, v in ck[net].items()]
            + [(str(i), t) for o in ck["optimizers"].values() for i, s in o["state"].items() for t in s.values()])


def test_biggan_huge_r1_gamma_is_stopped_with_the_tensor_named(tmp_path):
    cfg = biggan.load_config(scale="smoke", out_dir=str(tmp_path / "bg"), r1_gamma=1e30, total_kimg=0.128,
                             ckpt_every_kimg=0.064, dataset_size=64)
    with pytest.raises(TrainingDiverged, match=r"non-finite .*(D\.|optimizer D|loss)"):
        biggan.run(cfg, progress=False, evaluate=False)


def test_restart_moves_the_diverged_run_aside_and_then_resumes_as_usual(tiny_progan_overrides):
    out = Path(tiny_progan_overrides["out_dir"])
    _progan({**tiny_progan_overrides, "total_kimg": 0.016})
    with pytest.raises(ConfigError, match="different config.*restart=True"):
        _progan({**tiny_progan_overrides, "lr": 0.002})
    with pytest.warns(UserWarning, match="moved to previous-"):
        r = _progan({**tiny_progan_overrides, "lr": 0.002, "restart": True})
    (aside,) = out.glob("previous-*")
    assert ckpt_io.list_checkpoints(aside / "checkpoints") and (aside / "log.jsonl").is_file()  # nothing lost
    assert r.trainer.resumed_from is None and r.summary["status"] == "complete"
    again = _progan({**tiny_progan_overrides, "lr": 0.002, "restart": True})
    assert again.summary["status"] == "complete" and len(list(out.glob("previous-*"))) == 1


# ---- 5. every parameter checked before anything trains ----------------------------------------------------------
def _nb(**kw):
    from gancore.notebook import resolve_notebook_params
    from gancore.recipes.biggan.config import BigGANConfig

    ns = dict(scale="smoke", preset="", dataset=None, data_dir=None, out_dir=None, seed=0, device="auto",
              dry_run=False, table1_row=-1, run_claims=True, pretrained=None, overrides={})
    ns.update(kw)
    return resolve_notebook_params(BigGANConfig, paper="biggan", namespace=ns, declared=list(ns),
                                   notebook_only=("pretrained",))


@pytest.mark.parametrize("params,match", [
    (dict(run_claims="maybe"), r"run_claims='maybe' has the wrong type; expected bool"),
    (dict(pretrained="/nonexistent/biggan.bin"), r"pretrained='/nonexistent/biggan.bin' is not a file"),
    (dict(overrides={"scale": "full"}), r"scale='full' cannot be set in overrides.*-p scale"),
    (dict(overrides={"paper": "progan"}), r"paper='progan' cannot be set in overrides"),
    (dict(overrides={"lr_g": float("nan")}), r"lr_g=nan must be a finite number"),
    (dict(overrides={"batch_size": 10**9, "accumulate": 1}), r"cannot fit in memory: it needs at least .* TB"),
    (dict(overrides={"dataset_size": 10**9}), r"preparing the data store needs .* TB .* set store_dir"),
    (dict(overrides={"dataset_size": 10**9, "data_in_memory": "yes"}), r"cannot fit in memory.*dataset .* TB"),
    (dict(overrides={"ch": 100000}), r"cannot fit in memory.*weights, gradients, Adam state"),
    (dict(dataset="folder", data_dir="/nonexistent/images"), r"data_dir='/nonexistent/images' does not exist"),
])
def test_notebook_validation_refuses_bad_parameters(params, match):
    with pytest.raises(ConfigError, match=match):
        _nb(**params)


def test_numbers_written_as_text_and_true_false_strings_are_accepted():
    cfg, opts = _nb(run_claims="false", dry_run="true", overrides={"lr_g": "1e-4"})
    assert cfg.lr_g == 1e-4 and cfg.dry_run is True and opts["run_claims"] is False


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_device_cuda_without_cuda_fails_in_the_validation_cell():
    with pytest.raises(ConfigError, match="CUDA is not available"):
        _nb(device="cuda")


def test_progan_ridiculous_sizes_are_refused_before_allocating():
    for overrides in (dict(batch_size=10**9, batch_sizes={}), dict(fmap_base=10**7, fmap_max=10**6)):
        cfg = progan.load_config(scale="smoke", **overrides)
        with pytest.raises(ConfigError, match="cannot fit in memory"):
            preflight.check(cfg)


def _train_script(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "scripts/train.py", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"})


def _one_image_folder(root: Path) -> Path:
    (root / "only").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "only" / "a.png")
    return root


@pytest.mark.parametrize("case", ["missing", "empty", "one_image"])
def test_train_script_prints_one_line_for_data_errors(tmp_path, case):
    folder = {"missing": lambda: tmp_path / "nope", "empty": lambda: (tmp_path / "empty").mkdir() or tmp_path / "empty",
              "one_image": lambda: _one_image_folder(tmp_path / "one")}[case]()
    proc = _train_script("biggan", "--scale", "smoke", "--set", "dataset=folder", f"data_dir={folder}",
                         f"out_dir={tmp_path / 'run'}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("biggan: ") and ("Error" in last) and str(folder) in last


# ---- 6. image folders --------------------------------------------------------------------------------------------
def test_16_bit_png_is_scaled_not_clipped(tmp_path):
    from gancore.data.folder import decode_image

    ramp = np.linspace(0, 65535, 32 * 32).reshape(32, 32).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "g16.png")
    out = decode_image(tmp_path / "g16.png", 32)
    np.testing.assert_allclose(out[..., 0].astype(float), ramp / 257.0, atol=0.51)  # independent 16→8-bit scale
    assert abs(out.mean() - 127.5) < 1


def test_broken_links_empty_classes_links_to_root_and_tiny_images_are_named(tmp_path):
    from gancore.data.folder import load_image_folder

    for cls in ("cls0", "cls1"):
        (tmp_path / cls).mkdir()
        for i in range(2):
            Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(tmp_path / cls / f"{i}.png")
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "cls1" / "tiny.png")
    (tmp_path / "cls0" / "loop.png").symlink_to("loop.png")
    (tmp_path / "cls0" / "dangling.png").symlink_to(tmp_path / "gone.png")
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "again").symlink_to(tmp_path, target_is_directory=True)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        images, labels, names = load_image_folder(tmp_path, resolution=32)
    text = "\n".join(str(w.message) for w in rec)
    assert names == ["cls0", "cls1"] and images.shape[0] == 5
    assert "loop.png" in text and "dangling.png" in text
    assert "empty_class" in text and "links back to the data folder" in text
    assert "tiny.png (4 px)" in text and "upscaled" in text


# ---- 7. start-up ------------------------------------------------------------------------------------------------
def test_importing_a_recipe_does_not_import_scipy():
    code = "import sys, gancore.recipes.progan, gancore.recipes.biggan; print('scipy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.stdout.strip() == "False", out.stderr
