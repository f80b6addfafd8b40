"""What a collector is, and which collectors there are.

A collector reads one kind of outside source and returns :class:`kb.vocab.facts.Facts`: plain facts with
their provenance, never formatted, never written anywhere.  The store replaces what an earlier run of the
same source said about the same tree; the merged view reconciles the sources of a tree.
"""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from kb.vocab.errors import KbgenError
from kb.vocab.kinds import MAINLINE

if TYPE_CHECKING:
    from kb.vocab.facts import Facts, Release

Progress = Callable[[int, int], None]


class Collector(Protocol):
    name: str  # "git-history"
    reads: str  # what it reads, for people: "include/uapi/linux/bpf.h at every release tag of a git repository"
    tree: str  # the tree its facts belong to
    source_id: str  # stable across runs of the same source: facts are replaced per (tree, source)

    @classmethod
    def accepts(cls, repo, **options) -> bool:
        """Whether *repo* (a path or a :class:`collectors.git.Repository`) has what this collector reads (a
        libbpf repository's src/libbpf.c, say)."""

    def fingerprint(self) -> str:
        """What a run depends on, cheaply computed; equal to the last run's means nothing new to find."""

    def collect(self, progress: Progress | None = None) -> Facts:
        """Read the source; raises a KbgenError naming the file, tag or offset on bad input."""

    # May also have start(self) -> None: called on the collector a run reads in its own process, before the run
    # imports gitpython and forks the others, so that a slow plain-git step can begin at once.


# Collectors of a git repository, in the order they run; each says whether the repository is for it.
REPOSITORY_COLLECTORS = (
    "collectors.git_history:GitHistoryCollector",
    "collectors.libbpf_sections:LibbpfSectionsCollector",
)


def _load(path: str):
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def for_repository(repo: str, **options) -> list[Collector]:
    """The collectors that have something to read in *repo*, set up with *options*.  They share one
    :class:`collectors.git.Repository`, so that a run lists the tags once."""
    from collectors.git import Repository

    repository = Repository(repo, rev=options.get("rev") or "HEAD")
    found = []
    try:
        for path in REPOSITORY_COLLECTORS:
            cls = _load(path)
            if cls.accepts(repository, **options):
                found.append(cls(repository, **options))
    except BaseException:
        repository.close()  # the git processes it started go with it
        raise
    return found


def close_repositories(collectors: list[Collector]) -> None:
    """End the git processes the collectors of a run hold, where the run ends before they read (a bad revision)."""
    for collector in collectors:
        repository = getattr(collector, "repository", None)
        if repository is not None:
            repository.close()


class CollectRefused(KbgenError):
    """What was read is not what the tree it was asked for holds."""


def kernel_like(releases: list[Release]) -> bool:
    """Whether the releases that have the header look like kernel releases (3.x and later: bpf.h arrived in 3.18),
    not a library's (libbpf 0.8, 1.4).  linux.git's 2.6 tags are releases too, but without the header."""
    return all(int(r.base.split(".")[0]) >= 3 for r in releases if r.has_header)


def _collect(collector: Collector) -> Facts:
    return collector.collect()


def _side_by_side(collectors: list[Collector], progress: Progress | None) -> list[Facts]:
    # multiprocessing and gitpython are loaded only here: a no-op re-collect gathers nothing and loads neither.
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        return [c.collect(progress) for c in collectors]
    from concurrent.futures import ProcessPoolExecutor

    from collectors.git import load_gitpython

    load_gitpython()  # once, here: the forked worker inherits it
    gc.freeze()  # the modules just loaded too (see gather)
    with ProcessPoolExecutor(len(collectors) - 1, mp_context=multiprocessing.get_context("fork")) as pool:
        others = [pool.submit(_collect, c) for c in collectors[1:]]
        return [collectors[0].collect(progress), *(future.result() for future in others)]


def gather(collectors: list[Collector], progress: Progress | None = None, *, force: bool = False) -> list[Facts]:
    """Every collector's facts, the first read here (with progress), the others at the same time in forked
    processes: a libbpf repository's bpf.h history and section tables are independent and each CPU-bound.

    A mainline tree is refused releases that are not kernel releases (a libbpf clone) unless *force*.
    """
    for collector in collectors[:1]:  # the one read here: what it starts runs while the others are forked
        if hasattr(collector, "start"):
            collector.start()
    # What is loaded by now (modules, the vocabulary) outlives the read.  Frozen while it reads, it is not walked by
    # the collections during the read (0.02-0.03 s of libbpf's 0.5 s collect), and a forked collector's collections
    # do not write to the pages it shares with this process (the gc module's advice); thawed after, for a caller
    # that lives on.
    gc.freeze()
    try:
        gathered = (_side_by_side(collectors, progress) if len(collectors) > 1
                    else [c.collect(progress) for c in collectors])
    finally:
        gc.unfreeze()
    for facts in gathered:
        if facts.tree == MAINLINE and facts.releases and not kernel_like(facts.releases) and not force:
            versions = ", ".join(r.version for r in facts.releases[:3])
            raise CollectRefused(
                f"{facts.source.id}: its releases ({versions}, ...) are not kernel releases; record them in another "
                "tree (--tree libbpf), or give --force to record them as mainline anyway")
    return gathered
