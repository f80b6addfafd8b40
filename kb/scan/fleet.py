"""``kbgen scan --fleet``: objects judged against many kernel builds at once, a matrix object x build.

Each object is read once and judged by every build (probed or shipped) the knowledge base has: the build's own
items, its release, and the BTF kept for it (CO-RE relocations, existence guards).  A cell says whether the object
*runs* there, *adapts* (something is missing and the program's guards, weak externs or libbpf do without it), or
*fails*, and why, in a few words.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from kb.scan import judge as judging
from kb.store import availability, queries
from kb.vocab.releases import BUILD_SCHEME

RUNS, ADAPTS, FAILS = "runs", "adapts", "fails"
WHY_LIMIT = 3  # findings named in a cell's why
_ADAPTING = (judging.ADAPTS, judging.DEPENDS, judging.OPTIONAL, judging.HANDLED)


@dataclass
class Cell:
    tree: str
    kernel: str  # the build's release
    result: str  # runs, adapts, fails
    why: list[str] = field(default_factory=list)
    report: judging.ObjectReport | None = None


@dataclass
class Row:
    path: str
    cells: list[Cell]


class FleetResult(judging.Streamed):
    def __init__(self, trees: list[tuple[str, str]], data_version: str, rows: Iterator[Row],
                 skipped: list[str]):
        super().__init__(skipped)
        self.trees = trees  # (tree, kernel label)
        self.data_version = data_version
        self._rows = rows

    @property
    def rows(self) -> Iterator[Row]:
        return self._stream(self._rows, lambda row: any(c.result == FAILS for c in row.cells))


def build_trees(conn) -> list[str]:
    """Every build tree of the knowledge base (probed and shipped)."""
    return [name for name in queries.tree_names(conn) if queries.tree_info(conn, name).scheme == BUILD_SCHEME]


def _what(f: judging.Finding) -> str:
    name = f.verdict.name or f.verdict.id
    return f"{f.verdict.kind} {name}"


def cell(tree: str, kernel: str, report: judging.ObjectReport) -> Cell:
    failing = report.failing(kernel)
    if failing:
        why = sorted({f"{_what(f)} ({f.verdict.status.replace('_', ' ')})" for f in failing})
        return Cell(tree, kernel, FAILS, why[:WHY_LIMIT] + ([f"{len(why) - WHY_LIMIT} more"] if len(why) > WHY_LIMIT
                                                              else []), report)
    adapting = sorted({_what(f) + (f" only where {f.verdict.guard}" if f.verdict.guard else " left out")
                       for f in report.findings if f.verdict.status in _ADAPTING})
    if adapting:
        return Cell(tree, kernel, ADAPTS, adapting[:WHY_LIMIT] + (
            [f"{len(adapting) - WHY_LIMIT} more"] if len(adapting) > WHY_LIMIT else []), report)
    return Cell(tree, kernel, RUNS, [], report)


def scan_fleet(conn, paths: list[str], trees: list[str], *, btf_of=None) -> FleetResult:
    """Judge the objects of *paths* against each build of *trees*."""
    if not trees:
        raise judging.ScanError("no kernel build to judge by: probe one (kbgen probe) or name builds with --tree")
    judges = []
    common = judging.Common(conn)
    for name in trees:
        name = queries.resolve_tree(conn, name)
        if queries.tree_info(conn, name).scheme != BUILD_SCHEME:
            raise judging.ScanError(f"tree {name} is not a kernel build: a matrix is of builds (kbgen probe makes one)")
        where = availability.target(conn, name, None)
        knowledge = judging.Knowledge(conn, name, where, judging.stored_btf(btf_of, name), common)
        judges.append((name, where.label, knowledge, judging._Judge(knowledge, where.label)))
    skipped: list[str] = []
    objects = judging._objects(paths, skipped)
    first = next(objects, None)
    if first is None:
        raise judging.ScanError(f"no BPF object found in {', '.join(paths)}")

    def rows():
        for obj in ([first] if first is not None else []):
            yield _row(obj, judges)
        for obj in objects:
            yield _row(obj, judges)

    return FleetResult([(name, label) for name, label, _k, _j in judges], queries.tree_version(conn, judges[0][0]),
                       rows(), skipped)


def _row(obj, judges) -> Row:
    cells = []
    for name, label, knowledge, judge in judges:
        report = judging.judge_object(obj, knowledge, label, judge)
        cells.append(cell(name, label, report))
    return Row(obj.path, cells)
