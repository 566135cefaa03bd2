"""Tests for gancore.data: shapes, CIFAR-10, image folders, multi-resolution cache, batch stream, registry."""
from __future__ import annotations

import math
import os
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.path import Path as PolygonPath
from PIL import Image

from gancore.data import (
    SHAPE_CLASSES,
    BatchStream,
    ImageData,
    MultiResCache,
    ShapesDataset,
    build_dataset,
    downsample,
    load_cifar10,
    load_image_folder,
    render_shapes,
    to_float,
    to_uint8,
)
from gancore.data import registry, shapes, store
from gancore.data.cache import CACHE_FOLDER

NUM_CLASSES = len(SHAPE_CLASSES)


# --------------------------------------------------------------------------------------
# shapes
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("resolution", [4, 8, 16, 32, 64, 128, 256])
def test_render_shapes_shapes_and_dtypes(resolution):
    n = 3 if resolution >= 128 else 10
    images, labels = render_shapes(n, resolution=resolution, seed=0)
    assert images.shape == (n, 3, resolution, resolution)
    assert images.dtype == torch.uint8
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert labels.min() >= 0 and labels.max() < NUM_CLASSES


@pytest.mark.parametrize("resolution", [0, 2, 3, 12, 48, 512, 32.0, "32", True])
def test_invalid_resolution_raises_listing_valid_values(resolution):
    with pytest.raises(ValueError, match=r"valid values are \[4, 8, 16, 32, 64, 128, 256\]"):
        render_shapes(2, resolution=resolution, seed=0)


@pytest.mark.parametrize("kwargs", [{"n": -1}, {"n": 2, "start": -3}, {"n": 1.5}])
def test_invalid_counts_raise(kwargs):
    with pytest.raises(ValueError, match="non-negative int"):
        render_shapes(**kwargs, resolution=8, seed=0)


def test_render_zero_images():
    images, labels = render_shapes(0, resolution=8, seed=0)
    assert images.shape == (0, 3, 8, 8) and labels.shape == (0,)


@pytest.mark.parametrize("splits", [(50, 50), (1, 99), (30, 40, 30)])
def test_render_is_chunk_invariant(splits):
    whole, whole_labels = render_shapes(sum(splits), resolution=16, seed=7)
    parts, start = [], 0
    for n in splits:
        parts.append(render_shapes(n, resolution=16, seed=7, start=start))
        start += n
    assert torch.equal(torch.cat([p[0] for p in parts]), whole)
    assert torch.equal(torch.cat([p[1] for p in parts]), whole_labels)


def test_render_crosses_parameter_chunk_boundary():
    boundary = shapes.PARAM_CHUNK
    whole, labels = render_shapes(boundary + 20, resolution=8, seed=3)
    tail, tail_labels = render_shapes(40, resolution=8, seed=3, start=boundary - 20)
    assert torch.equal(tail, whole[boundary - 20 :])
    assert torch.equal(tail_labels, labels[boundary - 20 :])


def test_render_is_deterministic_and_seed_dependent():
    a, la = render_shapes(20, resolution=16, seed=1)
    b, lb = render_shapes(20, resolution=16, seed=1)
    c, lc = render_shapes(20, resolution=16, seed=2)
    assert torch.equal(a, b) and torch.equal(la, lb)
    assert not torch.equal(a, c)
    assert (a.float() - c.float()).abs().mean() > 20  # unrelated scenes, not a small perturbation


def test_every_class_appears_roughly_uniformly():
    _, labels = render_shapes(800, resolution=4, seed=0)
    counts = torch.bincount(labels, minlength=NUM_CLASSES)
    assert (counts > 0).all()
    expected = 800 / NUM_CLASSES
    assert (counts - expected).abs().max() < 0.4 * expected


def test_class_override_keeps_scene():
    images, labels = render_shapes(24, resolution=32, seed=5)
    forced, forced_labels = render_shapes(24, resolution=32, seed=5, classes=labels.tolist())
    assert torch.equal(forced, images) and torch.equal(forced_labels, labels)
    wanted = torch.arange(24) % NUM_CLASSES
    other, other_labels = render_shapes(24, resolution=32, seed=5, classes=wanted)
    assert torch.equal(other_labels, wanted)
    # Only the shape changes: corners (outside every shape's bounding circle) stay the same.
    assert torch.equal(other[..., :2, :2], images[..., :2, :2])


