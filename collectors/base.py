"""What a collector is, and which collectors there are.

A collector reads one kind of outside source and returns :class:`kb.vocab.facts.Facts`: plain facts with
their provenance, never formatted, never written anywhere.  The store replaces what an earlier run of the
same source said about the same tree; the merged view reconciles the sources of a tree.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol

from kb.vocab.facts import Facts

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

    repository = Repository(repo)
    found = []
    for path in REPOSITORY_COLLECTORS:
        cls = _load(path)
        if cls.accepts(repository, **options):
            found.append(cls(repository, **options))
    return found
