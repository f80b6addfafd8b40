"""The SQLite store: open it, check it is ours, and replace one tree's facts in one transaction.

Plain ``sqlite3`` on purpose: ``kbgen tables`` builds a store in memory on every run, and importing
sqlite-utils alone costs more than the 0.3 s budget of that whole command (measured in bench/).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager

from collectors.facts import CollectedTree
from kb.schema import SCHEMA_VERSION, TABLES, TREE_TABLES
from kb.versions import sort_key


class StoreError(Exception):
    """The database cannot be used; the message names the file."""


def _check(conn: sqlite3.Connection, label: str) -> None:
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{label}: not a usable SQLite database ({err})") from None
    if tables and "kb_meta" not in tables:
        raise StoreError(f"{label}: an SQLite database, but not a kbgen knowledge base")
    if "kb_meta" in tables:
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'schema_version'").fetchone()
        if row is None or int(row[0]) > SCHEMA_VERSION:
            raise StoreError(f"{label}: knowledge base schema {row and row[0]} is newer than this kbgen understands")


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating if needed, unless *readonly*) a knowledge base file with the schema in place."""
    if readonly:
        if not os.path.exists(path):
            raise StoreError(f"{path}: no such knowledge base")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"{path}: cannot open ({err})") from None
        _check(conn, path)
        return conn
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as err:
        raise StoreError(f"{path}: cannot open for writing ({err})") from None
    _check(conn, path)
    return conn


def memory() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    create_schema(conn)
    return conn


def create_schema(conn: sqlite3.Connection) -> None:
    """Create what is missing; statement by statement, since executescript() would commit a transaction."""
    statement = ""
    for line in TABLES.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    conn.execute(
        "INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )


@contextmanager
def transaction(conn: sqlite3.Connection, label: str):
    """All or nothing: on any error the database is exactly as it was."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as err:
        raise StoreError(f"{label}: cannot write ({err})") from None
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as err:
        conn.execute("ROLLBACK")
        raise StoreError(f"{label}: cannot write ({err})") from None


def tree_fingerprint(conn: sqlite3.Connection, tree: str) -> str | None:
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'trees'").fetchone():
        return None
    row = conn.execute("SELECT fingerprint FROM trees WHERE name = ?", (tree,)).fetchone()
    return row[0] if row else None


def write_tree(conn: sqlite3.Connection, collected: CollectedTree) -> None:
    """Replace every fact of ``collected.name`` (inside the caller's transaction)."""
    tree = collected.name
    for table in TREE_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE tree = ?", (tree,))
    conn.execute("DELETE FROM trees WHERE name = ?", (tree,))
    conn.execute(
        "INSERT OR REPLACE INTO sources (id, kind, description, repo, path, revision) VALUES (?, ?, ?, ?, ?, ?)",
        (collected.source, collected.kind, collected.source_description, collected.repo, collected.path,
         collected.head_commit),
    )
    conn.execute(
        "INSERT INTO trees (name, kind, description, repo, path, tag_pattern, head_commit, fingerprint, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (tree, collected.kind, collected.source_description, collected.repo, collected.path,
         collected.tag_pattern, collected.head_commit, collected.fingerprint, collected.source),
    )
    conn.executemany(
        "INSERT INTO releases (tree, version, sort_key, tag, \"commit\", date, has_header) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(tree, r.version, r.sort_key, r.tag, r.commit, r.date, int(r.has_header)) for r in collected.releases],
    )
    conn.executemany(
        "INSERT INTO items (tree, kind, value, name, first_release, first_release_key, first_rc, introduced_by,"
        " subject, author, date, alt_commit, note, present_at_head, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (tree, i.kind, i.value, i.name, i.first_release, sort_key(i.first_release), i.first_rc, i.introduced_by,
             i.subject, i.author, i.date, i.alt_commit, i.note, int(i.present_at_head), i.source or collected.source)
            for i in collected.items
        ],
    )
    conn.executemany(
        "INSERT INTO item_names (tree, kind, value, name, position, first_seen_commit, first_release, is_alias)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (tree, i.kind, i.value, n.name, position, n.first_seen_commit, n.first_release, int(n.is_alias))
            for i in collected.items
            for position, n in enumerate(i.names)
        ],
    )
    conn.executemany(
        "INSERT INTO presence (tree, kind, value, release) VALUES (?, ?, ?, ?)",
        [(tree, kind, value, release) for kind, value, release in collected.presence],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO sources (id, kind, description) VALUES (?, ?, ?)",
        [(source, source.split(":", 1)[0], description) for source, description in collected.other_sources.items()],
    )
    docs_source = collected.docs_source or collected.source
    conn.executemany(
        "INSERT INTO helper_docs (tree, value, variant, name, signature, description, returns, attributes, source)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (tree, d.value, d.variant, d.name, d.signature, d.description, d.returns, d.attributes, docs_source)
            for d in collected.helper_docs
        ],
    )
    conn.executemany(
        "INSERT INTO disagreements (tree, kind, value, field, used, used_source, other, other_source, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(tree, *row) for row in collected.disagreements],
    )

