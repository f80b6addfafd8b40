"""What every table generator renders: one tree's items, read from the store, in a fixed order."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from collectors.uapi import ENUM_KINDS, HELPER, KFUNC
from kb import queries
from kb.versions import Version


@dataclass(frozen=True)
class Entry:
    value: int | str
    name: str
    names: tuple[str, ...]
    first_release: str | None

    @property
    def release_tuple(self) -> tuple[int, int, int] | None:
        if self.first_release is None:
            return None
        v = Version.parse(self.first_release)
        return (v.major, v.minor, v.patch)


@dataclass
class TableModel:
    tree: str
    data_version: str
    sources: list[tuple[str, str]]
    kinds: dict[str, list[Entry]] = field(default_factory=dict)  # helper, prog_type, ..., kfunc

    def dense(self, kind: str) -> list[Entry | None]:
        """Entries indexed by value, with None in the gaps (an array a C program indexes by id)."""
        entries = self.kinds[kind]
        size = max((e.value for e in entries), default=-1) + 1
        table: list[Entry | None] = [None] * size
        for e in entries:
            table[e.value] = e
        return table


TABLE_KINDS = (HELPER, *ENUM_KINDS, KFUNC)


def build_model(conn: sqlite3.Connection, tree: str | None) -> TableModel:
    name = queries.resolve_tree(conn, tree)
    model = TableModel(name, queries.tree_version(conn, name), queries.tree_sources(conn, name))
    model.kinds = {kind: [] for kind in TABLE_KINDS}
    for i in queries.items(conn, name):
        if i.kind in model.kinds:
            model.kinds[i.kind].append(Entry(i.value, i.name, tuple(i.names), i.first_release))
    return model
