"""Real ImageNet weights for `GeneratorDeep`: the converted BigGAN-deep release (Brock et al. 2019, App. B, Fig. 16).

DeepMind published the BigGAN-deep generators (128², 256², 512², ImageNet, EMA weights) as TF-Hub modules. The
widely used PyTorch conversion is HuggingFace's ``pytorch-pretrained-BigGAN`` (package ``pytorch_pretrained_biggan``):
per model a ``pytorch_model.bin`` (a ``torch.save``'d state dict) and a ``config.json``. This module reads those files
(nothing is downloaded; the user supplies them) and returns a :class:`~gancore.models.biggan.GeneratorDeep` in eval
mode that computes the release's function (equal up to float rounding; nothing is approximated).

The release format, release key → GeneratorDeep parameter (``ch`` = ``channel_width``, ``c = [z, e]``):

* ``embeddings.weight`` (z_dim × num_classes; a bias-free Linear on one-hot or soft class vectors, e = W·onehot)
  → ``shared.weight`` transposed (an embedding lookup is the same map on one-hot vectors).
* ``generator.gen_z.{weight_orig, weight_u, weight_v, bias}`` (SN Linear 2·z_dim → 4·4·16ch) → ``linear``, rows
  permuted: the release views the output as N×4×4×C (TF's NHWC), GeneratorDeep as N×C×4×4.
* ``generator.layers.{j}.bn_{k}.{scale, offset}.weight_*`` (SN Linears 2·z_dim → C, no bias; gain 1 + W_γ·c, bias
  W_β·c) → ``layers.{j}.bn{k+1}.{gain, bias}``.
* ``generator.layers.{j}.bn_{k}.running_{means, vars}`` (n_stats × C statistics banks, see "Truncation") →
  ``layers.{j}.bn{k+1}.bn.running_{mean, var}`` at one truncation.
* ``generator.layers.{j}.conv_{k}.{weight_*, bias}`` → ``layers.{j}.conv{k+1}``.
* ``generator.layers.{p}.snconv1x1_{theta, phi, g, o_conv}`` and ``gamma`` (the SAGAN block, inserted before block
  ``attention_layer_position``) → ``layers.{p}.{theta, phi, g, o}`` and ``gamma`` ((1,) → ()); the list index is the
  same because GeneratorDeep puts attention at the same place.
* ``generator.bn.{weight, bias, running_means, running_vars}`` → ``out_bn``.
* ``generator.conv_to_rgb`` (SN conv ch → ch, 3×3, whose first 3 output channels are the image) → ``to_rgb``,
  built with ``rgb_conv_channels=ch``: spectral norm's σ is taken over all ch output channels, so a 3-channel conv
  could not reproduce it.

Spectral norm: the release uses torch's old hook-based ``spectral_norm`` and stores the un-normalised weight
(``weight_orig``) with the power-iteration vectors ``weight_u``/``weight_v``; in eval mode the weight is
``weight_orig / (uᵀ W v)`` with the stored vectors, which is also what gancore's parametrization computes from
``original``/``_u``/``_v``. (Left in train mode, which ``BigGAN.from_pretrained`` does not change, the release runs a
power iteration per call; with converged vectors the difference is at float rounding level.)

Truncation: the release's forward takes ``truncation`` t ∈ (0, 1]. It is used twice. (1) The caller draws
z = t · TruncatedNormal(-2, 2) (its ``truncated_noise_sample``); :func:`truncated_noise` draws from that
distribution. (2) Every BatchNorm reads its statistics from banks of ``n_stats`` (51) entries precomputed for
t = k/(n_stats−1) (BigGAN App. C.1, "standing statistics"), interpolated as the release does (see
:func:`bn_statistics`). GeneratorDeep has one set of running statistics per BN, so the loader keeps the banks as
non-persistent buffers (``truncation_means``/``truncation_vars``) on each BatchNorm2d and :func:`set_bn_truncation`
writes the statistics of a chosen t into ``running_mean``/``running_var``. Release ``model(z, one_hot, t)`` is then
gancore ``set_bn_truncation(G, t); G(z, labels)``, or ``G(z, class_vec=class_vec_from_release(G, class_vector))`` for
soft class vectors. gancore's own ``sample_latents(truncation=τ)`` (resampling to [-τ, τ], no rescaling) is a
different latent distribution from the release's; use :func:`truncated_noise` with these weights.
"""
from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from gancore.checkpoint import CheckpointError
from gancore.latents import truncated_normal
from gancore.models.biggan import GeneratorDeep

