"""Release state dict → GeneratorDeep state dict (BigGAN App. B, App. C.1): the module-by-module name map, the
release's expected keys and shapes, the format check, and the BatchNorm statistics at a truncation.

See :mod:`gancore.models.biggan_pretrained` for the key mapping; every name is importable from there.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor

from gancore.models.biggan_pretrained_config import (
    _RELEASE_BOTTOM,
    _RELEASE_FIRST_MULT,
    ReleaseFormatError,
    _layout,
    parse_config,
)

_MAX_LISTED = 5  # keys named in an error message


# ---------------------------------------------------------------------------------------------------------------------
# State-dict mapping
# ---------------------------------------------------------------------------------------------------------------------
def _module_map(cfg: Mapping[str, Any]) -> list[tuple[str, str, str, tuple[int, ...]]]:
    """(release module prefix, gancore module prefix, kind, shape info) for every module of the release."""
    ch, zd, nc = cfg["channel_width"], cfg["z_dim"], cfg["num_classes"]
    cond = 2 * zd
    out: list[tuple[str, str, str, tuple[int, ...]]] = [
        ("embeddings", "shared", "embedding", (zd, nc)),
        ("generator.gen_z", "linear", "gen_z", (_RELEASE_BOTTOM ** 2 * _RELEASE_FIRST_MULT * ch, cond)),
    ]
    j = 0
    for i, (_up, m_in, m_out) in enumerate(cfg["layers"]):
        if i == cfg["attention_layer_position"]:
            c = ch * m_in
            r, g = f"generator.layers.{j}", f"layers.{j}"
            for rn, gn, shape in (("snconv1x1_theta", "theta", (c // 8, c, 1, 1)),
                                  ("snconv1x1_phi", "phi", (c // 8, c, 1, 1)),
                                  ("snconv1x1_g", "g", (c // 2, c, 1, 1)),
                                  ("snconv1x1_o_conv", "o", (c, c // 2, 1, 1))):
                out.append((f"{r}.{rn}", f"{g}.{gn}", "sn_nobias", shape))
            out.append((f"{r}.gamma", f"{g}.gamma", "gamma", (1,)))
            j += 1
        c_in, c_out = ch * m_in, ch * m_out
        mid = c_in // 4
        r, g = f"generator.layers.{j}", f"layers.{j}"
        for k, c in enumerate((c_in, mid, mid, mid)):
            out.append((f"{r}.bn_{k}", f"{g}.bn{k + 1}.bn", "bn_bank", (c,)))
            out.append((f"{r}.bn_{k}.scale", f"{g}.bn{k + 1}.gain", "sn_nobias", (c, cond)))
            out.append((f"{r}.bn_{k}.offset", f"{g}.bn{k + 1}.bias", "sn_nobias", (c, cond)))
        for k, shape in enumerate(((mid, c_in, 1, 1), (mid, mid, 3, 3), (mid, mid, 3, 3), (c_out, mid, 1, 1))):
            out.append((f"{r}.conv_{k}", f"{g}.conv{k + 1}", "sn_bias", shape))
        j += 1
    out.append(("generator.bn", "out_bn", "bn_affine", (ch,)))
    out.append(("generator.conv_to_rgb", "to_rgb", "sn_bias", (ch, ch, 3, 3)))
    return out


def release_state_dict_shapes(config: Mapping[str, Any] | str | Path) -> dict[str, tuple[int, ...]]:
    """Every key of the release's state dict for `config`, with its tensor shape (the format checked on loading)."""
    cfg = parse_config(config)
    n_stats = cfg["n_stats"]
    shapes: dict[str, tuple[int, ...]] = {}
    for r, _g, kind, shape in _module_map(cfg):
        if kind in ("sn_bias", "sn_nobias", "gen_z"):
            shapes[f"{r}.weight_orig"] = shape
            shapes[f"{r}.weight_u"] = (shape[0],)
            shapes[f"{r}.weight_v"] = (math.prod(shape[1:]),)
            if kind != "sn_nobias":
                shapes[f"{r}.bias"] = (shape[0],)
        elif kind == "embedding":
            shapes[f"{r}.weight"] = shape
        elif kind == "gamma":
            shapes[r] = shape
        else:  # bn_bank / bn_affine
            shapes[f"{r}.running_means"] = (n_stats, shape[0])
            shapes[f"{r}.running_vars"] = (n_stats, shape[0])
            if kind == "bn_affine":
                shapes[f"{r}.weight"] = shape
                shapes[f"{r}.bias"] = shape
    return shapes


def _check_format(state_dict: Mapping[str, Any], cfg: Mapping[str, Any], source: str) -> None:
    expected = release_state_dict_shapes(cfg)
    bad_values = [k for k, v in state_dict.items() if not isinstance(v, Tensor)]
    if bad_values:
        raise ReleaseFormatError(f"{source}: values of {bad_values[:_MAX_LISTED]} are not tensors")
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s), e.g. {missing[:_MAX_LISTED]}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s), e.g. {unexpected[:_MAX_LISTED]}")
        raise ReleaseFormatError(f"{source} is not a converted BigGAN-deep-{_layout(cfg)['resolution']} state dict "
                                 f"for this config: {'; '.join(parts)}")
    wrong = [f"{k}: expected {tuple(shape)}, got {tuple(state_dict[k].shape)}" for k, shape in expected.items()
             if tuple(state_dict[k].shape) != tuple(shape)]
    if wrong:
        raise ReleaseFormatError(f"{source}: {len(wrong)} shape mismatch(es) with the config: "
                                 + "; ".join(wrong[:_MAX_LISTED]))
    not_float = [k for k in expected if not state_dict[k].is_floating_point()]
    if not_float:
        raise ReleaseFormatError(f"{source}: tensors {not_float[:_MAX_LISTED]} are not floating point")


