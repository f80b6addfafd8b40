"""``kbgen scan``: what each compiled BPF object needs, checked against a target kernel.

Reads objects with the collectors' ELF and instruction decoders, looks every helper, kfunc and map type
up in the knowledge base, and says for each use its first release and whether the target has it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from kb import availability, queries
from kb.vocab import rules

OK = "ok"
TOO_NEW = "too_new"  # first release is newer than the target kernel
REMOVED = "removed"  # the target kernel no longer has it
UNKNOWN = "unknown"  # not in the knowledge base at all (a helper id newer than it, a kfunc it does not list)
RELEASE_UNKNOWN = "release_unknown"  # in the knowledge base, but no release is known to have it
FAILING = (TOO_NEW, REMOVED, UNKNOWN)


@dataclass
class Finding:
    kind: str  # helper, kfunc, map_type
    id: int | str
    name: str | None
    first_release: str | None
    status: str
    section: str
    program: str | None
    insn: int | None  # instruction slot; None for map definitions
    offset: int | None  # byte offset in the section
    file_offset: int
    map: str | None = None  # the map variable, for map_type findings
    source: object | None = None  # collectors.bpf.elfobject.SourceLine, where the object has line info
    removed_in: str | None = None


@dataclass
class ObjectReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    programs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def min_kernel(self) -> str | None:
        known = [f for f in self.findings if f.first_release]
        if not known:
            return None
        return max(known, key=lambda f: rules.kernel_key(f.first_release)).first_release

    @property
    def forced_by(self) -> list[Finding]:
        minimum = self.min_kernel
        return [f for f in self.findings if minimum and f.first_release == minimum]


@dataclass
class ScanResult:
    tree: str
    data_version: str
    kernel: str | None
    objects: list[ObjectReport]

    @property
    def failed(self) -> bool:
        return any(f.status in FAILING for o in self.objects for f in o.findings) if self.kernel else False


def object_paths(paths: list[str]) -> list[str]:
    """Files as given; directories searched for *.o, in a stable order."""
    found = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                found += [os.path.join(root, f) for f in sorted(files) if f.endswith(".o")]
        else:
            found.append(path)
    return found


_STATUS = {availability.AVAILABLE: OK, availability.NOT_YET: TOO_NEW, availability.REMOVED: REMOVED,
           availability.RELEASE_UNKNOWN: RELEASE_UNKNOWN, availability.UNRELEASED: RELEASE_UNKNOWN}


class _Lookup:
    def __init__(self, conn, tree: str):
        self.by_kind: dict[str, dict] = {}
        for row in queries.items(conn, tree):
            self.by_kind.setdefault(row.kind, {})[row.value] = row

    def judge(self, kind: str, key, where: availability.Target | None) -> tuple:
        """(name, first release, status, removed in) of an item an object uses."""
        item = self.by_kind.get(kind, {}).get(key)
        if item is None:
            return None, None, UNKNOWN, None
        if item.first_release is None:
            return item.name, None, RELEASE_UNKNOWN, None
        if where is None:
            return item.name, item.first_release, OK, item.removed_in
        verdict = availability.judge(item, where)
        return item.name, item.first_release, _STATUS[verdict.status], verdict.removed_in


def scan(conn, paths: list[str], *, kernel: str | None = None, tree: str | None = None) -> ScanResult:
    from collectors.bpf.elfobject import read_object

    name = queries.resolve_tree(conn, tree)
    where = availability.target(conn, name, kernel) if kernel or queries.tree_info(conn, name).scheme == "build" \
        else None
    lookup = _Lookup(conn, name)
    reports = []
    for path in object_paths(paths):
        obj = read_object(path)
        report = ObjectReport(path, programs=[(section, symbol) for section, symbol, _off in obj.programs])
        for call in obj.calls:
            found = lookup.judge(call.kind, call.target, where)
            report.findings.append(Finding(
                call.kind, call.target, *found[:3], call.section, call.program, call.index, call.offset,
                call.file_offset, source=call.source, removed_in=found[3],
            ))
        for definition in obj.maps:
            found = lookup.judge("map_type", definition.map_type, where)
            report.findings.append(Finding(
                "map_type", definition.map_type, *found[:3], definition.section, None, None, None,
                definition.file_offset, map=definition.name, removed_in=found[3],
            ))
        reports.append(report)
    return ScanResult(name, queries.tree_version(conn, name), where.label if where else None, reports)
