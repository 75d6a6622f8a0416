"""Make the built site self-contained: it loads nothing from another host.

* **MathJax** is served by the site itself. The pinned PyPI package
  `sphinx-mathjax-offline` (requirements.txt) ships MathJax 3.2.2's files; we use it
  only as their carrier. At the end of an HTML build its `mathjax/` folder is copied to
  `_build/html/_static/mathjax/` (less the combined bundles we do not load), and
  `mathjax_path` points at the bundled `tex-mml-chtml.js`, the bundle that Sphinx would
  otherwise fetch from a CDN.
* **require.js and the ipywidgets widget manager** are not loaded at all:
  `nb_ipywidgets_js: {}` in _config.yml. The book shows widgets as static figures.

tests/book/test_book_site.py checks the result: no external `<script>`, `<link>` or
`<img>` in any page, and every page rendered in headless Chromium with its math typeset.
"""

import importlib.util
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

CARRIER = "sphinx-mathjax-offline"  # a folder, not an importable name: see find_spec
BUNDLE = "tex-mml-chtml.js"  # TeX and MathML in, CommonHTML out: Sphinx's default


def _mathjax_source() -> Path:
    spec = importlib.util.find_spec(CARRIER)
    if spec is None or not spec.submodule_search_locations:
        raise ExtensionError(
            f"offline_assets: the package {CARRIER!r} is not installed "
            "(pip install -r requirements.txt); it ships the book's MathJax."
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    source = package / "static" / "mathjax"
    if not (source / BUNDLE).is_file():
        raise ExtensionError(f"offline_assets: {source / BUNDLE} is missing")
    return source


def _use_bundled_mathjax(app, config) -> None:
    _mathjax_source()  # fail early, before any page is read, if the package is missing
    config.mathjax_path = f"mathjax/{BUNDLE}"  # relative: served from _static/


def _skip_other_bundles(folder, names):
    # The top-level *.js files are combined bundles (tex-svg.js, ...): keep only ours.
    # The folders (input/, output/ with the fonts, a11y/, ui/, sre/) load on demand.
    if Path(folder) != _mathjax_source():
        return []
    return [n for n in names if n.endswith(".js") and n != BUNDLE]


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(_mathjax_source(), target, ignore=_skip_other_bundles)


def setup(app):
    app.connect("config-inited", _use_bundled_mathjax)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