def _nhwc_rows_to_nchw(t: Tensor, channels: int) -> Tensor:
    """Reorder gen_z's output rows from the release's (h, w, c) order to GeneratorDeep's (c, h, w) view."""
    spatial = _RELEASE_BOTTOM ** 2
    return t.reshape(spatial, channels, *t.shape[1:]).transpose(0, 1).reshape(t.shape)


def bn_statistics(means: Tensor, variances: Tensor, truncation: float, *,
                  mode: Literal["release", "linear"] = "release") -> tuple[Tensor, Tensor]:
    """BatchNorm statistics for truncation t from banks of n_stats entries for t = k/(n_stats − 1) (App. C.1).

    ``mode="release"`` reproduces the converted release exactly: with f, k = modf(t / (1/(n_stats−1))) in float64 it
    uses bank k when f == 0 and otherwise ``f·bank[k] + (1−f)·bank[k+1]``. These weights are the reverse of linear
    interpolation, so a t that float rounding puts just off a grid point gets (almost) the *neighbouring* entry: with
    51 stats, t = 0.1, 0.2, …, 1.0 and the midpoints 0.05, 0.15, … are exact, but e.g. t = 0.14, 0.28, 0.56 get the
    entry of t + 0.02 and t = 0.58, 0.94 that of t − 0.02. ``mode="linear"`` is ``(1−f)·bank[k] + f·bank[k+1]``,
    which agrees on the exact grid points and has no such jumps.
    """
    if mode not in ("release", "linear"):
        raise ValueError(f"mode={mode!r} is not one of ['release', 'linear']")
    if not 0.0 < truncation <= 1.0:  # the release asserts this range
        raise ValueError(f"truncation must lie in (0, 1], got {truncation!r}")
    n_stats = means.shape[0]
    # Same float arithmetic as the release (step 1/(n−1), then a division), so grid points hit f == 0 identically.
    frac, start = math.modf(truncation / (1.0 / (n_stats - 1)))
    k = int(start)
    if frac == 0.0:
        return means[k].clone(), variances[k].clone()
    w_k = frac if mode == "release" else 1.0 - frac
    return means[k] * w_k + means[k + 1] * (1 - w_k), variances[k] * w_k + variances[k + 1] * (1 - w_k)


def _bank_targets(cfg: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(release BN prefix, gancore BatchNorm2d prefix) for every statistics bank."""
    return [(r, g) for r, g, kind, _ in _module_map(cfg) if kind in ("bn_bank", "bn_affine")]


def convert_state_dict(state_dict: Mapping[str, Tensor], config: Mapping[str, Any] | str | Path, *,
                       truncation: float = 1.0, mode: Literal["release", "linear"] = "release",
                       source: str = "state dict") -> dict[str, Tensor]:
    """The GeneratorDeep state dict (for :func:`generator_kwargs`) of a release state dict, BN statistics at
    `truncation` (see :func:`bn_statistics`). Raises :class:`ReleaseFormatError` naming missing, unexpected or
    wrongly shaped keys."""
    cfg = parse_config(config)
    _check_format(state_dict, cfg, source)
    first = _RELEASE_FIRST_MULT * cfg["channel_width"]
    out: dict[str, Tensor] = {}
    for r, g, kind, _shape in _module_map(cfg):
        if kind == "embedding":
            out[f"{g}.weight"] = state_dict[f"{r}.weight"].t().contiguous()
        elif kind == "gamma":
            out[g] = state_dict[r].reshape(())
        elif kind in ("sn_bias", "sn_nobias", "gen_z"):
            w, u = state_dict[f"{r}.weight_orig"], state_dict[f"{r}.weight_u"]
            b = state_dict.get(f"{r}.bias")
            if kind == "gen_z":
                # Permuting W's rows and u together leaves σ = uᵀWv unchanged; v lives in the input space.
                w, u, b = (_nhwc_rows_to_nchw(t, first) for t in (w, u, b))
            out[f"{g}.parametrizations.weight.original"] = w.clone()
            out[f"{g}.parametrizations.weight.0._u"] = u.clone()
            out[f"{g}.parametrizations.weight.0._v"] = state_dict[f"{r}.weight_v"].clone()
            if b is not None:
                out[f"{g}.bias"] = b.clone()
        else:  # bn_bank / bn_affine
            mean, var = bn_statistics(state_dict[f"{r}.running_means"], state_dict[f"{r}.running_vars"], truncation,
                                      mode=mode)
            out[f"{g}.running_mean"], out[f"{g}.running_var"] = mean, var
            out[f"{g}.num_batches_tracked"] = torch.tensor(0, dtype=torch.long)
            if kind == "bn_affine":
                out[f"{g}.weight"] = state_dict[f"{r}.weight"].clone()
                out[f"{g}.bias"] = state_dict[f"{r}.bias"].clone()
    return out
