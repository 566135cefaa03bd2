"""Image folders (CelebA-HQ, LSUN, FFHQ, ImageNet exports) decoded to square uint8 tensors.

Layouts:
* flat — images directly in ``root`` (searched recursively); one class ``"all"``;
* classes — one sub-folder per class (sorted names → labels 0..C-1), each searched recursively.

Every image is centre-cropped to a square and resized with PIL's Lanczos filter (antialiased).
Transparent images (RGBA, LA, palette with transparency) are composited over black, so fully
transparent regions become black rather than revealing arbitrary hidden RGB values.
"""
from __future__ import annotations

import os
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gancore.errors import DataError, DataNotFoundError

__all__ = [
    "FOLDER_RESOLUTIONS",
    "IMAGE_EXTENSIONS",
    "LAYOUTS",
    "check_folder_resolution",
    "decode_image",
    "load_image_folder",
    "scan_image_folder",
]

IMAGE_EXTENSIONS: tuple[str, ...] = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
LAYOUTS: tuple[str, ...] = ("auto", "flat", "classes")
FOLDER_RESOLUTIONS: tuple[int, ...] = tuple(2**k for k in range(2, 11))  # 4 .. 1024
_NAMED_FAILURES = 3  # how many unreadable files the warning names
# Pillow's modes for 16- and 32-bit integer images (16-bit grayscale PNG is "I;16"): convert("RGB") clips them at
# 255, which turns a 0..65535 ramp nearly white, so they are rescaled to 8 bits first.
_WIDE_INT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def _named(paths: list, limit: int = _NAMED_FAILURES) -> str:
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(str(p) for p in paths[:limit]) + more


def check_folder_resolution(resolution: int) -> int:
    """Return ``resolution`` if it is a power of two in 4..1024, else raise ValueError."""
    if isinstance(resolution, bool) or not isinstance(resolution, int) or resolution not in FOLDER_RESOLUTIONS:
        raise ValueError(
            f"resolution={resolution!r} is not supported; valid values are {list(FOLDER_RESOLUTIONS)}"
        )
    return resolution


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def _images_under(folder: Path) -> list[Path]:
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        # Hidden folders hold caches (.gancore_cache) and tool metadata, never data.
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in filenames if _is_image(Path(f)))
    return sorted(found)


