"""kbgen's Python API: every function returns data; the CLI (kb.cli) renders it (kb.render, kb.scan_report).

Imports are deferred to the functions that need them, so that ``kbgen tables`` loads neither git nor
Datasette machinery.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from kb.paths import user_db
from kb.vocab.kinds import HELPER, MAINLINE


@dataclass
class CollectedSource:
    collector: str
    source: str
    status: str  # "collected" or "up to date"
    releases: int = 0
    items: int = 0
    unreleased: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class CollectResult:
    tree: str
    db: str
    sources: list[CollectedSource]


def collect(repo: str, *, db: str | None = None, tree: str | None = None, tags: str | list[str] | None = None,
            tag_pattern: str | None = None, rev: str = "HEAD", with_rc: bool = False, path: str | None = None,
            force: bool = False, progress: Callable[[int, int], None] | None = None) -> CollectResult:
    """Mine *repo* with every collector that has something to read there, into tree *tree* of *db*.

    Each collector's facts replace what an earlier run of the same source said about the tree, all in one
    transaction; a run whose fingerprint is unchanged does no work.
    """
    from collectors.base import for_repository, gather
    from kb.store import database

    db = db or user_db()
    collectors = for_repository(repo, tree=tree, tags=tags, tag_pattern=tag_pattern, rev=rev, with_rc=with_rc,
                                path=path)
    name = collectors[0].tree
    known = database.fingerprints(db, name)
    results: list[CollectedSource] = []
    pending = []
    for collector in collectors:
        if not force and known.get(collector.source_id) == collector.fingerprint():
            results.append(CollectedSource(collector.name, collector.source_id, "up to date"))
        else:
            pending.append(collector)
    gathered = gather(pending, progress, force=force)
    for facts in gathered:
        results.append(CollectedSource(
            facts.collector, facts.source.id, "collected", len(facts.releases), len(facts.items),
            sum(1 for i in facts.items if i.unreleased), facts.warnings))
    if gathered:
        database.record(db, gathered)
    return CollectResult(name, db, results)


@dataclass
class ProbeResult:
    collected: CollectResult
    comparison: object  # kb.probe.BuildComparison
    source: str
    container: str | None
    version_source: str | None
    warnings: list[str]
    live: object | None = None  # collectors.live.LiveProbe, when --live


def probe(source: str | None = None, *, db: str | None = None, tree: str | None = None, release: str | None = None,
          live: bool = False) -> ProbeResult:
    """Record one kernel build as a tree of kind build: what its BTF declares and, with *live*, what the running
    kernel accepts; then compare it with mainline at its base release.  Nothing is stored when anything fails."""
    from collectors.build import RUNNING_KERNEL_BTF, BuildBTFCollector, LiveProbeCollector
    from kb.outputs import compare as comparing
    from kb.store import btf_blobs, builds, kbase

    db = db or user_db()
    btf = BuildBTFCollector(source or RUNNING_KERNEL_BTF, tree=tree, release=release)
    collectors = [btf]
    live_probe = None
    if live:
        names = None
        if os.path.abspath(btf.path) == RUNNING_KERNEL_BTF or btf.release == os.uname().release:
            found = btf.kernel.items()
            names = {kind: {e.name: e.value for e in members.enumerators} for kind, members in found.by_kind().items()}
        live_probe = LiveProbeCollector(tree=btf.tree, release=btf.release, names=names)
        collectors.append(live_probe)
    gathered = [c.collect() for c in collectors]
    builds.record(db, btf.tree, btf.release, gathered)
    btf_blobs.save(db, btf.tree, btf.kernel.btf)  # scan --tree checks CO-RE relocations against it
    results = [CollectedSource(f.collector, f.source.id, "collected", len(f.releases), len(f.items), 0, f.warnings)
               for f in gathered]
    merged = kbase.open_kb(db)
    comparison = comparing.compare(merged, btf.tree)
    return ProbeResult(CollectResult(btf.tree, db, results), comparison, os.path.abspath(btf.path),
                       btf.kernel.container, btf.kernel.version_source,
                       [w for f in gathered for w in f.warnings], live_probe.result if live_probe else None)


@dataclass
class ProbedBuild:
    path: str
    status: str  # "probed", "skipped" (its content digest is stored), "failed"
    tree: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # kind -> items of the build
    kfuncs_tagged: bool | None = None
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class BulkProbe:
    db: str
    builds: list[ProbedBuild]

    def count(self, status: str) -> int:
        return sum(1 for b in self.builds if b.status == status)


def probe_builds(sources: list[str], *, db: str | None = None, jobs: int = 2, force: bool = False,
                 progress: Callable[[int, int], None] | None = None,
                 each: Callable[[ProbedBuild], None] | None = None) -> BulkProbe:
    """Record every build found in *sources* (BTFHub checkouts, extracted packages, directories of images), each as
    the build tree named by its release, read in *jobs* processes.  A build whose content digest is stored already
    is skipped (unless *force*); each build is recorded in a transaction of its own, replacing exactly the build
    its tree held; one that fails to read is reported and recorded nowhere."""
    from collectors import fleet
    from kb.store import builds as stored_builds
    from kb.vocab.kinds import KFUNC

    db = db or user_db()
    found = fleet.find(sources)
    if not found:
        raise fleet.BuildError(f"{', '.join(sources)}: no kernel build found (no vmlinuz*, vmlinux*, bzImage*, *.btf "
                               "or *.btf.tar.xz, no extracted kernel package)")
    stored = {} if force else stored_builds.stored(db)
    done: list[ProbedBuild] = []

    def finish(build: ProbedBuild) -> None:
        done.append(build)
        if each:
            each(build)
        if progress:
            progress(len(done), len(found))

    pending = []
    for build in found:
        fingerprint = fleet.collector(build).fingerprint()
        if fingerprint in stored:
            finish(ProbedBuild(build.path, "skipped", stored[fingerprint], dict(build.labels)))
        else:
            pending.append(build)
    for outcome in fleet.read_all(pending, jobs):
        if outcome.facts is None:
            finish(ProbedBuild(outcome.build.path, "failed", labels=dict(outcome.build.labels), error=outcome.error))
            continue
        facts = outcome.facts
        stored_builds.record(db, facts.tree, facts.releases[0].version, [facts])
        counts: dict[str, int] = {}
        for item in facts.items:
            counts[item.kind] = counts.get(item.kind, 0) + 1
        finish(ProbedBuild(outcome.build.path, "probed", facts.tree, dict(facts.labels), counts,
                           KFUNC in facts.covers, list(facts.warnings)))
    return BulkProbe(db, done)


def open_kb(db: str | None = None):
    from kb.store.kbase import open_kb as _open

    return _open(db or user_db())


@dataclass
class Export:
    tree: str
    data_version: str
    records: list[dict]
    scheme: str = MAINLINE
    releases: list[dict] = field(default_factory=list)


def export(*, db: str | None = None, tree: str | None = None, kind: str = "all") -> Export:
    """Every item of *tree* (of *kind*) as export records, with the tree's ordered releases; in a build or
    distribution tree, mainline's facts that do not depend on the build fill what its own sources do not give."""
    from kb.outputs import export as exporter
    from kb.store import queries

    conn = open_kb(db)
    name = queries.resolve_tree(conn, tree)
    wanted = None if kind == "all" else kind
    rows = queries.items(conn, name, wanted)
    mainline = {}
    if name != MAINLINE and MAINLINE in queries.tree_names(conn):
        mainline = {(i.kind, i.value): i for i in queries.items(conn, MAINLINE, wanted)}
    releases = [exporter.release(r) for r in queries.releases(conn, name)] or _window_releases(
        queries.items(conn, name) if wanted else rows)
    return Export(name, queries.tree_version(conn, name),
                  [exporter.record(i, mainline.get((i.kind, i.value))) for i in rows],
                  queries.tree_info(conn, name).scheme, releases)