@pytest.mark.parametrize("classes", [[0, 1], [0, 1, NUM_CLASSES], [-1, 0, 0]])
def test_invalid_class_override_raises(classes):
    with pytest.raises(ValueError, match="classes"):
        render_shapes(3, resolution=8, seed=0, classes=classes)


def test_value_ranges_and_shape_contrast():
    images, _ = render_shapes(64, resolution=32, seed=0)
    x = images.float()
    assert x.min() < 30 and x.max() > 225  # colours use the whole 8-bit range
    # The shape stands out: each image's centre region differs strongly from its corners in
    # at least some pixels (the minimum foreground/background colour distance).
    per_image_spread = (x.amax(dim=(2, 3)) - x.amin(dim=(2, 3))).norm(dim=1)
    assert (per_image_spread > 100).all()


def test_same_scene_at_every_resolution():
    hi, labels_hi = render_shapes(32, resolution=64, seed=9)
    lo, labels_lo = render_shapes(32, resolution=16, seed=9)
    assert torch.equal(labels_hi, labels_lo)
    pooled = F.avg_pool2d(hi.float(), 4)
    same = (pooled - lo.float()).abs().mean()
    shuffled = (pooled - lo.float().roll(1, dims=0)).abs().mean()
    assert same < 8 and shuffled > 5 * same


def _polygon_sdf(points: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """Brute-force signed distance to a closed polygon (negative inside)."""
    a, b = vertices, np.roll(vertices, -1, axis=0)
    ab = b - a
    ap = points[:, None, :] - a[None]
    t = np.clip((ap * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    dist = np.linalg.norm(ap - t[..., None] * ab, axis=-1).min(axis=1)
    inside = PolygonPath(vertices).contains_points(points)
    return np.where(inside, -dist, dist)


def _star_vertices() -> np.ndarray:
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, 1.0, 0.45)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)


_POLYGONS = {
    "square": np.array([[0.7, 0.7], [-0.7, 0.7], [-0.7, -0.7], [0.7, -0.7]]),
    "triangle": np.array([[0.0, 1.0], [-math.sqrt(3) / 2, -0.5], [math.sqrt(3) / 2, -0.5]]),
    "star": _star_vertices(),
    "cross": np.array(
        [[0.95, 0.3], [0.3, 0.3], [0.3, 0.95], [-0.3, 0.95], [-0.3, 0.3], [-0.95, 0.3],
         [-0.95, -0.3], [-0.3, -0.3], [-0.3, -0.95], [0.3, -0.95], [0.3, -0.3], [0.95, -0.3]]
    ),
}


@pytest.mark.parametrize("name", sorted(_POLYGONS))
def test_polygon_sdfs_match_brute_force_distance(name):
    rng = np.random.default_rng(0)
    points = rng.uniform(-1.3, 1.3, size=(2000, 2))
    expected = _polygon_sdf(points, _POLYGONS[name])
    sdf = shapes._SDFS[SHAPE_CLASSES.index(name)]
    got = sdf(torch.tensor(points[:, 0], dtype=torch.float64), torch.tensor(points[:, 1], dtype=torch.float64))
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-6)


@pytest.mark.parametrize("name", SHAPE_CLASSES)
def test_sdfs_fit_the_unit_disk_and_have_area(name):
    g = torch.linspace(-1.2, 1.2, 241)
    x, y = torch.meshgrid(g, g, indexing="xy")
    d = shapes._SDFS[SHAPE_CLASSES.index(name)](x, y)
    inside = d < 0
    assert torch.isfinite(d).all()
    assert torch.hypot(x, y)[inside].max() <= 1.0  # rendering keeps the unit disk in frame
    area = inside.float().mean().item() * 2.4**2 / math.pi
    assert 0.3 < area < 0.95  # large enough to be recognisable at low resolution


