"""Write the notebooks' exported cells into the gptcore package.

The chapter notebooks are the only place gptcore's code is written. A code cell
tagged ``export`` in ``chapters/NN_name.ipynb`` is copied, in order, into
``gptcore/<module>.py``, where ``<module>`` is the notebook's metadata entry
``"gptcore": {"module": "<module>"}``; a cell tagged ``export:<name>`` goes to
``gptcore/<name>.py`` instead (for a notebook that writes two modules). ``gptcore/__init__.py`` is generated too:
it re-exports every name in each module's ``__all__`` (a module whose ``__all__`` is empty, such as
a command-line tool, is left out, so ``import gptcore`` does not import it).

Usage:
    python scripts/export.py            # regenerate every module from chapters/
    python scripts/export.py --check    # exit 1, naming the files, if gptcore/ is stale
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
PACKAGE = ROOT / "gptcore"
EXPORT_TAG = "export"
HEADER = (
    "# GENERATED FILE, DO NOT EDIT BY HAND.\n"
    "# Source: {source} (its cells tagged 'export').\n"
    "# Edit the notebook, then run `python scripts/export.py` to regenerate this file.\n"
)


def cell_module(cell: dict, default: str | None, path: Path) -> str | None:
    """The module a cell exports to: 'export' means the notebook's module, 'export:name' names one."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag == EXPORT_TAG:
            if not default:
                raise SystemExit(f"{path}: a cell is tagged '{EXPORT_TAG}' but the notebook has no metadata "
                                 '"gptcore": {"module": "..."}; add it, or tag the cell "export:<module>".')
            return default
        if tag.startswith(EXPORT_TAG + ":"):
            return tag.split(":", 1)[1]
    return None


def render_modules(path: Path) -> dict[str, str]:
    """The text of every module one notebook exports, keyed by module name."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    default = notebook.get("metadata", {}).get("gptcore", {}).get("module")
    cells: dict[str, list[str]] = {}
    for cell in notebook["cells"]:
        module = cell_module(cell, default, path) if cell["cell_type"] == "code" else None
        if module:
            cells.setdefault(module, []).append("".join(cell["source"]).strip("\n"))
    header = HEADER.format(source=path.relative_to(ROOT).as_posix())
    return {m: header + "\n" + "\n\n\n".join(c) + "\n" for m, c in cells.items()}


def module_all(text: str, name: str) -> list[str]:
    """The names listed in a module's ``__all__`` (read from its source, not imported)."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit(f"gptcore/{name}.py: the exported cells define no __all__; list the public names.")


def render_package() -> dict[str, str]:
    """Every generated file of gptcore/, keyed by file name, in chapter order."""
    files: dict[str, str] = {}
    sources: dict[str, Path] = {}
    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")):
        for module, text in render_modules(path).items():
            if module in sources:
                raise SystemExit(f"{path} and {sources[module]} both export to gptcore/{module}.py; "
                                 "each module comes from one notebook.")
            sources[module] = path
            files[f"{module}.py"] = text
    lines = ['"""gptcore: a character-level GPT, built chapter by chapter in the course notebooks."""', ""]
    names: list[str] = []
    for filename, text in files.items():
        module = filename[:-3]
        public = module_all(text, module)
        names += public
        if public:  # a module with an empty __all__ (a command such as gptcore.train) is not imported here
            lines.append(f"from .{module} import {', '.join(public)}")
    lines += ["", "__all__ = [" + ", ".join(repr(n) for n in names) + "]", ""]
    files["__init__.py"] = HEADER.format(source="every chapters/*.ipynb") + "\n" + "\n".join(lines)
    return files


def stale_files(files: dict[str, str]) -> list[str]:
    """Messages for each file of gptcore/ that differs from what the notebooks export."""
    problems = []
    for name, text in files.items():
        target = PACKAGE / name
        if not target.exists():
            problems.append(f"gptcore/{name} is missing")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"gptcore/{name} differs from what its notebook exports")
    for target in sorted(PACKAGE.glob("*.py")):
        if target.name not in files:
            problems.append(f"gptcore/{target.name} is not exported by any notebook")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check that gptcore/ is up to date")
    args = parser.parse_args(argv)
    files = render_package()
    if args.check:
        problems = stale_files(files)
        for p in problems:
            print(p + ": edit the notebook, then run `python scripts/export.py`", file=sys.stderr)
        return 1 if problems else 0
    PACKAGE.mkdir(exist_ok=True)
    for name, text in files.items():
        (PACKAGE / name).write_text(text, encoding="utf-8")
    for p in stale_files(files):
        print("warning: " + p, file=sys.stderr)
    print(f"wrote {len(files)} files to gptcore/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
