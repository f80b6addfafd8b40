"""Recording a kernel build: a build tree holds exactly one build.  Probing another build into it (another release,
or another image of the same release) replaces the one it held whole; probing the same build again replaces only
what its own sources said (a live probe recorded beside its BTF stays)."""

from __future__ import annotations

import os
import sqlite3

from kb.store import database
from kb.vocab.facts import Facts
from kb.vocab.kinds import SOURCE_BTF, source_kind


def record(db: str, tree: str, release: str, gathered: list[Facts]) -> None:
    earlier = database.tree_releases(db, tree)
    database.record(db, gathered, replacing=(tree,) if _another_build(db, tree, release, gathered, earlier) else ())


def _another_build(db: str, tree: str, release: str, gathered: list[Facts], earlier: list[str]) -> bool:
    if not earlier:
        return False
    if earlier != [release]:
        return True
    new = {f.source.id for f in gathered if source_kind(f.source.id) == SOURCE_BTF}
    held = {source for source in database.fingerprints(db, tree) if source_kind(source) == SOURCE_BTF}
    return bool(new) and bool(held - new)


def stored(db: str) -> dict[str, str]:
    """fingerprint -> build tree, of every build's BTF the database at *db* holds: a build whose content digest is
    here has been probed, whatever its file is called now."""
    if not os.path.exists(db):
        return {}
    conn = database.connect(db, readonly=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'collections'").fetchone():
            return {}
        return {fingerprint: tree for tree, source, fingerprint in conn.execute(
            "SELECT tree, source, fingerprint FROM collections WHERE tree_kind = 'build' AND fingerprint IS NOT NULL")
            if source_kind(source) == SOURCE_BTF}
    except sqlite3.DatabaseError as err:
        raise database.StoreError(f"{db}: cannot read ({err})") from None
    finally:
        conn.close()
