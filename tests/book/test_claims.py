"""The table of the course's claims (claims.md) points at cells that exist: each row
names a chapter, the nbformat id of one of its cells, and the text of an assert there.

A row fails, naming its line and its claim, when its notebook, its cell or its assert
text is gone, when the text is not inside an assert of that cell (an `assert` statement,
or a call such as `torch.testing.assert_close`), or when it occurs more than once there
(a reader searches the chapter's page for it). Every chapter of _toc.yml has a row.
Reads JSON and Markdown only: no notebook runs.
"""

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = ROOT / "claims.md"
HEADER = ["claim", "demonstrated and checked in"]
# {doc}`chapter 2 <chapters/02_name>`, cell `id`: `assert ...`, and more asserts
WHERE = re.compile(
    r"^\{doc\}`[^`<]*<(chapters/\d\d_\w+)>`, cell `([^`]+)`: (`[^`]+`(?:, `[^`]+`)*)$"
)
CODE = re.compile(r"`([^`]+)`")


def table_rows(text: str) -> list[tuple[int, list[str]]]:
    """Every row of the Markdown tables in text, as (line number, its cells), without
    the header and separator rows."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells == HEADER or all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue
        rows.append((number, cells))
    return rows


def claims(text: str) -> list[dict]:
    """The table's rows as {line, claim, notebook, cell, checks}; a row that does not
    read as one gets its `problem`."""
    found = []
    for line, cells in table_rows(text):
        row = {"line": line, "claim": cells[0] if cells else ""}
        if len(cells) != len(HEADER):
            found.append(row | {"problem": f"{len(cells)} columns, not {len(HEADER)}"})
            continue
        where = WHERE.match(cells[1])
        if not where:
            problem = (
                "want {doc}`chapter N <chapters/NN_name>`, cell `id`: `assert ...`"
            )
            found.append(row | {"problem": problem})
            continue
        notebook, cell, checks = where[1] + ".ipynb", where[2], CODE.findall(where[3])
        found.append(row | {"notebook": notebook, "cell": cell, "checks": checks})
    return found


def assert_spans(source: str) -> list[tuple[int, int]]:
    """Where the cell's asserts are, as (start, end) offsets into source: `assert`
    statements and calls of a function whose name starts with `assert`."""
    # IPython's magics and shell escapes are not Python: blanked with spaces, so that
    # every offset stays where it was.
    python = re.sub(r"^[ \t]*[%!].*$", lambda m: " " * len(m[0]), source, flags=re.M)
    lines = python.splitlines(keepends=True)
    starts = [0]
    for text in lines:
        starts.append(starts[-1] + len(text))

    def offset(line: int, column: int) -> int:  # ast's columns count UTF-8 bytes
        return starts[line - 1] + len(lines[line - 1].encode()[:column].decode())

    spans = []
    for node in ast.walk(ast.parse(python)):
        function = getattr(node, "func", None)
        name = getattr(function, "attr", getattr(function, "id", ""))
        if isinstance(node, ast.Assert) or name.startswith("assert"):
            start = offset(node.lineno, node.col_offset)
            spans.append((start, offset(node.end_lineno, node.end_col_offset)))
    return spans


def problems(claim: dict, source: str | None) -> list[str]:
    """What is wrong with one row, given its cell's source (None: no such cell)."""
    if source is None:
        return [f"{claim['notebook']} has no cell with the id {claim['cell']!r}"]
    try:
        spans = assert_spans(source)
    except SyntaxError as error:
        return [f"cell {claim['cell']} is not Python that can be read: {error}"]
    found = []
    for check in claim["checks"]:
        where = [m.start() for m in re.finditer(re.escape(check), source)]
        if len(where) != 1:
            times = "not" if not where else f"{len(where)} times"
            found.append(f"{check!r} is {times} in cell {claim['cell']}")
        elif not any(a <= where[0] and where[0] + len(check) <= b for a, b in spans):
            found.append(f"{check!r} is not inside an assert of cell {claim['cell']}")
    return found


def cell_sources(notebook: str) -> dict[str, str] | None:
    path = ROOT / notebook
    if not path.is_file():
        return None
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return {cell["id"]: "".join(cell["source"]) for cell in cells}


CLAIMED = claims(CLAIMS.read_text(encoding="utf-8"))


def test_the_table_reads():
    bad = [
        f"claims.md line {c['line']}: {c['problem']}" for c in CLAIMED if "problem" in c
    ]
    assert not bad, "\n".join(bad)
    assert len(CLAIMED) >= 20, f"only {len(CLAIMED)} claims in claims.md"


@pytest.mark.parametrize(
    "claim",
    [c for c in CLAIMED if "problem" not in c],
    ids=lambda c: f"line{c['line']}-{c['notebook'][9:11]}-{c['cell']}",
)
def test_each_claim_names_an_assert_of_its_cell(claim):
    sources = cell_sources(claim["notebook"])
    assert sources is not None, (
        f"claims.md line {claim['line']} ({claim['claim']!r}): "
        f"no notebook {claim['notebook']}"
    )
    found = problems(claim, sources.get(claim["cell"]))
    assert not found, (
        f"claims.md line {claim['line']} ({claim['claim']!r}): "
        + "; ".join(found)
        + ". Update the row (the cell id is the cell's nbformat 'id')."
    )


def test_every_chapter_has_a_claim():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    chapters = re.findall(r"^\s*- file: (chapters/\S+)\s*$", toc, flags=re.M)
    assert chapters, "_toc.yml lists no chapters"
    assert re.search(r"^\s*- file: claims\s*$", toc, flags=re.M), (
        "_toc.yml does not list claims (in its back matter)"
    )
    claimed = {c.get("notebook") for c in CLAIMED}
    missing = [c for c in chapters if c + ".ipynb" not in claimed]
    assert not missing, f"claims.md has no claim from: {missing}"


def test_the_checker_catches_a_wrong_row():
    source = (
        "%xmode Minimal\nx = torch.ones(2)\nassert x.sum() == 2, 'two'\n"
        "torch.testing.assert_close(\n    x, x\n)\nprint(x.sum() == 2)\n"
        "word = 'café'; assert word[-1] == 'é'\n"  # ast counts UTF-8 bytes
    )
    row = {"notebook": "chapters/00_x.ipynb", "cell": "c0", "claim": "..."}

    def check(*texts: str) -> list[str]:
        return problems(row | {"checks": list(texts)}, source)

    # a statement, a call's argument, a statement after text outside ASCII
    assert check("assert x.sum() == 2", "x, x", "assert word[-1] == 'é'") == []
    assert "not inside an assert" in check("word = 'café'")[0]
    assert "not inside an assert" in check("x = torch.ones(2)")[0]
    assert "2 times" in check("x.sum() == 2")[0]
    assert "is not in cell" in check("assert x.sum() == 3")[0]
    assert "no cell" in problems(row | {"checks": ["x"]}, None)[0]
    table = (
        "| claim | demonstrated and checked in |\n| --- | --- |\n"
        "| A. | {doc}`chapter 2 <chapters/02_a>`, cell `c0`: `assert x`, `y` |\n"
        "| B. | chapter 2, cell c1: x |\n"
    )
    good, bad = claims(table)
    assert (good["notebook"], good["cell"], good["checks"]) == (
        "chapters/02_a.ipynb",
        "c0",
        ["assert x", "y"],
    )
    assert "problem" in bad and bad["line"] == 4
