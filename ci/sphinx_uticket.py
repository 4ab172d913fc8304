"""Local Sphinx extension of the book (``_config.yml``: sphinx.local_extensions): fixes two console
errors that every page of a Jupyter Book 1.x build shows in a browser (ci/check_browser.py finds them).

- sphinx-thebe adds its configuration script (``const THEBE_JS_URL = ...``) in an
  ``env-before-read-docs`` handler, which Sphinx runs twice in a fresh build (once per environment
  read), so pages declare the constant twice: "Identifier 'THEBE_JS_URL' has already been declared".
  The two copies differ only in their file name (None and ''); the page's script list is
  deduplicated here on (file or inline, attributes).
- pydata-sphinx-theme writes an empty default colour mode when none is configured, and its script
  logs "Got invalid theme mode" on a reader's first visit. The book's default is light.
"""
from __future__ import annotations

DEFAULT_MODE = "light"


def _script_key(js) -> tuple:
    """Same file (None and '' both mean an inline script) and same attributes (body included)."""
    attrs = getattr(js, "attributes", {}) or {}
    return (getattr(js, "filename", None) or "", tuple(sorted((k, str(v)) for k, v in attrs.items())))


def dedupe_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        seen, out = set(), []
        for js in scripts:
            key = _script_key(js)
            if key not in seen:
                seen.add(key)
                out.append(js)
        scripts[:] = out
    if not context.get("default_mode"):
        context["default_mode"] = DEFAULT_MODE
    if not context.get("theme_default_mode"):
        context["theme_default_mode"] = DEFAULT_MODE


def setup(app):
    # after the themes' own handlers (priority 500), before rendering
    app.connect("html-page-context", dedupe_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True, "version": "1"}
