"""SQL functions and the ``version`` collation, so that SQL compares versions as kbgen does.

Registered on the connections that build and serve the published database (see kb/datasette_plugins/).
"""

from __future__ import annotations

import sqlite3

from kb.vocab.versions import Version, VersionError


def version_key(text):
    """``version_key('5.15.0-91-generic')``: the sort key of its mainline base (as ``first_release_key`` of a
    mainline item), NULL for what is not a version."""
    if text is None:
        return None
    try:
        return Version.parse(str(text)).base.sort_key
    except VersionError:
        return None


def _exact_key(text):
    try:
        return Version.parse(str(text)).sort_key
    except VersionError:
        return None


def version_collation(left: str, right: str) -> int:
    """Order version strings numerically (5.9 before 5.10, 5.15.0-91.101 before 5.15.0-100.110); what is not a
    version sorts after, as text."""
    a, b = _exact_key(left), _exact_key(right)
    if a is None or b is None:
        key_a, key_b = (a is None, left if a is None else ""), (b is None, right if b is None else "")
        return (key_a > key_b) - (key_a < key_b)
    return (a > b) - (a < b)


def register(conn: sqlite3.Connection) -> None:
    conn.create_function("version_key", 1, version_key, deterministic=True)
    conn.create_collation("version", version_collation)
