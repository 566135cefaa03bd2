"""The converted BigGAN-deep release's config (BigGAN App. B): file names, the official biggan-deep-128/256/512
configs, config validation, and the GeneratorDeep layout and keyword arguments a config describes.

See :mod:`gancore.models.biggan_pretrained` for the release format; every name is importable from there.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WEIGHTS_NAME = "pytorch_model.bin"
CONFIG_NAME = "config.json"
_RELEASE_BOTTOM = 4  # gen_z reshapes to 4×4×(16·ch): bottom width and channel multiplier are fixed in the release.
_RELEASE_FIRST_MULT = 16

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

