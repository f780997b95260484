"""Sphinx extension: each script a page loads, once.

sphinx-thebe (which Jupyter Book 1.x always loads) registers its inline configuration script, which declares
``const THEBE_JS_URL``, every time the environment reads documents; a build that reads them twice puts the
declaration on every page twice, and the browser stops at the second one with "Identifier 'THEBE_JS_URL' has
already been declared" (a console error on every page). This drops repeated scripts from each page's context.
"""
from __future__ import annotations

from sphinx.application import Sphinx


def _identity(script) -> tuple:
    """What a script tag says: its file (an inline script's is None or "", as it was registered) and attributes."""
    return (getattr(script, "filename", script) or "", tuple(sorted((getattr(script, "attributes", None) or {}).items())))


def drop_repeated_scripts(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    seen, kept = set(), []
    for script in context.get("script_files", []):
        key = _identity(script)
        if key not in seen:
            seen.add(key)
            kept.append(script)
    if "script_files" in context:
        context["script_files"][:] = kept


def setup(app: Sphinx) -> dict:
    # early: the event stops at the first listener that returns a template name, so a late one may never run
    app.connect("html-page-context", drop_repeated_scripts, priority=100)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
