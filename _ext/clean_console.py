"""No JavaScript error in the browser console on any page
(tests/book/test_book_site.py).

Two errors that every reader's browser logged on every page, fixed here:

* `Uncaught SyntaxError: Identifier 'THEBE_JS_URL' has already been declared`:
  sphinx-thebe's inline `const THEBE_JS_URL = ...` script (and sphinx-togglebutton's
  selector) reach the page twice, registered once with the file name `None` and once
  with `''`, which Sphinx does not see as the same asset. We drop exact duplicates from
  each page's scripts, after every other extension has added its own.
* `Got invalid theme mode: . Resetting to auto.`: pydata-sphinx-theme's first-visit mode
  is the template variable `default_mode` (`html_context`), empty unless set; we set it
  to `"auto"`, what the theme falls back to anyway.
"""


def _default_theme_mode(app, config) -> None:
    config.html_context = {"default_mode": "auto", **config.html_context}


def _asset_key(asset):
    return (
        asset.filename or "",
        asset.priority,
        tuple(sorted(asset.attributes.items())),
    )


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if not isinstance(scripts, list):
        return
    seen, unique = set(), []
    for script in scripts:
        key = _asset_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("config-inited", _default_theme_mode)
    # Late (priority 900, the default is 500): after extensions that add page scripts.
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