def scan_image_folder(
    root: str | Path, *, layout: str = "auto"
) -> tuple[list[Path], list[int], list[str]]:
    """List a folder's images as ``(files, labels, class_names)`` without decoding them.

    Args:
        root: the image folder.
        layout: "flat", "classes" or "auto" (classes when the root holds no images itself and
            at least one sub-folder does; flat otherwise).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout={layout!r} is not one of {list(LAYOUTS)}")
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(f"image folder {root} does not exist (or is not a folder)")

    top_level = sorted(p for p in root.iterdir() if _is_image(p) and p.is_file())
    subfolders = []
    real_root = root.resolve()
    for p in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if real_root.is_relative_to(p.resolve()):
            # A link back to the root (or above it) would become one more class holding every image again.
            warnings.warn(f"{p} links back to the data folder {root} (or a folder above it); skipped", stacklevel=2)
            continue
        subfolders.append(p)
    if layout == "auto":
        layout = "flat" if top_level or not subfolders else "classes"
        if top_level and any(_images_under(f) for f in subfolders):
            # Say so: a user who made class folders and left a few files beside them expects classes.
            warnings.warn(f"{root} has {len(top_level)} image(s) at its top level (e.g. {top_level[0].name}) beside "
                          f"sub-folders of images, so it is read as ONE class of all images; move the loose images "
                          "into class sub-folders to get one class per sub-folder", stacklevel=2)

    if layout == "flat":
        files = _readable(_images_under(root))
        if not files:
            raise DataNotFoundError(
                f"no images ({'/'.join(e[1:] for e in IMAGE_EXTENSIONS)}) found under {root}"
            )
        return files, [0] * len(files), ["all"]

    files, labels, names, empty = [], [], [], []
    for folder in subfolders:
        found = _readable(_images_under(folder))
        if found:
            labels.extend([len(names)] * len(found))
            names.append(folder.name)
            files.extend(found)
        else:
            empty.append(folder.name)
    if empty and files:  # empty sub-folders are not classes; say so, since the class count changes
        warnings.warn(f"{root}: {len(empty)} class folder(s) hold no images and are not classes: {_named(empty)}",
                      stacklevel=2)
    if not files:
        raise DataNotFoundError(
            f"no images ({'/'.join(e[1:] for e in IMAGE_EXTENSIONS)}) found in the class "
            f"sub-folders of {root}"
        )
    return files, labels, names


def _readable(paths: list[Path]) -> list[Path]:
    """``paths`` without dangling links and link loops (their ``stat`` fails), which are skipped with a warning."""
    ok, bad = [], []
    for p in paths:
        try:
            p.stat()
            ok.append(p)
        except OSError as err:
            bad.append(f"{p} ({err.strerror or type(err).__name__})")
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image path(s) (dangling links or link loops): {_named(bad)}",
                      stacklevel=3)
    return ok


def _to_8bit(img: Image.Image) -> Image.Image:
    """A 16/32-bit integer image as 8-bit grayscale, scaled by its bit depth (65535 → 255), not clipped."""
    arr = np.asarray(img).astype(np.float64)
    top = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
    return Image.fromarray(np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8), mode="L")


def decode_image(path: str | Path, resolution: int) -> np.ndarray:
    """Decode one image to an RGB uint8 array of shape R×R×3 (centre crop, Lanczos resize)."""
    with Image.open(path) as img:
        # JPEG can decode at a reduced DCT scale that is still ≥ the target: much faster, no
        # visible loss after the Lanczos resize.
        img.draft("RGB", (resolution, resolution))
        img.load()
        has_alpha = img.mode in ("RGBA", "LA", "PA") or (
            img.mode == "P" and "transparency" in img.info
        )
        if has_alpha:
            rgba = img.convert("RGBA")
            black = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
            rgb = Image.alpha_composite(black, rgba).convert("RGB")
        elif img.mode in _WIDE_INT_MODES:
            rgb = _to_8bit(img).convert("RGB")
        else:
            rgb = img.convert("RGB")
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    if side != resolution:
        square = square.resize((resolution, resolution), Image.LANCZOS)
    return np.asarray(square, dtype=np.uint8)


def _try_decode(path: Path, resolution: int) -> tuple[np.ndarray, int] | Exception:
    """(decoded image, its original short side) or the exception that decoding raised."""
    try:
        with Image.open(path) as img:
            side = min(img.size)
        return decode_image(path, resolution), side
    except Exception as err:  # noqa: BLE001 - PIL raises many types for corrupt files
        return err


def _evenly_spaced(count: int, keep: int) -> list[int]:
    # Spread a subset over the sorted list so every class keeps its share.
    return sorted({int(i) for i in np.linspace(0, count - 1, keep).round()})


def load_image_folder(
    root: str | Path,
    *,
    resolution: int,
    strict: bool = False,
    max_images: int | None = None,
    layout: str = "auto",
    num_workers: int | None = None,
) -> tuple[Tensor, Tensor, list[str]]:
    """Decode an image folder to ``(uint8 N×3×R×R, int64 labels N, class names)``.

    Args:
        root: flat image folder or folder of class sub-folders.
        resolution: output side in pixels (power of two, 4..1024).
        strict: raise on the first unreadable file instead of skipping it with a warning.
        max_images: keep at most this many images, evenly spaced over the sorted file list.
        layout: "auto", "flat" or "classes" (see :func:`scan_image_folder`).
        num_workers: decoding threads (default: CPU count; PIL releases the GIL while decoding).
    """
    check_folder_resolution(resolution)
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 1):
        raise ValueError(f"max_images={max_images!r} must be a positive int or None")
    files, labels, names = scan_image_folder(root, layout=layout)
    if max_images is not None and max_images < len(files):
        keep = _evenly_spaced(len(files), max_images)
        files = [files[i] for i in keep]
        labels = [labels[i] for i in keep]

    workers = num_workers or min(8, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(lambda p: _try_decode(p, resolution), files))

    arrays, kept_labels, failed, small = [], [], [], []
    for path, label, result in zip(files, labels, results):
        if isinstance(result, Exception):
            if strict:
                raise DataError(f"cannot decode image {path}: {result}") from result
            failed.append(path)
        else:
            arrays.append(result[0])
            kept_labels.append(label)
            if 2 * result[1] <= resolution:
                small.append(f"{path.name} ({result[1]} px)")
    if small:
        warnings.warn(f"{len(small)} of {len(arrays)} images under {root} are at most half the training resolution "
                      f"{resolution} and were upscaled, so they will look blurry: {_named(small)}", stacklevel=2)
    if not arrays:
        raise DataError(
            f"none of the {len(files)} image files under {root} could be decoded "
            f"(first: {failed[0]}: {results[files.index(failed[0])]})"
        )
    if failed:
        named = ", ".join(str(p) for p in failed[:_NAMED_FAILURES])
        more = f" and {len(failed) - _NAMED_FAILURES} more" if len(failed) > _NAMED_FAILURES else ""
        warnings.warn(
            f"skipped {len(failed)} unreadable image file(s) under {root}: {named}{more} "
            f"(pass strict=True to fail instead)",
            stacklevel=2,
        )
    images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
    return images, torch.as_tensor(kept_labels, dtype=torch.int64), names
