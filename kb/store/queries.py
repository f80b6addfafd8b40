"""Questions asked of a merged knowledge base connection (see :mod:`kb.kbase`); every output reads here.

Answers are data (dataclasses), never text: rendering lives in kb.render and the generators.
"""

from __future__ import annotations

import sqlite3
from dataclasses import MISSING, dataclass, field, fields

from kb.vocab.errors import KbgenError
from kb.vocab.facts import Window
from kb.vocab.kinds import (
    ITEM_KINDS,
    LIBBPF,
    MAINLINE,
    SHIPPED_COLLECTOR,
    SOURCE_REFERENCE,
    source_kind,
)
from kb.vocab.releases import MAINLINE_SCHEME


class QueryError(KbgenError, ValueError):
    pass


@dataclass
class ItemRow:
    kind: str
    value: int | str
    name: str
    first_release: str | None
    first_release_key: str | None
    removed_in: str | None
    first_rc: str | None
    commit: str | None
    subject: str | None
    author: str | None
    date: str | None
    alt_commit: str | None
    note: str | None
    unreleased: bool
    gpl_only: bool | None
    signature: str | None
    title: str | None
    detect: str | None
    libbpf: str | None
    source: str | None
    first_release_after: str | None = None  # where first_release is not established: after this release...
    first_release_by: str | None = None  # ... and by this one
    names: list[str] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    window_keys: list[tuple[str | None, str | None]] = field(default_factory=list)


@dataclass(frozen=True)
class TreeInfo:
    name: str
    kind: str  # the kinds of its sources, highest first: git+reference
    scheme: str
    description: str | None
    sources: tuple[str, ...]


@dataclass(frozen=True)
class ReleaseRow:
    version: str
    sort_key: str
    base: str | None
    tag: str | None
    commit: str | None
    date: str | None
    uname: str | None


@dataclass(frozen=True)
class DocRow:
    signature: str
    description: str
    returns: str
    source: str


@dataclass(frozen=True)
class RelationRow:
    relation: str
    other_kind: str
    other_value: int | str
    other_name: str | None
    source: str
    qualifier: str | None


@dataclass(frozen=True)
class DisagreementRow:
    field: str
    used: str | None
    used_source: str
    other: str | None
    other_source: str
    note: str | None


def tree_names(conn: sqlite3.Connection) -> list[str]:
    return [row[0] for row in conn.execute("SELECT name FROM trees ORDER BY name")]


def resolve_tree(conn: sqlite3.Connection, tree: str | None) -> str:
    names = tree_names(conn)
    if tree is None:
        tree = MAINLINE if MAINLINE in names or len(names) != 1 else names[0]
    if tree not in names:
        raise QueryError(f"no tree named {tree!r} in the knowledge base (trees: {', '.join(names) or 'none'})")
    return tree


def tree_info(conn: sqlite3.Connection, tree: str) -> TreeInfo:
    name, kind, scheme, description = conn.execute(
        "SELECT name, kind, scheme, description FROM trees WHERE name = ?", (tree,)).fetchone()
    sources = tuple(r[0] for r in conn.execute("SELECT source FROM collections WHERE tree = ? ORDER BY source",
                                               (tree,)))
    return TreeInfo(name, kind, scheme or MAINLINE_SCHEME, description, sources)


def releases(conn: sqlite3.Connection, tree: str) -> list[ReleaseRow]:
    return [ReleaseRow(*row) for row in conn.execute(
        'SELECT version, sort_key, base, tag, "commit", date, uname FROM releases WHERE tree = ? ORDER BY sort_key',
        (tree,))]


# ItemRow's own fields are columns of the items table, in order; the commit is stored as introduced_by.
_ITEM_COLUMNS = ", ".join("introduced_by" if f.name == "commit" else f.name for f in fields(ItemRow)
                          if f.default_factory is MISSING)