__all__ = [
    "WEIGHTS_NAME",
    "CONFIG_NAME",
    "ReleaseFormatError",
    "converted_config",
    "parse_config",
    "generator_kwargs",
    "release_state_dict_shapes",
    "convert_state_dict",
    "bn_statistics",
    "load_converted_biggan_deep",
    "set_bn_truncation",
    "truncated_noise",
    "class_vec_from_release",
]

WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"
_RELEASE_BOTTOM = 4  # gen_z reshapes to 4×4×(16·ch): bottom width and channel multiplier are fixed in the release.
_RELEASE_FIRST_MULT = 16
_Z_TRUNCATION_BOUND = 2.0  # the release's truncated_noise_sample draws truncnorm(-2, 2)

# The release's layer lists, (upsample, in multiplier, out multiplier) per GenBlock (its config.py /
# convert_tf_to_pytorch.py). Two blocks per resolution; the second upsamples and may halve the channels.
_RELEASE_LAYERS: dict[int, list[tuple[bool, int, int]]] = {
    128: [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8), (True, 8, 4),
          (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)],
    256: [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8), (True, 8, 8),
          (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1)],
    512: [(False, 16, 16), (True, 16, 16), (False, 16, 16), (True, 16, 8), (False, 8, 8), (True, 8, 8),
          (False, 8, 8), (True, 8, 4), (False, 4, 4), (True, 4, 2), (False, 2, 2), (True, 2, 1), (False, 1, 1),
          (True, 1, 1)],
}
_CONFIG_KEYS = ("output_dim", "z_dim", "class_embed_dim", "channel_width", "num_classes", "layers",
                "attention_layer_position", "eps", "n_stats")
_MAX_LISTED = 5  # keys named in an error message


class ReleaseFormatError(ValueError):
    """A state dict or config that is not in the converted BigGAN-deep release's format."""


# ---------------------------------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------------------------------
def converted_config(resolution: int) -> dict[str, Any]:
    """The release's ``config.json`` for biggan-deep-128/256/512, as a dict (attention before block 8, at 64²)."""
    if resolution not in _RELEASE_LAYERS:
        raise ValueError(f"the BigGAN-deep release exists at {sorted(_RELEASE_LAYERS)}, not resolution={resolution!r}")
    return dict(output_dim=resolution, z_dim=128, class_embed_dim=128, channel_width=128, num_classes=1000,
                layers=list(_RELEASE_LAYERS[resolution]), attention_layer_position=8, eps=1e-4, n_stats=51)


