"""Every fact of a facts database read back, as the collectors produced them (:mod:`kb.store.database` wrote them).

Apart from the database module because the facts' dataclasses cost an import that a run which only writes or
compares fingerprints (a no-op re-collect) never needs.
"""

from __future__ import annotations

import sqlite3

from kb.store.schema import BY_NAME
from kb.vocab.facts import (
    Disagreement,
    Facts,
    HelperDoc,
    Item,
    ItemName,
    Relation,
    Release,
    SectionRule,
    Source,
    Window,
)
from kb.vocab.sections import SectionDef


def _rows(conn: sqlite3.Connection, table: str, schema: str = "main"):
    names = BY_NAME[table].column_names
    cursor = conn.execute(f"SELECT {', '.join(chr(34) + n + chr(34) for n in names)} FROM {schema}.{table}")
    for row in cursor:
        yield dict(zip(names, row))


def _release(r: dict) -> Release:
    return Release(r["version"], r["sort_key"], r["base"], r["tag"], r["commit"], r["date"], bool(r["has_header"]),
                   r["uname"])


def _item(r: dict) -> Item:
    item = Item(r["kind"], r["value"], r["name"], r["first_release"], r["first_rc"], r["introduced_by"], r["subject"],
                r["author"], r["date"], r["alt_commit"], r["note"], unreleased=bool(r["unreleased"]),
                gpl_only=None if r["gpl_only"] is None else bool(r["gpl_only"]), signature=r["signature"],
                title=r["title"], detect=r["detect"], libbpf=r["libbpf"], first_release_after=r["first_release_after"],
                first_release_by=r["first_release_by"])
    item.windows = []
    return item


# The tables whose rows each add one fact to their (tree, source): table -> (the Facts list, the row's fact).
_OWNED = {
    "releases": ("releases", _release),
    "items": ("items", _item),
    "helper_docs": ("helper_docs", lambda r: HelperDoc(r["value"], r["name"], r["variant"], r["signature"],
                                                       r["description"], r["returns"], r["attributes"] or "")),
    "relations": ("relations", lambda r: Relation(r["kind"], r["value"], r["relation"], r["other_kind"],
                                                  r["other_value"])),
    "disagreements": ("disagreements", lambda r: Disagreement(r["kind"], r["value"], r["field"], r["used"],
                                                              r["used_source"], r["other"], r["other_source"],
                                                              r["note"])),
    "section_rules": ("sections", lambda r: section_rule(r)),
}


def read_facts(conn: sqlite3.Connection, schema: str = "main") -> list[Facts]:
    """Every (tree, source) of a facts database, as the collectors produced them."""
    sources = {r["id"]: Source(r["id"], r["description"] or "", r["repo"], r["path"], r["revision"])
               for r in _rows(conn, "sources", schema)}
    schemes = {r["name"]: r["scheme"] for r in _rows(conn, "trees", schema)}
    found: dict[tuple[str, str], Facts] = {}
    for r in _rows(conn, "collections", schema):
        source = sources.get(r["source"]) or Source(r["source"])
        found[(r["tree"], r["source"])] = Facts(
            r["tree"], r["tree_kind"], source, r["collector"], schemes.get(r["tree"]), r["fingerprint"],
            r["head_commit"], r["tag_pattern"], r["qualifier"], tuple((r["covers"] or "").split()),
            warnings=(r["warnings"] or "").splitlines(),
        )
    items: dict[tuple, Item] = {}
    for table, (attribute, make) in _OWNED.items():
        for r in _rows(conn, table, schema):
            if (f := found.get((r["tree"], r["source"]))) is not None:
                fact = make(r)
                getattr(f, attribute).append(fact)
                if table == "items":
                    items[(r["tree"], r["source"], r["kind"], r["value"])] = fact
    for r in sorted(_rows(conn, "item_names", schema), key=lambda r: r["position"]):
        if (item := items.get((r["tree"], r["source"], r["kind"], r["value"]))) is not None:
            item.names.append(ItemName(r["name"], r["first_seen_commit"], r["first_release"], bool(r["is_alias"])))
    if conn.execute(f"SELECT 1 FROM {schema}.sqlite_master WHERE name = 'tree_labels'").fetchone():  # new in 2
        for r in _rows(conn, "tree_labels", schema):
            if (f := found.get((r["tree"], r["source"]))) is not None:
                f.labels[r["key"]] = r["value"]
    for r in sorted(_rows(conn, "windows", schema), key=lambda r: r["position"]):
        if (item := items.get((r["tree"], r["source"], r["kind"], r["value"]))) is not None:
            item.windows.append(Window(r["since"], r["until"]))
    for f in found.values():
        f.other_sources = [s for sid, s in sources.items() if sid != f.source.id and _names(f, sid)]
    return list(found.values())


def section_rule(row: dict) -> SectionRule:
    definition = SectionDef(row["pattern"], row["prog_type"], row["expected_attach_type"],
                            frozenset((row["flags"] or "").split()), 0, row["attach_type"],
                            legacy_form=bool(row["legacy_form"]))
    return SectionRule(row["release"], row["position"], definition)


def _names(facts: Facts, source_id: str) -> bool:
    return any(d.used_source == source_id or d.other_source == source_id for d in facts.disagreements)
