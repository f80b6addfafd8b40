"""Recording a kernel build: a build tree holds exactly one build, so probing another kernel into it replaces
the one it held, and probing the same build again replaces only what its own sources said."""

from __future__ import annotations

from kb.store import database
from kb.vocab.facts import Facts


def record(db: str, tree: str, release: str, gathered: list[Facts]) -> None:
    earlier = database.tree_releases(db, tree)
    database.record(db, gathered, replacing=(tree,) if earlier and earlier != [release] else ())
