"""Write the notebooks' exported cells into the gptcore package.

The chapter notebooks are the only place gptcore's code is written. A code cell tagged
``export`` in ``chapters/NN_name.ipynb`` is copied, in order, into
``gptcore/<module>.py``, where ``<module>`` is the notebook's metadata entry
``"gptcore": {"module": "<module>"}``; a cell tagged ``export:<name>`` goes to
``gptcore/<name>.py`` instead (for a notebook that writes two modules). A dotted name
is a sub-package: ``export:cli.train`` writes ``gptcore/cli/train.py``, and
``export:cli`` then writes ``gptcore/cli/__init__.py``.

Each copied cell is preceded by a marker naming its notebook and cell index
(``# %% chapters/04_transformer_block.ipynb 10``), so a reader of gptcore/ can find the
prose behind any function. A module's ``__all__`` is computed here from its public names
(those defined at its top level without a leading underscore); the cells never write it.

``gptcore/__init__.py`` re-exports the small public API: the names listed in each
notebook's metadata ``"gptcore": {"api": [...]}``, plus ``__version__``, each imported
from its module on first use (so that ``import gptcore`` stays cheap).

Every generated file opens with its module docstring (the first exported cell's), then
the "generated, do not edit" notice.

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
    "# Edit the notebook, then run `python scripts/export.py` "
    "to regenerate this file.\n"
)
INIT_HEADER = (
    "# GENERATED FILE, DO NOT EDIT BY HAND.\n"
    '# Source: the "api" lists in the metadata of chapters/*.ipynb.\n'
    "# Edit the notebooks, then run `python scripts/export.py` "
    "to regenerate this file.\n"
)
INIT_DOC = '"""gptcore: a GPT built chapter by chapter in the course notebooks."""'


def split_docstring(code: str) -> tuple[str, str]:
    """A cell's opening module docstring (with the blank lines after it) and the rest;
    ('', code) when it opens with none."""
    body = ast.parse(code).body
    first = body[0] if body else None
    if not (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return "", code
    lines = code.splitlines(keepends=True)
    return "".join(lines[: first.end_lineno]).rstrip("\n"), "".join(
        lines[first.end_lineno :]
    ).lstrip("\n")


def cell_module(cell: dict, default: str | None, path: Path) -> str | None:
    """The module a cell exports to: 'export' is the notebook's module, 'export:x' names
    one."""
    for tag in cell.get("metadata", {}).get("tags", []):
        if tag == EXPORT_TAG:
            if not default:
                raise SystemExit(
                    f"{path}: a cell is tagged '{EXPORT_TAG}' but the notebook has no "
                    'metadata "gptcore": {"module": "..."}; add it, or tag the cell '
                    '"export:<module>".'
                )
            return default
        if tag.startswith(EXPORT_TAG + ":"):
            return tag.split(":", 1)[1]
    return None


def public_names(text: str, where: str) -> list[str]:
    """The names a module defines at its top level without a leading underscore, in
    order."""
    names: list[str] = []
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            targets = [node.name]
        elif isinstance(node, ast.Assign):
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            targets = [node.target.id]
        else:
            continue
        if "__all__" in targets:
            raise SystemExit(
                f"{where}: an exported cell assigns __all__; remove it: "
                "scripts/export.py computes __all__ from the public names "
                "(give helpers a leading underscore)."
            )
        names += [n for n in targets if not n.startswith("_") and n not in names]
    return names


def render_modules(path: Path) -> dict[str, str]:
    """The text of every module one notebook exports, keyed by dotted module name."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    default = notebook.get("metadata", {}).get("gptcore", {}).get("module")
    source = path.relative_to(ROOT).as_posix()
    cells: dict[str, list[str]] = {}
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "code":
            continue
        module = cell_module(cell, default, path)
        if module:
            code = "".join(cell["source"]).strip("\n")
            cells.setdefault(module, []).append(f"# %% {source} {index}\n{code}")
    modules = {}
    for module, parts in cells.items():
        marker, first = parts[0].split("\n", 1)
        docstring, first = split_docstring(first)
        body = "\n\n\n".join([f"{marker}\n{first}", *parts[1:]]) + "\n"
        names = public_names(body, f"{source} (gptcore/{module_path(module)})")
        modules[module] = (
            (docstring + "\n\n" if docstring else "")
            + HEADER.format(source=source)
            + "\n"
            + body
            + "\n\n# The public names above, computed by scripts/export.py.\n"
            + python_list(names, "__all__ = ")
            + "\n"
        )
    return modules


def python_list(names: list[str], start: str) -> str:
    """`start` and a list of names as ruff formats them: on one line if it fits in 88
    columns, else one name per line."""
    one_line = start + "[" + ", ".join(f'"{n}"' for n in names) + "]"
    if len(one_line) <= 88:
        return one_line
    return start + "[\n" + "".join(f'    "{n}",\n' for n in names) + "]"


