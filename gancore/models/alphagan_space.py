"""alphaGAN's generator search space as data (Tian et al., §4.2 "Search space of G", Fig. 2), and genotypes.

A generator has three cells (4→8, 8→16, 16→32 at CIFAR-10's 32², 6→…→48 for STL-10). Inside cell ``c``:

* two **up-sampling** edges leave the cell input: ``input→node1`` and ``input→node3``;
* three **normal** edges: ``node1→node2``, ``node2→node4`` and ``node3→node4``; node 4 is the cell output;
* node 1 is also kept for the **cross-cell** up-sampling edges, added into a later cell's node 4:
  cell 1's node 1 → cell 2 (×2), cell 1's node 1 → cell 3 (×4, the op applied twice) and cell 2's node 1 → cell 3 (×2).

That is 9 normal edges (6 ops each) and 9 up-sampling edges (3 ops each): (6³·3²)³·3³ = 6⁹·3⁹ ≈ 2·10¹¹ members, the
paper's figure. A :class:`Genotype` picks one op per edge; ``genotype.json`` stores it as

    {"format": "gancore-alphagan-genotype/1",
     "normal": {"cell1": [n1→n2, n2→n4, n3→n4], "cell2": [...], "cell3": [...]},
     "up": {"cell1": [input→node1, input→node3], "cell2": [...], "cell3": [...]},
     "cross": {"cell1_to_cell2": op, "cell1_to_cell3": op, "cell2_to_cell3": op},
     "meta": {...}}          # optional: where it came from (search epoch, α softmax), never read back as structure

The published alphaGAN(s) and alphaGAN(l) genotypes come from the authors' release (``models/genotypes.py`` of
github.com/yuesongtian/AlphaGAN), transcribed into this layout; with C = 256 they give Table 2's 2.953M / 8.618M
parameters (tests assert it).
"""
from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gancore.errors import ConfigError

NORMAL_OPS = ("conv_1x1", "conv_3x3", "conv_5x5", "sep_conv_3x3", "sep_conv_5x5", "sep_conv_7x7")
UP_OPS = ("deconv", "nearest", "bilinear")
CELLS = ("cell1", "cell2", "cell3")
NORMAL_EDGES = ("node1->node2", "node2->node4", "node3->node4")  # per cell, in genotype.json's order
UP_EDGES = ("input->node1", "input->node3")  # per cell
# (name, source cell, target cell, up-sampling factor)
CROSS_EDGES = (("cell1_to_cell2", 1, 2, 2), ("cell1_to_cell3", 1, 3, 4), ("cell2_to_cell3", 2, 3, 2))
FORMAT = "gancore-alphagan-genotype/1"


def normal_edge_names() -> list[str]:
    """The 9 normal edges, ``cell<c>:<from>-><to>``, in α-row order."""
    return [f"{c}:{e}" for c in CELLS for e in NORMAL_EDGES]


def up_edge_names() -> list[str]:
    """The 9 up-sampling edges in α-row order: the 6 in-cell ones, then the 3 cross-cell ones."""
    return [f"{c}:{e}" for c in CELLS for e in UP_EDGES] + [name for name, *_ in CROSS_EDGES]


def search_space_size() -> int:
    """Members of the space: every normal edge picks one of 6 ops, every up-sampling edge one of 3 (§4.2)."""
    return len(NORMAL_OPS) ** len(normal_edge_names()) * len(UP_OPS) ** len(up_edge_names())


