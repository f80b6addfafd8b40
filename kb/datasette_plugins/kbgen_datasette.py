"""Datasette plugin for the kbgen database: version-aware SQL, commit links, readable helper docs.

Loaded by ``kbgen serve`` through Datasette's plugins directory; it touches only the database named kb.
"""

from __future__ import annotations

import re

from datasette import hookimpl
from markupsafe import Markup, escape

from kb import sqlfunctions

DATABASE = "kb"
UPSTREAM_COMMIT = "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id={sha}"
_SHA_RE = re.compile(r"^[0-9a-f]{40}$")
_COMMIT_COLUMNS = {"commit", "introduced_by", "alt_commit", "first_seen_commit", "used", "other"}


@hookimpl
def prepare_connection(conn):
    sqlfunctions.register(conn)


def _is_mainline(row) -> bool:
    """Rows of the store say their tree; the per-kind tables and the canned queries are mainline's."""
    try:
        return row["tree"] == "mainline"
    except (KeyError, IndexError, TypeError):
        return True


def _kernel_doc(text: str) -> Markup:
    """The header's reStructuredText-ish markup (**bold**, *emphasis*) as HTML, line breaks kept."""
    html = str(escape(text))
    html = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html)
    html = re.sub(r"\*(\S(?:.*?\S)?)\*", r"<em>\1</em>", html)
    return Markup(f'<div style="white-space: pre-wrap; max-width: 48em">{html}</div>')


@hookimpl
def render_cell(row, value, column, table, database):
    if database != DATABASE or not isinstance(value, str):
        return None
    if column in _COMMIT_COLUMNS and _SHA_RE.match(value):
        if _is_mainline(row):
            url = UPSTREAM_COMMIT.format(sha=value)
            return Markup(f'<a href="{escape(url)}" title="{value}"><code>{value[:12]}</code></a>')
        return Markup(f'<code title="{value}">{value[:12]}</code>')
    if column == "signature":
        return Markup(f"<code>{escape(value)}</code>")
    if column in ("description", "returns"):
        return _kernel_doc(value)
    return None
