"""Every libbpf release's program section table, from ``src/libbpf.c`` at each release tag of a libbpf
repository (the GitHub mirror layout).

The file is read at every release tag through the git layer (:mod:`collectors.git`), each distinct blob is
parsed once by the format reader (:mod:`kb.formats.libbpf_source`); how a release matches section names
against its table is the vocabulary's (:mod:`kb.vocab.sections`).  ``bench/mine_libbpf_sections.py``
prints what the tables say.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collectors.git import CollectError, Repository
from kb.vocab import rules
from kb.vocab.kinds import TREE_GIT

if TYPE_CHECKING:
    from kb.vocab.facts import Facts
    from kb.vocab.sections import SectionDef, SectionTable
    from kb.vocab.versions import Version

# The facts, sections and versions are loaded by the steps that read: a no-op re-collect only fingerprints.

LIBBPF_C = "src/libbpf.c"
# Bump when parsing changes what a table yields.
PARSER_VERSION = "1"


@dataclass
class ReleaseTable:
    """One release tag's table: ``blob`` is ``None`` when the tag has no ``src/libbpf.c``; ``defs`` is empty
    when the file has no table."""

    tag: str
    version: Version
    commit: str
    date: str
    blob: str | None
    defs: list[SectionDef]

    @property
    def release(self) -> str:
        return self.tag.removeprefix("v")

    @property
    def table(self) -> SectionTable:
        from kb.vocab.sections import SectionTable

        return SectionTable(self.release, tuple(self.defs))


def release_tables(repository: Repository, tags: list[str] | None = None,
                   warnings: list[str] | None = None) -> list[ReleaseTable]:
    """``src/libbpf.c``'s table at every release tag (``v*`` tags that are versions, no rc) or at *tags*, in
    version order; each distinct blob read and parsed once.

    A release tag without the file or without a table, after one that had a table, is a warning in
    *warnings*: that release says nothing, it does not remove every entry.
    """
    from kb.formats.libbpf_source import SectionTableError, parse_section_defs  # not loaded by a no-op re-collect

    ordered = _release_tags(repository, tags)
    blob_of = repository.blob_ids([ref.commit for _version, ref in ordered], LIBBPF_C)
    where = {}
    for _version, ref in ordered:
        if blob_of[ref.commit]:
            where.setdefault(blob_of[ref.commit], ref.name)
    parsed: dict[str, list[SectionDef]] = {}
    for blob, content in repository.read_blobs(list(where)):
        try:
            parsed[blob] = parse_section_defs(content)
        except SectionTableError as exc:
            raise SectionTableError(f"{repository.path} {where[blob]}:{LIBBPF_C} line {exc.line}: {exc.detail}",
                                    exc.line, exc.detail) from None
    tables = [ReleaseTable(ref.name, version, ref.commit, ref.date, blob_of[ref.commit],
                           parsed.get(blob_of[ref.commit], [])) for version, ref in ordered]
    seen_table = None
    for table in tables:
        if table.defs:
            seen_table = table.tag
        elif seen_table and warnings is not None:
            lacks = "has no section table" if table.blob else "is missing"
            warnings.append(f"{repository.path}: {LIBBPF_C} {lacks} at tag {table.tag} (after {seen_table} had "
                            "one); that release is left out")
    return tables


def _release_tags(repository: Repository, tags: list[str] | None):
    from kb.vocab.versions import Version, VersionError

    refs = {ref.name: ref for ref in repository.tags()}
    if tags is None:
        candidates = [name for name in refs if name.startswith("v")]
    else:
        unknown = sorted(set(tags) - set(refs))
        if unknown:
            raise CollectError(f"{repository.path}: no tag {unknown[0]}")
        candidates = list(dict.fromkeys(tags))
    found = []
    for name in candidates:
        try:
            version = Version.parse(name)
        except VersionError:
            if tags is not None:
                raise CollectError(f"{repository.path}: tag {name!r} is not a version") from None
            continue
        if tags is None and (version.is_rc or version.suffix):
            continue
        found.append((version, refs[name]))
    return sorted(found, key=lambda pair: (pair[0], pair[1].name))


class LibbpfSectionsCollector:
    """Which release first understands each ``SEC()`` name, and as what program and attach type."""

    name = "libbpf-sections"
    reads = f"{LIBBPF_C} at every release tag of a libbpf repository"

    @classmethod
    def accepts(cls, repo: str | Repository, *, rev: str = "HEAD", **_options) -> bool:
        # The kernel carries libbpf in tools/lib/bpf, but its tags are kernel releases, not libbpf's.
        repository = repo if isinstance(repo, Repository) else Repository(repo)
        return repository.has_file(rev, LIBBPF_C)

    def __init__(self, repo: str | Repository, *, tree: str | None = None, rev: str = "HEAD", **_options):
        self.repository = repo if isinstance(repo, Repository) else Repository(repo)
        self.tree = tree or self.repository.label
        self.rev = rev
        self.source_id = f"git:{self.repository.label}:{LIBBPF_C}"

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for part in (PARSER_VERSION, self.repository.resolve(self.rev), self.repository.refs_digest()):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def collect(self, progress=None) -> Facts:
        from kb.vocab.facts import Facts, Release, SectionRule, Source
        from kb.vocab.releases import MAINLINE_SCHEME

        fingerprint = self.fingerprint()
        repository = self.repository
        head = repository.resolve(self.rev)
        warnings: list[str] = []
        try:
            tables = [t for t in release_tables(repository, warnings=warnings) if t.defs]
            shallow = repository.is_shallow()
        finally:
            repository.close()
        if not tables:
            raise CollectError(f"{repository.path}: no release tag has a section table in {LIBBPF_C}")
        if shallow:
            warnings.append(f"{repository.path}: a shallow clone: releases before {tables[0].tag} may be missing, "
                            "so a section name may have been understood before its first release here")
        elif len(tables) == 1:
            warnings.append(f"{repository.path}: only one release ({tables[0].tag}) has a section table in "
                            f"{LIBBPF_C}: every section name it understands is taken as arriving there")
        facts = Facts(
            tree=self.tree, tree_kind=TREE_GIT, collector=self.name, scheme=MAINLINE_SCHEME,
            source=Source(self.source_id, f"libbpf's section table in {LIBBPF_C}, mined from every release tag of "
                          f"{repository.path}", repository.path, LIBBPF_C, head),
            fingerprint=fingerprint, head_commit=head, warnings=warnings,
        )
        for table in tables:
            version = table.release
            facts.releases.append(Release(version, rules.key_text(rules.kernel_key(version)), str(table.version),
                                          table.tag, table.commit, table.date))
            facts.sections += [SectionRule(version, position, d) for position, d in enumerate(table.defs)]
        return facts
