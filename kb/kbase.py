"""The knowledge base reading commands see: the shipped mainline facts and the user's trees, together.

Built in memory: the shipped text is loaded, the user's database is attached read-only and its trees
copied in; the result is cached between runs (see :func:`open_kb`).  A ``mainline`` tree mined from a real kernel repository
supersedes the shipped facts item by item, and every difference between the two is recorded in
``disagreements`` rather than overwritten silently.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3

from kb import __version__, shipped, store
from kb.schema import SCHEMA_VERSION, TREE_TABLES

_MERGE_NOTE = "a mined fact supersedes the shipped reference fact"


def _columns(conn: sqlite3.Connection, table: str) -> str:
    return ", ".join(f'"{row[1]}"' for row in conn.execute(f"PRAGMA main.table_info({table})"))


def _cache_path(user_db: str | None) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    which = hashlib.sha256(os.path.abspath(user_db or "").encode()).hexdigest()[:16]
    return os.path.join(base, "kbgen", f"kb-{which}.sqlite")


def _cache_key(user_db: str | None) -> str:
    """Everything the merged knowledge base is built from; a cached copy with another key is stale."""
    parts = [__version__, str(SCHEMA_VERSION), shipped.data_version()]
    if user_db and os.path.exists(user_db):
        stat = os.stat(user_db)
        parts += [os.path.abspath(user_db), str(stat.st_size), str(stat.st_mtime_ns)]
    return "|".join(parts)


def _from_cache(path: str, key: str) -> sqlite3.Connection | None:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        conn = sqlite3.connect(":memory:", isolation_level=None)
        conn.deserialize(data)
        row = conn.execute("SELECT value FROM kb_meta WHERE key = 'cache_key'").fetchone()
    except (OSError, sqlite3.Error, AttributeError):
        return None
    return conn if row and row[0] == key else None


def _to_cache(conn: sqlite3.Connection, path: str, key: str) -> None:
    from kb.atomic import OutputError, write_atomic

    conn.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('cache_key', ?)", (key,))
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, conn.serialize())
    except (OSError, OutputError, AttributeError):
        pass  # a cache that cannot be written is only slower


def open_kb(user_db: str | None = None) -> sqlite3.Connection:
    """An in-memory knowledge base: the shipped mainline tree plus every tree of *user_db*.

    Building it takes ~50 ms, a third of a `kbgen tables` run, so the result is cached (serialized, in
    $XDG_CACHE_HOME/kbgen) under a key naming everything it was built from: the kbgen and schema versions,
    the shipped data's content digest and the user database's size and modification time.
    """
    if user_db and os.path.exists(user_db):
        store.connect(user_db, readonly=True).close()  # says clearly what is wrong with a bad file
    cache = key = None
    if not os.environ.get("KBGEN_NO_CACHE"):
        cache, key = _cache_path(user_db), _cache_key(user_db)
        conn = _from_cache(cache, key)
        if conn is not None:
            return conn
    conn = _build(user_db)
    if cache:
        _to_cache(conn, cache, key)
    return conn


def _build(user_db: str | None) -> sqlite3.Connection:
    conn = store.memory()
    tree = shipped.load()
    store.write_tree(conn, tree)
    # load() already digested the data files: its fingerprint is the data version.
    conn.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('data_version', ?)", (tree.fingerprint,))
    if user_db and os.path.exists(user_db):
        try:
            conn.execute("ATTACH DATABASE ? AS user", (f"file:{user_db}?mode=ro",))
        except sqlite3.Error as err:
            raise store.StoreError(f"{user_db}: cannot open ({err})") from None
        try:
            _copy_user_trees(conn)
        except sqlite3.DatabaseError as err:
            raise store.StoreError(f"{user_db}: cannot read ({err})") from None
        finally:
            conn.execute("DETACH DATABASE user")
    return conn


def _copy_user_trees(conn: sqlite3.Connection) -> None:
    have_user = {row[0] for row in conn.execute("SELECT name FROM user.sqlite_master WHERE type = 'table'")}
    if "trees" not in have_user:
        return
    shipped_trees = {row[0] for row in conn.execute("SELECT name FROM main.trees")}
    conn.execute(f"INSERT OR IGNORE INTO main.sources SELECT {_columns(conn, 'sources')} FROM user.sources")
    for (tree,) in conn.execute("SELECT name FROM user.trees ORDER BY name").fetchall():
        if tree in shipped_trees:
            _supersede(conn, tree)
        else:
            _copy_tree(conn, tree)


def _copy_rows(conn: sqlite3.Connection, table: str, tree: str) -> None:
    cols = _columns(conn, table)
    key = "name" if table == "trees" else "tree"
    conn.execute(f"INSERT INTO main.{table} ({cols}) SELECT {cols} FROM user.{table} WHERE {key} = ?", (tree,))


def _copy_tree(conn: sqlite3.Connection, tree: str) -> None:
    for table in ("trees", *TREE_TABLES):
        _copy_rows(conn, table, tree)


def _supersede(conn: sqlite3.Connection, tree: str) -> None:
    """Mined facts of *tree* replace the shipped ones item by item; differences become disagreements."""
    for field in ("first_release", "introduced_by"):
        conn.execute(
            f"""INSERT INTO main.disagreements (tree, kind, value, field, used, used_source, other, other_source, note)
            SELECT u.tree, u.kind, u.value, ?, u.{field}, u.source, s.{field}, s.source, ?
            FROM user.items u JOIN main.items s ON s.tree = u.tree AND s.kind = u.kind AND s.value = u.value
            WHERE u.tree = ? AND s.{field} IS NOT NULL AND u.{field} IS NOT s.{field}""",
            (field, _MERGE_NOTE, tree),
        )
    mined = "(SELECT kind, value FROM user.items WHERE tree = :tree)"
    # Names are a union: every name the id carried, whichever source saw it.
    conn.execute(
        f"""DELETE FROM main.item_names WHERE tree = :tree AND (kind, value) IN {mined}
        AND name IN (SELECT name FROM user.item_names u WHERE u.tree = :tree
                     AND u.kind = main.item_names.kind AND u.value = main.item_names.value)""",
        {"tree": tree},
    )
    # Names only the shipped facts know go after the mined ones.
    conn.execute(
        f"UPDATE main.item_names SET position = position + 1000 WHERE tree = :tree AND (kind, value) IN {mined}",
        {"tree": tree},
    )
    conn.execute(f"DELETE FROM main.items WHERE tree = :tree AND (kind, value) IN {mined}", {"tree": tree})
    conn.execute(
        "DELETE FROM main.helper_docs WHERE tree = :tree AND value IN"
        " (SELECT value FROM user.helper_docs WHERE tree = :tree)",
        {"tree": tree},
    )
    conn.execute("DELETE FROM main.releases WHERE tree = ?", (tree,))
    shipped_source = conn.execute("SELECT source FROM main.trees WHERE name = ?", (tree,)).fetchone()[0]
    conn.execute("DELETE FROM main.trees WHERE name = ?", (tree,))
    for table in ("trees", *TREE_TABLES):
        _copy_rows(conn, table, tree)
    conn.execute(
        "UPDATE main.trees SET description = description || ?, kind = kind || '+reference' WHERE name = ?",
        (f"; items it does not cover come from the shipped {shipped_source}", tree),
    )
