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

The config lives in :mod:`gancore.models.biggan_pretrained_config`, the state-dict conversion in
:mod:`gancore.models.biggan_pretrained_convert`; this module loads and samples, and every name is importable from here.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import torch
from torch import Tensor, nn

from gancore.checkpoint import CheckpointError
from gancore.latents import truncated_normal
from gancore.models.biggan import GeneratorDeep
from gancore.models.biggan_pretrained_config import (
    _RELEASE_LAYERS,
    CONFIG_NAME,
    WEIGHTS_NAME,
    ReleaseFormatError,
    converted_config,
    generator_kwargs,
    parse_config,
)
from gancore.models.biggan_pretrained_convert import (
    _bank_targets,
    bn_statistics,
    convert_state_dict,
    release_state_dict_shapes,
)

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

_Z_TRUNCATION_BOUND = 2.0  # the release's truncated_noise_sample draws truncnorm(-2, 2)


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
