"""BigGAN's tables and figures for the notebook: per-block parameters, Table 1's model sizes, real and generated
images per class."""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gancore.nn import count_params
from gancore.recipes.biggan.config import BigGANConfig
from gancore.recipes.biggan.recipe import shape_only_networks


def _build_counts(cfg: BigGANConfig, num_classes: int) -> tuple[int, int]:
    """G and D parameter counts, built on the meta device (no memory, no init cost: only shapes matter)."""
    G, D = shape_only_networks(cfg, num_classes)
    return count_params(G), count_params(D)


def architecture_table(cfg: BigGANConfig, *, num_classes: int) -> list[dict[str, Any]]:
    """Per-block channels and parameters of this run's G and D (App. B), plus embedding/head rows."""
    G, D = shape_only_networks(cfg, num_classes)
    rows = []
    for net_name, net in (("G", G), ("D", D)):
        for name, child in net.named_children():
            if isinstance(child, nn.ModuleList):
                for i, block in enumerate(child):
                    rows.append({"net": net_name, "part": f"{name}.{i} ({type(block).__name__})",
                                 "parameters": count_params(block)})
            elif isinstance(child, nn.ModuleDict):
                for key, block in child.items():
                    rows.append({"net": net_name, "part": f"{name}[{key}] ({type(block).__name__})",
                                 "parameters": count_params(block)})
            else:
                rows.append({"net": net_name, "part": f"{name} ({type(child).__name__.replace('Parametrized', 'SN ')})",
                             "parameters": count_params(child)})
        rows.append({"net": net_name, "part": "total", "parameters": count_params(net)})
    return rows


def table1_param_check() -> list[dict[str, Any]]:
    """G+D parameters of Table 1's 128×128 ImageNet models (1000 classes) as gancore builds them, beside the paper."""
    from gancore.recipes.biggan.config import table1_rows

    seen: dict[tuple, int] = {}
    rows = []
    for i, r in enumerate(table1_rows()):
        key = (r["ch"], r["shared"], r["hier"])
        if key not in seen:
            cfg = BigGANConfig(resolution=128, ch=r["ch"], shared=r["shared"], hier=r["hier"], dim_z=120,
                               attention_res=[64], num_classes=1000)
            seen[key] = sum(_build_counts(cfg, 1000))
        n = seen[key]
        rows.append({"row": i, "batch": r["batch"], "ch": r["ch"], "shared": r["shared"], "hier": r["hier"],
                     "ortho": r["ortho"], "paper (M)": r["params_m"], "gancore (M)": round(n / 1e6, 2),
                     "difference": f"{n / (r['params_m'] * 1e6) - 1:+.2%}", "paper FID": r["fid"],
                     "paper IS": r["is"]})
    return rows


def class_rows_figure(data, *, per_class: int = 8):
    """``per_class`` real images of every class, one row per class."""
    from gancore.viz import show_grid

    picks = []
    for c in range(data.num_classes):
        picks.append(data.select((data.labels == c).nonzero().flatten()[:per_class]))
    names = ", ".join(data.class_names[: data.num_classes])
    return show_grid(torch.cat(picks), nrow=per_class, title=f"rows: {names}")


def class_grid_figure(G: nn.Module, *, class_names: list[str], per_class: int = 6, seed: int = 0,
                      truncation: float | None = None):
    """Samples of G with one column per class and one row per latent (the same z across each row)."""
    from gancore.latents import sample_latents
    from gancore.viz import show_grid
    from gancore.sampling import generate_uint8

    k = G.num_classes
    z = sample_latents(per_class, G.dim_z, seed=seed, truncation=truncation).repeat_interleave(k, dim=0)
    y = torch.arange(k).repeat(per_class)
    imgs = generate_uint8(G, z, gen_kwargs={"y": y})
    names = ", ".join(class_names[:k])
    return show_grid(imgs, nrow=k, title=f"columns: {names}" + ("" if truncation is None else f"; τ={truncation}"))
