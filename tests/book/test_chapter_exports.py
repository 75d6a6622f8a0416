"""Each chapter exports what it teaches: its summary lists exactly what its export cells
define, with their real signatures, and its exported code names no later chapter's idea.
"""

import importlib
import importlib.util
import inspect
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
spec = importlib.util.spec_from_file_location("export", ROOT / "scripts" / "export.py")
export = importlib.util.module_from_spec(spec)
spec.loader.exec_module(export)

# The ideas that a chapter teaches, as the words that name them in code. A chapter's
# exported cells may name an idea only from its own chapter on.
IDEAS = {
    10: r"\bKVCache\b",
    13: r"rotary|\brope\b|rmsnorm|swiglu|n_kv_head|grouped.query|gptcore\.modern",
    14: r"\bbpe\b|byte.pair",
    15: r"\blora\b",
    16: r"gptcore\.chat|ChatTokenizer|\bsft_|\brender_chat\b|chat.template",
    17: r"gptcore\.preferences|\bdpo_|\bgrpo_|GroupSampler|preference_batches",
    18: r"\bexperts?\b|\bmoe|gptcore\.experts",
    19: r"gptcore\.inference|quantiz|speculative",
}
# Where a chapter's code looks ahead, on purpose: a later chapter's format or flag that
# an earlier module reads, by an import inside the one function that needs it (see
# CONTRIBUTING.md, "One exception"). Each entry is (chapter, idea's chapter).
LOOKS_AHEAD = {
    (9, 14),  # tokenizer_from_dict reads a checkpoint's BPE tokenizer
    (9, 13),  # load_model builds chapter 13's model from a checkpoint's config
    (11, 14),  # gptcore train --tokenizer bpe
    (11, 15),  # gptcore train --lora-rank
    (13, 18),  # load_pretrained builds chapter 18's MoEGPT for Mixtral
    (11, 19),  # gptcore sample --quantize and --draft
    (9, 16),  # tokenizer_from_dict reads a checkpoint's chat tokenizer
    (11, 16),  # gptcore train --chat FILE.jsonl, or --chat tasks
    (11, 17),  # gptcore train --dpo PAIRS.jsonl and --rl PROMPTS.jsonl
    (9, 19),  # save_checkpoint and load_model keep a quantized model's layers
    (16, 19),  # gptcore chat --quantize and --draft
}
# Span of a summary that names code: `name` or `name(arguments)`.
NAMED = re.compile(r"`([A-Za-z_]\w*)(\(([^`]*)\))?`")


def number(path: Path) -> int:
    return int(path.name[:2])


def notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def exported_code(path: Path) -> str:
    """The text of every cell that the notebook exports."""
    default = notebook(path)["metadata"].get("gptcore", {}).get("module")
    return "\n".join(
        "".join(cell["source"])
        for cell in notebook(path)["cells"]
        if cell["cell_type"] == "code" and export.cell_module(cell, default, path)
    )


def exports(path: Path) -> dict[str, str]:
    """Public name -> the gptcore module that the notebook defines it in."""
    found = {}
    for module, text in export.render_modules(path).items():
        for name in export.module_all(text):
            found[name] = module
    return found


def summary(path: Path) -> str:
    cells = [
        "".join(cell["source"])
        for cell in notebook(path)["cells"]
        if cell["cell_type"] == "markdown"
    ]
    found = [text for text in cells if text.startswith("## Summary")]
    assert found, f"{path.name} has no '## Summary' cell"
    return found[-1]


EXPORTING = [path for path in CHAPTERS if exports(path)]


@pytest.mark.parametrize("path", EXPORTING, ids=lambda p: p.name[:2])
def test_the_summary_lists_every_exported_name(path):
    named = {m.group(1) for m in NAMED.finditer(summary(path))}
    missing = sorted(set(exports(path)) - named)
    assert not missing, f"{path.name}'s summary omits what it exports: {missing}"


@pytest.mark.parametrize("path", EXPORTING, ids=lambda p: p.name[:2])
def test_the_summary_names_nothing_a_later_chapter_exports(path):
    later = {
        name: other.name
        for other in CHAPTERS
        if number(other) > number(path)
        for name in exports(other)
    }
    named = {m.group(1) for m in NAMED.finditer(summary(path))}
    # a name this chapter defines too (each command's `main`) is its own
    claimed = {name: later[name] for name in named & set(later) - set(exports(path))}
    assert not claimed, f"{path.name}'s summary names later chapters' code: {claimed}"


def parameters(obj: object) -> list[str]:
    """The names of a function's or a class's parameters, without self."""
    target = obj.__init__ if inspect.isclass(obj) else obj
    names = list(inspect.signature(target).parameters)
    return [name for name in names if name != "self"]


def written(arguments: str) -> list[str]:
    """The parameter names of a signature as a summary writes it: `f(a, b=1, ...)`."""
    names = []
    for part in re.split(r",\s*", arguments.strip()):
        name = re.match(r"\*{0,2}([A-Za-z_]\w*)", part)
        if name and name.group(1) not in names:
            names.append(name.group(1))
    return names


@pytest.mark.parametrize("path", EXPORTING, ids=lambda p: p.name[:2])
def test_a_signature_in_the_summary_is_the_real_one(path):
    """A summary that writes `Name(a, b)` lists Name's parameters in order; `...` may
    stand for the rest."""
    defined = exports(path)
    wrong = []
    for match in NAMED.finditer(summary(path)):
        name, arguments = match.group(1), match.group(3)
        if arguments is None or name not in defined:
            continue
        module = importlib.import_module(f"gptcore.{defined[name]}")
        real, shown = parameters(getattr(module, name)), written(arguments)
        complete = not arguments.rstrip().endswith("...")
        if (real if complete else real[: len(shown)]) != shown:
            wrong.append(f"`{name}({arguments})`, but the code has {name}{tuple(real)}")
    assert not wrong, f"{path.name}'s summary: " + "; ".join(wrong)


@pytest.mark.parametrize("path", EXPORTING, ids=lambda p: p.name[:2])
def test_exported_code_names_no_later_idea(path):
    code = exported_code(path)
    early = {
        chapter: sorted({m.group(0) for m in re.finditer(words, code, re.I)})
        for chapter, words in IDEAS.items()
        if chapter > number(path) and (number(path), chapter) not in LOOKS_AHEAD
    }
    early = {chapter: words for chapter, words in early.items() if words}
    assert not early, (
        f"{path.name} exports code that names later chapters' ideas "
        f"(chapter: words): {early}"
    )


def test_every_look_ahead_is_still_needed():
    for chapter, later in sorted(LOOKS_AHEAD):
        (path,) = [p for p in CHAPTERS if number(p) == chapter]
        assert re.search(IDEAS[later], exported_code(path), re.I), (
            f"chapter {chapter} no longer names chapter {later}'s idea: drop "
            f"({chapter}, {later}) from LOOKS_AHEAD"
        )
