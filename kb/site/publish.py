"""Build the database Datasette publishes: the store's tables plus one browsable table per kind.

The published file is a build artefact (served immutable), so the per-kind tables are materialized
rather than views: Datasette can then facet them, search them with full-text search, and sort and
filter every version column as versions (``COLLATE version``: 5.9 before 5.10, ``first_release__lte=5.15``
compares numerically), in the per-kind tables and the store's tables alike.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3

from kb.formats.atomic import OutputError
from kb.site import sqlfunctions
from kb.store import queries, resolve
from kb.store.schema import BY_NAME, INDEXES
from kb.vocab.kinds import HELPER, KIND_OF_TABLE, KINDS

COLUMNS = ("id", "name", "first_release", "removed_in", "commit", "subject", "names", "source", "note", "tree")

# Store tables whose columns hold versions (releases of their tree): they sort and compare as versions.
VERSION_COLUMNS = {
    "items": ("first_release", "removed_in", "first_rc"),
    "item_names": ("first_release",),
    "windows": ("since", "until"),
    "releases": ("version", "base"),
    "section_rules": ("release",),
    "disagreements": ("used", "other"),
}
# Every version column of the published database, for the plugin (facets in version order).
ALL_VERSION_COLUMNS = frozenset({"first_release", "removed_in"}.union(*VERSION_COLUMNS.values()))


def _create_table(target: sqlite3.Connection, table: str, columns: tuple[str, ...], id_type: str) -> None:
    definitions = {"id": f"{id_type} PRIMARY KEY", "name": "TEXT NOT NULL", "first_release": "TEXT COLLATE version",
                   "removed_in": "TEXT COLLATE version", "gpl_only": "INTEGER"}
    body = ", ".join(f"[{column}] {definitions.get(column, 'TEXT')}" for column in columns)
    target.execute(f"CREATE TABLE [{table}] ({body})")


def _collate_versions(target: sqlite3.Connection) -> None:
    """Declare the store tables' version columns ``COLLATE version`` (rebuilding each table, indexes after)."""
    for table, columns in VERSION_COLUMNS.items():
        definition = BY_NAME[table]
        patched = tuple(f"{c} COLLATE version" if c.split()[0].strip('"') in columns else c
                        for c in definition.columns)
        statement = dataclasses.replace(definition, columns=patched).create(facts=False)
        target.execute(f"ALTER TABLE [{table}] RENAME TO [{table}__published]")
        target.execute(statement)
        target.execute(f"INSERT INTO [{table}] SELECT * FROM [{table}__published]")
        target.execute(f"DROP TABLE [{table}__published]")
    for statement in INDEXES:
        target.execute(statement)


# Columns pages sort and facet by: an index in the column's own collation (version) lets SQLite read them in
# order instead of sorting through the Python collation on every request.
INDEXED = ("first_release", "removed_in", "gpl_only", "name")
STORE_INDEXED = {"items": ("first_release", "removed_in", "tree", "kind"), "releases": ("version", "tree")}


def _index_facets(target: sqlite3.Connection, table: str, columns: tuple[str, ...]) -> None:
    for column in (c for c in INDEXED if c in columns):
        target.execute(f"CREATE INDEX [{table}_by_{column}] ON [{table}]([{column}])")


def _record(item, tree: str, docs: dict) -> dict:
    record = {
        "id": item.value,
        "name": resolve.display_name(item),  # helpers with bpf_, as programs call them and item pages show them
        "first_release": item.first_release,
        "removed_in": item.removed_in,
        "commit": item.commit,
        "subject": item.subject,
        # a JSON array (the JSON API returns it as one, kbgen_datasette); helpers' with bpf_ too
        "names": json.dumps([f"bpf_{n}" for n in item.names] if item.kind == HELPER else item.names),
        "source": item.source,
        "note": item.note,
        "tree": tree,
    }
    if item.kind == "helper":
        signature, description, returns = docs.get(item.value, (None, None, None))
        record.update(signature=signature, description=description, returns=returns, alt_commit=item.alt_commit,
                      gpl_only=item.gpl_only)
    elif item.kind == "kfunc":
        record.update(signature=item.signature)
    elif item.kind == "feature":
        record.update(title=item.title, detect=item.detect, libbpf=item.libbpf)
    return record


def build(merged: sqlite3.Connection, path: str, tree: str | None = None) -> str:
    """Write the published database to *path* (replacing it atomically); returns the tree it shows."""
    import sqlite_utils

    name = queries.resolve_tree(merged, tree)
    rows = queries.items(merged, name)
    docs: dict[int, tuple] = {}
    for value, signature, description, returns in merged.execute(
        "SELECT value, signature, description, returns FROM helper_docs WHERE tree = ? ORDER BY value, variant",
        (name,),
    ):
        docs.setdefault(value, (signature, description, returns))
    tmp = f"{path}.{os.getpid()}.kbgen-tmp"
    try:
        if os.path.exists(tmp):
            os.unlink(tmp)
        target = sqlite3.connect(tmp)
        target.execute("PRAGMA user_version = 0")
    except (OSError, sqlite3.Error) as err:
        raise OutputError(f"{path}: cannot write ({getattr(err, 'strerror', None) or err})") from None
    try:
        merged.backup(target)
        sqlfunctions.register(target)
        _collate_versions(target)
        db = sqlite_utils.Database(target)
        for table, kind in KIND_OF_TABLE.items():
            columns = (*COLUMNS, *KINDS[kind].columns)
            _create_table(target, table, columns, "INTEGER" if KINDS[kind].numbered else "TEXT")
            db[table].insert_all(_record(item, name, docs) for item in rows if item.kind == kind)
            _index_facets(target, table, columns)
            # Full-text search is what sqlite-utils does better than hand code: the FTS5 table and its filling.
            # Keyed on rowid, which every table has (kfuncs' text id is not a rowid).
            db[table].enable_fts(list(KINDS[kind].searched), create_triggers=False)
        db["items"].enable_fts(["name", "title"], create_triggers=False)
        for table, indexed in STORE_INDEXED.items():
            for column in indexed:
                target.execute(f"CREATE INDEX [{table}_by_{column}] ON [{table}]([{column}])")
        target.execute("ANALYZE")
        target.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('published_tree', ?)", (name,))
        target.commit()
        target.execute("VACUUM")
    except sqlite3.Error as err:
        target.close()
        os.unlink(tmp)
        raise OutputError(f"{path}: cannot write ({err})") from None
    except BaseException:
        target.close()
        os.unlink(tmp)
        raise
    target.close()
    try:
        os.replace(tmp, path)
    except OSError as err:
        os.unlink(tmp)
        raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    return name