def kind_order(row: ItemRow) -> tuple:
    order = {k: n for n, k in enumerate(ITEM_KINDS)}
    return (order.get(row.kind, 99), isinstance(row.value, str), row.value)


def items(conn: sqlite3.Connection, tree: str, kind: str | None = None, only: list[tuple] | None = None
          ) -> list[ItemRow]:
    """The items of *tree* (of *kind*; or only those whose (kind, value) is in *only*), in kind order."""
    if kind is not None and kind not in ITEM_KINDS:
        raise QueryError(f"unknown kind {kind!r} (one of: {', '.join(ITEM_KINDS)})")
    where, params = ("tree = ? AND kind = ?", (tree, kind)) if kind else ("tree = ?", (tree,))
    if only is not None:
        # A page asks about a few items of a tree of thousands: read those alone.
        pairs = list(dict.fromkeys(only)) or [(None, None)]
        where += f" AND (kind, value) IN (VALUES {', '.join(['(?, ?)'] * len(pairs))})"
        params = (*params, *(part for pair in pairs for part in pair))
    names: dict[tuple, list[str]] = {}
    for k, v, name in conn.execute(f"SELECT kind, value, name FROM item_names WHERE {where} ORDER BY position",
                                   params):
        names.setdefault((k, v), []).append(name)
    windows: dict[tuple, list] = {}
    for k, v, since, until, since_key, until_key in conn.execute(
            f"SELECT kind, value, since, until, since_key, until_key FROM windows WHERE {where} ORDER BY position",
            params):
        windows.setdefault((k, v), []).append((Window(since, until), (since_key, until_key)))
    rows = []
    for row in conn.execute(f"SELECT {_ITEM_COLUMNS} FROM items WHERE {where}", params):
        item = ItemRow(*row)
        item.unreleased, item.gpl_only = bool(item.unreleased), None if item.gpl_only is None else bool(item.gpl_only)
        item.names = names.get((item.kind, item.value)) or [item.name]
        found = windows.get((item.kind, item.value), [])
        item.windows = [w for w, _keys in found]
        item.window_keys = [keys for _w, keys in found]
        rows.append(item)
    rows.sort(key=kind_order)
    return rows


def find_item(conn: sqlite3.Connection, tree: str, query: str, candidates: list[ItemRow] | None = None
              ) -> list[ItemRow]:
    """The items *query* names in *tree*, as the one resolver of names (kb.store.resolve) reads it."""
    from kb.store import resolve

    names = resolve.Resolver(resolve.candidates(conn, tree) if candidates is None else candidates,
                             resolve.newest_sections(conn))
    return names.resolve(query, suggest=False).items


def helper_docs(conn: sqlite3.Connection, tree: str, value: int) -> list[DocRow]:
    return [DocRow(*row) for row in conn.execute(
        "SELECT signature, description, returns, source FROM helper_docs WHERE tree = ? AND value = ? ORDER BY variant",
        (tree, value))]


def relations(conn: sqlite3.Connection, tree: str, kind: str, value) -> list[RelationRow]:
    return [RelationRow(*row) for row in conn.execute(
        "SELECT r.relation, r.other_kind, r.other_value, i.name, r.source, r.qualifier FROM relations r"
        " LEFT JOIN items i ON i.tree = r.tree AND i.kind = r.other_kind AND i.value = r.other_value"
        " WHERE r.tree = ? AND r.kind = ? AND r.value = ? ORDER BY r.relation, r.other_kind, r.other_value, r.source",
        (tree, kind, value))]


def disagreements(conn: sqlite3.Connection, tree: str, kind: str, value) -> list[DisagreementRow]:
    return [DisagreementRow(*row) for row in conn.execute(
        "SELECT field, used, used_source, other, other_source, note FROM disagreements"
        " WHERE tree = ? AND kind = ? AND value = ? ORDER BY field, rowid",
        (tree, kind, value))]


