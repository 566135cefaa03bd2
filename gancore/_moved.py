"""Import paths that moved when the engine and the paper packages took their shape (issue 23).

Scripts and notebooks written against the old paths keep working: ``import gancore.recipes.progan_config`` gives
the module that now lives at ``gancore.recipes.progan.config`` (the same module object, so patching one patches the
other). New code imports the new paths.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED: dict[str, str] = {
    "gancore.train": "gancore.engine",
    "gancore.search.genotype": "gancore.models.alphagan_space",
    "gancore.recipes.progan_config": "gancore.recipes.progan.config",
    "gancore.recipes.biggan_config": "gancore.recipes.biggan.config",
    "gancore.recipes.alphagan_config": "gancore.recipes.alphagan.config",
    "gancore.recipes.alphagan_claims": "gancore.recipes.alphagan.claims",
    "gancore.recipes.alphagan_report": "gancore.recipes.alphagan.report",
    "gancore.recipes.dggan_config": "gancore.recipes.dggan.config",
    "gancore.recipes.dggan_candidate": "gancore.recipes.dggan.candidate",
    "gancore.recipes.dggan_analysis": "gancore.recipes.dggan.analysis",
    "gancore.recipes.dggan_claims": "gancore.recipes.dggan.claims",
}


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old name (only when no file has it) and loads it as the new module itself."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module) -> None:
        """Nothing to run: the new module is imported already, and the import system files it under the old name."""


def install() -> None:
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.append(_Alias())