def _window_releases(rows) -> list[dict]:
    """The releases a tree that lists none (the shipped mainline) names in its windows, in order."""
    named = {key: name for i in rows for w, keys in zip(i.windows, i.window_keys)
             for name, key in ((w.since, keys[0]), (w.until, keys[1])) if key}
    return [{"version": named[key], "key": [int(n) for n in key.split(".")], "sort_key": key, "base": named[key],
             "tag": None, "date": None, "uname": None} for key in sorted(named)]


def import_reference(reference_dir: str, header: str | None, out_dir: str, data_version: str,
                     libbpf: str | None = None, report: Callable[[str], None] | None = None) -> list[str]:
    """Rebuild the shipped ``data/`` text from the reference facts and a real header, and, given a libbpf
    repository, libbpf's section tables mined from its history.  The fleet of real builds shipped in
    ``<out_dir>/fleet/`` dates what the references do not (see collectors.fleet.date_by_builds); *report* is told
    how many items it dated."""
    from collectors.fleet import date_by_builds
    from collectors.reference import ReferenceError, read_reference
    from kb.store import shipped

    if not os.path.isdir(out_dir):
        raise ReferenceError(f"{out_dir}: no such directory")
    mined = None
    if libbpf:
        from collectors.libbpf_sections import LibbpfSectionsCollector

        if not LibbpfSectionsCollector.accepts(libbpf):
            raise ReferenceError(f"{libbpf}: not a libbpf repository (no src/libbpf.c at HEAD)")
        mined = LibbpfSectionsCollector(libbpf, tree=shipped.LIBBPF_TREE).collect()
    mainline = read_reference(reference_dir, header)
    dated = date_by_builds(mainline, shipped.load_fleet(out_dir))
    if report and dated:
        report(f"dated by the fleet: {dated['exact']} exactly, {dated['bounded']} between two releases "
               f"({dated['added']} items only builds know); {dated['removed']} windows closed")
    written = shipped.dump(mainline, out_dir, data_version)
    if mined is not None:
        written += shipped.dump_libbpf(mined, out_dir)
    return written


