"""The papers gancore knows: scripts, references, preflight and ``make demo`` read this list, never their own.

Adding a paper is one line here (its name and the package whose ``RECIPE`` is its
:class:`~gancore.engine.recipe.Paper`), plus the package, its YAML presets and a notebook builder
(gancore/engine/README.md).
"""
from __future__ import annotations

import importlib

from gancore.errors import ConfigError

__all__ = ["PAPERS", "papers", "recipe"]

PAPERS: dict[str, str] = {
    "progan": "gancore.recipes.progan",
    "biggan": "gancore.recipes.biggan",
    "dggan": "gancore.recipes.dggan",
    "alphagan": "gancore.recipes.alphagan",
}


def papers() -> tuple[str, ...]:
    return tuple(PAPERS)


def recipe(paper: str):
    """The :class:`~gancore.engine.recipe.Paper` of ``paper`` (a clear error listing the papers otherwise)."""
    if paper not in PAPERS:
        raise ConfigError(f"unknown paper {paper!r}; gancore has {', '.join(PAPERS)}")
    return importlib.import_module(PAPERS[paper]).RECIPE
