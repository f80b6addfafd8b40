"""The merged view: the facts of every source of a tree reconciled into one row per item.

For each item the source with the highest priority (kb.vocab.kinds.SOURCE_PRIORITY: what was read from a
kernel or its history beats what references say) gives its facts; every name any source knows is kept;
and wherever two sources give an item different first releases, commits or removals, both values are
kept as a disagreement naming each side by its own source.  Pure data in, data out: the store writes it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from kb.vocab.facts import Disagreement, Facts, Item
from kb.vocab.kinds import source_priority

MERGE_NOTE = "two sources of this tree differ; the tables use the fact of the higher-ranked source"
COMPARED_FIELDS = ("first_release", "introduced_by", "removed_in")


@dataclasses.dataclass
class MergedTree:
    name: str
    kind: str  # the tree kinds of its sources, highest first: "git+reference"
    scheme: str | None
    parts: list[Facts]  # per source, only what the merged view takes from it
    item_sources: list[tuple[str, int | str, str]]  # (kind, value, source) for every source that has the item


def _rank(facts: Facts) -> tuple:
    return (-source_priority(facts.source.id), facts.source.id)


def _item_source(item: Item, facts: Facts) -> str:
    return item.source or facts.source.id


def _real_disagreement(d: Disagreement) -> bool:
    return d.used != d.other and d.used_source != d.other_source and d.other is not None


def merge(all_facts: list[Facts]) -> list[MergedTree]:
    by_tree: dict[str, list[Facts]] = defaultdict(list)
    for facts in all_facts:
        by_tree[facts.tree].append(facts)
    return [_merge_tree(name, sorted(facts_list, key=_rank)) for name, facts_list in sorted(by_tree.items())]


def _merge_tree(name: str, ranked: list[Facts]) -> MergedTree:
    kinds = list(dict.fromkeys(f.tree_kind for f in ranked))
    scheme = next((f.scheme for f in ranked if f.scheme), None)
    chosen: dict[tuple, tuple[Item, Facts]] = {}
    others: dict[tuple, list[tuple[Item, Facts]]] = defaultdict(list)
    for facts in ranked:
        for item in facts.items:
            key = (item.kind, item.value)
            if key in chosen:
                others[key].append((item, facts))
            else:
                chosen[key] = (item, facts)
    docs_from: dict[int, str] = {}
    for facts in ranked:
        for doc in facts.helper_docs:
            docs_from.setdefault(doc.value, facts.source.id)

    parts = {f.source.id: dataclasses.replace(f, items=[], helper_docs=[], disagreements=[]) for f in ranked}
    for facts in ranked:
        part = parts[facts.source.id]
        part.helper_docs = [d for d in facts.helper_docs if docs_from[d.value] == facts.source.id]
        part.disagreements = [d for d in facts.disagreements if _real_disagreement(d)]
    for key, (item, facts) in chosen.items():
        merged = dataclasses.replace(item, names=list(item.names), source=_item_source(item, facts))
        known = {n.name for n in merged.names}
        for other, other_facts in others.get(key, ()):
            merged.names += [n for n in other.names if n.name not in known]
            known |= {n.name for n in other.names}
            for field in COMPARED_FIELDS:
                used, theirs = getattr(item, field), getattr(other, field)
                if used is not None and theirs is not None and used != theirs:
                    parts[facts.source.id].disagreements.append(Disagreement(
                        item.kind, item.value, field, used, merged.source, theirs, _item_source(other, other_facts),
                        MERGE_NOTE,
                    ))
        parts[facts.source.id].items.append(merged)
    having = [(kind, value, f.source.id) for (kind, value), (_item, f) in chosen.items()]
    having += [(kind, value, f.source.id) for (kind, value), entries in others.items() for _item, f in entries]
    return MergedTree(name, "+".join(kinds), scheme, list(parts.values()), sorted(set(having), key=str))
