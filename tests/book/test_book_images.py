"""Every image in the built book has alt text (figures, drawn diagrams, and images in
the prose).
"""

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
REQUIRED = os.environ.get("GPTCORE_REQUIRE_BOOK_CHECK") == "1"


class Images(HTMLParser):
    """The attributes of every <img> in a page."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.images.append(dict(attrs))


def pages() -> list[Path]:
    if not (SITE / "index.html").exists():
        message = "no built book in _build/html: run `jupyter-book build .` first"
        if REQUIRED:
            pytest.fail(message + " (GPTCORE_REQUIRE_BOOK_CHECK=1)")
        pytest.skip(message)
    return sorted(p for p in SITE.rglob("*.html") if "_static" not in p.parts)


def missing_alt(html: str) -> list[str]:
    """The src of each <img> whose alt text is missing or blank."""
    parser = Images()
    parser.feed(html)
    return [
        str(i.get("src")) for i in parser.images if not (i.get("alt") or "").strip()
    ]


def test_the_checker_finds_an_image_without_alt():
    html = '<img src="a.png" alt="a plot"><img src="b.png"><img src="c.png" alt=" ">'
    assert missing_alt(html) == ["b.png", "c.png"]


def test_every_image_in_the_book_has_alt_text():
    problems = []
    for page in pages():
        for src in missing_alt(page.read_text(encoding="utf-8")):
            if re.search(r"logo|_static/", src):
                continue  # the theme's own images
            problems.append(f"{page.relative_to(SITE)}: {src}")
    assert not problems, (
        "images without alt text (set the cell's metadata mystnb.image.alt):\n"
        + ("\n".join(problems))
    )
