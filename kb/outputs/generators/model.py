"""What every table generator renders: one tree's items, read from the store, in a fixed order."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from kb.store import availability, queries
from kb.vocab.facts import CALLABLE_FROM
from kb.vocab.kinds import ENUM_KINDS, FEATURE, HELPER, KFUNC, MAINLINE, SOURCE_LIVE, source_kind
from kb.vocab.releases import BUILD_SCHEME, MAINLINE_SCHEME

TABLE_KINDS = (HELPER, *ENUM_KINDS, KFUNC, FEATURE)


@dataclass(frozen=True)
class Entry:
    value: int | str
    name: str
    names: tuple[str, ...]
    first_release: str | None
    removed_in: str | None
    windows: tuple[tuple[str | None, str | None], ...]  # release names
    window_keys: tuple[tuple[tuple | None, tuple | None], ...]  # their rule keys
    first_rc: str | None = None
    gpl_only: bool | None = None

    @staticmethod
    def base(key: tuple | None) -> tuple[int, int, int] | None:
        """(major, minor, patch) of the mainline base of a release key: what KERNEL_VERSION() can say."""
        return None if key is None else tuple(key[:3])

    @property
    def first_base(self) -> tuple[int, int, int] | None:
        return self.base(self.window_keys[0][0]) if self.window_keys else None

    @property
    def removed_base(self) -> tuple[int, int, int] | None:
        return self.base(self.window_keys[-1][1]) if self.window_keys else None


@dataclass
class TableModel:
    tree: str
    scheme: str
    data_version: str
    sources: list[tuple[str, str]]
    releases: list[tuple[str, tuple, tuple | None]] = field(default_factory=list)  # (version, key, uname key)
    kinds: dict[str, list[Entry]] = field(default_factory=dict)  # helper, prog_type, ..., kfunc, feature
    # Probed builds: the program and map types a live probe loaded (None: not probed live), the helpers each
    # program type accepted, and mainline's features at the build's base release.
    loads: dict[str, set] | None = None
    not_loading: dict[str, dict[int, str]] = field(default_factory=dict)  # declared by the BTF, refused live
    accepts: dict[int, set[int]] = field(default_factory=dict)
    base_features: dict[str, bool] = field(default_factory=dict)
    base_release: str | None = None

    @property
    def by_mainline(self) -> bool:
        return self.scheme == MAINLINE_SCHEME

    @property
    def is_build(self) -> bool:
        return self.scheme == BUILD_SCHEME

    def dense(self, kind: str) -> list[Entry | None]:
        """Entries indexed by value, with None in the gaps (an array a C program indexes by id)."""
        entries = self.kinds[kind]
        size = max((e.value for e in entries), default=-1) + 1
        table: list[Entry | None] = [None] * size
        for e in entries:
            table[e.value] = e
        return table


def build_model(conn: sqlite3.Connection, tree: str | None) -> TableModel:
    name = queries.resolve_tree(conn, tree)
    info = queries.tree_info(conn, name)
    model = TableModel(name, info.scheme, queries.tree_version(conn, name), queries.tree_sources(conn, name))
    if info.scheme != MAINLINE_SCHEME:
        model.releases = [
            (r.version, availability.key_tuple(r.sort_key), availability.uname_key(r.uname))
            for r in queries.releases(conn, name)
        ]
    if info.scheme == BUILD_SCHEME:
        _build_facts(conn, model)
    model.kinds = {kind: [] for kind in TABLE_KINDS}
    for i in queries.items(conn, name):
        if i.kind in model.kinds:
            model.kinds[i.kind].append(Entry(
                i.value, i.name, tuple(i.names), i.first_release, i.removed_in,
                tuple((w.since, w.until) for w in i.windows),
                tuple((availability.key_tuple(s), availability.key_tuple(u)) for s, u in i.window_keys),
                i.first_rc, i.gpl_only,
            ))
    return model


def _build_facts(conn: sqlite3.Connection, model: TableModel) -> None:
    live = [source for (source,) in conn.execute("SELECT source FROM collections WHERE tree = ?", (model.tree,))
            if source_kind(source) == SOURCE_LIVE]
    if live:
        model.loads = {}
        for kind, value in conn.execute("SELECT kind, value FROM item_sources WHERE tree = ? AND source = ?",
                                        (model.tree, live[0])):
            model.loads.setdefault(kind, set()).add(value)
        # Declared by the BTF, refused by the live probe: gone from the build's items, named as mainline names them.
        for kind, value, name in conn.execute(
                "SELECT d.kind, d.value, i.name FROM disagreements d JOIN items i ON i.tree = ? AND i.kind = d.kind"
                " AND i.value = d.value WHERE d.tree = ? AND d.field = 'present' AND d.used_source = ?",
                (MAINLINE, model.tree, live[0])):
            model.not_loading.setdefault(kind, {})[value] = name
        for helper, prog_type in conn.execute(
                "SELECT value, other_value FROM relations WHERE tree = ? AND source = ? AND relation = ?",
                (model.tree, live[0], CALLABLE_FROM)):
            model.accepts.setdefault(prog_type, set()).add(helper)
    names = queries.tree_names(conn)
    if MAINLINE in names:
        base = model.base_release = queries.releases(conn, model.tree)[0].base
        where = availability.target(conn, MAINLINE, base)
        model.base_features = {i.value: availability.judge(i, where).available
                               for i in queries.items(conn, MAINLINE, FEATURE)}
