"""What every table generator renders: one tree's items, read from the store, in a fixed order."""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass, field
from typing import NamedTuple

from kb.store import availability, queries
from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.facts import CALLABLE_FROM
from kb.vocab.kinds import ENUM_KINDS, FEATURE, HELPER, KFUNC, MAINLINE, SOURCE_LIVE, source_kind
from kb.vocab.names import identifiers, is_identifier
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
    gpl_carried: bool = False  # gpl_only is mainline's: the tree's own sources do not say
    # Where the first release is not established: the keys of the release whose builds lack it (None: none) and of
    # the release a real build of which has it (kb.vocab.rules.arrival_verdict).
    arrival: tuple[tuple | None, tuple] | None = None

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


class ItemRow(NamedTuple):
    kind: str
    value: int  # the enum value; 0 for kfuncs and features (found by name)
    name: str
    names: tuple[str, ...]  # the name in use first, then every other name it carried
    windows: list[tuple[int, int]]  # release indices, -1: open
    first_rc: tuple | None
    gpl_only: int  # 1, 0, or -1: not known
    after: tuple | None = None  # an arrival known only within bounds (Entry.arrival): the earlier bound's key
    by: tuple | None = None  # ... and the later bound's


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
    # The newest release the knowledge base knows (name, key): a kernel past it is judged "beyond".
    horizon: tuple[str, tuple] | None = None

    @property
    def release_keys(self) -> list[tuple[str, tuple, tuple | None]]:
        """(name, key, uname key) of every release an answer can rest on, in order: the tree's releases, or, for a
        mainline-style tree that lists none, every release its windows start or end at."""
        if self.releases:
            return self.releases
        keys = {k for entries in self.kinds.values() for e in entries for pair in e.window_keys for k in pair if k}
        return [(release_name(k), k, None) for k in sorted(keys)]

    def ordered(self) -> list[tuple[str, Entry]]:
        """(kind, entry) of every item, kind by kind in TABLE_KINDS order: the item tables of C, Go and Rust."""
        return [(kind, e) for kind in TABLE_KINDS for e in self.kinds[kind]]

    def rows(self) -> list[ItemRow]:
        """Every item as the C, Go and Rust tables hold it, in :meth:`ordered` order."""
        return [ItemRow(kind, e.value if isinstance(e.value, int) else 0, e.name,
                        tuple(dict.fromkeys((e.name, *e.names))), self.window_indices(e), self.first_rc_key(e),
                        {True: 1, False: 0, None: -1}[e.gpl_only], *(e.arrival or (None, None)))
                for kind, e in self.ordered()]

    def window_indices(self, entry: Entry) -> list[tuple[int, int]]:
        """An entry's windows as indices into :attr:`release_keys` (-1: open)."""
        index = self.release_index
        return [(-1 if s is None else index[s], -1 if u is None else index[u]) for s, u in entry.window_keys]

    @functools.cached_property
    def release_index(self) -> dict[tuple, int]:
        """Each release key's index in :attr:`release_keys`, made once, when the model is built and rendering starts:
        release_keys walks every window of every entry, and a C header asks for ~3,300 entries' windows (0.8 s of a
        0.9 s `kbgen tables --lang c`)."""
        return {key: n for n, (_name, key, _uname) in enumerate(self.release_keys)}

    def first_rc_key(self, entry: Entry) -> tuple | None:
        return rules.kernel_key(entry.first_rc, exact=False) if entry.first_rc else None

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


def release_name(key: tuple) -> str:
    """A mainline release's name from its key: (5, 19, 0, 999) -> "5.19"; (6, 1, 12, 999) -> "6.1.12"."""
    text = f"{key[0]}.{key[1]}" + (f".{key[2]}" if key[2] else "")
    return text + ("" if key[3] == rules.FINAL else f"-rc{key[3]}")


class EmptyTablesError(KbgenError):
    pass


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
    model.horizon = availability.horizon(conn)
    mainline = {}
    if name != MAINLINE and MAINLINE in queries.tree_names(conn):
        mainline = {(i.kind, i.value): i.gpl_only for i in queries.items(conn, MAINLINE, HELPER)}
    model.kinds = {kind: [] for kind in TABLE_KINDS}
    for i in queries.items(conn, name):
        if i.kind in model.kinds:
            entry = _entry(i, mainline)
            if entry is not None:
                model.kinds[i.kind].append(entry)
    if not any(model.kinds.values()):
        raise EmptyTablesError(f"tree {name} has no helpers, types, commands, kfuncs or features to write tables of "
                               f"({info.kind} tree: {', '.join(info.sources) or 'no sources'})")
    return model


def _entry(i: queries.ItemRow, mainline: dict) -> Entry | None:
    """The entry of an item whose names pass the shared identifier check (kb.vocab.names); None (with a warning)
    for one whose name in use does not."""
    dotted = i.kind == FEATURE
    if not (is_identifier(i.name, dotted=dotted) and (isinstance(i.value, int) or is_identifier(i.value,
                                                                                                 dotted=dotted))):
        identifiers([i.name], f"{i.kind} {i.value!r}: name")
        return None
    names = tuple(identifiers(i.names, f"{i.kind} {i.name}: former name", dotted=dotted)) or (i.name,)
    gpl_only, carried = i.gpl_only, False
    if gpl_only is None and mainline.get((i.kind, i.value)) is not None:
        gpl_only, carried = mainline[(i.kind, i.value)], True
    return Entry(
        i.value, i.name, names, i.first_release, i.removed_in,
        tuple((w.since, w.until) for w in i.windows),
        tuple((availability.key_tuple(s), availability.key_tuple(u)) for s, u in i.window_keys),
        i.first_rc, gpl_only, carried, _arrival(i),
    )


def _arrival(i: queries.ItemRow) -> tuple[tuple | None, tuple] | None:
    return None if i.windows else availability.arrival_keys(i)


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
            if is_identifier(name):
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
