"""The store's tables, declared in one place, in two shapes.

*Facts* (a user's database): every row carries the source it came from, and a tree holds the facts of
several sources side by side, replaced per (tree, source).  *Merged* (what reading commands and
Datasette see): the same tables with one row per item of a tree, reconciled from its sources by
:mod:`kb.merge`; the source each row was taken from stays in its ``source`` column.  Version columns
have a ``*_key`` twin (:func:`kb.vocab.rules.key_text`) so that 5.10 sorts after 5.9.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[str, ...]  # "name TYPE ..." column definitions
    key: tuple[str, ...]  # primary key of the merged shape; the facts shape adds source after tree
    per_source: bool = True  # rows belong to one (tree, source)
    merged_only: bool = False  # derived by the merged view, not a fact of any source

    def create(self, facts: bool) -> str:
        key = self.key
        if facts and self.per_source and key and "source" not in key:
            key = (key[0], "source", *key[1:])
        body = ",\n    ".join(self.columns + ((f"PRIMARY KEY ({', '.join(key)})",) if key else ()))
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n);"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.split()[0].strip('"') for c in self.columns)


TABLES = (
    Table("kb_meta", ("key TEXT", "value TEXT"), ("key",), per_source=False),
    Table("sources", (
        "id TEXT NOT NULL",  # git:linux@0123456789ab:include/uapi/linux/bpf.h, reference:bcc, btf:...
        "kind TEXT NOT NULL",  # git, reference, header, curated, btf, live
        "description TEXT",
        "repo TEXT",
        "path TEXT",
        "revision TEXT",
    ), ("id",), per_source=False),
    Table("trees", (
        "name TEXT NOT NULL",  # mainline, stable-6.1, ubuntu-jammy, libbpf, a probed build
        "kind TEXT NOT NULL",  # git, reference, build
        "scheme TEXT",  # release scheme: mainline, ubuntu, rhel, debian, suffixed, pattern, build
        "description TEXT",
        "repo TEXT",
        "path TEXT",
        "tag_pattern TEXT",
    ), ("name",), per_source=False),
    Table("collections", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "collector TEXT NOT NULL",
        "tree_kind TEXT NOT NULL",
        "fingerprint TEXT",  # what the run depended on; equal means nothing new
        "head_commit TEXT",
        "tag_pattern TEXT",
        "qualifier TEXT",  # how to read its relations: as documented, probed
        "covers TEXT",  # the item kinds it gives completely, space-separated
        "items INTEGER",
        "warnings TEXT",
    ), ("tree", "source")),
    Table("releases", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "version TEXT NOT NULL",
        "sort_key TEXT NOT NULL",
        "base TEXT",  # the mainline release it is based on
        "tag TEXT",
        '"commit" TEXT',
        "date TEXT",
        "has_header INTEGER NOT NULL DEFAULT 1",
        "uname TEXT",  # the kernel release string its builds report, where the tree says
    ), ("tree", "version")),
    Table("items", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "kind TEXT NOT NULL",  # helper, prog_type, map_type, attach_type, link_type, cmd, kfunc, feature
        "value INTEGER NOT NULL",  # the enum value; a kfunc's or feature's name (INTEGER affinity: '44' finds 44)
        "name TEXT NOT NULL",
        "first_release TEXT",  # start of the first window; NULL: in no release yet, or not known
        "first_release_key TEXT",
        "removed_in TEXT",  # end of the last window, if closed
        "removed_in_key TEXT",
        "first_rc TEXT",
        "introduced_by TEXT",
        "subject TEXT",
        "author TEXT",
        "date TEXT",
        "alt_commit TEXT",
        "note TEXT",
        "unreleased INTEGER NOT NULL DEFAULT 0",
        "gpl_only INTEGER",
        "signature TEXT",
        "title TEXT",
        "detect TEXT",
        "libbpf TEXT",
        # Where first_release is not established: the arrival lies after this release and by that one.
        "first_release_after TEXT",
        "first_release_by TEXT",
    ), ("tree", "kind", "value")),
    Table("item_names", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "kind TEXT NOT NULL",
        "value INTEGER NOT NULL",
        "name TEXT NOT NULL",
        "position INTEGER NOT NULL",  # 0 for the first name the item had, then in the order they appeared
        "first_seen_commit TEXT",
        "first_release TEXT",
        "is_alias INTEGER NOT NULL DEFAULT 0",
    ), ("tree", "kind", "value", "name")),
    # Availability: the releases [since, until) of a tree that have an item -- presence in every release, as
    # intervals (a git tree's presence at each release tag, a reference's first release and removal).
    Table("windows", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "kind TEXT NOT NULL",
        "value INTEGER NOT NULL",
        "position INTEGER NOT NULL",
        "since TEXT",
        "since_key TEXT",
        "until TEXT",  # first release without it; NULL: still there
        "until_key TEXT",
    ), ("tree", "kind", "value", "position")),
    Table("helper_docs", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "value INTEGER NOT NULL",
        "variant INTEGER NOT NULL DEFAULT 0",
        "name TEXT NOT NULL",
        "signature TEXT",
        "description TEXT",
        "returns TEXT",
        "attributes TEXT",
    ), ("tree", "value", "variant")),
    Table("relations", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "kind TEXT NOT NULL",
        "value INTEGER NOT NULL",
        "relation TEXT NOT NULL",  # callable_from, works_with, loads_as, expects_attach
        "other_kind TEXT NOT NULL",
        "other_value INTEGER NOT NULL",
        "qualifier TEXT",  # as documented (mainline references), probed (a live build)
    ), ("tree", "source", "kind", "value", "relation", "other_kind", "other_value")),
    Table("section_rules", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "release TEXT NOT NULL",  # the libbpf release whose section table this entry is in
        "position INTEGER NOT NULL",  # its place in the table: the first entry matching a name wins
        "pattern TEXT NOT NULL",  # "kprobe+", "tp_btf/", "xdp.frags"
        "prog_type TEXT NOT NULL",
        "expected_attach_type TEXT",
        "attach_type TEXT",
        "flags TEXT",  # space-separated: SEC_SLEEPABLE SEC_ATTACH_BTF ...
        "legacy_form INTEGER NOT NULL DEFAULT 0",  # written in a pre-0.6 form
    ), ("tree", "release", "position")),
    # What a build tree is, beyond its release: its distribution, that distribution's version (a suite, a BTFHub
    # version directory), its architecture, the package it came in (name, version, sha256 of the .deb), and
    # whether its modules were read.  One row per label.
    Table("tree_labels", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",
        "key TEXT NOT NULL",  # distribution, distribution_version, arch, package, package_version, package_sha256...
        "value TEXT",
    ), ("tree", "key")),
    Table("item_sources", (
        "tree TEXT NOT NULL",
        "kind TEXT NOT NULL",
        "value INTEGER NOT NULL",
        "source TEXT NOT NULL",  # every source of the tree that has the item, the one items.source names included
    ), ("tree", "kind", "value", "source"), per_source=False, merged_only=True),
    Table("disagreements", (
        "tree TEXT NOT NULL",
        "source TEXT NOT NULL",  # the facts that recorded it
        "kind TEXT NOT NULL",
        "value INTEGER NOT NULL",
        "field TEXT NOT NULL",  # first_release, introduced_by, removed_in
        "used TEXT",  # the value the tables use
        "used_source TEXT",
        "other TEXT",
        "other_source TEXT",
        "note TEXT",
    ), ()),
)
BY_NAME = {t.name: t for t in TABLES}

# Tables whose rows belong to one (tree, source); re-collecting replaces exactly these rows.
FACT_TABLES = tuple(t.name for t in TABLES if t.per_source and not t.merged_only)

INDEXES = (
    "CREATE INDEX IF NOT EXISTS items_by_name ON items(name)",
    "CREATE INDEX IF NOT EXISTS items_by_release ON items(tree, kind, first_release_key)",
    "CREATE INDEX IF NOT EXISTS item_names_by_name ON item_names(name)",
    "CREATE INDEX IF NOT EXISTS disagreements_by_item ON disagreements(tree, kind, value)",
    "CREATE INDEX IF NOT EXISTS relations_by_item ON relations(tree, kind, value)",
)


def statements(*, facts: bool) -> list[str]:
    return [t.create(facts) for t in TABLES if not (facts and t.merged_only)] + list(INDEXES)
