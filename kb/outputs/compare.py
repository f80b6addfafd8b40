"""What a probed build has compared with mainline at its base release: backports, what it lacks (config,
or removed), and what the knowledge base does not know at all.  Reads the merged knowledge base only."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from kb.store import availability, queries
from kb.vocab.facts import CALLABLE_FROM, IN_MODULE, PROBED
from kb.vocab.kinds import ENUM_KINDS, HELPER, KFUNC, MAINLINE, PROG_TYPE

COMPARED_KINDS = (HELPER, *ENUM_KINDS, KFUNC)


@dataclass(frozen=True)
class Difference:
    kind: str
    value: int | str
    name: str
    mainline_first_release: str | None
    mainline_removed_in: str | None = None
    note: str | None = None  # "in module nf_conntrack": a module of the build registers it, vmlinux does not


@dataclass
class BuildComparison:
    tree: str
    release: str
    base: str  # the mainline release the build is compared with
    kfuncs_tagged: bool
    counts: dict[str, int] = field(default_factory=dict)
    names: dict[str, list[str]] = field(default_factory=dict)  # kind -> every name the build has, in value order
    backports: list[Difference] = field(default_factory=list)  # in the build, in mainline only later
    kept: list[Difference] = field(default_factory=list)  # in the build, gone from mainline by its base
    lacking: list[Difference] = field(default_factory=list)  # mainline has it by the base; the build does not
    unknown: list[Difference] = field(default_factory=list)  # in the build, unknown to the knowledge base
    in_modules: list[Difference] = field(default_factory=list)  # in the build through its modules, never lacking
    accepts: dict[str, list[str]] = field(default_factory=dict)  # program type -> helpers a live probe accepted
    accepted_pairs: int = 0  # (program type, helper) pairs a live probe saw the verifier accept
    undocumented_pairs: int = 0  # accepted live, but not in mainline's "as documented" lists


def compare(conn: sqlite3.Connection, tree: str) -> BuildComparison:
    """How the build (or any tree's newest release) compares with mainline, for the kinds the tree covers."""
    release = queries.releases(conn, tree)[-1]
    base = release.base or release.version
    covered = queries.covers(conn, tree)
    result = BuildComparison(tree, release.version, base, KFUNC in covered)
    build = {(i.kind, i.value): i for i in queries.items(conn, tree)}
    mainline = {(i.kind, i.value): i for i in queries.items(conn, MAINLINE)}
    where = availability.target(conn, MAINLINE, base)
    kinds = tuple(k for k in COMPARED_KINDS if k in covered)
    for kind in kinds:
        mine = [i for (k, _v), i in sorted(build.items(), key=_order) if k == kind]
        result.counts[kind] = len(mine)
        result.names[kind] = [i.name for i in mine]
    for key, item in sorted(build.items(), key=_order):
        if item.kind not in kinds:
            continue
        known = mainline.get(key)
        if (item.note or "").startswith(IN_MODULE):
            result.in_modules.append(Difference(item.kind, item.value, item.name, known and known.first_release,
                                                note=item.note))
        if known is None:
            result.unknown.append(Difference(item.kind, item.value, item.name, None, note=item.note))
            continue
        verdict = availability.judge(known, where)
        if verdict.status == availability.NOT_YET:
            result.backports.append(Difference(item.kind, item.value, item.name, known.first_release))
        elif verdict.status == availability.REMOVED:
            result.kept.append(Difference(item.kind, item.value, item.name, known.first_release, known.removed_in))
    for key, item in sorted(mainline.items(), key=_order):
        if item.kind in kinds and key not in build and availability.judge(item, where).available:
            result.lacking.append(Difference(item.kind, item.value, item.name, item.first_release))
    _live(conn, tree, result)
    return result


def _order(entry) -> tuple:
    (kind, value), _item = entry
    return (COMPARED_KINDS.index(kind) if kind in COMPARED_KINDS else 99, isinstance(value, str), value)


def _live(conn: sqlite3.Connection, tree: str, result: BuildComparison) -> None:
    probed = conn.execute(
        "SELECT r.value, h.name, r.other_value, p.name FROM relations r"
        " LEFT JOIN items h ON h.tree = r.tree AND h.kind = r.kind AND h.value = r.value"
        " LEFT JOIN items p ON p.tree = r.tree AND p.kind = r.other_kind AND p.value = r.other_value"
        " WHERE r.tree = ? AND r.kind = ? AND r.relation = ? AND r.qualifier = ? ORDER BY r.other_value, r.value",
        (tree, HELPER, CALLABLE_FROM, PROBED)).fetchall()
    if not probed:
        return
    documented = {(v, o) for v, o in conn.execute(
        "SELECT value, other_value FROM relations WHERE tree = ? AND kind = ? AND relation = ? AND other_kind = ?",
        (MAINLINE, HELPER, CALLABLE_FROM, PROG_TYPE))}
    for helper, helper_name, prog_type, prog_name in probed:
        result.accepts.setdefault(prog_name or str(prog_type), []).append(helper_name or str(helper))
    result.accepted_pairs = len(probed)
    result.undocumented_pairs = sum(1 for helper, _h, prog_type, _p in probed if (helper, prog_type) not in documented)
