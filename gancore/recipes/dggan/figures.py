"""DGGAN's figures for the notebook: Fig. 3 (normalized FID against the G/D parameter ratio), the action statistics,
the parent-quality plot and the search tree, drawn from :mod:`gancore.recipes.dggan.analysis`'s rows."""
from __future__ import annotations

import math
from typing import Any, Sequence

from gancore.recipes.dggan.analysis import route
from gancore.viz import new_figure


def ratio_figure(rows: Sequence[dict[str, Any]], *, best: str | None):
    """Fig. 3 left: G2D parameter ratio (log₂) against normalized FID, all candidates and nFID < 1.2."""
    fig = new_figure(figsize=(11, 4.2))
    ok = [r for r in rows if r["nfid"] is not None and r["g2d"]]
    path = route(rows, best)
    for ax, subset, title in ((fig.add_subplot(1, 2, 1), ok, "all candidates"),
                              (fig.add_subplot(1, 2, 2), [r for r in ok if r["nfid"] < 1.2], "nFID < 1.2")):
        for res in sorted({r["resolution"] for r in subset}):
            pts = [r for r in subset if r["resolution"] == res]
            ax.scatter([math.log2(r["g2d"]) for r in pts], [r["nfid"] for r in pts], s=22, alpha=0.75,
                       label=f"{res}²")
        for a, b in zip(path, path[1:]):
            if a["nfid"] is not None and b["nfid"] is not None and a["g2d"] and b["g2d"]:
                ax.annotate("", xy=(math.log2(b["g2d"]), b["nfid"]), xytext=(math.log2(a["g2d"]), a["nfid"]),
                            arrowprops={"arrowstyle": "->", "color": "red", "lw": 1.4})
        ax.axhline(1.0, color="grey", ls="--", lw=0.8)
        ax.set_xlabel("log₂ (G params / D params)")
        ax.set_ylabel("FID / symmetric baseline's FID")
        ax.set_title(title)
        if subset:
            ax.legend(fontsize=8)
    fig.suptitle("G-to-D capacity against normalized FID; red arrows: the best candidate's growth route")
    fig.tight_layout()
    return fig



def action_figure(stats: Sequence[dict[str, Any]]):
    fig = new_figure(figsize=(max(6, 0.6 * len(stats) + 2), 5))
    ax1, ax2 = fig.add_subplot(2, 1, 1), fig.add_subplot(2, 1, 2)
    names = [s["action"] for s in stats]
    ax1.bar(names, [100 * s["improved share"] for s in stats], color="tab:blue")
    ax1.set_ylabel("% improved")
    ax2.bar(names, [s["mean improvement"] for s in stats], yerr=[s["std"] or 0 for s in stats], color="tab:orange",
            capsize=3)
    ax2.axhline(0, color="grey", lw=0.8)
    ax2.set_ylabel("1 − nFID child / parent")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=60, labelsize=8)
    ax1.set_title("How each action affects training (Fig. 3 middle)")
    fig.tight_layout()
    return fig



def parent_quality_figure(table: Sequence[dict[str, Any]]):
    fig = new_figure(figsize=(5.5, 3.6))
    ax = fig.add_subplot()
    ts = [r["threshold"] for r in table]
    for key, label in (("good share | good parent", "good parents"),
                       ("good share | sub-optimal parent", "sub-optimal parents")):
        ax.plot(ts, [r[key] if r[key] is not None else float("nan") for r in table], "o-", label=label)
    ax.set_xlabel("normalized FID threshold")
    ax.set_ylabel("share of good children")
    ax.set_ylim(-0.05, 1.05)
    ax.legend()
    ax.set_title("Do good parents have good children? (Fig. 3 right)")
    fig.tight_layout()
    return fig



def tree_figure(rows: Sequence[dict[str, Any]], *, best: str | None):
    """The search tree: every candidate at (step, normalized FID), an edge to its parent; kept parents filled."""
    fig = new_figure(figsize=(9, 4.2))
    ax = fig.add_subplot()
    by_id = {r["cid"]: r for r in rows}
    on_route = {r["cid"] for r in route(rows, best)}
    for r in rows:
        parent = by_id.get(r["parent"])
        if parent and r["nfid"] is not None and parent["nfid"] is not None:
            red = r["cid"] in on_route and parent["cid"] in on_route
            ax.plot([parent["step"], r["step"]], [parent["nfid"], r["nfid"]], color="red" if red else "lightgrey",
                    lw=1.6 if red else 0.8, zorder=1)
    for kept, marker in ((True, "o"), (False, "x")):
        pts = [r for r in rows if r["kept"] == kept and r["nfid"] is not None]
        ax.scatter([r["step"] for r in pts], [r["nfid"] for r in pts], marker=marker, s=30, zorder=2,
                   label="kept as a parent" if kept else "pruned")
    failed = [r for r in rows if r["nfid"] is None]
    if failed:
        ax.scatter([r["step"] for r in failed], [1.0] * len(failed), marker="s", color="black", s=18,
                   label="failed (drawn at 1)")
    ax.axhline(1.0, color="grey", ls="--", lw=0.8)
    ax.set_xlabel("search step")
    ax.set_ylabel("normalized FID")
    ax.set_title("The search tree (red: the best candidate's route)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["action_figure", "parent_quality_figure", "ratio_figure", "tree_figure"]
