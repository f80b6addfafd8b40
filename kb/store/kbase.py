"""The knowledge base reading commands see: the shipped facts and the user's trees, merged.

Built in memory: the shipped text is loaded, the user's database is read, the facts of every tree are
reconciled (kb.merge) and written in the merged shape.  The result is cached between runs (see
:func:`open_kb`); a damaged cache is noticed, removed and rebuilt.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3

from kb import __version__
from kb.store import database, merge, reading, shipped
from kb.store.schema import SCHEMA_VERSION, statements
from kb.vocab.errors import KbgenError
from kb.vocab.warnings import warn

_CACHE_MAGIC = b"kbgen-cache-2\n"
_DIGEST = 32
# Connection.serialize and deserialize came with Python 3.11; before, a backup through a temporary file does.
IN_MEMORY_COPIES = hasattr(sqlite3.Connection, "serialize")


def _cache_path(user_db: str | None) -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    # A user database that does not exist yet adds nothing: its runs share the shipped knowledge base's cache.
    named = os.path.abspath(user_db) if user_db and os.path.exists(user_db) else ""
    which = hashlib.sha256(named.encode()).hexdigest()[:16]
    return os.path.join(base, "kbgen", f"kb-{which}.sqlite")


def _cache_key(user_db: str | None) -> str:
    """Everything the merged knowledge base is built from; a cached copy with another key is stale."""
    schema = hashlib.sha256("".join(statements(facts=False)).encode()).hexdigest()[:12]
    parts = [__version__, str(SCHEMA_VERSION), schema, shipped.data_version()]
    if user_db and os.path.exists(user_db):
        stat = os.stat(user_db)
        parts += [os.path.abspath(user_db), str(stat.st_size), str(stat.st_mtime_ns)]
    return "|".join(parts)


def _from_cache(path: str, key: str, remove: bool = True) -> sqlite3.Connection | None:
    """The cached knowledge base, if it is whole and current; a damaged one is removed (where *remove*) with a
    warning."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    # A view, not a copy: the cache is megabytes, and every reading command reads it.
    payload = memoryview(data)[len(_CACHE_MAGIC) + _DIGEST:]
    whole = (data.startswith(_CACHE_MAGIC)
             and hashlib.sha256(payload).digest() == data[len(_CACHE_MAGIC):len(_CACHE_MAGIC) + _DIGEST])
    conn = None
    if whole:
        try:
            conn = _deserialize(payload)
            row = conn.execute("SELECT value FROM kb_meta WHERE key = 'cache_key'").fetchone()
        except sqlite3.Error:
            whole = False
    if not whole:
        if not remove:
            return None
        warn(f"the cache {path} was damaged; removed it and rebuilt the knowledge base")
        try:
            os.unlink(path)
        except OSError:
            pass
        return None
    return conn if row and row[0] == key else None


def _serialize(conn: sqlite3.Connection) -> bytes:
    """The database's bytes: Connection.serialize where Python has it (3.11), else by a backup to a temporary file."""
    if IN_MEMORY_COPIES:
        return conn.serialize()
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kbgen-") as directory:
        path = os.path.join(directory, "kb.sqlite")
        copy = sqlite3.connect(path)
        try:
            conn.backup(copy)
        finally:
            copy.close()
        with open(path, "rb") as handle:
            return handle.read()


