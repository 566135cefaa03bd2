"""Reference models shipped with gancore: one small generator per paper, trained well beyond a notebook's few
minutes, for the truncation and interpolation widgets.

A reduced notebook run trains for minutes on a CPU, so its ProGAN draws blobs and its BigGAN mostly the wrong
class. The widgets are more telling on a model that has learnt the shapes, so each notebook can explore the
reference model instead (``-p explore reference``). The claims table always comes from the notebook's own run.

Each reference is three files in ``gancore/references/``, written by ``scripts/train_reference.py <paper>``:
``<paper>.pt`` (the EMA generator's state dict), ``<paper>.json`` (the manifest: exact command, full config, what
was trained, how long, on which CPU, final metrics, and the weights' SHA-256) and ``<paper>.log.jsonl`` (its
training log). :func:`load_reference` checks the SHA-256 before it loads anything, and loads with
``weights_only=True``.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["EXPLORE_CHOICES", "Explorable", "REFERENCE_DIR", "REFERENCE_PRESET", "ReferenceError", "available",
           "describe", "explorable", "load_reference", "manifest"]

REFERENCE_DIR = Path(__file__).resolve().parent / "references"
REFERENCE_PRESET = "reference"  # papers/<paper>/reduced-reference.yaml


class ReferenceError(RuntimeError):
    """A shipped reference is missing, altered or unreadable; the message names the file and the reason."""


def available(*, directory: Path = REFERENCE_DIR) -> list[str]:
    """Papers with a shipped reference (a manifest and its weights)."""
    return sorted(p.stem for p in directory.glob("*.json") if (directory / f"{p.stem}.pt").exists())


def manifest(paper: str, *, directory: Path = REFERENCE_DIR) -> dict[str, Any]:
    path = directory / f"{paper}.json"
    if not path.exists():
        have = ", ".join(available(directory=directory)) or "none"
        raise ReferenceError(f"no reference model for {paper!r} in {directory} (shipped: {have}); "
                             f"train one with `python scripts/train_reference.py {paper}`")
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ReferenceError(f"reference manifest {path} is unreadable: {e}") from None


def _config(info: dict[str, Any]):
    """(the paper's recipe, the reference's config) from a manifest (:mod:`gancore.engine.registry`)."""
    from gancore.engine import registry
    from gancore.errors import ConfigError

    try:
        recipe = registry.recipe(info["paper"])
    except ConfigError:
        raise ReferenceError(f"reference of paper {info['paper']!r} has no loader") from None
    # Only the networks are built, so the recorded config is resolved as is (nothing is trained or read).
    fields = {k: v for k, v in info["config"].items() if k not in ("paper", "scale", "preset", "dry_run")}
    return recipe, recipe.load_config(scale=info["scale"], preset=info["preset"], **fields)


def load_reference(paper: str, *, directory: Path = REFERENCE_DIR,
                   device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(generator in eval mode, manifest) of a shipped reference, after its SHA-256 matched the manifest."""
    info = manifest(paper, directory=directory)
    path = directory / info["file"]
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise ReferenceError(f"reference weights {path} are unreadable: {e}") from None
    digest = hashlib.sha256(blob).hexdigest()
    if digest != info["sha256"]:
        raise ReferenceError(f"reference weights {path} do not match their manifest (SHA-256 {digest[:12]}… "
                             f"instead of {info['sha256'][:12]}…): the file is altered or truncated")
    import io

    try:
        state = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)["G"]
    except Exception as e:  # a file whose digest matches but that is not a state dict: a bad export
        raise ReferenceError(f"reference weights {path} are not a generator state dict: {e}") from None
    recipe, cfg = _config(info)
    try:
        G = recipe.reference_generator(cfg, info)
    except (KeyError, TypeError, ValueError) as e:  # e.g. a DGGAN manifest whose grown spec was lost
        raise ReferenceError(f"reference manifest {directory / (info['paper'] + '.json')} has no usable "
                             f"architecture spec: {e}") from None
    G.load_state_dict(state)
    return G.to(device).eval(), info


def describe(info: dict[str, Any]) -> str:
    """One line for the notebook: what was trained, how long, on what, and its metrics."""
    t, m = info["trained"], info["metrics"]
    # A DGGAN reference's time includes the search that found its architecture and the baseline beside it.
    spent = "search and training" if info.get("search") else "training"
    parts = [f"reference {info['paper']} model ({info['scale']}-{info['preset']} preset, "
             f"{info['params_G']:,} G parameters): {t['kimg']:.0f} kimg"
             + (f" / {t['iterations']:,} iterations" if t.get("iterations") else "")
             + f" at {t['resolution']}² in {t['train_seconds'] / 60:.0f} min of {spent} on {t['threads']} thread"
             f"{'s' if (t.get('threads') or 1) > 1 else ''} of {t['cpu']} ({t['precision']})"]
    if m.get("class_accuracy") is not None:
        parts.append(f"class-correct {m['class_accuracy']:.1%}")
    if m.get("fid") is not None:
        parts.append(f"shapes-FID {m['fid']:.1f}")
    search = info.get("search") or {}
    if search.get("history") is not None:  # DGGAN: what the search grew, and the baseline trained alike
        grown = " → ".join(search["history"]) or "nothing"
        parts[0] += f", found by a {search['steps']}-step search over {search['candidates']} candidates ({grown})"
        if search.get("baseline_fid") is not None:
            parts.append(f"symmetric baseline trained alike: shapes-FID {search['baseline_fid']:.1f}")
    if m.get("swd_avg") is not None:
        parts.append(f"avg SWD×10³ {m['swd_avg']:.1f}")
    if m.get("ms_ssim") is not None:
        parts.append(f"MS-SSIM {m['ms_ssim']:.3f}")
    return "; ".join(parts) + f". Reproduce: `{info['command']}`."


EXPLORE_CHOICES = ("run", "reference")


@dataclass
class Explorable:
    """The generator a notebook's widget section explores, with what it needs and a label saying what it is."""

    G: nn.Module
    label: str
    resolution: int
    latent_dim: int
    class_names: list[str]
    info: dict[str, Any] | None = None  # the manifest, for a reference model


def explorable(paper: str, *, explore: str, run_G: nn.Module | None, run_cfg: Any,
               class_names: list[str] | None = None, directory: Path = REFERENCE_DIR) -> Explorable | None:
    """The widgets' model: ``explore="run"`` is the notebook's own EMA generator (None when it did not train, e.g.
    a dry run), ``"reference"`` the shipped reference model of ``paper``, labelled by :func:`describe`."""
    if explore not in EXPLORE_CHOICES:
        raise ValueError(f"explore={explore!r} must be one of {EXPLORE_CHOICES}")
    if explore == "run":
        if run_G is None:
            return None
        dim = getattr(run_cfg, "latent_dim", None) or getattr(run_cfg, "dim_z")
        return Explorable(G=run_G, label=f"this notebook's run ({run_cfg.scale} scale); -p explore reference "
                          "explores the shipped reference model instead", resolution=run_cfg.resolution,
                          latent_dim=dim, class_names=list(class_names or []))
    G, info = load_reference(paper, directory=directory)
    cfg = info["config"]
    return Explorable(G=G, label=describe(info), resolution=cfg["resolution"],
                      latent_dim=cfg.get("latent_dim") or cfg.get("dim_z"),
                      class_names=list(info.get("class_names") or class_names or []), info=info)
