"""Read the reconciled reference facts (``shared/reference/*.tsv``) and a real header into one tree.

The reference files are facts about mainline gathered from public tables (bcc's kernel-versions list and
ebpf-docs' feature-versions data) and reconciled; their comment lines say how.  A real ``bpf.h`` adds
what the tables lack: every id's name as the header spells it, aliases, and the helper documentation.
Where the two public references disagreed, both values are kept as disagreements with their sources.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re

from collectors.facts import CollectedTree, HelperDocFact, Item, ItemName
from collectors.header import parse_header
from collectors.helper_docs import parse_helper_docs

HELPERS_FILE = "mainline-helpers.tsv"
ENUMS_FILE = "mainline-enums.tsv"
KFUNCS_FILE = "mainline-kfuncs.tsv"

REFERENCE_SOURCE = "reference:bcc+ebpf-docs"
REFERENCE_DESCRIPTION = (
    "public references reconciled: the bcc kernel-versions table and the ebpf-docs feature-versions data"
)
_REFERENCE_NAMES = {"bcc": "reference:bcc", "ebpf-docs": "reference:ebpf-docs"}
_SAYS_RE = re.compile(r"\b(bcc|ebpf-docs) says (\d+\.\d+)")
_CHOSEN_RE = re.compile(r"\b(bcc|ebpf-docs) chosen")


class ReferenceError(ValueError):
    pass


def _rows(path: str) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            lines = [line for line in handle if not line.startswith("#")]
    except OSError as err:
        raise ReferenceError(f"{path}: {err.strerror}") from None
    reader = csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    rows = []
    for number, row in enumerate(reader, 2):
        if None in row or any(v is None for v in row.values()):
            raise ReferenceError(f"{path}: row {number}: wrong number of columns")
        rows.append({k: v.strip() for k, v in row.items()})
    return rows


def _helper_disagreements(row: dict[str, str]) -> list[tuple]:
    note = row["note"]
    value = int(row["id"])
    out = []
    chosen = _CHOSEN_RE.search(note)
    used_source = _REFERENCE_NAMES[chosen.group(1)] if chosen else REFERENCE_SOURCE
    for other_ref, other_version in _SAYS_RE.findall(note):
        out.append(("helper", value, "first_release", row["version"], used_source, other_version,
                    _REFERENCE_NAMES[other_ref], note))
    if row["alt_commit"]:
        other = [name for name in _REFERENCE_NAMES if chosen and name != chosen.group(1)]
        out.append(("helper", value, "introduced_by", row["commit"], used_source, row["alt_commit"],
                    _REFERENCE_NAMES[other[0]] if other else REFERENCE_SOURCE, note))
    return out


def read_reference(directory: str, header_path: str | None = None, *, tree: str = "mainline") -> CollectedTree:
    """The mainline facts of the reference files, checked against and completed by a real header."""
    collected = CollectedTree(
        name=tree,
        kind="reference",
        source=REFERENCE_SOURCE,
        source_description=REFERENCE_DESCRIPTION,
        other_sources={
            "reference:bcc": "bcc's docs/kernel-versions.md table of helpers and the release that added them",
            "reference:ebpf-docs": "the ebpf-docs project's feature-versions data",
        },
    )
    for row in _rows(os.path.join(directory, HELPERS_FILE)):
        collected.items.append(
            Item("helper", int(row["id"]), row["name"], row["version"] or None, introduced_by=row["commit"] or None,
                 alt_commit=row["alt_commit"] or None, note=row["note"] or None,
                 names=[ItemName(row["name"], row["commit"] or None, row["version"] or None)])
        )
        collected.disagreements.extend(_helper_disagreements(row))
    enum_items: dict[tuple, Item] = {}
    for row in _rows(os.path.join(directory, ENUMS_FILE)):
        key = (row["kind"], int(row["value"]))
        name = ItemName(row["name"], row["commit"] or None, row["version"] or None)
        if key in enum_items:
            # A second name for the same value: the row without a release is the alias (BPF_PROG_RUN).
            # The name the references date is the one a program has used longest; the header says which
            # spelling is the alias.
            item = enum_items[key]
            if not item.first_release and row["version"]:
                item.name, item.first_release, item.introduced_by = row["name"], row["version"], row["commit"]
            item.names.append(name)
            continue
        enum_items[key] = Item(row["kind"], key[1], row["name"], row["version"] or None,
                               introduced_by=row["commit"] or None, note=row["note"] or None, names=[name])
    collected.items.extend(enum_items.values())
    kfuncs: dict[str, Item] = {}
    for row in _rows(os.path.join(directory, KFUNCS_FILE)):
        known = kfuncs.get(row["name"])
        if known is not None:
            # The file lists some kfuncs twice (registered in two BTF id sets); identical rows are one fact.
            for field, value in (("first_release", row["version"]), ("introduced_by", row["commit"])):
                if (getattr(known, field) or "") != value:
                    collected.disagreements.append(("kfunc", row["name"], field, getattr(known, field),
                                                    REFERENCE_SOURCE, value or None, REFERENCE_SOURCE,
                                                    "listed twice in the reference with different values"))
            continue
        kfuncs[row["name"]] = Item(
            "kfunc", row["name"], row["name"], row["version"] or None, introduced_by=row["commit"] or None,
            names=[ItemName(row["name"], row["commit"] or None, row["version"] or None)],
        )
    collected.items.extend(kfuncs.values())
    if header_path:
        _complete_from_header(collected, header_path)
    collected.items.sort(key=lambda i: (i.kind, str(i.value) if i.kind == "kfunc" else f"{i.value:08d}"))
    return collected


def _complete_from_header(collected: CollectedTree, header_path: str) -> None:
    try:
        with open(header_path, "rb") as handle:
            source = handle.read()
    except OSError as err:
        raise ReferenceError(f"{header_path}: {err.strerror}") from None
    facts = parse_header(source)
    header_source = f"header:{os.path.abspath(header_path)}@sha256:{hashlib.sha256(source).hexdigest()[:16]}"
    by_key = {(i.kind, i.value): i for i in collected.items}
    for kind, value, name, alias_of in facts.items():
        item = by_key.get((kind, value))
        if item is None:
            raise ReferenceError(f"{header_path}: {kind} {value} ({name}) is missing from the reference files")
        known = next((n for n in item.names if n.name == name), None)
        if known is None:
            # The header knows a name the references do not list: an alias, or an older spelling.
            item.names.append(ItemName(name, None, None, is_alias=bool(alias_of)))
        else:
            known.is_alias = bool(alias_of)
    variants: dict[int, int] = {}
    value_of = {i.name: i.value for i in collected.items if i.kind == "helper"}
    for doc in parse_helper_docs(source):
        value = value_of.get(doc.name)
        if value is None:
            raise ReferenceError(f"{header_path}: line {doc.line}: documented helper {doc.name} has no id")
        variants[value] = variants.get(value, -1) + 1
        collected.helper_docs.append(
            HelperDocFact(value, doc.name, variants[value], doc.signature, doc.description, doc.returns,
                          doc.attributes)
        )
    collected.docs_source = header_source
    collected.other_sources[header_source] = (
        f"a real bpf.h ({header_path}): names, aliases and the helper documentation block"
    )
