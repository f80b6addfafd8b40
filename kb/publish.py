"""Build the database Datasette publishes: the store's tables plus one browsable table per kind.

The published file is a build artefact (served immutable), so the per-kind tables are materialized
rather than views: Datasette can then facet them, sort their ``first_release`` columns as versions
(``COLLATE version``) and search helper names and documentation with full-text search.
"""

from __future__ import annotations

import os
import sqlite3

from kb import queries, sqlfunctions
from kb.atomic import OutputError

# table -> item kind
KIND_TABLES = {
    "helpers": "helper",
    "prog_types": "prog_type",
    "map_types": "map_type",
    "attach_types": "attach_type",
    "link_types": "link_type",
    "commands": "cmd",
    "kfuncs": "kfunc",
    "features": "feature",
}


COLUMNS = ("id", "name", "first_release", "removed_in", "commit", "subject", "names", "source", "note", "tree")
HELPER_COLUMNS = (*COLUMNS, "gpl_only", "signature", "description", "returns", "alt_commit")
EXTRA_COLUMNS = {"helper": HELPER_COLUMNS, "kfunc": (*COLUMNS, "signature"),
                 "feature": (*COLUMNS, "title", "detect", "libbpf")}


def _create_table(target: sqlite3.Connection, table: str, columns: tuple[str, ...], id_type: str) -> None:
    # COLLATE version: clicking the column header in Datasette sorts 5.9 before 5.10.
    definitions = {"id": f"{id_type} PRIMARY KEY", "name": "TEXT NOT NULL", "first_release": "TEXT COLLATE version",
                   "removed_in": "TEXT COLLATE version", "gpl_only": "INTEGER"}
    body = ", ".join(f"[{column}] {definitions.get(column, 'TEXT')}" for column in columns)
    target.execute(f"CREATE TABLE [{table}] ({body})")


def _record(item, tree: str, docs: dict) -> dict:
    record = {
        "id": item.value,
        "name": item.name,
        "first_release": item.first_release,
        "removed_in": item.removed_in,
        "commit": item.commit,
        "subject": item.subject,
        "names": ", ".join(item.names),
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
        db = sqlite_utils.Database(target)
        for table, kind in KIND_TABLES.items():
            columns = EXTRA_COLUMNS.get(kind, COLUMNS)
            _create_table(target, table, columns, "TEXT" if kind in ("kfunc", "feature") else "INTEGER")
            db[table].insert_all(_record(item, name, docs) for item in rows if item.kind == kind)
        # Full-text search is what sqlite-utils does better than hand code: the FTS5 table and its filling.
        db["helpers"].enable_fts(["name", "names", "signature", "description"], create_triggers=False)
        db["kfuncs"].enable_fts(["name"], create_triggers=False)
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
