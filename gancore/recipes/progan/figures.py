"""ProGAN's tables and figures for the notebook: Table 2 parameter counts, the image pyramid and the growth rows."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from gancore.models.progan import Discriminator, Generator
from gancore.nn import count_params
from gancore.recipes.progan.config import ProGANConfig
from gancore.recipes.progan.method import build_networks


def architecture_table(G: Generator, D: Discriminator) -> "pandas.DataFrame":
    """Parameters per resolution block of G and D, like Table 2 (toRGB/fromRGB listed separately)."""
    import pandas as pd

    rows = []
    for res in G.resolutions:
        g_block = sum(p.numel() for n, p in G.named_parameters() if _block_of(n) == ("block", res))
        g_rgb = sum(p.numel() for n, p in G.named_parameters() if _block_of(n) == ("rgb", res))
        d_block = sum(p.numel() for n, p in D.named_parameters() if _block_of(n) == ("block", res))
        d_rgb = sum(p.numel() for n, p in D.named_parameters() if _block_of(n) == ("rgb", res))
        rows.append({"resolution": f"{res}×{res}", "G block": g_block, "G toRGB": g_rgb,
                     "D block": d_block, "D fromRGB": d_rgb})
    sums = {c: sum(r[c] for r in rows) for c in ("G block", "G toRGB", "D block", "D fromRGB")}
    other_g = count_params(G) - sums["G block"] - sums["G toRGB"]
    other_d = count_params(D) - sums["D block"] - sums["D fromRGB"]
    if other_g or other_d:  # e.g. D's final dense head
        rows.append({"resolution": "head/other", "G block": other_g, "G toRGB": 0, "D block": other_d,
                     "D fromRGB": 0})
    rows.append({"resolution": "total", "G block": count_params(G), "G toRGB": "", "D block": count_params(D),
                 "D fromRGB": ""})
    return pd.DataFrame(rows)


def _block_of(name: str) -> tuple[str, int] | None:
    """Map a parameter name to ('block'|'rgb', resolution) using the networks' ModuleDicts keyed by resolution."""
    parts = name.split(".")
    if len(parts) > 2 and parts[1].isdigit():
        if parts[0] == "blocks":
            return "block", int(parts[1])
        if parts[0] in ("to_rgb", "from_rgb"):
            return "rgb", int(parts[1])
    return None


def table2_check() -> list[dict[str, Any]]:
    """Parameter counts of the 1024² G and D (App. A.1 defaults) beside Table 2's 23.1M each."""
    G, D = build_networks(ProGANConfig(resolution=1024))
    rows = []
    for name, net in (("G", G), ("D", D)):
        n = count_params(net)
        rows.append({"network": name, "paper (M)": 23.1, "gancore (M)": round(n / 1e6, 3),
                     "difference": f"{(n / 23.1e6 - 1):+.2%}"})
    return rows


def pyramid_figure(data, *, n: int = 8):
    """The same ``n`` real images at every cached resolution (upscaled for display), finest last."""
    from gancore.viz import show_grid

    top = data.resolution
    rows = []
    for r in [2**k for k in range(2, top.bit_length()) if 2**k <= top]:
        level = data.images(r, n).float()
        rows.append(torch.nn.functional.interpolate(level, size=top, mode="nearest").round().to(torch.uint8))
    return show_grid(torch.cat(rows), nrow=n, title="reals at 4×4 … full resolution (rows)")


def growth_figure(out_dir: str | Path, *, n: int = 8):
    """The first ``n`` fixed-latent samples at the end of every phase, one row each, upscaled to the largest size."""
    import numpy as np
    from PIL import Image
    from gancore.viz import show_grid

    folder = Path(out_dir, "samples")
    kimg = lambda p: float(p.stem.split("kimg")[1].split("-")[0])  # noqa: E731
    paths = sorted(folder.glob("end-*.png"), key=kimg) + sorted(folder.glob("final-*.png"), key=kimg)
    if not paths:
        raise FileNotFoundError(f"no phase-end samples in {folder}")
    rows = []
    for p in paths:
        res = int(p.stem.rsplit("res", 1)[1])
        grid = torch.from_numpy(np.array(Image.open(p).convert("RGB"))).permute(2, 0, 1)
        # Trainer.save_samples writes 8 per row with 1 px padding: tile i of the first row starts at 1 + i·(res+1).
        tiles = [grid[:, 1:1 + res, 1 + i * (res + 1):1 + i * (res + 1) + res] for i in range(n)]
        rows.append(torch.stack(tiles))
    top = max(t.shape[-1] for t in rows)
    rows = [torch.nn.functional.interpolate(t.float(), size=top, mode="nearest").to(torch.uint8) for t in rows]
    names = ", ".join(p.stem.split("-kimg")[0].replace("end-", "") for p in paths)
    return show_grid(torch.cat(rows), nrow=n, title=f"rows: {names}")