def test_class_masks_differ_pairwise():
    g = torch.linspace(-1, 1, 64)
    x, y = torch.meshgrid(g, g, indexing="xy")
    masks = torch.stack([(f(x, y) < 0).flatten() for f in shapes._SDFS]).float()
    inter = masks @ masks.T
    union = masks.sum(1)[:, None] + masks.sum(1)[None, :] - inter
    iou = inter / union
    off_diagonal = iou[~torch.eye(NUM_CLASSES, dtype=torch.bool)]
    assert off_diagonal.max() < 0.85


def test_classes_change_rendered_images():
    scenes = 16
    renders = [
        render_shapes(scenes, resolution=32, seed=4, classes=[c] * scenes)[0].float()
        for c in range(NUM_CLASSES)
    ]
    for a in range(NUM_CLASSES):
        for b in range(a + 1, NUM_CLASSES):
            changed = ((renders[a] - renders[b]).abs().amax(dim=1) > 40).float().mean(dim=(1, 2))
            assert changed.mean() > 0.02, (SHAPE_CLASSES[a], SHAPE_CLASSES[b])


def test_shapes_dataset_items():
    ds = ShapesDataset(resolution=8, size=5, seed=2)
    images, labels = render_shapes(5, resolution=8, seed=2)
    assert len(ds) == 5
    image, label = ds[3]
    assert torch.equal(image, images[3]) and label == int(labels[3]) and isinstance(label, int)
    with pytest.raises(ValueError, match="size"):
        ShapesDataset(resolution=8, size=0)


def test_float_uint8_round_trip():
    images, _ = render_shapes(4, resolution=8, seed=0)
    x = to_float(images)
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1
    assert torch.equal(to_uint8(x), images)
    assert to_uint8(torch.tensor([-3.0, -1.0, 0.0, 1.0, 5.0])).tolist() == [0, 0, 128, 255, 255]
    with pytest.raises(ValueError, match="uint8"):
        to_float(x)
    with pytest.raises(ValueError, match="floating"):
        to_uint8(images)


# --------------------------------------------------------------------------------------
# CIFAR-10 (a tiny archive in CIFAR's pickle format, written by the test)
# --------------------------------------------------------------------------------------

CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _write_tiny_cifar(root: Path, per_batch: int = 2) -> dict[str, tuple[np.ndarray, list[int]]]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    written = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, size=per_batch).tolist()
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels}, f)
        written[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": CIFAR_NAMES}, f)
    return written


@pytest.fixture
def skip_cifar_md5(monkeypatch):
    """torchvision checks the real archive's md5s; the tiny test archive only needs to exist."""
    monkeypatch.setattr(
        "torchvision.datasets.utils.check_integrity", lambda fpath, md5=None: os.path.isfile(fpath)
    )


@pytest.mark.parametrize("train", [True, False])
def test_cifar_tiny_archive_round_trip(tmp_path, skip_cifar_md5, train):
    written = _write_tiny_cifar(tmp_path)
    images, labels, names = load_cifar10(tmp_path, train=train)
    batches = [f"data_batch_{i}" for i in range(1, 6)] if train else ["test_batch"]
    data = np.concatenate([written[b][0] for b in batches]).reshape(-1, 3, 32, 32)
    expected_labels = sum((written[b][1] for b in batches), [])
    assert images.dtype == torch.uint8 and images.shape == (len(expected_labels), 3, 32, 32)
    np.testing.assert_array_equal(images.numpy(), data)  # CIFAR rows are R, G, B planes
    assert labels.dtype == torch.int64 and labels.tolist() == expected_labels
    assert names == CIFAR_NAMES


def test_cifar_missing_raises_with_hint(tmp_path):
    with pytest.raises(FileNotFoundError, match="download=True") as info:
        load_cifar10(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)


def test_cifar_wrong_checksum_is_a_clear_error(tmp_path):
    _write_tiny_cifar(tmp_path)  # not the real files, so torchvision's md5 check fails
    with pytest.raises(ValueError, match="integrity"):
        load_cifar10(tmp_path)


def test_build_cifar10_uses_disk_cache(tmp_path, skip_cifar_md5, monkeypatch):
    _write_tiny_cifar(tmp_path)
    first = build_dataset("cifar10", resolution=16, data_dir=tmp_path)
    assert first.resolution == 16 and len(first) == 10 and first.num_classes == 10
    assert first.num_classes == registry.KNOWN_NUM_CLASSES["cifar10"]  # what a dry run assumes without data
    assert list((tmp_path / CACHE_FOLDER).glob("cifar10-32-*/meta.json"))  # the prepared store

    def must_not_decode(*args, **kwargs):
        raise AssertionError("CIFAR-10 decoded again despite the store")

    monkeypatch.setattr(store, "_decode_job", must_not_decode)
    second = build_dataset("cifar10", resolution=8, data_dir=tmp_path)
    assert torch.equal(second.cache.at(8), first.cache.at(8))
    assert torch.equal(second.labels, first.labels)


# --------------------------------------------------------------------------------------
# image folders
# --------------------------------------------------------------------------------------

def _solid(path: Path, colour=(200, 30, 60), size=(20, 12), mode="RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, colour).save(path)


def test_flat_folder(tmp_path):
    for i, ext in enumerate(["png", "JPG", "bmp", "webp"]):
        _solid(tmp_path / f"img{i}.{ext}")
    (tmp_path / "notes.txt").write_text("not an image")
    _solid(tmp_path / ".hidden" / "skip.png")
    images, labels, names = load_image_folder(tmp_path, resolution=8)
    assert images.shape == (4, 3, 8, 8) and images.dtype == torch.uint8
    assert labels.tolist() == [0, 0, 0, 0] and names == ["all"]
    assert (images.float() - torch.tensor([200.0, 30, 60]).view(1, 3, 1, 1)).abs().max() <= 8  # JPEG/WebP loss


def test_class_subfolders_sorted_and_recursive(tmp_path):
    _solid(tmp_path / "zebra" / "a.png", colour=(0, 0, 255))
    _solid(tmp_path / "ant" / "deep" / "b.png", colour=(255, 0, 0))
    _solid(tmp_path / "ant" / "c.png", colour=(255, 0, 0))
    (tmp_path / "empty").mkdir()
    images, labels, names = load_image_folder(tmp_path, resolution=4)
    assert names == ["ant", "zebra"]
    assert labels.tolist() == [0, 0, 1]
    assert images[labels == 0, 0].min() == 255 and images[labels == 1, 2].min() == 255


def test_loose_images_beside_class_folders_warn_that_it_is_one_class(tmp_path):
    _solid(tmp_path / "cat" / "a.png")
    _solid(tmp_path / "dog" / "b.png")
    _solid(tmp_path / "stray.png")
    with pytest.warns(UserWarning, match=r"1 image\(s\) at its top level \(e\.g\. stray\.png\).*ONE class"):
        _, labels, names = load_image_folder(tmp_path, resolution=4)
    assert names == ["all"] and labels.tolist() == [0, 0, 0]


def test_centre_crop_keeps_the_middle(tmp_path):
    stripes = np.zeros((10, 30, 3), dtype=np.uint8)
    stripes[:, :10] = (255, 0, 0)
    stripes[:, 10:20] = (0, 255, 0)
    stripes[:, 20:] = (0, 0, 255)
    Image.fromarray(stripes).save(tmp_path / "wide.png")
    images, _, _ = load_image_folder(tmp_path, resolution=8)
    assert images[0, 1].min() == 255 and images[0, 0].max() == 0 and images[0, 2].max() == 0


def _palette_image(transparent: bool) -> Image.Image:
    img = Image.new("P", (16, 16), 1)
    img.putpalette([0, 0, 0, 10, 120, 250] + [0] * 762)
    if transparent:
        img.info["transparency"] = 1
    return img


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda: Image.new("L", (16, 16), 100), (100, 100, 100)),
        (lambda: Image.new("RGBA", (16, 16), (40, 80, 160, 255)), (40, 80, 160)),
        (lambda: Image.new("RGBA", (16, 16), (40, 80, 160, 0)), (0, 0, 0)),  # composited over black
        (lambda: Image.new("RGBA", (16, 16), (200, 100, 50, 128)), (100, 50, 25)),
        (lambda: Image.new("LA", (16, 16), (90, 255)), (90, 90, 90)),
        (lambda: _palette_image(False), (10, 120, 250)),
        (lambda: _palette_image(True), (0, 0, 0)),
    ],
    ids=["L", "RGBA-opaque", "RGBA-clear", "RGBA-half", "LA", "P", "P-transparent"],
)
def test_colour_modes_become_rgb(tmp_path, make, expected):
    make().save(tmp_path / "x.png")
    images, _, _ = load_image_folder(tmp_path, resolution=4)
    assert images.shape == (1, 3, 4, 4)
    got = images[0].float().mean(dim=(1, 2))
    assert torch.allclose(got, torch.tensor(expected, dtype=torch.float32), atol=1.0)


