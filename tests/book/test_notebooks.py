"""The stored outputs are current: every code cell executed, in order, from the source
it shows.

nbval skips a cell that has no stored output, so a cleared notebook, or a cell edited
after it was executed, would otherwise pass unnoticed. `scripts/execute.py` records a
hash of each code cell's source when it executes the notebook; these tests recompute it.
"""

import importlib.util
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location(
    "execute", ROOT / "scripts" / "execute.py"
)
execute = importlib.util.module_from_spec(spec)
spec.loader.exec_module(execute)
FIX = "re-execute it: python scripts/execute.py {}"


def stale_cells(path: Path) -> list[str]:
    """One message per code cell whose stored outputs do not come from its source."""
    nb = nbformat.read(path, as_version=4)
    problems = []
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for count, (index, cell) in enumerate(code, start=1):
        where = f"{path.name} cell {index} (code cell {count})"
        if cell.execution_count is None:
            problems.append(f"{where} is not executed")
        elif cell.execution_count != count:
            problems.append(
                f"{where} has execution count {cell.execution_count}, not {count}: "
                "the notebook was not run top to bottom"
            )
        setup = "colab-setup" in cell.metadata.get(
            "tags", []
        )  # checked by test_setup_cells.py
        if not setup and cell.metadata.get("source_hash") != execute.source_hash(
            cell.source
        ):
            problems.append(f"{where} was edited after it was executed")
        tags = set(cell.metadata.get("tags", []))
        if any(t.startswith("export") for t in tags) and tags & {
            "nbval-skip",
            "nbval-ignore-output",
        }:
            problems.append(
                f"{where} is exported but its output is not checked (nbval tag)"
            )
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_outputs_are_current(path):
    problems = stale_cells(path)
    assert not problems, "\n".join(problems) + "\n" + FIX.format(path.relative_to(ROOT))


def test_a_stale_notebook_is_caught(tmp_path):
    path = tmp_path / "01_x.ipynb"
    cells = [
        nbformat.v4.new_code_cell("x = 1", execution_count=1),
        nbformat.v4.new_code_cell("print(x)", execution_count=2),
    ]
    for cell in cells:
        cell.metadata["source_hash"] = execute.source_hash(cell.source)
    nb = nbformat.v4.new_notebook(cells=cells)
    nbformat.write(nb, path)
    assert stale_cells(path) == []
    cells[1].source = "print(x + 1)"  # edited, not re-executed
    nbformat.write(nb, path)
    assert stale_cells(path) == [
        "01_x.ipynb cell 1 (code cell 2) was edited after it was executed"
    ]
    cells[1].source = "print(x)"
    for cell in cells:  # outputs cleared
        cell.execution_count, cell.outputs = None, []
    nbformat.write(nb, path)
    assert [p.split(" is ")[1] for p in stale_cells(path)] == ["not executed"] * 2
