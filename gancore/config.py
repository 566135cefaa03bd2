"""Typed run configs and the scale presets in ``papers/<paper>/*.yaml``.

A run's config is resolved in layers, each later one winning:

1. the dataclass defaults (the paper's main configuration),
2. the preset file for the scale (``smoke.yaml``, ``reduced.yaml``, ``full.yaml`` or ``full-<preset>.yaml``),
   following its ``extends:`` chain,
3. a paper-specific ablation (e.g. ProGAN Table 1 rows) applied by the paper's config class,
4. explicit values (notebook parameters and the ``overrides`` dict).

Every layer is checked against the dataclass fields: unknown keys, wrong types and bad enum values raise
:class:`ConfigError` with the valid choices, so a typo never silently falls back to a default.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import yaml

from gancore.errors import ConfigError  # re-exported: gancore.config.ConfigError is public

SCALES = ("smoke", "reduced", "full")


def repo_root() -> Path:
    """The checkout holding ``papers/`` and ``notebooks/`` (``GANCORE_ROOT`` overrides it)."""
    env = os.environ.get("GANCORE_ROOT")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1]


def papers_dir() -> Path:
    path = repo_root() / "papers"
    if not path.is_dir():
        raise FileNotFoundError(
            f"papers folder not found at {path}; gancore must run from its checkout "
            "(pip install -e .) or set GANCORE_ROOT to the checkout"
        )
    return path


@dataclass
class RunConfig:
    """Fields every paper shares: data, run folder, bookkeeping (the run contract in DESIGN.md)."""

    paper: str = ""  # which paper's notebook/config this is
    scale: Literal["smoke", "reduced", "full"] = "reduced"  # preset size
    preset: str = ""  # variant of the scale, e.g. "cifar10" selects papers/<paper>/full-cifar10.yaml
    dataset: Literal["shapes", "cifar10", "folder"] = "shapes"  # embedded procedural data by default
    data_dir: Optional[str] = None  # folder with CIFAR-10 or images; required for cifar10/folder
    download: bool = False  # allow torchvision to download CIFAR-10 (never at default settings)
    dataset_size: int = 10000  # number of procedural shapes images (shapes only)
    strict_images: bool = False  # a corrupt image is an error instead of a counted warning
    max_images: int = 0  # train on this many images, evenly spaced over the data (0: all; shapes: caps dataset_size)
    # Files are prepared once into a store on disk (gancore.data.store) and read from it; "auto" holds a data set in
    # memory when it is small (up to 2 GiB and a quarter of the free memory), "yes"/"no" force either way.
    data_in_memory: Literal["auto", "yes", "no"] = "auto"
    store_dir: Optional[str] = None  # where prepared stores live (default: <data_dir>/.gancore_cache)
    data_changed: Literal["rebuild", "refuse"] = "rebuild"  # a store whose source files changed since
    loader_workers: int = 2  # threads that read the next minibatch from a store during a step (0: in the step)
    eval_precision: Literal["fp32", "bf16"] = "fp32"  # generation for metrics under bf16 autocast (features: fp32)
    eval_batch: int = 256  # images per generator and feature-network pass when evaluating
    cudnn_benchmark: bool = False  # CUDA: let cuDNN time its algorithms for each new shape and keep the fastest
    mirror_augment: bool = False  # flip half the reals left-right (ProGAN App. G, for 100k-image LSUN categories)
    out_dir: str = ""  # run folder; "" means runs/<paper>-<scale>[-<preset>][-<ablation>]
    seed: int = 0  # seeds data order, latents, init and every random draw of the run
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"  # auto: CUDA, then Apple MPS, then CPU
    dry_run: bool = False  # build everything, write config.json and summary.json, train nothing
    total_kimg: float = 0.0  # training length in thousands of real images shown to D (0: schedule's end)
    max_seconds: float = 0.0  # also stop after this wall-clock time (0: no limit); for equal-time comparisons
    log_every_kimg: float = 1.0  # JSONL log cadence
    ckpt_every_kimg: float = 50.0  # checkpoint cadence (one is also written at exit)
    keep_checkpoints: int = 3  # older checkpoints are deleted
    sample_every_kimg: float = 10.0  # sample grid cadence (also at the end of every growth phase)
    metrics_every_kimg: float = 0.0  # in-training metric cadence (0: only at the end)
    metric_num_images: int = 1024  # images per in-training metric evaluation
    final_num_images: int = 2048  # images for the final FID/IS/KID/SWD/MS-SSIM
    extractor: Literal["shapes", "inception"] = "shapes"  # feature network for FID/IS/KID
    inception_weights: Optional[str] = None  # path to pt_inception-2015-12-05 weights (nothing downloads)
    ema_decay: float = 0.999  # G weight EMA per step
    ema_start_kimg: float = 0.0  # before this many kimg the EMA copies G instead of averaging (BigGAN App. C)
    # The EMA's buffers (BatchNorm running statistics): averaged like the weights, or G's own after every step
    # (alphaGAN's authors average parameters only and evaluate with the live G's buffers).
    ema_buffers: Literal["average", "live"] = "average"
    num_threads: int = 0  # torch CPU threads (0: torch's default)
    restart: bool = False  # out_dir holds a run with another config: move it to out_dir/previous-<time>/ and start
    # over, instead of refusing (a rerun of the same command then resumes as usual)

    # ---- helpers -------------------------------------------------------------------------------
    def check_common(self) -> None:
        """Ranges every paper shares; a paper's own ``validate`` checks the rest."""
        for f in dataclasses.fields(self):  # NaN and ±inf are never meaningful settings (inf kimg overflows)
            value = getattr(self, f.name)
            values = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
            if any(isinstance(v, float) and not math.isfinite(v) for v in values):
                raise ConfigError(f"{f.name}={value!r} must be a finite number")
        at_least = {name: 0 for name in ("total_kimg", "max_seconds", "log_every_kimg", "ckpt_every_kimg",
                                         "sample_every_kimg", "metrics_every_kimg", "ema_start_kimg", "num_threads",
                                         "max_images", "loader_workers")}
        at_least.update(dataset_size=1, keep_checkpoints=1, metric_num_images=1, final_num_images=1, eval_batch=1)
        for name, low in at_least.items():
            value = getattr(self, name)
            if not value >= low:  # also rejects NaN
                raise ConfigError(f"{name}={value} must be >= {low}")
        batch = getattr(self, "batch_size", 1)
        if batch < 1:
            raise ConfigError(f"batch_size={batch} must be >= 1")
        if self.dataset == "shapes" and self.data_dir:
            # Without this the run would quietly train on the procedural shapes instead of the user's images.
            raise ConfigError(f"data_dir={self.data_dir!r} is given but dataset is 'shapes', which reads no folder; "
                              "pass -p dataset folder (images, optionally in class sub-folders) or -p dataset cifar10")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def default_out_dir(self) -> str:
        parts = [self.paper or "run", self.scale]
        if self.preset:
            parts.append(self.preset)
        abl = getattr(self, "ablation", "")
        if abl:
            parts.append("row-" + abl.replace("*", "star"))
        return str(repo_root() / "runs" / "-".join(parts))

    # Fields that may differ between a run and its resume: they do not change the training trajectory.
    RESUMABLE_CHANGES: typing.ClassVar[tuple[str, ...]] = (
        "total_kimg", "max_seconds", "device", "dry_run", "out_dir", "log_every_kimg", "ckpt_every_kimg",
        "keep_checkpoints", "sample_every_kimg", "metrics_every_kimg", "metric_num_images", "final_num_images",
        "num_threads", "download", "data_dir", "inception_weights", "restart", "data_in_memory", "store_dir",
        "data_changed", "loader_workers", "cudnn_benchmark", "eval_precision", "eval_batch",
    )

    def apply_ablation(self, values: dict[str, Any]) -> dict[str, Any]:
        """Hook for paper configs with ablation switches; returns the values with the ablation applied."""
        return values


