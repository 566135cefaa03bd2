"""Notebook plumbing: validate papermill parameters and resolve them into a run config.

Papermill only *warns* about parameters the notebook does not declare and injects them anyway (DESIGN.md), so a
mistyped ``-p scael smoke`` would silently run the default. :func:`resolve_notebook_params` therefore compares the
kernel's globals with the declared parameters and raises with a close match.

Environment overrides let tests run the committed notebook at smoke scale without changing what users see:
``GANCORE_SCALE`` replaces ``scale`` and ``GANCORE_OUT_DIR`` replaces ``out_dir`` (nbval cannot inject parameters).
"""
from __future__ import annotations

import difflib
import os
import types
from typing import Any, Callable, Literal, Mapping, Optional

from gancore.config import ConfigError, coerce_value, resolve

# Names IPython itself puts into the user namespace.
_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}

#: Parameters every paper notebook declares that are not config fields.
NOTEBOOK_ONLY = {"overrides", "run_claims"}
#: Types of the notebook-only parameters, checked like config fields (``-p run_claims maybe`` is an error).
# run_claims may be None where a notebook decides it from the run's cost (alphaGAN at full scale).
NOTEBOOK_OPTION_TYPES: dict[str, Any] = {"overrides": dict, "run_claims": Optional[bool], "pretrained": Optional[str],
                                         "explore": Literal["run", "reference"]}


def _user_names(namespace: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES:
            continue
        if isinstance(value, types.ModuleType) or callable(value):
            continue  # imports (modules, functions, classes) are not parameters; parameter values never are callable
        out[name] = value
    return out


def resolve_notebook_params(config_cls: type, *, paper: str, namespace: Mapping[str, Any],
                            declared: list[str] | tuple[str, ...],
                            notebook_only: tuple[str, ...] = ()) -> tuple[Any, dict[str, Any]]:
    """Turn the notebook's parameter globals into (config, notebook-only options).

    ``declared`` lists the parameter names of the notebook's ``parameters`` cell; any other user variable present
    at this point was injected by papermill and is unknown. Values of ``None`` mean "take the preset's value".
    ``notebook_only`` names this notebook's own non-config parameters (besides ``overrides`` and ``run_claims``),
    returned in the options dict.
    """
    params = _user_names(namespace)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise ConfigError(
            f"unknown notebook parameter(s): {', '.join(hints)}. Declared parameters: {', '.join(declared)}. "
            "Other config fields go through the `overrides` dict, e.g. -y 'overrides: {total_kimg: 5}'."
        )
    values = {k: params[k] for k in declared if k in params}
    if os.environ.get("GANCORE_SCALE"):
        values["scale"] = os.environ["GANCORE_SCALE"]
    if os.environ.get("GANCORE_OUT_DIR"):
        values["out_dir"] = os.environ["GANCORE_OUT_DIR"]
    notebook_opts = {k: values.pop(k) for k in list(values) if k in NOTEBOOK_ONLY | set(notebook_only)}
    overrides = notebook_opts.get("overrides") or {}
    if not isinstance(overrides, Mapping):
        raise ConfigError(f"overrides must be a dict of config fields, got {type(overrides).__name__}")
    for name, value in list(notebook_opts.items()):
        if name in NOTEBOOK_OPTION_TYPES and name != "overrides":
            notebook_opts[name] = coerce_value(name, value, NOTEBOOK_OPTION_TYPES[name])
    scale = values.pop("scale", "reduced")
    preset = values.pop("preset", "") or ""
    explicit = {k: v for k, v in values.items() if v is not None}
    clash = sorted(set(explicit) & set(overrides))
    if clash:
        raise ConfigError(f"{', '.join(clash)} given both as a parameter and in overrides; give each once")
    cfg = resolve(config_cls, paper=paper, scale=scale, preset=preset, overrides={**explicit, **overrides})
    from gancore import preflight

    # The machine's side (device, paths, memory) is checked here too, so the validation cell fails, not cell 5.
    preflight.check(cfg, extra={k: v for k, v in notebook_opts.items() if k != "overrides"})
    return cfg, notebook_opts