@dataclass(frozen=True)
class Genotype:
    """One op per edge. ``normal[c]`` and ``up[c]`` are cell c's ops in the orders of NORMAL_EDGES and UP_EDGES."""

    normal: tuple[tuple[str, str, str], tuple[str, str, str], tuple[str, str, str]]
    up: tuple[tuple[str, str], tuple[str, str], tuple[str, str]]
    cross: tuple[str, str, str]  # cell1→cell2, cell1→cell3, cell2→cell3
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    # ---- flat views in α-row order ---------------------------------------------------------------------------
    def normal_ops(self) -> list[str]:
        return [op for cell in self.normal for op in cell]

    def up_ops(self) -> list[str]:
        return [op for cell in self.up for op in cell] + list(self.cross)

    @classmethod
    def from_flat(cls, normal: list[str], up: list[str], *, meta: dict[str, Any] | None = None) -> "Genotype":
        """From the 9 normal and 9 up-sampling ops in α-row order (:func:`normal_edge_names`, :func:`up_edge_names`)."""
        data = {"normal": {c: normal[3 * i:3 * i + 3] for i, c in enumerate(CELLS)},
                "up": {c: up[2 * i:2 * i + 2] for i, c in enumerate(CELLS)},
                "cross": {name: up[6 + i] for i, (name, *_) in enumerate(CROSS_EDGES)}}
        return cls.from_dict(data, source="edge lists", meta=meta)

    # ---- JSON ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "format": FORMAT,
            "normal": {c: list(ops) for c, ops in zip(CELLS, self.normal)},
            "up": {c: list(ops) for c, ops in zip(CELLS, self.up)},
            "cross": {name: op for (name, *_), op in zip(CROSS_EDGES, self.cross)},
        }
        if self.meta:
            out["meta"] = self.meta
        return out

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "genotype", meta: dict[str, Any] | None = None) -> "Genotype":
        """Check every cell, edge count and op name; errors name the valid ops and the expected shape."""
        shape = ('{"normal": {"cell1": [3 ops], "cell2": [3 ops], "cell3": [3 ops]}, '
                 '"up": {"cell1": [2 ops], "cell2": [2 ops], "cell3": [2 ops]}, '
                 '"cross": {"cell1_to_cell2": op, "cell1_to_cell3": op, "cell2_to_cell3": op}}')
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: a genotype must be a JSON object shaped like {shape}; got "
                              f"{type(data).__name__}")
        unknown = set(data) - {"format", "normal", "up", "cross", "meta"}
        if unknown:
            raise ConfigError(f"{source}: unknown genotype keys {sorted(unknown)}; expected {shape}")
        if data.get("format", FORMAT) != FORMAT:
            raise ConfigError(f"{source}: format {data.get('format')!r} is not {FORMAT!r}")

        def ops_of(part: str, names: tuple[str, ...], count: int, valid: tuple[str, ...]) -> list[list[str]]:
            table = data.get(part)
            if not isinstance(table, dict) or set(table) != set(names):
                got = sorted(table) if isinstance(table, dict) else type(table).__name__
                raise ConfigError(f"{source}: {part!r} must map exactly {list(names)} to op lists; got {got}. "
                                  f"Expected shape: {shape}")
            out = []
            for name in names:
                ops = table[name] if count else [table[name]]
                if not isinstance(ops, list) or len(ops) != max(count, 1):
                    raise ConfigError(f"{source}: {part}.{name} must be a list of {count} ops (edges "
                                      f"{list(NORMAL_EDGES if part == 'normal' else UP_EDGES)}), got {ops!r}")
                for op in ops:
                    if op not in valid:
                        raise ConfigError(f"{source}: {part}.{name} has unknown op {op!r}; valid {part} ops: "
                                          f"{', '.join(valid)}")
                out.append(list(ops))
            return out

        if not isinstance(data.get("meta", {}), dict):
            raise ConfigError(f"{source}: 'meta' must be a JSON object (notes such as the search epoch), got "
                              f"{type(data['meta']).__name__}")
        normal = ops_of("normal", CELLS, 3, NORMAL_OPS)
        up = ops_of("up", CELLS, 2, UP_OPS)
        cross = [ops[0] for ops in ops_of("cross", tuple(n for n, *_ in CROSS_EDGES), 0, UP_OPS)]
        return cls(normal=tuple(tuple(c) for c in normal), up=tuple(tuple(c) for c in up),  # type: ignore[arg-type]
                   cross=tuple(cross), meta=dict(meta if meta is not None else data.get("meta", {})))  # type: ignore

    def compact(self) -> str:
        """One-line JSON of the structure alone (no meta): a genotype's identity, accepted by :func:`load_genotype`."""
        data = {k: v for k, v in self.to_dict().items() if k != "meta"}
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    def save(self, path: str | Path) -> Path:
        from gancore.checkpoint import atomic_write_text

        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)

    def describe(self) -> list[dict[str, str]]:
        """One row per edge (cell, edge, kind, op) for tables."""
        rows = [{"edge": e, "kind": "normal", "op": op} for e, op in zip(normal_edge_names(), self.normal_ops())]
        rows += [{"edge": e, "kind": "up", "op": op} for e, op in zip(up_edge_names(), self.up_ops())]
        return rows


