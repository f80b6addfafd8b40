"""The merged view: the facts of every source of a tree reconciled into one row per item.

For each item the source with the highest priority (kb.vocab.kinds.SOURCE_PRIORITY: what was read from a
kernel or its history beats what references say) gives its facts; every name any source knows is kept;
and wherever two sources give an item different first releases, commits or removals, both values are
kept as a disagreement naming each side by its own source.  Pure data in, data out: the store writes it.
"""

from __future__ import annotations

import copy
import dataclasses
from collections import defaultdict

from kb.vocab import rules
from kb.vocab.facts import Disagreement, Facts, Item, ItemName, Window
from kb.vocab.kinds import TREE_BUILD, source_priority

MERGE_NOTE = "two sources of this tree differ; the tables use the fact of the higher-ranked source"
COMPARED_FIELDS = ("first_release", "introduced_by", "removed_in", "gpl_only")


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
        parts[facts.source.id].helper_docs = [d for d in facts.helper_docs if docs_from[d.value] == facts.source.id]
    absent = _absent_from_a_build(ranked, chosen)
    for key, (covering, (item, facts)) in absent.items():
        parts[covering.source.id].disagreements.append(Disagreement(
            item.kind, item.value, "present", "no", covering.source.id, "yes", _item_source(item, facts),
            f"{covering.source.id} gives every {item.kind} of this build and not this one; the tables follow it"))
        del chosen[key]
    merged_items = {key: _merged_item(item, facts, others.get(key, [])) for key, (item, facts) in chosen.items()}
    for key, (item, facts) in chosen.items():
        merged = merged_items[key]
        parts[facts.source.id].items.append(merged)
        for other, other_facts in others.get(key, ()):
            for field in COMPARED_FIELDS:
                used, theirs = getattr(merged, field), getattr(other, field)
                if used is not None and theirs is not None and used != theirs:
                    parts[facts.source.id].disagreements.append(Disagreement(
                        item.kind, item.value, field, used, merged.source, theirs, _item_source(other, other_facts),
                        MERGE_NOTE,
                    ))
    for facts in ranked:
        for d in facts.disagreements:
            kept = _as_merged(d, merged_items.get((d.kind, d.value)), chosen.get((d.kind, d.value)), facts)
            if kept is not None and _real_disagreement(kept):
                parts[facts.source.id].disagreements.append(kept)
    having = [(kind, value, f.source.id) for (kind, value), (_item, f) in chosen.items()]
    having += [(kind, value, f.source.id) for (kind, value), entries in others.items() for _item, f in entries]
    return MergedTree(name, "+".join(kinds), scheme, list(parts.values()), sorted(set(having), key=str))


def _absent_from_a_build(ranked: list[Facts], chosen: dict) -> dict:
    """Items of a build that a higher-ranked source covering their kind lacks (its BTF declares a program type
    that a live probe found does not load): the build has not got them."""
    absent = {}
    for key, (item, facts) in chosen.items():
        for other in ranked:
            if other is facts:
                break
            if other.tree_kind == TREE_BUILD and item.kind in other.covers:
                absent[key] = (other, (item, facts))
                break
    return absent


def _merged_item(item: Item, facts: Facts, others: list[tuple[Item, Facts]]) -> Item:
    """The chosen source's item, with every name any source knows (oldest first) and, where the chosen source
    only knows the item was there at the first release it saw, the first release a source that saw earlier
    gives."""
    # A copy with three fields set, not dataclasses.replace: this runs for every item of every tree (11,000 at a
    # build of the shipped knowledge base), and replace() costs three times as much.
    merged = copy.copy(item)
    merged.names = _names([item, *(other for other, _f in others)])
    merged.windows = list(item.windows)
    merged.source = _item_source(item, facts)
    merged.__post_init__()
    if merged.windows and merged.windows[0].since is None:
        for other, other_facts in others:
            until = merged.windows[0].until
            if other.first_release and (until is None or rules.kernel_key(other.first_release)
                                        < rules.kernel_key(until)):
                merged.windows[0] = Window(other.first_release, until)
                merged.first_release = other.first_release
                merged.note = "; ".join(filter(None, [
                    merged.note, f"first release {other.first_release} from {_item_source(other, other_facts)}"]))
                break
    return merged


def _names(items: list[Item]) -> list[ItemName]:
    """Every name the items carry, in an order each source's own order (oldest first) agrees with; where the
    sources say nothing about two names, the higher-ranked source's order, then first mention."""
    if len(items) == 1 and len({n.name for n in items[0].names}) == len(items[0].names):
        return list(items[0].names)  # one source, each name once: its own order
    order: list[str] = []
    by_name: dict[str, ItemName] = {}
    after: dict[str, set[str]] = defaultdict(set)  # name -> names that must come before it
    for item in items:
        for position, n in enumerate(item.names):
            if n.name not in by_name:
                by_name[n.name] = n
                order.append(n.name)
            after[n.name] |= {earlier.name for earlier in item.names[:position]}
    placed: list[str] = []
    while len(placed) < len(order):
        ready = [n for n in order if n not in placed and after[n] <= set(placed)]
        placed.append(ready[0] if ready else next(n for n in order if n not in placed))  # a cycle: first mention
    return [by_name[n] for n in placed]


def _as_merged(d: Disagreement, merged: Item | None, chosen: tuple[Item, Facts] | None, facts: Facts
               ) -> Disagreement | None:
    """A source's own disagreement as the merged view states it: as it is where the source's item is the one the
    tables use; else against the value the tables use, from the source that gives it."""
    if merged is None or chosen is None or chosen[1] is facts:
        return d
    used = getattr(merged, d.field, None)
    if used is None or used == d.other:
        return None
    return dataclasses.replace(d, used=used, used_source=merged.source, note=f"{d.note}; {MERGE_NOTE}" if d.note
                               else MERGE_NOTE)