def _deserialize(payload: bytes) -> sqlite3.Connection:
    """An in-memory database of *payload* (see :func:`_serialize`)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    if IN_MEMORY_COPIES:
        conn.deserialize(payload)
        return conn
    import tempfile

    with tempfile.TemporaryDirectory(prefix="kbgen-") as directory:
        path = os.path.join(directory, "kb.sqlite")
        with open(path, "wb") as handle:
            handle.write(payload)
        source = sqlite3.connect(path)
        try:
            source.backup(conn)
        finally:
            source.close()
    return conn


def _copy(conn: sqlite3.Connection) -> sqlite3.Connection:
    """An in-memory copy of an in-memory database, on every Python (a backup, page by page)."""
    copy = sqlite3.connect(":memory:", isolation_level=None)
    conn.backup(copy)
    return copy


def _to_cache(conn: sqlite3.Connection, path: str, key: str) -> None:
    from kb.formats.atomic import write_atomic

    conn.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('cache_key', ?)", (key,))
    payload = _serialize(conn)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, _CACHE_MAGIC + hashlib.sha256(payload).digest() + payload)
    except (OSError, KbgenError):
        pass  # a cache that cannot be written only makes the next run slower


def open_kb(user_db: str | None = None, *, cache: bool = True) -> sqlite3.Connection:
    """An in-memory knowledge base: the shipped facts plus every tree of *user_db*, merged.

    Building it costs a good part of a run, so the result is cached (serialized, with a digest, in
    $XDG_CACHE_HOME/kbgen) under a key naming everything it was built from: the kbgen and schema versions, the
    shipped data's content digest and the user database's size and modification time.  With *cache* False
    (``kbgen tables``, run in builds, writes nothing but its outputs) a current cache is still read, never written.
    """
    if user_db and os.path.exists(user_db):
        database.connect(user_db, readonly=True).close()  # says clearly what is wrong with a bad file
    cache_path = key = None
    # Without Connection.deserialize (Python 3.10) reading the cache takes a temporary file: not for a run that
    # writes nothing but its outputs.
    if not os.environ.get("KBGEN_NO_CACHE") and (cache or IN_MEMORY_COPIES):
        cache_path, key = _cache_path(user_db), _cache_key(user_db)
        conn = _from_cache(cache_path, key, remove=cache)
        if conn is not None:
            return conn
    conn = build(user_db, cache)
    if cache_path and cache:
        _to_cache(conn, cache_path, key)
    return conn


def build(user_db: str | None, cache: bool = True) -> sqlite3.Connection:
    """The shipped trees merged (built once per data version and cached as the knowledge base of no user database),
    with the trees *user_db* has facts of merged again from the shipped facts and the user's."""
    user_facts: list = []
    if user_db and os.path.exists(user_db):
        user = database.connect(user_db, readonly=True)
        try:
            user_facts = reading.read_facts(user)
        except sqlite3.DatabaseError as err:
            raise database.StoreError(f"{user_db}: cannot read ({err})") from None
        finally:
            user.close()
    if not user_facts:
        return _build_shipped()
    base = open_kb(None, cache=cache) if not os.environ.get("KBGEN_NO_CACHE") else _build_shipped()
    conn = _copy(base)
    touched = sorted({f.tree for f in user_facts})
    shipped_trees = {name for (name,) in conn.execute("SELECT name FROM trees")}
    marks = ", ".join("?" * len(touched))
    shipped_facts = [f for f in shipped.load_all() if f.tree in touched] if shipped_trees & set(touched) else []
    trees = merge.merge(shipped_facts + user_facts)
    # One transaction: the connection would commit each of 70,000 rows by itself otherwise (0.14 s more).
    with database.transaction(conn, "the knowledge base in memory"):
        for table in statements_tables():
            column = "name" if table == "trees" else "tree"
            conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", touched)
        write_merged(conn, trees)
    return conn


def statements_tables() -> list[str]:
    from kb.store.schema import TABLES

    return [t.name for t in TABLES if t.name not in ("kb_meta", "sources")]


def _build_shipped() -> sqlite3.Connection:
    conn = database.memory(facts=False)
    all_facts = list(shipped.load_all())
    trees = merge.merge(all_facts)
    with database.transaction(conn, "the knowledge base in memory"):  # one transaction, as in build()
        write_merged(conn, trees)
        conn.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('data_version', ?)",
                     (all_facts[0].fingerprint,))
    return conn


def write_merged(conn: sqlite3.Connection, trees: list[merge.MergedTree]) -> None:
    for tree in trees:
        top = tree.parts[0]
        conn.execute(
            "INSERT INTO trees (name, kind, scheme, description, repo, path, tag_pattern) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (tree.name, tree.kind, tree.scheme, top.source.description, top.source.repo, top.source.path,
             top.tag_pattern),
        )
        database.insert(conn, "item_sources", [(tree.name, *row) for row in tree.item_sources])
        for part in tree.parts:
            for table, rows in database.fact_rows(part, item_sources=True).items():
                if table == "sources":
                    conn.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?, ?, ?, ?, ?)", rows)
                else:
                    database.insert(conn, table, rows, replace=False)
