"""The house's floors (gancore/engine/README.md): every module imports only its own floor and the ones below, a
recipe never imports another recipe, and a model imports only shared layers (and its own family's files).

Read statically from the source (imports inside functions count; ``if TYPE_CHECKING:`` blocks do not), so a change
that adds an upward arrow fails here before it bends the engine around a paper."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gancore"

# Floors, lowest first: a module's top-level name under gancore/ decides its floor.
FLOORS = [
    {"errors", "config", "checkpoint", "runlock", "distributed", "precision", "threads", "latents", "claims",
     "_moved", ""},
    {"data", "nn", "losses", "schedule"},
    {"models", "metrics", "sampling", "growth", "steps", "diagnostics", "search"},
    {"engine", "estimate", "preflight"},
    {"recipes"},
    {"references", "widgets", "viz", "notebook"},
]
# A paper's notebook-facing modules (its figures, explorer, reports and the package's façade for notebooks) stand
# on the top floor with the widgets: they may draw; what trains or decides (config, method, evaluation, recipe,
# search, analysis, claims) may not.
NOTEBOOK_FACING = {"figures", "widgets", "views", "report", "__init__"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts)


def floor(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "gancore":
        return None
    if parts[-1] == "__main__":  # a command-line entry point (python -m gancore.data) stands above everything
        return len(FLOORS)
    top = parts[1] if len(parts) > 1 else ""
    if top == "recipes" and len(parts) > 3 and parts[3] in NOTEBOOK_FACING:
        return len(FLOORS) - 1
    if top == "recipes" and len(parts) == 3 and (PACKAGE / "recipes" / parts[2]).is_dir():  # a paper's façade
        return len(FLOORS) - 1
    return next((i for i, names in enumerate(FLOORS) if top in names), None)


def imports(path: Path):
    """(imported module, line) of every import outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    package = module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            yield base, node.lineno
            for a in node.names:  # `from gancore.recipes import progan` imports the submodule
                yield f"{base}.{a.name}", node.lineno


SOURCES = sorted(PACKAGE.rglob("*.py"))


def _exists(module: str) -> bool:
    """A module or package of gancore (not a name imported from one)."""
    path = PACKAGE.joinpath(*module.split(".")[1:])
    return path.with_suffix(".py").exists() or path.is_dir()


def test_no_module_imports_a_higher_floor():
    arrows = []
    for path in SOURCES:
        me = module_name(path).removesuffix(".__init__")
        mine = floor(module_name(path))
        for target, line in imports(path):
            theirs = floor(target)
            if mine is not None and theirs is not None and theirs > mine and _exists(target):
                arrows.append(f"{me}:{line} → {target}")
    assert not arrows, "imports up the floors:\n" + "\n".join(arrows)


def _paper(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "recipes" and parts[2] != "common" else None


def test_no_recipe_imports_another_recipe():
    crossings = []
    for path in SOURCES:
        mine = _paper(module_name(path))
        for target, line in imports(path):
            theirs = _paper(target)
            if mine and theirs and theirs != mine and (PACKAGE / "recipes" / theirs).is_dir():
                crossings.append(f"{module_name(path)}:{line} → {target}")
    assert not crossings, "\n".join(crossings)


@pytest.mark.parametrize("path", sorted(p for p in (PACKAGE / "models").glob("*.py") if p.stem != "__init__"),
                         ids=lambda p: p.stem)
def test_models_import_only_shared_layers_and_their_own_family(path):
    family = path.stem.split("_")[0]  # biggan_deep and biggan_pretrained belong to biggan's family
    for target, line in imports(path):
        if target.startswith("gancore.models.") and _exists(target):
            assert target.split(".")[2].split("_")[0] == family, f"{path.name}:{line} imports {target}"
        assert not target.startswith(("gancore.search", "gancore.recipes", "gancore.engine")), \
            f"{path.name}:{line} imports {target}"
