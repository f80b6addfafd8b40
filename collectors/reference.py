"""Read the reconciled reference facts (``shared/reference/*.tsv``) and a real header into mainline facts.

The reference files are facts about mainline gathered from public tables (bcc's kernel-versions list,
ebpf-docs' feature-versions data and pages, the libbpf mirror's history of bpf.h) and reconciled; their
comment lines say how.  A real ``bpf.h`` adds the helper documentation and any spelling the files lack.
Every item, relation and disagreement names the reference it comes from; where two references gave
different values, both are kept as a disagreement, each side named by its own source.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re

from kb.formats.header import HeaderParseError, parse_header
from kb.formats.helper_docs import HelperDocError, parse_helper_docs
from kb.vocab.errors import KbgenError
from kb.vocab.facts import (
    AS_DOCUMENTED,
    CALLABLE_FROM,
    WORKS_WITH,
    Disagreement,
    Facts,
    HelperDoc,
    Item,
    ItemName,
    Relation,
    Source,
    Window,
)
from kb.vocab.kinds import ENUM_KINDS, FEATURE, HELPER, KFUNC, KINDS, MAINLINE, MAP_TYPE, PROG_TYPE, TREE_REFERENCE
from kb.vocab.releases import MAINLINE_SCHEME

HELPERS_FILE = "mainline-helpers.tsv"
ENUMS_FILE = "mainline-enums.tsv"
KFUNCS_FILE = "mainline-kfuncs.tsv"
COMPAT_FILE = "mainline-helper-compat.tsv"
FEATURES_FILE = "mainline-features.tsv"

BCC = Source("reference:bcc", "bcc's docs/kernel-versions.md: helpers with the release and commit that added each, "
             "and a License column (GPL)")
EBPF_DOCS = Source("reference:ebpf-docs", "ebpf-docs: feature-versions data (release and commit of helpers, enums "
                   "and kfuncs), kfunc pages (removals, program types) and helper pages (program and map types, "
                   "as documented for the newest documented kernel: absence means not documented)")
BOTH = Source("reference:bcc+ebpf-docs", "bcc's kernel-versions table and ebpf-docs' feature-versions data, "
              "agreeing")
LIBBPF_HISTORY = Source("reference:libbpf-history", "the libbpf mirror's history of include/uapi/linux/bpf.h: "
                        "releases bounded by when each change was written and synced, former helper names")
VERIFIER = Source("reference:6.18-verifier", "a live 6.18 kernel's verifier (every helper loaded with a non-GPL "
                  "license in each program type offering it) and the kernel's helper prototypes: GPL-only flags")
FEATURES = Source("reference:mainline-features", "ISA, verifier, BTF and ELF features a compiled object can need, "
                  "reconciled from ebpf-docs, the libbpf mirror history, bpftool's probes and kernel commits")
REFERENCES = {"bcc": BCC, "ebpf-docs": EBPF_DOCS}

_SAYS_RE = re.compile(r"\b(bcc|ebpf-docs) says (\d+\.\d+)")
_CHOSEN_RE = re.compile(r"\b(bcc|ebpf-docs) chosen")
_GPL_DISPUTE = "gpl_only: bcc leaves it unmarked"


class ReferenceError(KbgenError):
    pass


def _number(text: str, path: str, row: int, column: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ReferenceError(f"{path}: data row {row}: {column} {text!r} is not a number") from None


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
            raise ReferenceError(f"{path}: data row {number}: wrong number of columns")
        rows.append({k: v.strip() for k, v in row.items()} | {"_row": number, "_path": path})
    return rows


def _helper(row: dict[str, str]) -> tuple[Item, list[Disagreement]]:
    value, note = _number(row["id"], row["_path"], row["_row"], "id"), row["note"]
    chosen = _CHOSEN_RE.search(note)
    says = _SAYS_RE.findall(note)
    # The reference whose values the row holds: the one the note says was chosen, else the one not named as
    # saying otherwise.  Where the references agree on the release but not the commit, `commit` is
    # ebpf-docs' and `alt_commit` bcc's (checked against bcc's table for ids 9 and 33).
    if chosen:
        used = REFERENCES[chosen.group(1)]
    elif says:
        used = EBPF_DOCS if says[0][0] == "bcc" else BCC
    else:
        used = EBPF_DOCS if row["alt_commit"] else BOTH
    other = BCC if used is EBPF_DOCS else EBPF_DOCS
    version = row["version"] or None
    former = [n.strip() for n in row["former_names"].split(",") if n.strip()]
    names = [ItemName(n, row["commit"] or None if i == 0 else None, version if i == 0 else None)
             for i, n in enumerate(former)]
    names.append(ItemName(row["name"], None if former else row["commit"] or None, None if former else version))
    gpl = row["gpl_only"]
    item = Item(HELPER, value, row["name"], version, introduced_by=row["commit"] or None,
                alt_commit=row["alt_commit"] or None, note=note or None, names=names,
                gpl_only=None if gpl == "" else gpl == "1",
                source=used.id)
    disagreements = [
        Disagreement(HELPER, value, "first_release", version, used.id, other_version, REFERENCES[ref].id, note)
        for ref, other_version in says
    ]
    if row["alt_commit"]:
        disagreements.append(Disagreement(HELPER, value, "introduced_by", row["commit"], used.id, row["alt_commit"],
                                          other.id, note))
    if _GPL_DISPUTE in note:
        disagreements.append(Disagreement(HELPER, value, "gpl_only", gpl, VERIFIER.id, "0", BCC.id, note))
    return item, disagreements


def _enum_source(row: dict[str, str]) -> Source:
    return LIBBPF_HISTORY if "libbpf" in row["note"] else EBPF_DOCS


def read_reference(directory: str, header_path: str | None = None) -> Facts:
    """The mainline facts of the reference files, completed by a real header."""
    facts = Facts(MAINLINE, TREE_REFERENCE, BOTH, "reference", MAINLINE_SCHEME, qualifier=AS_DOCUMENTED,
                  other_sources=[BCC, EBPF_DOCS, LIBBPF_HISTORY, VERIFIER, FEATURES])
    for row in _rows(os.path.join(directory, HELPERS_FILE)):
        item, disagreements = _helper(row)
        facts.items.append(item)
        facts.disagreements += disagreements
    enums, value_by_name = _enums(directory)
    facts.items += enums
    _kfuncs(directory, facts, value_by_name)
    _compat(directory, facts, value_by_name)
    facts.items += [_feature(row) for row in _rows(os.path.join(directory, FEATURES_FILE))]
    if header_path:
        _complete_from_header(facts, header_path)
    return facts


def _enums(directory: str) -> tuple[list[Item], dict[tuple[str, str], int]]:
    """The enum items of the enums file (aliases folded into their originals), and (kind, name) -> value."""
    enums: dict[tuple, Item] = {}
    value_by_name: dict[tuple[str, str], int] = {}
    for row in _rows(os.path.join(directory, ENUMS_FILE)):
        kind, value = row["kind"], _number(row["value"], row["_path"], row["_row"], "value")
        if kind not in ENUM_KINDS:
            raise ReferenceError(f"{directory}/{ENUMS_FILE}: unknown kind {kind!r}")
        value_by_name[(kind, row["name"])] = value
        name = ItemName(row["name"], row["commit"] or None, row["version"] or None, is_alias=bool(row["alias_of"]))
        if row["alias_of"]:
            original = enums.get((kind, value))
            if original is None or original.name != row["alias_of"]:
                raise ReferenceError(f"{directory}/{ENUMS_FILE}: {row['name']} is an alias of {row['alias_of']}, "
                                     "which does not come before it")
            original.names.append(name)
            continue
        enums[(kind, value)] = Item(kind, value, row["name"], row["version"] or None,
                                    introduced_by=row["commit"] or None, note=row["note"] or None, names=[name],
                                    source=_enum_source(row).id)
    return list(enums.values()), value_by_name


def _values(text: str, kind: str, value_by_name: dict[tuple[str, str], int], where: str) -> list[int]:
    """The values of a comma-separated list of *kind* enumerators."""
    values = []
    for name in filter(None, text.split(",")):
        if (kind, name) not in value_by_name:
            raise ReferenceError(f"{where}: unknown {KINDS[kind].word} {name}")
        values.append(value_by_name[(kind, name)])
    return values


def _kfunc_windows(row: dict[str, str], path: str) -> list[Window]:
    version = row["version"] or None
    if row["windows"]:
        try:
            return Window.parse_list(row["windows"])
        except ValueError as err:
            raise ReferenceError(f"{path}: data row {row['_row']}: {err}") from None
    return [Window(version, row["removed_in"] or None)] if version else []


def _kfuncs(directory: str, facts: Facts, value_by_name: dict[tuple[str, str], int]) -> None:
    kfuncs: dict[str, Item] = {}
    path = os.path.join(directory, KFUNCS_FILE)
    for row in _rows(path):
        if row["name"] in kfuncs:
            raise ReferenceError(f"{path}: {row['name']} is listed twice")
        version = row["version"] or None
        kfuncs[row["name"]] = Item(KFUNC, row["name"], row["name"], version, introduced_by=row["commit"] or None,
                                   note=row["note"] or None, windows=_kfunc_windows(row, path), source=EBPF_DOCS.id,
                                   names=[ItemName(row["name"], row["commit"] or None, version)])
        facts.relations += [Relation(KFUNC, row["name"], CALLABLE_FROM, PROG_TYPE, v, EBPF_DOCS.id)
                            for v in _values(row["prog_types"], PROG_TYPE, value_by_name, f"{path}: {row['name']}")]
    facts.items += kfuncs.values()


def _compat(directory: str, facts: Facts, value_by_name: dict[tuple[str, str], int]) -> None:
    path = os.path.join(directory, COMPAT_FILE)
    helper_ids = {i.value for i in facts.items if i.kind == HELPER}
    for row in _rows(path):
        value = _number(row["helper_id"], path, row["_row"], "helper_id")
        if value not in helper_ids:
            raise ReferenceError(f"{path}: helper {value} is not in {HELPERS_FILE}")
        where = f"{path}: helper {value}"
        facts.relations += [Relation(HELPER, value, CALLABLE_FROM, PROG_TYPE, v, EBPF_DOCS.id)
                            for v in _values(row["prog_types"], PROG_TYPE, value_by_name, where)]
        facts.relations += [Relation(HELPER, value, WORKS_WITH, MAP_TYPE, v, EBPF_DOCS.id)
                            for v in _values(row["map_types"], MAP_TYPE, value_by_name, where)]


def _feature(row: dict[str, str]) -> Item:
    return Item(FEATURE, row["id"], row["id"], row["first_release"] or None, introduced_by=row["commit"] or None,
                note=row["note"] or None, names=[ItemName(row["id"], row["commit"] or None, row["first_release"] or None)],
                title=row["title"], detect=row["detect"], libbpf=row["libbpf"] or None, source=FEATURES.id)


def _complete_from_header(facts: Facts, header_path: str) -> None:
    try:
        with open(header_path, "rb") as handle:
            source = handle.read()
    except OSError as err:
        raise ReferenceError(f"{header_path}: {err.strerror}") from None
    header = Source(f"header:{os.path.abspath(header_path)}@sha256:{hashlib.sha256(source).hexdigest()[:16]}",
                    f"a real bpf.h ({header_path}): spellings and the helper documentation block")
    by_key = {(i.kind, i.value): i for i in facts.items}
    try:
        header_facts = parse_header(source)
        documented = parse_helper_docs(source)
    except (HeaderParseError, HelperDocError) as err:
        raise ReferenceError(f"{header_path}: {err}") from None
    for kind, value, name, alias_of in header_facts.items():
        item = by_key.get((kind, value))
        if item is None:
            raise ReferenceError(f"{header_path}: {kind} {value} ({name}) is missing from the reference files")
        if all(n.name != name for n in item.names):
            # A spelling the references do not list; later than the ones they do.
            item.names.append(ItemName(name, None, None, is_alias=bool(alias_of)))
    variants: dict[int, int] = {}
    value_of = {n.name: i.value for i in facts.items if i.kind == HELPER for n in i.names}
    for doc in documented:
        value = value_of.get(doc.name)
        if value is None:
            raise ReferenceError(f"{header_path}: line {doc.line}: documented helper {doc.name} has no id")
        variants[value] = variants.get(value, -1) + 1
        facts.helper_docs.append(HelperDoc(value, doc.name, variants[value], doc.signature, doc.description,
                                           doc.returns, doc.attributes, header.id))
    facts.other_sources.append(header)