def import_line(module: str, names: list[str]) -> str:
    """`from .module import a, b` as ruff formats it, in parentheses when too long."""
    line = f"from .{module} import {', '.join(names)}"
    if len(line) <= 88:
        return line
    return f"from .{module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def module_path(module: str, packages: set[str] = frozenset()) -> str:
    """The file a dotted module name is written to, relative to gptcore/."""
    parts = module.split(".")
    if module in packages:
        return "/".join(parts + ["__init__.py"])
    return "/".join(parts) + ".py"


def module_all(text: str) -> list[str]:
    """The names in a generated module's ``__all__`` (read from its source, not
    imported)."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and any(
            getattr(t, "id", None) == "__all__" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    return []


def render_package() -> dict[str, str]:
    """Every generated file of gptcore/, keyed by its path relative to gptcore/."""
    modules: dict[str, str] = {}
    sources: dict[str, Path] = {}
    api: list[tuple[str, str]] = []  # (module, name), in chapter order
    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")):
        rendered = render_modules(path)
        for module, text in rendered.items():
            if module in sources:
                raise SystemExit(
                    f"{path} and {sources[module]} both export to gptcore/{module}; "
                    "each module comes from one notebook."
                )
            sources[module] = path
            modules[module] = text
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
        for name in meta.get("gptcore", {}).get("api", []):
            homes = [m for m, text in rendered.items() if name in module_all(text)]
            if len(homes) != 1:
                raise SystemExit(
                    f"{path}: the api name {name!r} is defined by {len(homes)} of the "
                    "notebook's modules; list only public names it exports, once."
                )
            api.append((homes[0], name))
    packages = {m.rsplit(".", 1)[0] for m in modules if "." in m}
    files = {module_path(m, packages): text for m, text in modules.items()}
    for package in sorted(packages - set(modules)):
        raise SystemExit(
            f"gptcore/{package}/ has modules but no __init__: "
            f"tag a cell export:{package}"
        )
    names = [name for _, name in api]
    clashes = sorted(set(names) & {m.split(".")[0] for m in modules})
    if clashes:
        raise SystemExit(
            f"the api names {clashes} are also module names: rename one of each pair."
        )
    homes = "".join(f'    "{name}": "{module}",\n' for module, name in api)
    lines = [
        "import importlib",
        "",
        "# Where each public name lives. A name is imported from its module the first",
        "# time it is used, so `import gptcore` (and the `gptcore` command) loads only",
        "# the chapters it needs.",
        "_HOMES = {\n" + homes + "}",
        "",
        python_list(["__version__", *names], "__all__ = "),
        "",
        "",
        "def __getattr__(name: str) -> object:",
        '    """A public name, imported from its module on first use (PEP 562)."""',
        '    if name == "__version__":',
        "        from importlib import metadata",
        "",
        "        try:",
        '            value = metadata.version("gptcore")',
        "        except metadata.PackageNotFoundError:  # a checkout, not installed",
        '            value = "0+unknown"',
        "    elif name in _HOMES:",
        '        module = importlib.import_module(f".{_HOMES[name]}", __name__)',
        "        value = getattr(module, name)",
        "    else:",
        '        raise AttributeError(f"module {__name__!r} has no {name!r}")',
        "    globals()[name] = value",
        "    return value",
        "",
        "",
        "def __dir__() -> list[str]:",
        '    """The module\'s names, with the public ones not yet imported."""',
        "    return sorted({*globals(), *__all__})",
        "",
    ]
    files["__init__.py"] = INIT_DOC + "\n\n" + INIT_HEADER + "\n" + "\n".join(lines)
    return files


def stale_files(files: dict[str, str]) -> list[str]:
    """Messages for each file of gptcore/ that differs from what the notebooks
    export."""
    problems = []
    for name, text in files.items():
        target = PACKAGE / name
        if not target.exists():
            problems.append(f"gptcore/{name} is missing")
        elif target.read_text(encoding="utf-8") != text:
            problems.append(f"gptcore/{name} differs from what its notebook exports")
    for target in sorted(PACKAGE.rglob("*.py")):
        name = target.relative_to(PACKAGE).as_posix()
        if name not in files:
            problems.append(f"gptcore/{name} is not exported by any notebook")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--check", action="store_true", help="only check that gptcore/ is current"
    )
    args = parser.parse_args(argv)
    files = render_package()
    if args.check:
        problems = stale_files(files)
        for p in problems:
            print(
                p + ": edit the notebook, then run `python scripts/export.py`",
                file=sys.stderr,
            )
        return 1 if problems else 0
    for name, text in files.items():
        (PACKAGE / name).parent.mkdir(parents=True, exist_ok=True)
        (PACKAGE / name).write_text(text, encoding="utf-8")
    for target in sorted(PACKAGE.rglob("*.py")):  # modules no notebook exports any more
        if target.relative_to(PACKAGE).as_posix() not in files:
            target.unlink()
            print(f"removed {target.relative_to(ROOT)}: no notebook exports it")
    print(f"wrote {len(files)} files to gptcore/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
