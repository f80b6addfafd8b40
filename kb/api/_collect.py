"""Collect a git repository into a tree of the user's database: ``kbgen collect``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kb.paths import user_db


@dataclass
class CollectedSource:
    collector: str
    source: str
    status: str  # "collected" or "up to date"
    releases: int = 0
    items: int = 0
    unreleased: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class CollectResult:
    tree: str
    db: str
    sources: list[CollectedSource]


def collect(repo: str, *, db: str | None = None, tree: str | None = None, tags: str | list[str] | None = None,
            tag_pattern: str | None = None, rev: str = "HEAD", with_rc: bool = False, path: str | None = None,
            force: bool = False, progress: Callable[[int, int], None] | None = None) -> CollectResult:
    """Mine *repo* with every collector that has something to read there, into tree *tree* of *db*.

    Each collector's facts replace what an earlier run of the same source said about the tree, all in one
    transaction; a run whose fingerprint is unchanged does no work.
    """
    from collectors.base import close_repositories, for_repository, gather
    from kb.store import database

    db = db or user_db()
    collectors = for_repository(repo, tree=tree, tags=tags, tag_pattern=tag_pattern, rev=rev, with_rc=with_rc,
                                path=path)
    name = collectors[0].tree
    results: list[CollectedSource] = []
    pending = []
    try:
        known = database.fingerprints(db, name)
        for collector in collectors:
            if not force and known.get(collector.source_id) == collector.fingerprint():
                results.append(CollectedSource(collector.name, collector.source_id, "up to date"))
            else:
                pending.append(collector)
    except BaseException:
        close_repositories(collectors)
        raise
    gathered = gather(pending, progress, force=force)
    for facts in gathered:
        results.append(CollectedSource(
            facts.collector, facts.source.id, "collected", len(facts.releases), len(facts.items),
            sum(1 for i in facts.items if i.unreleased), facts.warnings))
    if gathered:
        database.record(db, gathered)
    return CollectResult(name, db, results)
