"""Ask the knowledge base: an item, two releases, names on a kernel, every record of a tree."""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.paths import user_db
from kb.vocab.kinds import HELPER, MAINLINE


def open_kb(db: str | None = None):
    from kb.store.kbase import open_kb as _open

    return _open(db or user_db())


@dataclass
class Export:
    tree: str
    data_version: str
    records: list[dict]
    scheme: str = MAINLINE
    releases: list[dict] = field(default_factory=list)


def export(*, db: str | None = None, tree: str | None = None, kind: str = "all") -> Export:
    """Every item of *tree* (of *kind*) as export records, with the tree's ordered releases; in a build or
    distribution tree, mainline's facts that do not depend on the build fill what its own sources do not give."""
    from kb.outputs import export as exporter
    from kb.store import queries

    conn = open_kb(db)
    name = queries.resolve_tree(conn, tree)
    wanted = None if kind == "all" else kind
    rows = queries.items(conn, name, wanted)
    mainline = {}
    if name != MAINLINE and MAINLINE in queries.tree_names(conn):
        mainline = {(i.kind, i.value): i for i in queries.items(conn, MAINLINE, wanted)}
    releases = [exporter.release(r) for r in queries.releases(conn, name)] or _window_releases(
        queries.items(conn, name) if wanted else rows)
    return Export(name, queries.tree_version(conn, name),
                  [exporter.record(i, mainline.get((i.kind, i.value))) for i in rows],
                  queries.tree_info(conn, name).scheme, releases)


def _window_releases(rows) -> list[dict]:
    """The releases a tree that lists none (the shipped mainline) names in its windows, in order."""
    named = {key: name for i in rows for w, keys in zip(i.windows, i.window_keys)
             for name, key in ((w.since, keys[0]), (w.until, keys[1])) if key}
    return [{"version": named[key], "key": [int(n) for n in key.split(".")], "sort_key": key, "base": named[key],
             "tag": None, "date": None, "uname": None} for key in sorted(named)]


@dataclass
class ItemInfo:
    tree: str
    item: object  # queries.ItemRow
    docs: list
    relations: list
    disagreements: list
    verdict: object | None = None  # availability.Verdict on the kernel asked about
    where: object | None = None  # availability.Target: where that kernel was placed (approximate, beyond: why)


def info(query: str, *, db=None, tree=None, kernel: str | None = None) -> list[ItemInfo]:
    from kb.store import availability, queries

    conn = open_kb(db)
    where = availability.resolve(conn, kernel, tree) if kernel is not None else None
    name = where.tree if where else queries.resolve_tree(conn, tree)
    found = queries.find_item(conn, name, query)
    if not found and where is not None and where.tree != MAINLINE and tree is None:
        where = availability.mainline_stand_in(conn, where)  # the build or distribution tree does not list it
        name = where.tree
        found = queries.find_item(conn, name, query)
    if not found:
        from kb.store import resolve

        close = resolve.Resolver.of(conn, name).suggest(query)
        raise queries.QueryError(f"nothing named {query!r} in the {name} tree" + (
            f" (did you mean {', '.join(close)}?)" if close else " (try a helper id or a full name)"))
    return [
        ItemInfo(name, item, queries.helper_docs(conn, name, item.value) if item.kind == HELPER else [],
                 queries.relations(conn, name, item.kind, item.value),
                 queries.disagreements(conn, name, item.kind, item.value),
                 availability.judge(item, where) if where else None, where)
        for item in found
    ]


@dataclass
class Diff:
    tree: str
    old: str
    new: str
    arrived: list
    removed: list


def diff(old: str, new: str, *, db=None, tree=None, kind="all") -> Diff:
    from kb.store import availability, queries

    conn = open_kb(db)
    name = queries.resolve_tree(conn, tree)
    for kernel in (old, new):
        beyond = availability.target(conn, name, kernel).beyond
        if beyond:
            raise availability.TargetError(f"{kernel} is {beyond}: nothing can be said of what it has")
    arrived, removed = availability.between(conn, name, old, new)

    def keep(changes):
        return [c for c in changes if kind in ("all", c.item.kind)]

    return Diff(name, old, new, keep(arrived), keep(removed))


@dataclass
class CheckRow:
    query: str
    kind: str | None
    value: int | str | None
    name: str | None
    available: bool
    first_release: str | None
    removed_in: str | None
    reason: str


def check(kernel: str | None, names: list[str], *, db=None, tree=None) -> tuple[object, list[CheckRow]]:
    """Whether *kernel* has each of *names* (helpers, kfuncs, enumerators, features; ids for helpers).

    Rows come missing items first, in the order asked.
    """
    from kb.store import availability, queries

    conn = open_kb(db)
    where = availability.resolve(conn, kernel, tree) if kernel is not None else None
    name = where.tree if where else queries.resolve_tree(conn, tree)
    where = where or availability.target(conn, name, None)
    candidates = queries.items(conn, name)
    stand_in = availability.mainline_stand_in(conn, where)
    by_mainline: set[tuple] = set()
    if stand_in is not None:
        covered, mine = queries.covers(conn, name), {(i.kind, i.value) for i in candidates}
        extra = [i for i in queries.items(conn, MAINLINE) if i.kind not in covered and (i.kind, i.value) not in mine]
        by_mainline = {(i.kind, i.value) for i in extra}
        candidates += extra
    from kb.store.resolve import Resolver, newest_sections

    words, rows = Resolver(candidates, newest_sections(conn)), []
    for query in names:
        match = words.resolve(query)
        found = match.items
        if not found:
            close = f" (did you mean {', '.join(match.suggestions)}?)" if match.suggestions else ""
            rows.append(CheckRow(query, None, None, None, False, None, None, "unknown to the knowledge base" + close))
            continue
        for item in found:
            judged_by_mainline = (item.kind, item.value) in by_mainline
            verdict = availability.judge(item, stand_in if judged_by_mainline else where)
            reason = verdict.reason + (f" (judged by {MAINLINE}: tree {name} does not list it)"
                                       if judged_by_mainline else "")
            rows.append(CheckRow(query, item.kind, item.value, item.name, verdict.available, item.first_release,
                                 verdict.removed_in or item.removed_in, reason))
    rows.sort(key=lambda r: r.available)
    return where, rows
