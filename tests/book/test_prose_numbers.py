"""Every number in the prose is checked: glued, shown by a compared output of the same
section, or a published constant.

A number that a Markdown cell states as a measurement or a result must come from the
code: either glued from an output (myst-nb's {glue:text}), or printed by a cell of the
same section (between two `#` or `##` headings) whose output nbval compares. A value
printed elsewhere in the notebook does not count: "32 sequences" is not backed by a
`context=32` printed three sections away. Published constants (GPT-2's parameter
counts, a paper's figure) stand in the notebook's metadata, `"gptcore": {"published":
{"124": "GPT-2 small: 124M parameters (Radford et al., 2019)"}}`, each with its source.
References are not quantities and are skipped: chapter and exercise numbers, model names
such as GPT-2 and Llama 3, list markers, citation years, and the symbols of formulas and
code (math and code spans are not prose). So are 0, 1 and 2, which the prose uses as
words ("1 block", "layer 0", "2 tensors") far more often than as results.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
NUMBER = re.compile(r"(?<![\w.])[-−]?\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
REFERENCE_WORDS = (
    r"chapters?|exercises?|solutions?|steps?|sections?|figures?|parts?|items?|cells?|"
    r"rungs?|rows?|appendix|notebooks?|issue|python|version|questions?|level|stage"
)
SKIP = [
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\\\[.*?\\\]", re.S),
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(
        r"\{glue(?::\w+)?\}`[^`]*`"
    ),  # glued values: from the code by construction
    re.compile(r"\{(?:cite|cite:p|cite:t|ref|numref|doc|eq)\}`[^`]*`"),
    re.compile(r"`[^`\n]*(?:\n[^`\n]*)?`"),  # code spans, wrapped at most once
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]*>"),  # HTML tags
    re.compile(r"https?://\S+"),
    re.compile(
        rf"\b(?:{REFERENCE_WORDS})\s+\d+(?:\s*(?:,|and|to|or|-|–)\s*\d+)*", re.I
    ),
    re.compile(
        r"\b[A-Za-z][A-Za-z]*[-‑]?\d+(?:\.\d+)?[A-Za-z]*\b"
    ),  # names: GPT-2, fp16, x86, L2
    re.compile(
        r"\b(?:Llama|LLaMA|Qwen|Mistral|Gemma|Phi|GPT)\s+\d+(?:\.\d+)?\b"
    ),  # a model family and its version: Llama 3, Llama 3.1
    re.compile(
        r"\b\d+(?:\.\d+)?[A-Za-z]+\b"
    ),  # 7B, 124M, 2D, 1st: names or units of a name
    re.compile(r"(?:\(|et al\.,?\s*|, )(?:19|20)\d\d\b"),  # citation years
    re.compile(r"^\s*(?:[-*]|\d+\.)\s", re.M),  # list markers
    re.compile(r"^#+ .*$", re.M),  # headings
    re.compile(r"\*\*\d+\.?"),  # **1. Bold list item**
]


def prose_numbers(markdown: str) -> list[str]:
    """The numbers a Markdown cell states, once all that is not a quantity is gone."""
    for pattern in SKIP:
        markdown = pattern.sub(" ", markdown)
    return NUMBER.findall(markdown)


def value(number: str) -> float:
    return float(number.replace(",", "").replace("−", "-"))


def printed_numbers(cell: dict) -> set[float]:
    """Every number a code cell prints, if nbval compares its outputs."""
    found: set[float] = set()
    tags = cell.get("metadata", {}).get("tags", [])
    if (
        cell["cell_type"] != "code"
        or "nbval-ignore-output" in tags
        or "nbval-skip" in tags
    ):
        return found
    for output in cell.get("outputs", []):
        text = output.get("text", "") or output.get("data", {}).get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else text
        text += "".join(output.get("traceback", []))
        for number in NUMBER.findall(text):
            found.add(value(number))
            if "," in number:  # "1,600" also as 1 and 600, as a tuple prints them
                found.update(value(part) for part in number.split(",") if part)
    return found


SECTION = re.compile(r"^#{1,2} ", re.M)  # a chapter's title, or one of its sections
WORDS = {0.0, 1.0, 2.0}  # numbers the prose uses as words


def sections(notebook: dict) -> list[list[tuple[int, str | None]]]:
    """The notebook cut at its `#` and `##` headings: each section's cells, as (index,
    the Markdown text in this section, or None for a code cell)."""
    cut: list[list[tuple[int, str | None]]] = [[]]
    for index, cell in enumerate(notebook["cells"]):
        if cell["cell_type"] != "markdown":
            cut[-1].append((index, None))
            continue
        text = "".join(cell["source"])
        starts = [m.start() for m in SECTION.finditer(text)]
        bounds = sorted({0, *starts, len(text)})
        for start, end in zip(bounds, bounds[1:]):
            if start in starts:
                cut.append([])
            cut[-1].append((index, text[start:end]))
    return [section for section in cut if section]


def unchecked_numbers(path: Path) -> list[str]:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    published = notebook.get("metadata", {}).get("gptcore", {}).get("published", {})
    allowed = {value(k) for k in published} | WORDS
    problems = []
    for section in sections(notebook):
        shown = allowed.union(
            *(
                printed_numbers(notebook["cells"][i])
                for i, text in section
                if text is None
            )
        )
        for index, text in section:
            for number in prose_numbers(text) if text is not None else []:
                if value(number) not in shown:
                    problems.append(
                        f"{path.name} cell {index}: {number!r} is typed, not computed: "
                        "glue it, print it in a compared cell of the same section, or "
                        "list a published constant with its source in the metadata "
                        "gptcore.published"
                    )
    return problems


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_number_in_the_prose_is_checked(path):
    problems = unchecked_numbers(path)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_published_constants_name_their_source(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for number, source in (
        notebook.get("metadata", {}).get("gptcore", {}).get("published", {}).items()
    ):
        assert isinstance(source, str) and len(source) > 10, (
            f"{path.name}: {number} needs a source"
        )


def test_the_reader_of_prose():
    text = (
        "Chapter 3 shows GPT-2 (Radford et al., 2019) with 12 heads, $d = 64$, "
        "`n_embd=64`, {glue:text}`loss:.2f` and 67 scores.\n1. a list\n"
        "**Exercise 2.** See chapter 5 and 6."
    )
    assert prose_numbers(text) == ["12", "67"]


def test_a_number_counts_only_in_its_own_section(tmp_path):
    def cell(kind: str, text: str) -> dict:
        out = [{"output_type": "stream", "name": "stdout", "text": text}]
        return {"cell_type": kind, "metadata": {}, "source": text} | (
            {"outputs": out} if kind == "code" else {}
        )

    notebook = {
        "metadata": {},
        "cells": [
            cell("markdown", "# Title\n\n## A\n\nWe use 32 sequences."),
            cell("code", "32 and 7"),
            cell("markdown", "Still A: 7 of them.\n\n## B\n\nNow 32 again, 1 block."),
        ],
    }
    path = tmp_path / "00_x.ipynb"
    path.write_text(json.dumps(notebook), encoding="utf-8")
    problems = unchecked_numbers(path)
    assert len(problems) == 1 and "cell 2: '32'" in problems[0]


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_compared_floats_are_rounded(path):
    """A compared output prints no float residue: at most 4 decimals, no e-notation."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    problems = []
    for index, cell in enumerate(notebook["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or "nbval-ignore-output" in tags:
            continue
        for output in cell.get("outputs", []):
            text = output.get("text", "") or output.get("data", {}).get(
                "text/plain", ""
            )
            text = "".join(text) if isinstance(text, list) else text
            for match in re.findall(
                r"(?<![\w.])\d+\.\d{5,}(?![\d])|\d\.\d+e[-+]\d+", text
            ):
                problems.append(
                    f"{path.name} cell {index} prints {match}: round it well away from "
                    "the last digits, or print a bound"
                )
    assert not problems, "\n".join(problems)
