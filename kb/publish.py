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


def build(merged: sqlite3.Connection, path: str, tree: str | None = None) -> str:
    """Write the published database to *path* (replacing it atomically); returns the tree it shows."""
    import sqlite_utils

    name = queries.resolve_tree(merged, tree)
    tmp = f"{path}.tmp-{os.getpid()}"
    if os.path.exists(tmp):
        os.unlink(tmp)
    target = sqlite3.connect(tmp)
    try:
        merged.backup(target)
        sqlfunctions.register(target)
        db = sqlite_utils.Database(target)
        rows = queries.items(merged, name)
        docs = {}
        for value, signature, description, returns in merged.execute(
            "SELECT value, signature, description, returns FROM helper_docs WHERE tree = ? ORDER BY value, variant",
            (name,),
        ):
            docs.setdefault(value, (signature, description, returns))
        for table, kind in KIND_TABLES.items():
            columns = {
                "id": str if kind == "kfunc" else int,
                "name": str,
                "first_release": str,
                "commit": str,
                "subject": str,
                "names": str,
                "source": str,
                "note": str,
                "tree": str,
            }
            if kind == "helper":
                columns.update(signature=str, description=str, returns=str, alt_commit=str)
            # COLLATE version: clicking the column header in Datasette sorts 5.9 before 5.10.
            definitions = ", ".join(
                f"[{column}] {'INTEGER' if kind_ is int else 'TEXT'}"
                + (" PRIMARY KEY" if column == "id" else "")
                + (" NOT NULL" if column == "name" else "")
                + (" COLLATE version" if column == "first_release" else "")
                for column, kind_ in columns.items()
            )
            target.execute(f"CREATE TABLE [{table}] ({definitions})")
            records = []
            for item in (r for r in rows if r.kind == kind):
                record = {
                    "id": item.value,
                    "name": item.name,
                    "first_release": item.first_release,
                    "commit": item.commit,
                    "subject": item.subject,
                    "names": ", ".join(item.names),
                    "source": item.source,
                    "note": item.note,
                    "tree": name,
                }
                if kind == "helper":
                    signature, description, returns = docs.get(item.value, (None, None, None))
                    record.update(signature=signature, description=description, returns=returns,
                                  alt_commit=item.alt_commit)
                records.append(record)
            db[table].insert_all(records)
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