def import_fleet(manifest: str, out_dir: str, *, jobs: int = 2,
                 progress: Callable[[int, int], None] | None = None) -> list[str]:
    """Read every build a fleet manifest lists (extracted packages, with the sha256 of each .deb) and write their
    exact item sets as the shipped fleet, ``<out_dir>/fleet/``; nothing is written unless every build reads."""
    from collectors import fleet
    from collectors.reference import ReferenceError
    from kb.store import shipped

    if not os.path.isdir(out_dir):
        raise ReferenceError(f"{out_dir}: no such directory")
    builds = fleet.read_manifest(manifest)
    gathered = []
    for outcome in fleet.read_all(builds, jobs):
        if outcome.facts is None:
            raise ReferenceError(outcome.error)
        gathered.append(outcome.facts)
        if progress:
            progress(len(gathered), len(builds))
    return shipped.dump_fleet(gathered, out_dir)


def tables(*, db=None, tree=None, languages=None, output="kbgen-tables", check=False, prefix=None, depfile=None):
    """Write (or, with *check*, compare) the lookup tables of *tree*.  Writes nothing but its outputs: no cache, no
    directory for the user's database."""
    from kb.outputs.tables import generate
    from kb.store.kbase import open_kb as _open

    db = db or user_db(create=False)
    return generate(_open(db, cache=False), tree=tree, languages=languages or None, output=output, check=check,
                    prefix=prefix, depfile=depfile, user_db=db)


@dataclass
class ItemInfo:
    tree: str
    item: object  # queries.ItemRow
    docs: list
    relations: list
    disagreements: list
    verdict: object | None = None  # availability.Verdict on the kernel asked about
    where: object | None = None  # availability.Target: where that kernel was placed (approximate, beyond: why)


def info(query: str, *, db=None, tree=None, kernel: str | None = None) -> list[ItemInfo]:
    from kb.store import availability, queries

    conn = open_kb(db)
    where = availability.resolve(conn, kernel, tree) if kernel is not None else None
    name = where.tree if where else queries.resolve_tree(conn, tree)
    found = queries.find_item(conn, name, query)
    if not found and where is not None and where.tree != MAINLINE and tree is None:
        where = availability.mainline_stand_in(conn, where)  # the build or distribution tree does not list it
        name = where.tree
        found = queries.find_item(conn, name, query)
    if not found:
        from kb.store import resolve

        close = resolve.Resolver.of(conn, name).suggest(query)
        raise queries.QueryError(f"nothing named {query!r} in the {name} tree" + (
            f" (did you mean {', '.join(close)}?)" if close else " (try a helper id or a full name)"))
    return [
        ItemInfo(name, item, queries.helper_docs(conn, name, item.value) if item.kind == HELPER else [],
                 queries.relations(conn, name, item.kind, item.value),
                 queries.disagreements(conn, name, item.kind, item.value),
                 availability.judge(item, where) if where else None, where)
        for item in found
    ]


@dataclass
class Diff:
    tree: str
    old: str
    new: str
    arrived: list
    removed: list


