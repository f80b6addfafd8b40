"""Record kernel builds, one or many, and compare a build with mainline: ``kbgen probe``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from kb.api._collect import CollectedSource, CollectResult
from kb.paths import user_db


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
