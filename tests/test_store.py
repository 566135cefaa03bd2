"""Prepared data stores (gancore.data.store) and streaming from them: the store holds exactly what the in-memory
loader decodes, a killed prepare continues, a changed or damaged source is noticed, training streamed from disk is
bit for bit the in-memory run (ProGAN through a fade-in, BigGAN) and resumes exactly, ranks read disjoint slices,
and the preflight counts the data."""
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from state_compare import assert_same_state

from gancore import checkpoint as ckpt_io
from gancore import preflight
from gancore.config import ConfigError
from gancore.data import MultiResCache, build_dataset, load_image_folder, pooled, pooled_uint8, store
from gancore.data.imageset import ImageData
from gancore.engine.data import RealImages
from gancore.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def _folder(root: Path, *, per_class: int = 12, size=(20, 14), corrupt: bool = True) -> Path:
    rng = np.random.default_rng(0)
    for c in ("cats", "dogs"):
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(root / c / f"{i:02d}.png")
    if corrupt:
        (root / "cats" / "zz-broken.png").write_bytes(b"not an image")
    return root


def _build(root: Path, **kwargs) -> ImageData:
    kwargs = {"resolution": 8, "data_dir": root, "in_memory": "no", "workers": 0, "progress": False, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_dataset("folder", **kwargs)


def test_the_store_holds_what_the_in_memory_loader_decodes(tmp_path):
    root = _folder(tmp_path / "data")
    with pytest.warns(UserWarning, match="skipped 1 unreadable image file"):
        data = build_dataset("folder", resolution=8, data_dir=root, in_memory="no", workers=0, progress=False)
    assert not data.in_memory and data.store is not None
    with pytest.warns(UserWarning, match="skipped 1"):
        images, labels, names = load_image_folder(root, resolution=8)
    assert torch.equal(data.read(torch.arange(len(data))), images) and torch.equal(data.labels, labels)
    assert data.class_names == names == ["cats", "dogs"] and len(data) == 24
    meta = data.store.meta
    assert meta["complete"] and meta["skipped_count"] == 1 and meta["kind"] == "folder" and meta["resolution"] == 8
    # Lower levels pooled on demand equal the stored pyramid of earlier versions, bit for bit.
    pyramid = MultiResCache(images=images)
    for res in (4, 8):
        assert torch.equal(data.images(res), pyramid.at(res))
    # max_images takes an evenly spaced subset; "yes" loads the same store into memory.
    assert len(_build(root, max_images=10)) == 10
    held = _build(root, in_memory="yes")
    assert held.in_memory and torch.equal(held.top(), images)


@pytest.mark.parametrize("res", [64, 32])
def test_pooled_levels_equal_the_stored_pyramid(res):
    images = torch.randint(0, 256, (6, 3, res, res), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    pyramid = MultiResCache(images=images)
    for r in pyramid.resolutions:
        assert torch.equal(pooled_uint8(images, r), pyramid.at(r))
        assert torch.equal(pooled(images, r), pyramid.at(r).float())  # what the loader feeds on, before scaling
    if torch.cuda.is_available():  # the loader pools on the training device
        assert torch.equal(pooled(images.cuda(), 4).cpu(), pyramid.at(4).float())


def test_a_killed_prepare_continues_where_it_stopped(tmp_path, monkeypatch):
    root = _folder(tmp_path / "data", per_class=40, corrupt=False)
    calls, real = [], store._decode_job

    def dies_after_two(job):
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        calls.append(len(job[2]))
        return real(job)

    monkeypatch.setattr(store, "_decode_job", dies_after_two)
    with pytest.raises(KeyboardInterrupt):
        _build(root)
    partial = next((root / ".gancore_cache").glob("*.partial"))
    status = np.load(partial / "status.npy")
    assert (status == 1).sum() == sum(calls) and (status == 0).sum() == 80 - sum(calls)
    resumed = []
    monkeypatch.setattr(store, "_decode_job", lambda job: (resumed.append(len(job[2])), real(job))[1])
    data = _build(root)
    assert sum(resumed) == 80 - sum(calls)  # only what was not decoded yet
    images, _, _ = load_image_folder(root, resolution=8)
    assert torch.equal(data.read(torch.arange(80)), images) and not list((root / ".gancore_cache").glob("*.partial"))


@pytest.mark.parametrize("change", ["add", "edit", "remove"])
def test_a_changed_source_is_noticed(tmp_path, change):
    root = _folder(tmp_path / "data", corrupt=False)
    first = _build(root)
    target = root / "dogs" / "03.png"
    if change == "add":
        Image.new("RGB", (9, 9), (1, 2, 3)).save(root / "dogs" / "new.png")
    elif change == "edit":
        Image.new("RGB", (20, 14), (250, 0, 0)).save(target)
        os.utime(target, ns=(1, 1))
    else:
        target.unlink()
    with pytest.raises(DataError, match="no longer matches its source"):
        _build(root, on_changed="refuse")
    with pytest.warns(UserWarning, match="preparing the store again"):
        again = build_dataset("folder", resolution=8, data_dir=root, in_memory="no", workers=0, progress=False)
    assert len(again) == len(first) + {"add": 1, "edit": 0, "remove": -1}[change]
    images, _, _ = load_image_folder(root, resolution=8)
    assert torch.equal(again.read(torch.arange(len(again))), images)


def test_a_damaged_store_is_refused_with_its_path_or_prepared_again(tmp_path):
    root = _folder(tmp_path / "data", corrupt=False)
    folder = _build(root).store.folder
    path = folder / "images.npy"
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 100)
    with pytest.raises(DataError, match="truncated or damaged"):
        store.StoreReader(folder)
    with pytest.warns(UserWarning, match="preparing it again"):
        again = build_dataset("folder", resolution=8, data_dir=root, in_memory="no", workers=0, progress=False)
    assert len(again) == 24
    with pytest.raises(DataError, match="not a complete gancore data store"):
        store.StoreReader(tmp_path)


def test_a_store_backed_set_travels_as_its_path(tmp_path):
    import pickle

    data = _build(_folder(tmp_path / "data", corrupt=False))
    blob = pickle.dumps(data)
    assert len(blob) < 2000  # the path, not the images (what Ray's object store receives)
    back = pickle.loads(blob)
    assert torch.equal(back.read(torch.arange(5)), data.read(torch.arange(5)))


@pytest.mark.parametrize("workers", [0, 2])
def test_prefetched_batches_are_the_batches_asked_for(tmp_path, workers):
    data = _build(_folder(tmp_path / "data", corrupt=False))
    reals = RealImages(data=data, workers=workers)
    plain = RealImages(data=data, workers=0)
    cpu = torch.device("cpu")
    for n, res, guess in [(4, 8, 4), (4, 4, 6), (6, 8, 6)]:  # the second guess is wrong: read again, same result
        idx = torch.randperm(len(data), generator=torch.Generator().manual_seed(n + res))[:n]
        x, y = reals.batch(idx, resolution=res, device=cpu)
        ref_x, ref_y = plain.batch(idx, resolution=res, device=cpu)
        assert torch.equal(x, ref_x) and torch.equal(y, ref_y) and x.shape == (n, 3, res, res)
        reals.prefetch(torch.arange(guess))
    reals.close()


def _progan(tmp_path, name, data_dir, **over):
    from gancore.recipes import progan

    cfg = progan.load_config(scale="smoke", out_dir=str(tmp_path / name), dataset="folder", data_dir=str(data_dir),
                             resolution=8, fmap_base=32, fmap_max=8, latent_dim=8, batch_sizes={}, batch_size=4,
                             stabilize_kimg=0.016, fade_kimg=0.016, log_every_kimg=0.008, ckpt_every_kimg=0.008,
                             metrics_every_kimg=0.0, num_threads=1, **over)
    return progan.run(cfg, progress=False, evaluate=False)


def _biggan(tmp_path, name, data_dir, **over):
    from gancore.recipes import biggan

    cfg = biggan.load_config(scale="smoke", out_dir=str(tmp_path / name), dataset="folder", data_dir=str(data_dir),
                             batch_size=8, accumulate=2, sv_every_kimg=0.0, log_every_kimg=0.032,
                             ckpt_every_kimg=0.032, num_threads=1, **over)
    return biggan.run(cfg, progress=False, evaluate=False)


def _state(run) -> dict:
    _, ck = ckpt_io.latest_good_checkpoint(Path(run.cfg.out_dir) / "checkpoints")
    return {k: ck[k] for k in ("G", "D", "G_ema", "optimizers", "stream", "rng", "nimg", "step")}


@pytest.mark.parametrize("paper,stop", [("progan", 0.024), ("biggan", 0.032)])  # progan: mid fade-in 4→8
def test_streamed_training_is_the_in_memory_run_and_resumes_exactly(tmp_path, paper, stop):
    train = {"progan": _progan, "biggan": _biggan}[paper]
    data_dir = _folder(tmp_path / "data", size=(40, 36), corrupt=False)
    end = {"progan": 0.056, "biggan": 0.064}[paper]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        memory = train(tmp_path, "memory", data_dir, data_in_memory="yes", total_kimg=end)
        streamed = train(tmp_path, "streamed", data_dir, data_in_memory="no", total_kimg=end, loader_workers=2)
        assert not streamed.data.in_memory and memory.data.in_memory
        assert_same_state(_state(memory), _state(streamed))
        train(tmp_path, "killed", data_dir, data_in_memory="no", total_kimg=stop)  # the run stops here …
        resumed = train(tmp_path, "killed", data_dir, data_in_memory="no", total_kimg=end)  # … and goes on
    assert resumed.trainer.resumed_from is not None
    assert_same_state(_state(memory), _state(resumed))


def test_ranks_read_disjoint_slices_of_the_shared_store(tmp_path):
    data_dir = _folder(tmp_path / "data", size=(16, 16), corrupt=False)
    script = tmp_path / "ranks.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, warnings
        import torch
        from gancore import distributed
        from gancore.recipes import progan
        from gancore.engine import Trainer
        from gancore.engine.data import RealImages, build_data
        warnings.simplefilter("ignore")
        info = distributed.init_from_env(torch.device("cpu"))
        cfg = progan.load_config(scale="smoke", dataset="folder", data_dir={str(data_dir)!r}, resolution=8,
                                 data_in_memory="no", out_dir={str(tmp_path / "run")!r}, num_threads=1)
        data = build_data(cfg, resolution=8)  # rank 0 prepares; the other waits on the store's lock
        reads, read_into = [], data.store.read_into
        data.store.read_into = lambda idx, out: (reads.extend(int(r) for r in data.store.valid[idx]),
                                                 read_into(idx, out))[1]
        trainer = Trainer(cfg=cfg, method=progan.ProGANMethod(cfg=cfg, device=torch.device("cpu")),
                          data=RealImages(data=data, workers=0), device=torch.device("cpu"))
        asked = [trainer.reals(3)[1].tolist() for _ in range(4)]
        json.dump({{"reads": reads, "labels": asked}}, open({str(tmp_path)!r} + f"/rank{{info.rank}}.json", "w"))
        torch.distributed.destroy_process_group()
    """))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    reads = [json.loads((tmp_path / f"rank{r}.json").read_text())["reads"] for r in (0, 1)]
    assert len(reads[0]) == len(reads[1]) == 12 and not set(reads[0]) & set(reads[1])  # 4 steps × 3 images each
    assert len(list((data_dir / ".gancore_cache").glob("folder-8-*/meta.json"))) == 1  # one store, shared


def test_preflight_counts_the_data_and_refuses_a_store_that_cannot_fit(tmp_path, monkeypatch):
    from gancore.data import footprint
    from gancore.recipes import biggan

    root = _folder(tmp_path / "data", corrupt=False)
    cfg = biggan.load_config(scale="smoke", dataset="folder", data_dir=str(root), out_dir=str(tmp_path / "r"),
                             resolution=32, data_in_memory="no")
    found = footprint.data_footprint(cfg)
    assert found.images == 24 and found.disk_bytes == 24 * 3 * 32 * 32 and not found.in_memory
    assert found.host_bytes == 2 * cfg.batch_size * 3 * 32 * 32  # the loader's two minibatches, not the data set
    usage = type("Usage", (), {"free": 1000})
    monkeypatch.setattr("shutil.disk_usage", lambda path: usage)
    with pytest.raises(ConfigError, match="preparing the data store needs .* set store_dir"):
        preflight.check(cfg)
    monkeypatch.undo()
    _build(root, resolution=32)  # once prepared, nothing more is written
    assert footprint.data_footprint(cfg).disk_bytes == 0


def test_the_prepare_command(tmp_path):
    root = _folder(tmp_path / "data", corrupt=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "gancore.data", "prepare", "--dataset", "folder", "--data-dir",
                          str(root), "--resolution", "16", "--workers", "0"], capture_output=True, text=True, env=env,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "24 images at 16²" in out.stdout
    folder = next((root / ".gancore_cache").glob("folder-16-*"))
    info = subprocess.run([sys.executable, "-m", "gancore.data", "info", str(folder)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=120)
    assert json.loads(info.stdout)["count"] == 24
