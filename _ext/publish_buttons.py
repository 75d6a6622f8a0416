"""Show the repository and issues buttons exactly when `repository.url` is set in
_config.yml.

Jupyter Book 1.x refuses `use_repository_button: true` with an empty URL, and its launch
buttons (Colab, Binder) fail on one; this makes the URL the one setting that turns all
of them on or off.
"""


def _enable_buttons(app, config) -> None:
    options = config.html_theme_options
    if options.get("repository_url"):
        options["use_repository_button"] = True
        options["use_issues_button"] = True
    else:
        options["launch_buttons"] = {}


def setup(app):
    app.connect("config-inited", _enable_buttons)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
