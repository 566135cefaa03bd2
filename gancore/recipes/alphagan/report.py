"""Tables and figures of the alphaGAN notebook: the search space, the published genotypes' sizes (Tables 2–3),
the duality gap over the search beside the α-frozen control (Fig. 4), α per edge and the derived genotype over
epochs (Fig. 3), the derived architecture, and the searched-vs-random retrains."""
from __future__ import annotations

from typing import Any, Sequence

from gancore.config import load_yaml, papers_dir
from gancore.recipes.alphagan.config import AlphaGANConfig
from gancore.models.alphagan_space import (NORMAL_OPS, PUBLISHED, UP_OPS, Genotype, hamming, normal_edge_names,
                                     search_space_size, up_edge_names)
from gancore.viz import new_figure


def space_table() -> list[dict[str, Any]]:
    """Every searchable edge of G with its candidate ops (§4.2, Fig. 2)."""
    rows = [{"edge": e, "kind": "normal", "candidates": ", ".join(NORMAL_OPS)} for e in normal_edge_names()]
    rows += [{"edge": e, "kind": "up (×4: applied twice)" if "1_to_cell3" in e else "up", "candidates": ", ".join(UP_OPS)}
             for e in up_edge_names()]
    return rows


def space_size_text() -> str:
    n = search_space_size()
    return f"{len(NORMAL_OPS)}^{len(normal_edge_names())} · {len(UP_OPS)}^{len(up_edge_names())} = {n:,} ≈ {n:.2e}"


def published_table() -> list[dict[str, Any]]:
    """Parameters and FLOPs (both conventions) of the published genotypes at 32² and 48², beside Tables 2 and 3."""
    from gancore.recipes.alphagan.retrain import genotype_summary

    reported = load_yaml(papers_dir() / "alphagan" / "paper.yaml")["reported"]
    rows = []
    for res, table in ((32, "table2_cifar10"), (48, "table3_stl10")):
        cfg = AlphaGANConfig(resolution=res)
        for name in ("alphagan_s", "alphagan_l"):
            s, paper = genotype_summary(cfg, PUBLISHED[name]), reported[table][name]
            rows.append({"genotype": name, "resolution": res, "params G (M)": s["params_G_m"],
                         "paper params (M)": paper["params_m"], "FLOPs, paper convention (G)":
                         s["flops_paper_convention_g"], "paper FLOPs (G)": paper["flops_g"],
                         "true MACs (G)": s["macs_g"]})
    return rows


def search_records(log: Sequence[dict]) -> list[dict]:
    return [r for r in log if r.get("kind") == "search"]


def gap_figure(records: Sequence[dict], controls: Sequence[dict] = ()):
    """Fig. 4: V per epoch of the search, with the α-frozen control runs (same data and latents) beside it."""
    fig = new_figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    records = [r for r in records if "gap" in r]  # warm-up epochs measure no V (their arch part is skipped)
    ax.plot([r["epoch"] for r in records], [r["gap"] for r in records], marker="o", label="search (α learned)")
    for c in controls:
        if c.get("gap"):
            ax.plot(range(1, len(c["gap"]) + 1), c["gap"], linestyle="--", marker=".",
                    label=f"α frozen, seed {c.get('seed')}")
    ax.axhline(0, color="0.6", linewidth=0.8)
    ax.set_xlabel("search epoch")
    ax.set_ylabel("duality gap V (validation)")
    ax.set_title("duality gap over the search (Fig. 4)")
    ax.legend(fontsize=8)
    return fig


def alpha_heatmaps(alpha_softmax: dict[str, list[list[float]]], *, title: str = ""):
    """softmax(α) per edge (rows) and op (columns), normal and up-sampling edges side by side (Fig. 3's state)."""
    import seaborn as sns

    fig = new_figure(figsize=(10.0, 4.2), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=[2, 1])
    for ax, key, ops, edges in ((axes[0], "normal", NORMAL_OPS, normal_edge_names()),
                                (axes[1], "up", UP_OPS, up_edge_names())):
        sns.heatmap(alpha_softmax[key], ax=ax, annot=True, fmt=".2f", cmap="viridis", cbar=False,
                    xticklabels=[o.replace("_", " ") for o in ops], yticklabels=edges, annot_kws={"fontsize": 7})
        ax.set_title(f"softmax(α), {key} edges")
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title)
    return fig


def tracking_table(records: Sequence[dict]) -> list[dict[str, Any]]:
    """The derived genotype per epoch (Fig. 3): how many edges changed since the epoch before, how far it is from
    the final one, and the largest op weight (how decided α is)."""
    if not records:
        return []
    geno = [Genotype.from_flat(r["normal"], r["up"]) for r in records]
    rows = []
    for i, (r, g) in enumerate(zip(records, geno)):
        top = [max(row) for part in ("normal", "up") for row in r["alpha_softmax"][part]]
        gap = round(r["gap"], 4) if "gap" in r else None  # None: a warm-up epoch (no arch part)
        rows.append({"epoch": r["epoch"], "gap": gap, "α frozen": r.get("alpha_frozen", False),
                     "edges changed": hamming(g, geno[i - 1]) if i else None, "edges ≠ final": hamming(g, geno[-1]),
                     "mean max softmax(α)": round(sum(top) / len(top), 4)})
    return rows


def op_distribution_figure(genotype: Genotype, *, title: str = "operations of the derived genotype"):
    """How many edges picked each op, normal and up-sampling (the paper's op distributions, App. 10)."""
    fig = new_figure(figsize=(7.0, 3.0), layout="constrained")
    axes = fig.subplots(1, 2, width_ratios=[2, 1])
    for ax, ops, chosen in ((axes[0], NORMAL_OPS, genotype.normal_ops()), (axes[1], UP_OPS, genotype.up_ops())):
        ax.bar([o.replace("_", "\n") for o in ops], [chosen.count(o) for o in ops], color="tab:blue")
        ax.tick_params(labelsize=7)
        ax.set_ylabel("edges")
    fig.suptitle(title)
    return fig


def genotype_table(genotype: Genotype) -> list[dict[str, str]]:
    return genotype.describe()


def retrain_table(retrains: Sequence[dict]) -> list[dict[str, Any]]:
    """One row per retrained (genotype, seed): parameters, FID/IS/KID and time."""
    keys = ("genotype", "seed", "iterations", "params_G", "fid", "is_mean", "kid_mean", "train_seconds", "diverged")
    return [{k: r.get(k) for k in keys if k in r} for r in retrains]


def retrain_figure(retrains: Sequence[dict]):
    """FID per genotype (one dot per seed, bar = mean): the searched genotype against random ones and alphaGAN(s)."""
    rows = [r for r in retrains if r.get("fid") is not None]
    fig = new_figure(figsize=(6.0, 3.2), layout="constrained")
    ax = fig.add_subplot()
    names = list(dict.fromkeys(r["genotype"] for r in rows))
    for i, name in enumerate(names):
        fids = [r["fid"] for r in rows if r["genotype"] == name]
        ax.bar(i, sum(fids) / len(fids), color="tab:orange" if name == "searched" else "tab:gray", alpha=0.6)
        ax.scatter([i] * len(fids), fids, color="k", s=12, zorder=3)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylabel("FID (lower is better)")
    ax.set_title("same retrain budget, one dot per seed")
    return fig


__all__ = ["alpha_heatmaps", "gap_figure", "genotype_table", "op_distribution_figure", "published_table",
           "retrain_figure", "retrain_table", "search_records", "space_size_text", "space_table", "tracking_table"]