def data_version(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM kb_meta WHERE key = 'data_version'").fetchone()
    return row[0] if row else None


def tree_sources(conn: sqlite3.Connection, tree: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT s.id, s.description FROM sources s WHERE s.id IN (SELECT source FROM items WHERE tree = ?"
        " UNION SELECT source FROM helper_docs WHERE tree = ? UNION SELECT source FROM relations WHERE tree = ?)"
        " ORDER BY s.id",
        (tree, tree, tree),
    ).fetchall()


def tree_version(conn: sqlite3.Connection, tree: str) -> str:
    """A label for the facts of *tree* that changes whenever they do: the shipped data version where shipped
    facts take part, and the revision each mined or probed source was read at."""
    parts = []
    for source, head in conn.execute(
            "SELECT c.source, COALESCE(c.head_commit, s.revision) FROM collections c LEFT JOIN sources s"
            " ON s.id = c.source WHERE c.tree = ? ORDER BY c.source", (tree,)):
        if source_kind(source) != SOURCE_REFERENCE:
            short = head[:12] if head and len(head) == 40 and head.isalnum() else head
            parts.append(f"{source} at {short}" if head else source)
    shipped = conn.execute("SELECT 1 FROM collections WHERE tree = ? AND collector = ?",
                           (tree, SHIPPED_COLLECTOR)).fetchone()
    if shipped:
        parts.append(f"shipped data {data_version(conn)}")
    return " + ".join(parts) or tree


def covers(conn: sqlite3.Connection, tree: str) -> set[str]:
    """The item kinds some source of *tree* gives completely (an item of these kinds it lacks, it lacks)."""
    kinds: set[str] = set()
    for (text,) in conn.execute("SELECT covers FROM collections WHERE tree = ?", (tree,)):
        kinds |= set((text or "").split())
    return kinds


def section_tables(conn: sqlite3.Connection, tree: str = LIBBPF, newest: bool = False) -> list:
    """Every release's libbpf section table (kb.vocab.sections.SectionTable), oldest release first; with
    *newest*, only the newest release's."""
    from kb.store.reading import section_rule
    from kb.vocab.sections import SectionTable

    only, params = "", (tree,)
    if newest:
        found = conn.execute("SELECT r.version FROM releases r WHERE r.tree = ? AND r.version IN"
                             " (SELECT DISTINCT release FROM section_rules WHERE tree = ?) ORDER BY r.sort_key DESC"
                             " LIMIT 1", (tree, tree)).fetchone()
        only, params = " AND s.release = ?", (tree, found[0] if found else None)
    rows = conn.execute(
        "SELECT s.release, s.position, s.pattern, s.prog_type, s.expected_attach_type, s.attach_type, s.flags,"
        " s.legacy_form FROM section_rules s JOIN releases r ON r.tree = s.tree AND r.version = s.release"
        f" WHERE s.tree = ?{only} ORDER BY r.sort_key, s.position", params)
    names = ("release", "position", "pattern", "prog_type", "expected_attach_type", "attach_type", "flags",
             "legacy_form")
    tables: dict[str, list] = {}
    for row in rows:
        rule = section_rule(dict(zip(names, row)))
        tables.setdefault(rule.release, []).append(rule.definition)
    return [SectionTable(release, tuple(defs)) for release, defs in tables.items()]


def relation_sets(conn: sqlite3.Connection, tree: str, relation: str) -> dict[tuple, dict[str | None, set]]:
    """Every (kind, value) of *tree* with *relation* -> {qualifier: the other values it relates to}: for a scan
    that checks many calls, one query instead of one per item."""
    found: dict[tuple, dict[str | None, set]] = {}
    for kind, value, other, qualifier in conn.execute(
            "SELECT kind, value, other_value, qualifier FROM relations WHERE tree = ? AND relation = ?",
            (tree, relation)):
        found.setdefault((kind, value), {}).setdefault(qualifier, set()).add(other)
    return found