# ---------------------------------------------------------------------------------------------------
# Type checking of values
# ---------------------------------------------------------------------------------------------------
def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _coerce(name: str, value: Any, tp: Any) -> Any:
    """Check ``value`` against annotation ``tp``; allow only lossless coercions (int→float, str keys→int)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if isinstance(value, bool) and value not in args:
            # YAML 1.1 (PyYAML, papermill's -y, --set) reads on/off and yes/no as booleans: give the word back
            value = next((a for a in args if a in (("on", "yes") if value else ("off", "no"))), value)
        if value not in args:
            close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{name}={value!r} is not valid{hint}; choose one of {', '.join(map(repr, args))}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(name, value, a)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(f"{name}={value!r} has the wrong type; expected {_type_name(tp)}")
    if origin is dict:
        kt, vt = args
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name}={value!r} has the wrong type; expected a mapping {_type_name(tp)}")
        out = {}
        for k, v in value.items():
            if kt is int and isinstance(k, str) and k.strip().lstrip("-").isdigit():
                k = int(k)  # JSON/YAML/papermill may turn int keys into strings
            out[_coerce(f"{name} key", k, kt)] = _coerce(f"{name}[{k!r}]", v, vt)
        return out
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{name}={value!r} has the wrong type; expected {_type_name(tp)}")
        et = args[0] if args else Any
        return [_coerce(f"{name}[{i}]", v, et) for i, v in enumerate(value)]
    if tp is bool:
        # papermill's -p passes `true` as the string "true"; anything else ("maybe", 1, "yes") is refused.
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ConfigError(f"{name}={value!r} has the wrong type; expected bool (true or false)")
    if tp is int:  # text is refused here: "32" for a resolution is more likely a quoting slip than intent
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name}={value!r} has the wrong type; expected int")
        return value
    if tp is float:
        # PyYAML (YAML 1.1) reads 1e-4 as a string; people write it that way, so any text that is a number counts.
        number = _as_number(value)
        if number is None:
            raise ConfigError(f"{name}={value!r} has the wrong type; expected a number (float)")
        return float(number)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}={value!r} has the wrong type; expected str")
        return value
    raise ConfigError(f"{name}: unsupported annotation {tp!r}")


def _as_number(value: Any) -> int | float | None:
    """``value`` as an int or float if it is one or is text that parses as one (not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            return float(text)
        except ValueError:
            return None
    return None


def check_range(cfg: Any, name: str, *, gt: float | None = None, ge: float | None = None, lt: float | None = None,
                le: float | None = None) -> None:
    """Raise :class:`ConfigError` naming ``name``, its value and the valid range unless the value lies inside."""
    value = getattr(cfg, name)
    bounds = [(gt, ">", lambda v, b: v > b), (ge, ">=", lambda v, b: v >= b), (lt, "<", lambda v, b: v < b),
              (le, "<=", lambda v, b: v <= b)]
    ok = all(b is None or test(value, b) for b, _, test in bounds) and not (isinstance(value, float)
                                                                          and math.isnan(value))
    if not ok:
        need = " and ".join(f"{op} {b:g}" for b, op, _ in bounds if b is not None)
        raise ConfigError(f"{name}={value!r} is out of range: it must be {need}")


def coerce_value(name: str, value: Any, annotation: Any) -> Any:
    """Check one value against a type annotation with the config's rules (public form of the field check)."""
    return _coerce(name, value, annotation)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=False)


