"""The package's layout: a small public API, no name shadowing another, one home for
each check.
"""

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import torch

import gptcore
from gptcore import checks

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(m.name for m in pkgutil.walk_packages(gptcore.__path__, "gptcore."))


def test_the_public_api_is_small_and_versioned():
    assert 15 <= len(gptcore.__all__) <= 30, gptcore.__all__
    assert gptcore.__version__ and gptcore.__all__[0] == "__version__"
    for name in gptcore.__all__:
        assert hasattr(gptcore, name), name


def test_no_module_shadows_a_name():
    for module in MODULES:
        importlib.import_module(
            module
        )  # importing a command module must not rebind a library name
    for name in gptcore.__all__:
        assert not isinstance(getattr(gptcore, name), type(gptcore)), (
            f"gptcore.{name} is a module"
        )
    top = {m.split(".")[1] for m in MODULES}
    assert not top & set(gptcore.__all__), top & set(gptcore.__all__)
    generation = importlib.import_module("gptcore.generation")
    assert generation.KVCache and callable(generation.generate)


def test_each_module_all_lists_exactly_its_public_names():
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        defined = {
            name
            for name, value in vars(module).items()
            if not name.startswith("_")
            and getattr(value, "__module__", module_name) == module_name
            and not isinstance(value, type(gptcore))
        }
        assert set(module.__all__) <= defined | set(vars(module)), module_name
        assert all(not name.startswith("_") for name in module.__all__), module_name


def test_every_check_has_one_home():
    """Each shared check is worded in one module and nowhere else."""
    phrases = [
        "must be a positive integer",
        "is a probability in",
        "expected vectors of width",
        "is longer than block_size",
        "token ids must lie in",
        "must be an int, got",
        "is not divisible by n_head",
    ]
    homes = {phrase: "checks.py" for phrase in phrases}
    homes["is not divisible by n_head"] = (
        "attention.py"  # head_size_for, chapter 3's split
    )
    for path in sorted((ROOT / "gptcore").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for phrase in phrases:
            home = path.name == homes[phrase]
            assert home or phrase not in text, (
                f"{path.name} words a shared check itself: {phrase!r}"
            )


@pytest.mark.parametrize(
    "value, error",
    [
        (1.5, TypeError),
        ("3", TypeError),
        (True, TypeError),
        (None, TypeError),
        (0, ValueError),
        (-2, ValueError),
    ],
)
def test_positive_int_separates_type_and_value(value, error):
    with pytest.raises(error, match="size"):
        checks.check_positive_int("size", value)
    assert checks.check_positive_int("size", 3) == 3


def test_the_other_checks():
    with pytest.raises(TypeError):
        checks.check_probability("dropout", "0.1")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        checks.check_probability("dropout", 1.0)
    with pytest.raises(TypeError):
        checks.check_flag("bias", 1)
    with pytest.raises(ValueError, match="width n_embd=8"):
        checks.check_width(torch.zeros(2, 4), 8)
    with pytest.raises(ValueError, match="block_size=4"):
        checks.check_length(5, 4)
    checks.check_length(4, 4)
    with pytest.raises(TypeError, match="integer tensor"):
        checks.check_token_ids(torch.zeros(3), 10)
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        checks.check_token_ids(torch.tensor([10]), 10)
    with pytest.raises(ValueError, match="unsqueeze"):
        checks.check_vectors(torch.zeros(4, 8), 8, 4)


def test_the_command_types_come_from_the_dataclasses():
    from gptcore.cli.train import build_parser

    args = build_parser().parse_args(
        ["--n-embd", "32", "--lr", "0.01", "--bias", "false"]
    )
    assert (args.n_embd, args.lr, args.bias) == (32, 0.01, False)
    assert re.search(r"--n-embd INT", build_parser().format_help())


def _parsed_modules() -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(encoding="utf-8")))
        for path in sorted((ROOT / "gptcore").rglob("*.py"))
    ]


def test_no_function_is_longer_than_60_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.name} ({node.end_lineno - node.lineno + 1})"
        for path, tree in _parsed_modules()
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.end_lineno - node.lineno + 1 > 60
    ]
    assert not long, f"split these functions: {long}"


def test_no_private_name_is_imported_from_another_module():
    private = [
        f"{path.relative_to(ROOT)} imports {alias.name} from {node.module}"
        for path, tree in _parsed_modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        and (node.module or "").startswith("gptcore")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert not private, f"make these public in their home module: {private}"