def test_grayscale_jpeg(tmp_path):
    _solid(tmp_path / "g.jpg", colour=77, size=(64, 48), mode="L")
    images, _, _ = load_image_folder(tmp_path, resolution=16)
    assert images.shape == (1, 3, 16, 16)
    assert (images.float() - 77).abs().max() <= 2


def _write_corrupt(tmp_path: Path) -> list[Path]:
    _solid(tmp_path / "good1.png")
    _solid(tmp_path / "good2.png")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"this is not a png")
    truncated = tmp_path / "truncated.png"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:60])
    return [garbage, truncated]


def test_corrupt_files_skipped_with_one_counting_warning(tmp_path):
    bad = _write_corrupt(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        images, labels, _ = load_image_folder(tmp_path, resolution=8)
    assert images.shape[0] == 2 and labels.shape == (2,)
    messages = [str(w.message) for w in caught if "unreadable" in str(w.message)]
    assert len(messages) == 1
    assert "skipped 2 unreadable" in messages[0]
    assert all(p.name in messages[0] for p in bad)


def test_strict_raises_naming_the_file(tmp_path):
    _write_corrupt(tmp_path)
    with pytest.raises(ValueError, match=r"garbage\.png|truncated\.png"):
        load_image_folder(tmp_path, resolution=8, strict=True)


def test_all_corrupt_raises(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match="could be decoded"):
        load_image_folder(tmp_path, resolution=8)


@pytest.mark.parametrize("setup", ["missing", "empty", "no-images", "empty-classes"])
def test_missing_or_empty_folder_names_the_path(tmp_path, setup):
    root = tmp_path / "data"
    if setup != "missing":
        root.mkdir()
    if setup == "no-images":
        (root / "readme.txt").write_text("hi")
    if setup == "empty-classes":
        (root / "cats").mkdir()
        (root / "dogs").mkdir()
    with pytest.raises(FileNotFoundError, match=str(root)):
        load_image_folder(root, resolution=8)


def test_max_images_keeps_every_class(tmp_path):
    for cls in ["a", "b"]:
        for i in range(5):
            _solid(tmp_path / cls / f"{i}.png")
    images, labels, names = load_image_folder(tmp_path, resolution=4, max_images=4)
    assert images.shape[0] == 4 and set(labels.tolist()) == {0, 1}


@pytest.mark.parametrize("kwargs, match", [({"resolution": 12}, "valid values"), ({"resolution": 8, "layout": "x"}, "layout")])
def test_folder_bad_arguments(tmp_path, kwargs, match):
    _solid(tmp_path / "a.png")
    with pytest.raises(ValueError, match=match):
        load_image_folder(tmp_path, **kwargs)


# --------------------------------------------------------------------------------------
# multi-resolution cache
# --------------------------------------------------------------------------------------

def _numpy_pool(images: np.ndarray, resolution: int) -> np.ndarray:
    n, c, top, _ = images.shape
    f = top // resolution
    blocks = images.astype(np.float64).reshape(n, c, resolution, f, resolution, f)
    return np.round(blocks.mean(axis=(3, 5))).astype(np.uint8)  # np.round: half to even, like torch


@pytest.mark.parametrize("top", [4, 8, 32, 64])
def test_cache_levels_equal_block_means(top):
    images = torch.randint(0, 256, (5, 3, top, top), dtype=torch.uint8, generator=torch.Generator().manual_seed(top))
    cache = MultiResCache(images=images)
    assert cache.resolutions == [2**k for k in range(2, int(math.log2(top)) + 1)]
    assert cache.resolution == top and len(cache) == 5
    assert torch.equal(cache.at(top), images)
    for res in cache.resolutions:
        assert cache.at(res).dtype == torch.uint8
        np.testing.assert_array_equal(cache.at(res).numpy(), _numpy_pool(images.numpy(), res))
        assert torch.equal(downsample(images, res), cache.at(res))


def test_cache_rejects_bad_input_and_levels():
    with pytest.raises(ValueError, match="uint8"):
        MultiResCache(images=torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="power-of-two"):
        MultiResCache(images=torch.zeros(2, 3, 12, 12, dtype=torch.uint8))
    with pytest.raises(ValueError, match="N×3×R×R"):
        MultiResCache(images=torch.zeros(2, 1, 8, 8, dtype=torch.uint8))
    cache = MultiResCache(images=torch.zeros(2, 3, 16, 16, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"valid values are \[4, 8, 16\]"):
        cache.at(32)
    with pytest.raises(ValueError, match=r"valid values are \[4, 8, 16\]"):
        cache.up_to(12)


def test_cache_up_to_shares_levels():
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8)
    full = MultiResCache(images=images)
    small = full.up_to(8)
    assert small.resolution == 8 and small.resolutions == [4, 8] and len(small) == 3
    assert small.at(4) is full.at(4)


def test_cache_save_load_round_trip(tmp_path):
    images, _ = render_shapes(6, resolution=16, seed=0)
    cache = MultiResCache(images=images)
    path = tmp_path / "sub" / "cache.pt"
    cache.save(path)
    assert [p.name for p in path.parent.iterdir()] == ["cache.pt"]  # no temp file left behind
    loaded = MultiResCache.load(path)
    assert loaded.resolutions == cache.resolutions
    for res in cache.resolutions:
        assert torch.equal(loaded.at(res), cache.at(res))


def test_cache_truncated_or_foreign_file_is_a_clear_error(tmp_path):
    path = tmp_path / "cache.pt"
    MultiResCache(images=torch.zeros(2, 3, 8, 8, dtype=torch.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        MultiResCache.load(path)
    torch.save({"something": torch.zeros(1)}, path)
    with pytest.raises(ValueError, match="not a gancore.MultiResCache"):
        MultiResCache.load(path)
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        MultiResCache.load(tmp_path / "nope.pt")


# --------------------------------------------------------------------------------------
# batch stream
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("num_items, batch_size, stop_after", [(10, 3, 4), (7, 7, 2), (5, 12, 1), (100, 16, 9)])
def test_batch_stream_resume_matches_uninterrupted(num_items, batch_size, stop_after):
    reference = BatchStream(num_items=num_items, seed=11)
    expected = [reference.next_indices(batch_size) for _ in range(stop_after + 5)]
    first = BatchStream(num_items=num_items, seed=11)
    got = [first.next_indices(batch_size) for _ in range(stop_after)]
    state = first.state_dict()
    assert set(state) == {"epoch", "cursor", "num_items"}
    resumed = BatchStream(num_items=num_items, seed=11)
    resumed.load_state_dict(state)
    got += [resumed.next_indices(batch_size) for _ in range(5)]
    for a, b in zip(got, expected):
        assert torch.equal(a, b)


@pytest.mark.parametrize("batch_size", [1, 4, 13])
def test_batch_stream_covers_each_epoch_once(batch_size):
    num_items, epochs = 13, 3
    stream = BatchStream(num_items=num_items, seed=0)
    batches = -(-epochs * num_items // batch_size)  # ceil: the last batch may reach into epoch 4
    flat = torch.cat([stream.next_indices(batch_size) for _ in range(batches)])
    assert flat.dtype == torch.int64
    per_epoch = flat[: epochs * num_items].view(epochs, num_items)
    for row in per_epoch:
        assert sorted(row.tolist()) == list(range(num_items))
    assert not torch.equal(per_epoch[0], per_epoch[1])  # fresh permutation per epoch
    assert stream.state_dict() == {"epoch": epochs, "cursor": batches * batch_size - epochs * num_items,
                                   "num_items": num_items}


def test_batch_stream_resumed_on_other_data_warns_and_continues():
    state = {"epoch": 2, "cursor": 9, "num_items": 10}
    stream = BatchStream(num_items=6, seed=0)
    with pytest.warns(UserWarning, match="trained on 10 images, the data now has 6"):
        stream.load_state_dict(state)
    assert stream.state_dict() == {"epoch": 2, "cursor": 3, "num_items": 6}
    assert stream.next_indices(4).max() < 6
    older = BatchStream(num_items=10, seed=0)
    older.load_state_dict({"epoch": 1, "cursor": 4})  # checkpoints written before num_items was stored
    assert older.state_dict()["cursor"] == 4


def test_batch_stream_seeds_and_errors():
    a = BatchStream(num_items=50, seed=1).next_indices(50)
    b = BatchStream(num_items=50, seed=2).next_indices(50)
    assert not torch.equal(a, b)
    stream = BatchStream(num_items=5, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        stream.next_indices(0)
    with pytest.raises(ValueError, match="cursor"):
        stream.load_state_dict({"epoch": 0, "cursor": 5})
    with pytest.raises(ValueError, match="lacks"):
        stream.load_state_dict({"epoch": 0})
    with pytest.raises(ValueError, match="num_items"):
        BatchStream(num_items=0, seed=0)


# --------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------

def test_build_shapes_dataset():
    data = build_dataset("shapes", resolution=16, size=40, seed=3)
    assert isinstance(data, ImageData)
    assert data.resolution == 16 and len(data) == 40 and data.num_classes == NUM_CLASSES
    assert data.class_names == list(SHAPE_CLASSES) and data.name == "shapes"
    assert data.num_classes == registry.KNOWN_NUM_CLASSES["shapes"]
    images, labels = render_shapes(40, resolution=16, seed=3)
    assert torch.equal(data.cache.at(16), images) and torch.equal(data.labels, labels)
    assert data.cache.resolutions == [4, 8, 16]


def test_build_folder_dataset_caches_under_data_dir(tmp_path, monkeypatch):
    _solid(tmp_path / "cats" / "a.png", colour=(10, 20, 30))
    _solid(tmp_path / "dogs" / "b.png", colour=(40, 50, 60))
    data = build_dataset("folder", resolution=8, data_dir=tmp_path)
    assert data.class_names == ["cats", "dogs"] and data.labels.tolist() == [0, 1]
    assert data.cache.resolutions == [4, 8]
    assert len(list((tmp_path / CACHE_FOLDER).glob("folder-8-*/meta.json"))) == 1

    monkeypatch.setattr(store, "_decode_job", lambda *a, **k: pytest.fail("decoded twice"))
    again = build_dataset("folder", resolution=8, data_dir=tmp_path)
    assert torch.equal(again.cache.at(8), data.cache.at(8))


@pytest.mark.parametrize(
    "name, kwargs, error, match",
    [
        ("mnist", {"resolution": 32}, ValueError, r"\['shapes', 'cifar10', 'folder'\]"),
        ("cifar10", {"resolution": 64, "data_dir": "."}, ValueError, "32×32"),
        ("cifar10", {"resolution": 32}, ValueError, "data_dir"),
        ("folder", {"resolution": 32}, ValueError, "data_dir"),
        ("folder", {"resolution": 32, "data_dir": "/no/such/folder"}, FileNotFoundError, "/no/such/folder"),
        ("shapes", {"resolution": 512}, ValueError, "valid values"),
        ("shapes", {"resolution": 8, "size": 0}, ValueError, "size"),
    ],
)
def test_build_dataset_errors(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        build_dataset(name, **kwargs)