def diff(old: str, new: str, *, db=None, tree=None, kind="all") -> Diff:
    from kb.store import availability, queries

    conn = open_kb(db)
    name = queries.resolve_tree(conn, tree)
    for kernel in (old, new):
        beyond = availability.target(conn, name, kernel).beyond
        if beyond:
            raise availability.TargetError(f"{kernel} is {beyond}: nothing can be said of what it has")
    arrived, removed = availability.between(conn, name, old, new)

    def keep(changes):
        return [c for c in changes if kind in ("all", c.item.kind)]

    return Diff(name, old, new, keep(arrived), keep(removed))


@dataclass
class CheckRow:
    query: str
    kind: str | None
    value: int | str | None
    name: str | None
    available: bool
    first_release: str | None
    removed_in: str | None
    reason: str


def check(kernel: str | None, names: list[str], *, db=None, tree=None) -> tuple[object, list[CheckRow]]:
    """Whether *kernel* has each of *names* (helpers, kfuncs, enumerators, features; ids for helpers).

    Rows come missing items first, in the order asked.
    """
    from kb.store import availability, queries

    conn = open_kb(db)
    where = availability.resolve(conn, kernel, tree) if kernel is not None else None
    name = where.tree if where else queries.resolve_tree(conn, tree)
    where = where or availability.target(conn, name, None)
    candidates = queries.items(conn, name)
    stand_in = availability.mainline_stand_in(conn, where)
    by_mainline: set[tuple] = set()
    if stand_in is not None:
        covered, mine = queries.covers(conn, name), {(i.kind, i.value) for i in candidates}
        extra = [i for i in queries.items(conn, MAINLINE) if i.kind not in covered and (i.kind, i.value) not in mine]
        by_mainline = {(i.kind, i.value) for i in extra}
        candidates += extra
    from kb.store.resolve import Resolver, newest_sections

    words, rows = Resolver(candidates, newest_sections(conn)), []
    for query in names:
        match = words.resolve(query)
        found = match.items
        if not found:
            close = f" (did you mean {', '.join(match.suggestions)}?)" if match.suggestions else ""
            rows.append(CheckRow(query, None, None, None, False, None, None, "unknown to the knowledge base" + close))
            continue
        for item in found:
            judged_by_mainline = (item.kind, item.value) in by_mainline
            verdict = availability.judge(item, stand_in if judged_by_mainline else where)
            reason = verdict.reason + (f" (judged by {MAINLINE}: tree {name} does not list it)"
                                       if judged_by_mainline else "")
            rows.append(CheckRow(query, item.kind, item.value, item.name, verdict.available, item.first_release,
                                 verdict.removed_in or item.removed_in, reason))
    rows.sort(key=lambda r: r.available)
    return where, rows


def scan(paths: list[str], *, kernel=None, tree=None, db=None, btf=None, trees=None, fleet=False):
    """The scan of *paths* against *kernel* in *tree* (kb.scan.ScanResult), with *btf* (a probe source) as the
    target's BTF; or, given several *trees* or *fleet* (every build), a matrix of objects x builds
    (kb.scan.fleet.FleetResult).  A build's BTF kept in the user's database (kb.store.btf_blobs) serves CO-RE."""
    from kb.store import btf_blobs

    path = db or user_db()

    def btf_of(name):
        return btf_blobs.load(path, name)

    conn = open_kb(db)
    if fleet or (trees and len(trees) > 1):
        from kb.scan import fleet as fleets

        names = list(trees or [])
        if fleet:
            names += [name for name in fleets.build_trees(conn) if name not in names]
        return fleets.scan_fleet(conn, paths, names, btf_of=btf_of)
    from kb.scan.judge import scan as run_scan

    return run_scan(conn, paths, kernel=kernel, tree=tree or (trees[0] if trees else None), btf=btf, btf_of=btf_of)


def publish(path: str, *, db=None, tree=None) -> str:
    """Write the database Datasette serves to *path*; returns the tree it publishes."""
    from kb.site import publish as publisher

    return publisher.build(open_kb(db), path, tree)


def serve(*, db=None, host="127.0.0.1", port=8001, tree=None, time_limit_ms=1000) -> None:
    from kb.site import serve as serving

    serving.serve(lambda path: publish(path, db=db, tree=tree), host=host, port=port, time_limit_ms=time_limit_ms)
