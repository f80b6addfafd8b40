"""Build the database Datasette publishes: the store's tables plus one browsable table per kind.

The published file is a build artefact (served immutable), so the per-kind tables are materialized
rather than views: Datasette can then facet them, sort their ``first_release`` columns as versions
(``COLLATE version``) and search helper names and documentation with full-text search.
"""

from __future__ import annotations

import os
import sqlite3

from kb import queries, sqlfunctions

# table -> item kind
KIND_TABLES = {
    "helpers": "helper",
    "prog_types": "prog_type",
    "map_types": "map_type",
    "attach_types": "attach_type",
    "link_types": "link_type",
    "commands": "cmd",
    "kfuncs": "kfunc",
}


COLUMNS = ("id", "name", "first_release", "commit", "subject", "names", "source", "note", "tree")
HELPER_COLUMNS = (*COLUMNS, "signature", "description", "returns", "alt_commit")


def _create_table(target: sqlite3.Connection, table: str, columns: tuple[str, ...], id_type: str) -> None:
    # COLLATE version: clicking the column header in Datasette sorts 5.9 before 5.10.
    definitions = {"id": f"{id_type} PRIMARY KEY", "name": "TEXT NOT NULL", "first_release": "TEXT COLLATE version"}
    body = ", ".join(f"[{column}] {definitions.get(column, 'TEXT')}" for column in columns)
    target.execute(f"CREATE TABLE [{table}] ({body})")


def _record(item, tree: str, docs: dict) -> dict:
    record = {
        "id": item.value,
        "name": item.name,
        "first_release": item.first_release,
        "commit": item.commit,
        "subject": item.subject,
        "names": ", ".join(item.names),
        "source": item.source,
        "note": item.note,
        "tree": tree,
    }
    if item.kind == "helper":
        signature, description, returns = docs.get(item.value, (None, None, None))
        record.update(signature=signature, description=description, returns=returns, alt_commit=item.alt_commit)
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
    tmp = f"{path}.tmp-{os.getpid()}"
    if os.path.exists(tmp):
        os.unlink(tmp)
    target = sqlite3.connect(tmp)
    try:
        merged.backup(target)
        sqlfunctions.register(target)
        db = sqlite_utils.Database(target)
        for table, kind in KIND_TABLES.items():
            columns = HELPER_COLUMNS if kind == "helper" else COLUMNS
            _create_table(target, table, columns, "TEXT" if kind == "kfunc" else "INTEGER")
            db[table].insert_all(_record(item, name, docs) for item in rows if item.kind == kind)
        # Full-text search is what sqlite-utils does better than hand code: the FTS5 table and its filling.
        db["helpers"].enable_fts(["name", "names", "signature", "description"], create_triggers=False)
        db["kfuncs"].enable_fts(["name"], create_triggers=False)
        target.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('published_tree', ?)", (name,))
        target.commit()
        target.execute("VACUUM")
    except BaseException:
        target.close()
        os.unlink(tmp)
        raise
    target.close()
    os.replace(tmp, path)
    return name
