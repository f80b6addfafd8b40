"""SQL functions and the ``version`` collation, so that SQL compares versions as kbgen does.

Registered on the connections that build and serve the published database (see kb/datasette_plugins/).
"""

from __future__ import annotations

import sqlite3

from kb.versions import Version, VersionError


def version_key(text):
    """``version_key('5.15.0-91-generic')``: the release's sort key, NULL for what is not a version."""
    if text is None:
        return None
    try:
        return Version.parse(str(text)).release.sort_key
    except VersionError:
        return None


def version_collation(left: str, right: str) -> int:
    """Order version strings numerically (5.9 before 5.10); what is not a version sorts after, as text."""
    a, b = version_key(left), version_key(right)
    if a is None or b is None:
        key_a, key_b = (a is None, left if a is None else ""), (b is None, right if b is None else "")
        return (key_a > key_b) - (key_a < key_b)
    return (a > b) - (a < b)


def register(conn: sqlite3.Connection) -> None:
    conn.create_function("version_key", 1, version_key, deterministic=True)
    conn.create_collation("version", version_collation)