def check_keys(cls: type, values: Mapping[str, Any], *, source: str) -> None:
    """Unknown keys are errors that list the valid ones (with a close match when there is one)."""
    valid = [f.name for f in dataclasses.fields(cls)]
    for key in values:
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"unknown config key {key!r} in {source}.{hint} Valid keys: {', '.join(sorted(valid))}"
            )


def build(cls: type, values: Mapping[str, Any], *, source: str = "config") -> Any:
    """Instantiate dataclass ``cls`` from ``values`` with key and type checking."""
    check_keys(cls, values, source=source)
    hints = _hints(cls)
    typed = {k: _coerce(k, v, hints[k]) for k, v in values.items()}
    cfg = cls(**typed)
    if isinstance(cfg, RunConfig):
        cfg.check_common()
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


# ---------------------------------------------------------------------------------------------------
# Presets
# ---------------------------------------------------------------------------------------------------
def preset_path(paper: str, scale: str, preset: str = "") -> Path:
    if scale not in SCALES:
        close = difflib.get_close_matches(str(scale), SCALES, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"scale={scale!r} is not valid{hint}; choose one of {', '.join(SCALES)}")
    folder = papers_dir() / paper
    if not folder.is_dir():
        choices = sorted(p.name for p in papers_dir().iterdir() if p.is_dir())
        raise ConfigError(f"unknown paper {paper!r}; choose one of {', '.join(choices)}")
    name = f"{scale}-{preset}" if preset else scale
    path = folder / f"{name}.yaml"
    if not path.is_file():
        options = sorted(p.stem.split("-", 1)[1] for p in folder.glob(f"{scale}-*.yaml"))
        raise ConfigError(
            f"no preset {name!r} for {paper}: {path} does not exist. Presets for scale={scale!r}: "
            + ", ".join(repr(o) for o in ([""] + options))
        )
    return path


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping of config keys, got {type(data).__name__}")
    return data