# ---- published genotypes (authors' release) ------------------------------------------------------------------
PUBLISHED: dict[str, Genotype] = {
    "alphagan_s": Genotype(
        normal=(("conv_1x1", "sep_conv_3x3", "conv_1x1"), ("sep_conv_5x5", "sep_conv_3x3", "sep_conv_3x3"),
                ("sep_conv_5x5", "sep_conv_3x3", "sep_conv_3x3")),
        up=(("bilinear", "deconv"), ("deconv", "deconv"), ("deconv", "nearest")),
        cross=("nearest", "deconv", "bilinear"),
        meta={"source": "alphaGAN(s), Tian et al. Table 2; the authors' release (models/genotypes.py)"}),
    "alphagan_l": Genotype(
        normal=(("conv_5x5", "conv_5x5", "sep_conv_5x5"), ("conv_5x5", "conv_1x1", "conv_3x3"),
                ("conv_1x1", "conv_5x5", "sep_conv_3x3")),
        up=(("deconv", "bilinear"), ("deconv", "bilinear"), ("nearest", "bilinear")),
        cross=("nearest", "bilinear", "nearest"),
        meta={"source": "alphaGAN(l), Tian et al. Table 2; the authors' release (models/genotypes.py)"}),
}


def random_genotype(seed: int) -> Genotype:
    """A uniform draw from the space (the "random search" baseline of Table 2), reproducible from ``seed``."""
    rng = random.Random(f"alphagan-random-genotype:{seed}")
    normal = [rng.choice(NORMAL_OPS) for _ in normal_edge_names()]
    up = [rng.choice(UP_OPS) for _ in up_edge_names()]
    return Genotype.from_flat(normal, up, meta={"source": f"random:{seed}"})


def load_genotype(spec: str | Path, *, run_dir: str | Path | None = None) -> Genotype:
    """A genotype from a published name (``alphagan_s``, ``alphagan_l``), ``random:<seed>`` or a ``genotype.json``
    path (a run folder holding one works too). Unknown names list the known ones."""
    text = str(spec).strip()
    if text in PUBLISHED:
        return PUBLISHED[text]
    if text.startswith("random:"):
        seed = text.split(":", 1)[1]
        if not seed.strip().removeprefix("-").isdecimal():
            raise ConfigError(f"genotype={text!r}: random genotypes are named random:<integer seed>, e.g. random:0")
        return random_genotype(int(seed))
    if text.startswith("{"):
        try:
            return Genotype.from_dict(json.loads(text), source="genotype (inline JSON)")
        except json.JSONDecodeError as e:
            raise ConfigError(f"genotype starts with '{{' but is not valid JSON ({e})") from e
    path = Path(text)
    if not path.is_absolute() and run_dir is not None and not path.exists():
        path = Path(run_dir) / path
    if path.is_dir():
        path = path / "genotype.json"
    if not text or not path.is_file():
        known = ", ".join(sorted(PUBLISHED)) + ", random:<seed>"
        raise ConfigError(f"genotype={text!r} is neither a known name ({known}) nor a genotype.json file "
                          f"({path} does not exist)")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid JSON ({e}); a genotype file looks like {FORMAT} written by a "
                          "search (see gancore.models.alphagan_space)") from e
    return Genotype.from_dict(data, source=str(path))


def derive_genotype(alpha_normal, alpha_up, *, meta: dict[str, Any] | None = None) -> Genotype:
    """Argmax per edge of the architecture parameters (DARTS-style discretisation, as the authors derive it)."""
    normal = [NORMAL_OPS[int(i)] for i in alpha_normal.argmax(dim=-1)]
    up = [UP_OPS[int(i)] for i in alpha_up.argmax(dim=-1)]
    return Genotype.from_flat(normal, up, meta=meta)


def hamming(a: Genotype, b: Genotype) -> int:
    """Edges on which two genotypes pick different ops (0..18), for tracking the derived genotype over epochs."""
    return sum(x != y for x, y in zip(a.normal_ops() + a.up_ops(), b.normal_ops() + b.up_ops()))


assert math.isclose(search_space_size(), (6 ** 3 * 3 ** 2) ** 3 * 3 ** 3)
