"""Shared pieces of the notebook builders: markdown/code cells (code cells capped at 15 lines) and the writer."""
import nbformat as nbf

MAX_CODE_LINES = 15  # the project's cell-length rule, also checked by tests/test_notebooks.py
# The parameters cell is one declaration per line (the papermill contract plus a paper's own knobs), not logic.
MAX_PARAMETER_LINES = 20


class NotebookBuilder:
    def __init__(self) -> None:
        self.cells: list = []

    def md(self, source: str) -> None:
        self.cells.append(nbf.v4.new_markdown_cell(source.strip()))

    def code(self, source: str, tags: list[str] | None = None) -> None:
        cell = nbf.v4.new_code_cell(source.strip())
        if tags:
            cell.metadata["tags"] = tags
        n = len([l for l in source.strip().splitlines() if l.strip() and not l.strip().startswith("#")])
        assert n <= (MAX_PARAMETER_LINES if "parameters" in (tags or []) else MAX_CODE_LINES), (n, source)
        self.cells.append(cell)

    def write(self, path: str) -> None:
        nb = nbf.v4.new_notebook()
        for i, cell in enumerate(self.cells):
            cell["id"] = f"cell-{i:02d}"  # stable ids: a rebuild only changes the cells that changed
        nb.cells = self.cells
        nb.metadata = {"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
                       "language_info": {"name": "python"}}
        nbf.write(nb, path)
