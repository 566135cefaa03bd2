"""One package per paper (progan, biggan, dggan, alphagan): what only that paper has, run by :mod:`gancore.engine`.

Each package's ``RECIPE`` is its :class:`gancore.engine.recipe.Paper`, listed in :mod:`gancore.engine.registry`;
``common`` holds what the papers' evaluations and claims share. Adding a fifth paper: gancore/engine/README.md.
"""
