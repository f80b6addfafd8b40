"""Questions asked of a knowledge base connection (see :mod:`kb.kbase`); every output reads through here."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from collectors.uapi import ENUM_KINDS, HELPER, ITEM_KINDS
from kb.versions import Version


class QueryError(ValueError):
    pass


@dataclass
class ItemRow:
    kind: str
    value: int | str
    name: str
    first_release: str | None
    first_release_key: int | None
    first_rc: str | None
    commit: str | None
    subject: str | None
    author: str | None
    date: str | None
    alt_commit: str | None
    note: str | None
    present_at_head: bool
    source: str | None
    names: list[str] = field(default_factory=list)

    @property
    def unreleased(self) -> bool:
        """In the newest mined revision but in no release; a reference fact without a release is unknown."""
        return (
            self.first_release is None and self.present_at_head and (self.source or "").startswith("git:")
        )


def resolve_tree(conn: sqlite3.Connection, tree: str | None) -> str:
    names = [row[0] for row in conn.execute("SELECT name FROM trees ORDER BY name")]
    if tree is None:
        if "mainline" in names or len(names) != 1:
            tree = "mainline"
        else:
            tree = names[0]
    if tree not in names:
        known = ", ".join(names) or "none"
        raise QueryError(f"no tree named {tree!r} in the knowledge base (trees: {known})")
    return tree


def items(conn: sqlite3.Connection, tree: str, kind: str | None = None) -> list[ItemRow]:
    if kind is not None and kind not in ITEM_KINDS:
        raise QueryError(f"unknown kind {kind!r} (one of: {', '.join(ITEM_KINDS)})")
    names: dict[tuple, list[str]] = {}
    for k, v, name in conn.execute(
        "SELECT kind, value, name FROM item_names WHERE tree = ? ORDER BY kind, value, position",
        (tree,),
    ):
        names.setdefault((k, v), []).append(name)
    query = (
        "SELECT kind, value, name, first_release, first_release_key, first_rc, introduced_by, subject, author, date,"
        " alt_commit, note, present_at_head, source FROM items WHERE tree = ?"
    )
    params: list = [tree]
    if kind:
        query += " AND kind = ?"
        params.append(kind)
    rows = []
    for row in conn.execute(query, params):
        item = ItemRow(*row[:12], bool(row[12]), row[13])
        item.names = names.get((item.kind, item.value)) or [item.name]
        rows.append(item)
    order = {k: n for n, k in enumerate(ITEM_KINDS)}
    rows.sort(key=lambda r: (order.get(r.kind, 99), isinstance(r.value, str), r.value))
    return rows


def find_item(conn: sqlite3.Connection, tree: str, query: str) -> list[ItemRow]:
    """Items matching a helper id, a name (any name it carried, with or without ``bpf_``/``BPF_FUNC_``)."""
    text = query.strip()
    candidates = items(conn, tree)
    if text.isdigit():
        return [i for i in candidates if i.kind == HELPER and i.value == int(text)]
    wanted = {text, text.lower()}
    for prefix in ("bpf_", "BPF_FUNC_"):
        if text.startswith(prefix):
            wanted.add(text[len(prefix):])
    upper = text.upper()
    wanted |= {upper} | {prefix + upper for _enum, prefix in ENUM_KINDS.values()}
    return [i for i in candidates if wanted & set(i.names)]


def helper_docs(conn: sqlite3.Connection, tree: str, value: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT signature, description, returns, source FROM helper_docs WHERE tree = ? AND value = ?"
        " ORDER BY variant",
        (tree, value),
    ).fetchall()


def arrived_between(conn: sqlite3.Connection, tree: str, old: str, new: str) -> list[ItemRow]:
    low, high = Version.parse(old).release, Version.parse(new).release
    if high < low:
        raise QueryError(f"{new} is older than {old}")
    return [
        i for i in items(conn, tree)
        if i.first_release_key is not None and low.sort_key < i.first_release_key <= high.sort_key
    ]


def disagreements(conn: sqlite3.Connection, tree: str, kind: str, value) -> list[tuple]:
    return conn.execute(
        "SELECT field, used, used_source, other, other_source, note FROM disagreements"
        " WHERE tree = ? AND kind = ? AND value = ? ORDER BY field, rowid",
        (tree, kind, value),
    ).fetchall()


def data_version(conn: sqlite3.Connection) -> str | None:
    row = conn.execute("SELECT value FROM kb_meta WHERE key = 'data_version'").fetchone()
    return row[0] if row else None


def tree_sources(conn: sqlite3.Connection, tree: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT s.id, s.description FROM sources s WHERE s.id IN"
        " (SELECT source FROM items WHERE tree = ? UNION SELECT source FROM helper_docs WHERE tree = ?) ORDER BY s.id",
        (tree, tree),
    ).fetchall()


def tree_version(conn: sqlite3.Connection, tree: str) -> str:
    """A label for the facts of *tree* that changes whenever they do: the shipped data version for the
    shipped tree, the collected revision for a mined one (plus the data version where shipped facts fill in)."""
    kind, head = conn.execute("SELECT kind, head_commit FROM trees WHERE name = ?", (tree,)).fetchone()
    shipped = data_version(conn)
    if kind == "reference":
        return f"shipped data {shipped}"
    label = f"{tree} collected at {head[:12]}" if head else tree
    return f"{label} + shipped data {shipped}" if kind.endswith("+reference") else label