def load_preset(paper: str, scale: str, preset: str = "") -> dict[str, Any]:
    """The preset's values with its ``extends:`` chain resolved (parents first)."""
    path = preset_path(paper, scale, preset)
    chain: list[dict[str, Any]] = []
    seen: set[Path] = set()
    while True:
        if path in seen:
            raise ConfigError(f"preset 'extends' cycle at {path}")
        seen.add(path)
        data = load_yaml(path)
        parent = data.pop("extends", None)
        chain.append(data)
        if not parent:
            break
        path = path.parent / f"{parent}.yaml"
        if not path.is_file():
            raise ConfigError(f"preset extends {parent!r}, but {path} does not exist")
    merged: dict[str, Any] = {}
    for data in reversed(chain):
        merged.update(data)
    return merged


def resolve(cls: type, *, paper: str, scale: str = "reduced", preset: str = "",
            overrides: Mapping[str, Any] | None = None) -> Any:
    """Resolve a config: defaults ← preset ← ablation ← overrides; every layer is validated."""
    overrides = dict(overrides or {})
    given = {"paper": paper, "scale": scale, "preset": preset}
    for key, value in given.items():
        # These select the preset file itself, so a value inside overrides would be silently ignored.
        if key in overrides and overrides[key] != value:
            how = {"paper": "open that paper's notebook (or pass it as scripts/train.py's first argument)",
                   "scale": "pass -p scale … (scripts/train.py: --scale)",
                   "preset": "pass -p preset … (scripts/train.py: --preset)"}[key]
            raise ConfigError(f"{key}={overrides[key]!r} cannot be set in overrides (it chooses the preset file, so "
                              f"it would be ignored; this run has {key}={value!r}): {how}")
        overrides.pop(key, None)
    preset_values = load_preset(paper, scale, preset)
    check_keys(cls, preset_values, source=str(preset_path(paper, scale, preset)))
    check_keys(cls, overrides, source="parameters/overrides")
    values: dict[str, Any] = {**preset_values, **overrides, "paper": paper, "scale": scale, "preset": preset}
    # The ablation is applied between the preset and the explicit values: explicit values still win.
    probe = build(cls, values, source="parameters")
    values = {**preset_values, **probe.apply_ablation({}), **overrides,
              "paper": paper, "scale": scale, "preset": preset}
    cfg = build(cls, values, source="parameters")
    if not cfg.out_dir:
        cfg.out_dir = cfg.default_out_dir()
    return cfg


def save_config(cfg: Any, path: str | Path) -> None:
    from gancore.checkpoint import atomic_write_text

    atomic_write_text(path, json.dumps(dataclasses.asdict(cfg), indent=2, sort_keys=True, default=str))


def load_config(cls: type, path: str | Path) -> Any:
    with open(path) as f:
        return build(cls, json.load(f), source=str(path))


def parse_key_values(items: list[str], *, reserved: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``key=value`` pairs of a command line; values are read as YAML (numbers, booleans, lists), so ``ch=8`` gives
    an int. A key in ``reserved`` has its own flag, which the error names."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {item!r}")
        key = key.strip()
        if reserved and key in reserved:
            raise ConfigError(f"--set {key}=… is not allowed: give the {key} with {reserved[key]}")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"--set {item!r}: the value is not valid YAML ({e.__class__.__name__})") from None
    return out