def parse_config(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    """A validated release config from a dict, a ``config.json`` path or a folder holding one.

    Missing keys take the biggan-deep-128 defaults, as the release's ``BigGANConfig.from_dict`` does (except a missing
    ``output_dim``, which follows from the layers); unknown keys are errors. The release ignores ``class_embed_dim``
    (its embedding has z_dim outputs) and ``output_dim``; here ``output_dim`` must agree with the resolution the
    layer list produces.
    """
    if isinstance(config, (str, Path)):
        path = Path(config)
        if path.is_dir():
            path = path / CONFIG_NAME
        if not path.is_file():
            raise FileNotFoundError(f"release config not found: {path}")
        try:
            config = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ReleaseFormatError(f"{path} is not a readable JSON config: {e}") from e
    if not isinstance(config, Mapping):
        raise ReleaseFormatError(f"a release config must be a mapping, got {type(config).__name__}")
    unknown = sorted(set(config) - set(_CONFIG_KEYS))
    if unknown:
        raise ReleaseFormatError(f"unknown release config keys {unknown}; valid keys are {list(_CONFIG_KEYS)}")
    cfg = {**converted_config(128), **copy.deepcopy(dict(config))}
    try:
        cfg["layers"] = [(bool(up), int(i), int(o)) for up, i, o in cfg["layers"]]
    except (TypeError, ValueError) as e:
        raise ReleaseFormatError(f"layers must be a list of (upsample, in_mult, out_mult), got "
                                 f"{cfg['layers']!r}") from e
    for key in ("z_dim", "channel_width", "num_classes", "attention_layer_position", "n_stats", "output_dim"):
        if isinstance(cfg[key], bool) or not isinstance(cfg[key], int):
            raise ReleaseFormatError(f"config {key} must be an int, got {cfg[key]!r}")
    for key in ("z_dim", "channel_width", "num_classes"):
        if cfg[key] < 1:
            raise ReleaseFormatError(f"config {key} must be >= 1, got {cfg[key]}")
    if cfg["n_stats"] < 2:  # the release divides by n_stats - 1
        raise ReleaseFormatError(f"config n_stats must be >= 2, got {cfg['n_stats']}")
    if not (isinstance(cfg["eps"], (int, float)) and cfg["eps"] > 0):
        raise ReleaseFormatError(f"config eps must be > 0, got {cfg['eps']!r}")
    layout = _layout(cfg)  # validates the layer list
    if "output_dim" not in config:
        cfg["output_dim"] = layout["resolution"]
    if cfg["output_dim"] != layout["resolution"]:
        raise ReleaseFormatError(f"config output_dim={cfg['output_dim']} but its layers upsample 4×4 to "
                                 f"{layout['resolution']}×{layout['resolution']}")
    return cfg


def _layout(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The release layer list as GeneratorDeep stages: per-stage multipliers, blocks per stage, attention resolution.

    GeneratorDeep's stage = (depth − 1) blocks in → in, then one upsampling block in → out; its skip keeps the
    first `out` channels where the release keeps the first in/2, so out must be in or in/2. Anything else is a layout
    GeneratorDeep cannot represent (and, for most of it, one the release itself would fail to run).
    """
    layers, ch = cfg["layers"], cfg["channel_width"]
    if not layers:
        raise ReleaseFormatError("config layers is empty")
    if layers[0][1] != _RELEASE_FIRST_MULT:
        raise ReleaseFormatError(f"the release's gen_z produces {_RELEASE_FIRST_MULT}·ch channels, so layers[0] must "
                                 f"have in_mult {_RELEASE_FIRST_MULT}, got {layers[0]}")
    if layers[-1][2] != 1:
        raise ReleaseFormatError(f"the release's final BatchNorm and conv_to_rgb have ch channels, so the last layer "
                                 f"must have out_mult 1, got {layers[-1]}")
    stages: list[tuple[int, int]] = []
    counts: list[int] = []
    boundaries = {0: _RELEASE_BOTTOM}  # block index → resolution of its input, at stage starts
    run, prev_out = 0, layers[0][1]
    for i, (up, m_in, m_out) in enumerate(layers):
        if m_in != prev_out:
            raise ReleaseFormatError(f"layers[{i}] takes {m_in}·ch channels but layers[{i - 1}] gives {prev_out}·ch")
        if (ch * m_in) // 4 < 1:
            raise ReleaseFormatError(f"layers[{i}]: {ch * m_in} channels leave no bottleneck channel (in // 4)")
        if m_out != m_in and ch * m_out != (ch * m_in) // 2:
            raise ReleaseFormatError(f"layers[{i}]: the release's skip keeps half the channels, so out must be in or "
                                     f"in/2, got {m_in}·ch → {m_out}·ch")
        run += 1
        if not up:
            if m_out != m_in:
                raise ReleaseFormatError(f"layers[{i}] changes channels without upsampling; GeneratorDeep only "
                                         f"changes them in a stage's last (upsampling) block")
        else:
            stages.append((m_in, m_out))
            counts.append(run)
            run = 0
            boundaries[i + 1] = _RELEASE_BOTTOM * 2 ** len(stages)
        prev_out = m_out
    if run:
        raise ReleaseFormatError(f"the last {run} layer(s) do not upsample; GeneratorDeep ends every stage with an "
                                 f"upsampling block")
    if len(set(counts)) != 1:
        raise ReleaseFormatError(f"GeneratorDeep needs the same number of blocks per resolution, the layers give "
                                 f"{counts}")
    pos = cfg["attention_layer_position"]
    attention_res: tuple[int, ...] = ()
    if 0 <= pos < len(layers):  # the release compares every block index with it; outside the range: no attention
        if pos == 0 or pos not in boundaries:
            raise ReleaseFormatError(f"attention_layer_position={pos} is not after a complete resolution stage "
                                     f"(stages end before blocks {sorted(b for b in boundaries if b)}); "
                                     f"GeneratorDeep cannot place attention there")
        attention_res = (boundaries[pos],)
        if ch * layers[pos][1] < 8:
            raise ReleaseFormatError(f"self-attention needs >= 8 channels, got {ch * layers[pos][1]}")
    return dict(stage_mults=tuple(stages), depth=counts[0], attention_res=attention_res,
                resolution=_RELEASE_BOTTOM * 2 ** len(stages))


def generator_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """GeneratorDeep keyword arguments that build the release's architecture for a (parsed) release config."""
    cfg = parse_config(config)
    layout = _layout(cfg)
    return dict(resolution=layout["resolution"], ch=cfg["channel_width"], dim_z=cfg["z_dim"], shared_dim=cfg["z_dim"],
                num_classes=cfg["num_classes"], depth=layout["depth"], channel_ratio=4,
                attention_res=layout["attention_res"], sn_eps=float(cfg["eps"]), bn_eps=float(cfg["eps"]),
                ortho_init=False, stage_mults=layout["stage_mults"], rgb_conv_channels=cfg["channel_width"])


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


# ---------------------------------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------------------------------
def _read_state_dict(path: Path) -> Mapping[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"converted BigGAN-deep weights not found: {path}")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several types for truncated zips, legacy files and unpickling errors
        raise CheckpointError(f"{path} is unreadable (truncated or corrupt, or not a torch.save file?): {e}") from e
    if not isinstance(sd, Mapping):
        raise ReleaseFormatError(f"{path} holds a {type(sd).__name__}, not a state dict")
    return sd


def _infer_config(state_dict: Mapping[str, Any], source: str) -> dict[str, Any]:
    """The official release config whose number of blocks matches the state dict (no config.json at hand)."""
    blocks = {m.group(1) for k in state_dict if (m := re.match(r"generator\.layers\.(\d+)\.bn_0\.", str(k)))}
    for res, layers in _RELEASE_LAYERS.items():
        if len(layers) == len(blocks):
            return converted_config(res)
    raise ReleaseFormatError(f"{source}: found {len(blocks)} generator blocks, which matches none of the "
                             f"biggan-deep-{'/'.join(map(str, _RELEASE_LAYERS))} releases "
                             f"({[len(v) for v in _RELEASE_LAYERS.values()]} blocks); pass config= (its config.json)")


def load_converted_biggan_deep(path_or_state_dict: str | Path | Mapping[str, Tensor], *,
                               config: Mapping[str, Any] | str | Path | None = None, resolution: int | None = None,
                               truncation: float = 1.0, mode: Literal["release", "linear"] = "release",
                               device: torch.device | str | None = None) -> GeneratorDeep:
    """A GeneratorDeep in eval mode holding the converted BigGAN-deep release's weights (BigGAN App. B, Fig. 16).

    Args:
        path_or_state_dict: ``pytorch_model.bin``, a folder with it (and ``config.json``), or the loaded state dict.
            Files are read with ``torch.load(map_location="cpu", weights_only=True)``.
        config: the release config (dict, ``config.json`` path or folder). Default: ``config.json`` beside the
            weights, else the official config for `resolution`, else the official config with as many blocks as the
            state dict (128/256/512).
        resolution: 128, 256 or 512 — the official config (or, with `config`, a check of its resolution).
        truncation: initial BN statistics (t ∈ (0, 1]); change them later with :func:`set_bn_truncation`.
        mode: statistics interpolation, see :func:`bn_statistics`.
        device: where to put the generator (default CPU).

    The statistics banks stay on every BatchNorm2d as non-persistent buffers, so ``G.state_dict()`` is an ordinary
    GeneratorDeep state dict for ``GeneratorDeep(**generator_kwargs(G.release_config))``.
    """
    source = "state dict"
    config_path: Path | None = None
    if isinstance(path_or_state_dict, (str, Path)):
        path = Path(path_or_state_dict)
        if path.is_dir():
            path = path / WEIGHTS_NAME
        config_path = path.parent / CONFIG_NAME
        source = str(path)
        state_dict = _read_state_dict(path)
    elif isinstance(path_or_state_dict, Mapping):
        state_dict = path_or_state_dict
    else:
        raise TypeError(f"path_or_state_dict must be a path or a state dict, got {type(path_or_state_dict).__name__}")

    if config is not None:
        cfg = parse_config(config)
    elif resolution is not None:
        cfg = converted_config(resolution)
    elif config_path is not None and config_path.is_file():
        cfg = parse_config(config_path)
    else:
        cfg = _infer_config(state_dict, source)
    if resolution is not None and cfg["output_dim"] != resolution:
        raise ReleaseFormatError(f"resolution={resolution} but the config describes a {cfg['output_dim']}² model")

    converted = convert_state_dict(state_dict, cfg, truncation=truncation, mode=mode, source=source)
    G = GeneratorDeep(**generator_kwargs(cfg))
    G.load_state_dict(converted, strict=True)
    for r, g in _bank_targets(cfg):
        bn = G.get_submodule(g)
        # Non-persistent: they follow .to(device) but keep G.state_dict() in GeneratorDeep's own format.
        bn.register_buffer("truncation_means", state_dict[f"{r}.running_means"].detach().to(torch.float32).clone(),
                           persistent=False)
        bn.register_buffer("truncation_vars", state_dict[f"{r}.running_vars"].detach().to(torch.float32).clone(),
                           persistent=False)
    G.release_config = cfg
    G.bn_truncation = float(truncation)
    if device is not None:
        G = G.to(device)
    return G.eval()


@torch.no_grad()
def set_bn_truncation(G: nn.Module, truncation: float, *, mode: Literal["release", "linear"] = "release") -> None:
    """Set every BatchNorm of a loaded release generator to the statistics for truncation t (see
    :func:`bn_statistics`); pair it with latents from ``truncated_noise(n, truncation=t)``."""
    banked = [m for m in G.modules() if isinstance(m, nn.BatchNorm2d) and hasattr(m, "truncation_means")]
    if not banked:
        raise ValueError("this generator has no truncation statistics banks; load it with load_converted_biggan_deep")
    for bn in banked:
        mean, var = bn_statistics(bn.truncation_means, bn.truncation_vars, truncation, mode=mode)
        bn.running_mean.copy_(mean)
        bn.running_var.copy_(var)
    G.bn_truncation = float(truncation)


def truncated_noise(n: int, *, truncation: float, dim: int = 128, seed: int | None = None,
                    generator: torch.Generator | None = None) -> Tensor:
    """Latents as the release samples them: t · TruncatedNormal(-2, 2), shape (n, dim) (BigGAN §3.1 truncation).

    Same distribution as the release's ``truncated_noise_sample`` (scipy ``truncnorm(-2, 2)``), other random stream.
    """
    if not 0.0 < truncation <= 1.0:
        raise ValueError(f"truncation must lie in (0, 1], got {truncation!r}")
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if seed is not None:
        generator = torch.Generator().manual_seed(seed)
    return truncation * truncated_normal((n, dim), threshold=_Z_TRUNCATION_BOUND, generator=generator)


def class_vec_from_release(G: GeneratorDeep, class_vector: Tensor) -> Tensor:
    """The release's class input (N×num_classes, one-hot or soft) as GeneratorDeep's ``class_vec`` (N×z_dim).

    The release embeds it with a bias-free Linear, i.e. ``class_vector @ G.shared.weight``, which for one-hot rows is
    ``G.class_vector(labels)``.
    """
    if class_vector.dim() != 2 or class_vector.shape[1] != G.num_classes:
        raise ValueError(f"class_vector must be N×{G.num_classes}, got shape {tuple(class_vector.shape)}")
    return class_vector.to(G.shared.weight.dtype) @ G.shared.weight
