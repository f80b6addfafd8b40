"""Mine a kernel tree's ``bpf.h`` history: for each id, the releases that have it, the commit that
introduced it and every name it carried.

How, and why it is cheap: one ``git log`` lists the revisions of the header (parents before children), the
git layer's persistent ``cat-file --batch-check`` maps every revision and release tag to the blob it holds,
and each distinct blob is read and parsed exactly once (:mod:`collectors.git`).  Nothing is checked out.

The introducing commit of an item is the first revision, in topological order, whose header has it.  On a
history with merges that is the commit on the side branch that added it, never the merge that brought it
in (git's default history simplification follows the branch the header came from).

Release tags are read by the release schemes of :mod:`kb.vocab.releases` (mainline, stable, Ubuntu, RHEL,
Debian, suffixed, or a ``--tag-pattern``).  A header that cannot be parsed at a commit that is no release
is skipped with a warning naming the commit; at a release tag it is an error.  A release tag without the
header, once an earlier release had it, is a warning naming the tag: that release tells nothing about the
items, it does not remove them.  A shallow clone, or a single release, is collected with a warning saying so.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from collectors.base import Progress
from collectors.git import CollectError, Repository, Revision, TagRef
from kb.vocab import rules
from kb.vocab.kinds import ENUM_KINDS, HELPER, SOURCE_GIT, TREE_GIT

if TYPE_CHECKING:
    from kb.formats.header import HeaderFacts, HeaderParseError
    from kb.vocab.facts import Facts, HelperDoc, Item, Release, Window
    from kb.vocab.releases import TagRelease

# The facts and the release schemes are loaded by the steps that read (their dataclasses cost a no-op re-collect,
# which only fingerprints, a fifth of its time): the collector itself imports what a fingerprint needs.

HEADER_PATH = "include/uapi/linux/bpf.h"
# Bump when parsing changes what a blob yields, so that a re-collect is not skipped as "nothing new".
PARSER_VERSION = "2"
# Debian's kernel packaging names the ABI its builds report (6.1.0-13-amd64) in this file.
DEBIAN_DEFINES = ("debian/config/defines", "debian/config/defines.toml")
_ABINAME_RE = re.compile(rb"^\s*abiname\s*[:=]\s*['\"]?(\d+)", re.MULTILINE)


@dataclass
class _Tag:
    ref: TagRef
    release: TagRelease
    blob: str | None = None

    @property
    def name(self) -> str:
        return self.ref.name


@dataclass
class _Appearances:
    """What the walk over revisions and release tags found, keyed by (kind, value)."""

    first_commit: dict[tuple, Revision] = field(default_factory=dict)
    names: dict[tuple, dict[str, tuple[tuple, Revision | None]]] = field(default_factory=dict)
    aliases: set[tuple] = field(default_factory=set)
    first_release: dict[tuple, str] = field(default_factory=dict)
    # rc tag version -> items (with --rc); like present, only for tags that have the header
    rc_present: dict[str, set[tuple]] = field(default_factory=dict)
    name_release: dict[tuple, str] = field(default_factory=dict)
    present: dict[str, set[tuple]] = field(default_factory=dict)  # release version -> items, where it has the header


class GitHistoryCollector:
    name = "git-history"
    reads = f"{HEADER_PATH} in every revision and at every release tag of a git repository"

    @classmethod
    def accepts(cls, repo: str | Repository, **_options) -> bool:
        return True

    def __init__(self, repo: str | Repository, *, tree: str | None = None, path: str | None = None,
                 tags: str | None = None, tag_pattern: str | None = None, rev: str = "HEAD", with_rc: bool = False):
        self.repository = repo if isinstance(repo, Repository) else Repository(repo)
        self.tree = tree or self.repository.label
        self.path = path or HEADER_PATH
        self.tags_glob = (tags,) if isinstance(tags, str) else tuple(tags or ())
        if tag_pattern:
            from kb.vocab.releases import TagPattern

            self.pattern = TagPattern(tag_pattern)
        else:
            self.pattern = None
        self.tag_pattern = tag_pattern
        self.rev = rev
        self.with_rc = with_rc
        self.source_id = f"{SOURCE_GIT}:{self.repository.label}:{self.path}"
        self._fingerprint: str | None = None  # computed once: before reading anything
        self._tags: list[_Tag] | None = None  # the release tags, where start() read them

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = self._compute_fingerprint()
        return self._fingerprint

    def _compute_fingerprint(self) -> str:
        head = self.repository.resolve(self.rev)
        digest = hashlib.sha256()
        for part in (PARSER_VERSION, self.path, "|".join(self.tags_glob), self.tag_pattern or "", str(self.with_rc),
                     head, self.repository.refs_digest()):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    # -- the steps of a run -------------------------------------------------------------------------------

    def release_tags(self) -> list[_Tag]:
        """The tags that are releases of this tree, in release order (rcs only with --rc).

        Sets :attr:`history_cut` when what is collected starts after the tree does: older releases of the same
        scheme left out by --tags, or a shallow clone.  Items present at the first collected release then have
        a first release no earlier than it, not that release.
        """
        from kb.vocab.releases import parse_tag, release_scheme_of

        parsed: list[_Tag] = []
        left_out: list[TagRelease] = []
        for ref in self.repository.tags():
            release = self.pattern.parse(ref.name) if self.pattern else parse_tag(ref.name)
            if release is None:
                continue
            if self.tags_glob and not any(fnmatch.fnmatchcase(ref.name, glob) for glob in self.tags_glob):
                left_out.append(release)
                continue
            parsed.append(_Tag(ref, release))
        scheme = release_scheme_of([t.release for t in parsed])
        by_key: dict[tuple, _Tag] = {}
        for tag in parsed:
            if tag.release.scheme != scheme or (tag.release.is_rc and not self.with_rc):
                continue
            # Two tags for one release (v1.0 and v1.0.0): keep the one that sorts first by name.
            known = by_key.get(tag.release.key)
            if known is None or tag.name < known.name:
                by_key[tag.release.key] = tag
        ordered = [by_key[key] for key in sorted(by_key)]
        first = next((t.release.key for t in ordered if not t.release.is_rc), None)
        self.shallow = self.repository.is_shallow()
        self.history_cut = self.shallow or any(
            r.scheme == scheme and not r.is_rc and first is not None and r.key < first for r in left_out)
        return ordered

    def start(self) -> None:
        """Start listing the header's history now (a plain git process), before the run imports gitpython."""
        head = self.repository.resolve(self.rev)
        self._tags = self.release_tags()
        if self._tags:
            self.repository.start_revisions([head, *dict.fromkeys(t.ref.commit for t in self._tags)], self.path)

    def collect(self, progress: Progress | None = None) -> Facts:
        try:
            return self._collect(progress)
        finally:
            self.repository.close()

    def _collect(self, progress: Progress | None) -> Facts:
        from kb.vocab.facts import Facts, Source

        # Taken before reading anything, so that a commit landing mid-run makes the next run look again.
        fingerprint = self.fingerprint()
        repo = self.repository
        head = repo.resolve(self.rev)
        tags = self._tags if self._tags is not None else self.release_tags()
        if not tags:
            what = f"matches {' or '.join(repr(g) for g in self.tags_glob)}" if self.tags_glob else "is a release"
            raise CollectError(f"{repo.path}: no tag {what} (name the release tags with --tags or --tag-pattern)")
        revisions = repo.revisions([head, *dict.fromkeys(t.ref.commit for t in tags)], self.path)
        blob_of = repo.blob_ids([r.commit for r in revisions] + [t.ref.commit for t in tags] + [head], self.path)
        for revision in revisions:
            revision.blob = blob_of[revision.commit]
        for tag in tags:
            tag.blob = blob_of[tag.ref.commit]
        if not any(t.blob for t in tags):
            raise CollectError(f"{repo.path}: {self.path} is missing at every release tag")
        warnings = self._history_warnings(tags)
        parsed, texts = self._parse_blobs(tags, revisions, blob_of[head], head, progress, warnings)
        found = _walk(revisions, tags, parsed)
        final = [t for t in tags if not t.release.is_rc]
        newest_blob = blob_of[head] if blob_of[head] in parsed else next(
            (t.blob for t in reversed(tags) if t.blob in parsed), None)
        facts = Facts(
            tree=self.tree,
            tree_kind=TREE_GIT,
            source=Source(self.source_id, f"mined from the history of {self.path} in {repo.path}", repo.path,
                          self.path, head),
            collector=self.name,
            scheme=tags[0].release.scheme,
            fingerprint=fingerprint,
            head_commit=head,
            tag_pattern=self.tag_pattern or " ".join(self.tags_glob) or None,
            releases=self._releases(final),
            covers=(HELPER, *ENUM_KINDS),
            warnings=warnings,
        )
        facts.items = _items(found, tags, parsed.get(newest_blob), cut=self.history_cut)
        facts.helper_docs = _docs(facts.items, [texts[b] for b in dict.fromkeys(
            [blob_of[head], *(t.blob for t in reversed(tags))]) if b in texts], self.path, warnings)
        return facts

    def _history_warnings(self, tags: list[_Tag]) -> list[str]:
        """What the history lacks, one line each: the header at a release tag after an earlier release had it (that
        release then tells nothing about the items; it does not remove them), older history (a shallow clone), a
        second release."""
        repo = self.repository.path
        warnings = []
        had = None
        for tag in tags:
            if tag.blob:
                had = tag.name
            elif had:
                warnings.append(f"{repo}: {self.path} is missing at tag {tag.name} (after {had} had it); that "
                                "release is taken to say nothing about the items, not to remove them")
        final = [t for t in tags if t.blob and not t.release.is_rc]
        if self.shallow:
            first = final[0].name if final else tags[0].name
            warnings.append(f"{repo}: a shallow clone: releases before {first} may be missing, so no item present "
                            f"at {first} gets a first release")
        elif len(final) == 1:
            warnings.append(f"{repo}: {self.path} is at one release only ({final[0].name}): every item it has is "
                            "taken as arriving there, and nothing can be seen leaving")
        return warnings

    def _parse_blobs(self, tags, revisions, head_blob, head, progress, warnings):
        """Every distinct blob read once and parsed once; the text of release and head blobs kept for the helper
        documentation (which only they can give)."""
        # Name each blob by where it first appears, so that an error says which tag or commit to look at.
        where: dict[str, str] = {}
        at_release: set[str] = set()
        for tag in tags:
            if tag.blob:
                where.setdefault(tag.blob, f"tag {tag.name}")
                at_release.add(tag.blob)
        for revision in revisions:
            if revision.blob:
                where.setdefault(revision.blob, f"commit {revision.commit[:12]}")
        if head_blob:
            where.setdefault(head_blob, f"{self.rev} ({head[:12]})")
        from kb.formats.header import HeaderParseError, parse_header  # not loaded by a no-op re-collect

        parsed: dict[str, HeaderFacts] = {}
        texts: dict[str, bytes] = {}
        for done, (blob, content) in enumerate(self.repository.read_blobs(list(where)), 1):
            label = where[blob]
            if blob in at_release or blob == head_blob:
                texts[blob] = content
            try:
                parsed[blob] = parse_header(content, lines=False)
            except HeaderParseError:
                err = _located_error(content)
                if blob in at_release:
                    raise CollectError(f"{self.path} at {label}: {err}") from None
                warnings.append(f"{self.path} at {label}: {err}; skipped that revision")
            if progress:
                progress(done, len(where))
        return parsed, texts

    def _releases(self, final: list[_Tag]) -> list[Release]:
        from kb.vocab.facts import Release
        from kb.vocab.releases import DEBIAN_SCHEME

        unames = self._debian_unames(final) if final and final[0].release.scheme == DEBIAN_SCHEME else {}
        return [
            Release(t.release.version, t.release.sort_key, str(t.release.base), t.name, t.ref.commit, t.ref.date,
                    bool(t.blob), unames.get(t.ref.commit))
            for t in final
        ]

    def _debian_unames(self, tags: list[_Tag]) -> dict[str, str]:
        """commit -> the kernel release string its builds report (6.1.0-13), from Debian's ABI name."""
        commits = [t.ref.commit for t in tags]
        blob_of: dict[str, str] = {}
        for path in DEBIAN_DEFINES:
            for commit, blob in self.repository.blob_ids(commits, path).items():
                if blob and commit not in blob_of:
                    blob_of[commit] = blob
        abinames = {}
        for blob, content in self.repository.read_blobs(list(dict.fromkeys(blob_of.values()))):
            match = _ABINAME_RE.search(content)
            if match:
                abinames[blob] = int(match.group(1))
        found = {}
        for tag in tags:
            abiname = abinames.get(blob_of.get(tag.ref.commit))
            if abiname is not None:
                major, minor = tag.release.key[:2]
                found[tag.ref.commit] = f"{major}.{minor}.0-{abiname}"
        return found


def _located_error(content: bytes) -> HeaderParseError:
    """The parse error of a header, its line counted (the fast parse leaves lines out)."""
    from kb.formats.header import HeaderParseError, parse_header

    try:
        parse_header(content)
    except HeaderParseError as err:
        return err
    return HeaderParseError("cannot be parsed")


def _docs(items: list[Item], texts: list[bytes], path: str, warnings: list[str]) -> list[HelperDoc]:
    """The newest documentation of each helper: from the newest header (texts newest first) that documents it."""
    from kb.formats.helper_docs import HelperDocError, parse_helper_docs
    from kb.vocab.facts import HelperDoc

    value_of = {n.name: i.value for i in items if i.kind == HELPER for n in i.names}
    wanted = {i.value for i in items if i.kind == HELPER and i.value != 0}
    docs: list[HelperDoc] = []
    done: set[int] = set()
    for text in texts:
        if not wanted - done:
            break
        try:
            found = parse_helper_docs(text)
        except HelperDocError as err:
            warnings.append(f"{path}: helper documentation: {err}; skipped that header's documentation")
            continue
        variants: dict[int, int] = {}
        for doc in found:
            value = value_of.get(doc.name)
            if value is None or value in done:
                continue
            variants[value] = variants.get(value, -1) + 1
            docs.append(HelperDoc(value, doc.name, variants[value], doc.signature, doc.description, doc.returns,
                                  doc.attributes))
        done |= set(variants)
    return docs


def _walk(revisions: list[Revision], tags: list[_Tag], parsed: dict[str, HeaderFacts]) -> _Appearances:
    found = _Appearances()
    # A region (an enum, the helper list) parsed before is the very same object (parsing is cached by text), and
    # adds nothing: all it holds was recorded at the earlier revision that had it.
    seen: set[tuple[str, int]] = set()
    for order, revision in enumerate(revisions):
        header = parsed.get(revision.blob)
        if header is None:
            continue
        for kind_order, (kind, (relative, _line)) in enumerate(header.regions.items()):
            if (kind, id(relative)) in seen:
                continue
            seen.add((kind, id(relative)))
            for position, e in enumerate(relative):
                found.first_commit.setdefault((kind, e.value), revision)
                # Names first seen together rank the plain spelling before its alias, then by header order.
                found.names.setdefault((kind, e.value), {}).setdefault(
                    e.name, ((order, bool(e.alias_of), kind_order, position), revision))
                if e.alias_of:
                    found.aliases.add((kind, e.value, e.name))
    # Likewise at the tags: a region a release tag showed before only says that the later release has its items.
    keys: dict[tuple[str, int], frozenset] = {}
    at_release: set[tuple[str, int]] = set()
    for tag in tags:
        header = parsed.get(tag.blob)
        version = tag.release.version
        if header is None:
            continue  # no header at that tag: no word on any item
        present = (found.rc_present if tag.release.is_rc else found.present).setdefault(version, set())
        for kind, (relative, _line) in header.regions.items():
            region = (kind, id(relative))
            if region not in keys:
                keys[region] = frozenset((kind, e.value) for e in relative)
            present |= keys[region]
            if tag.release.is_rc or region in at_release:
                continue
            at_release.add(region)
            for e in relative:
                found.first_release.setdefault((kind, e.value), version)
                found.name_release.setdefault((kind, e.value, e.name), version)
                # A name only a tag shows (its revision lies outside the walked history) still counts, last.
                found.names.setdefault((kind, e.value), {}).setdefault(
                    e.name, ((len(revisions), bool(e.alias_of), 0, 0), None))
                if e.alias_of:
                    found.aliases.add((kind, e.value, e.name))
    return found


def _windows(key: tuple, final: list[_Tag], present: dict[str, set[tuple]], cut: bool) -> list[Window]:
    """Runs of consecutive releases that have the item: a revert and re-add gives two windows.  Releases without
    the header are passed over.  Where the collected history is *cut* (older releases left out), a window open at
    the first release with the header starts unknown."""
    from kb.vocab.facts import Window

    windows: list[Window] = []
    since = None
    started = False
    first = True
    for tag in final:
        version = tag.release.version
        if version not in present:
            continue
        if key in present[version]:
            if not started:
                since, started = (None if cut and first else version), True
        elif started:
            windows.append(Window(since, version))
            started = False
        first = False
    if started:
        windows.append(Window(since))
    return windows


def _first_rc(key: tuple, first_release: str | None, rcs: list[_Tag], rc_present: dict[str, set]) -> str | None:
    """The first rc of the release an item first appears in that has it (only --rc collects rc tags)."""
    if first_release is None:
        return None
    base = rules.kernel_key(first_release)[:3]
    for tag in rcs:
        if tag.release.key[:3] == base and key in rc_present.get(tag.release.version, ()):
            return tag.release.version
    return None


def _items(found: _Appearances, tags: list[_Tag], newest: HeaderFacts | None, *, cut: bool) -> list[Item]:
    from kb.vocab.facts import Item, ItemName

    final = [t for t in tags if not t.release.is_rc]
    rcs = [t for t in tags if t.release.is_rc]
    first_known = next((t.release.version for t in final if t.release.version in found.present), None)
    at_newest: dict[tuple, list[str]] = {}
    for kind, value, name, _alias in newest.items() if newest else ():
        at_newest.setdefault((kind, value), []).append(name)
    items = []
    for key in sorted(set(found.first_release) | set(at_newest), key=lambda k: (k[0], isinstance(k[1], str), k[1])):
        kind, value = key
        names = sorted((order, name, revision) for name, (order, revision) in found.names[key].items())
        introduced = found.first_commit.get(key)
        windows = _windows(key, final, found.present, cut)
        first_release = windows[0].since if windows else None
        lower_bound = bool(windows) and first_release is None
        items.append(Item(
            kind=kind,
            value=value,
            name=_current_name(names, at_newest.get(key)),
            first_release=first_release,
            first_rc=_first_rc(key, first_release, rcs, found.rc_present),
            note=f"present at {first_known}, the first release collected; earlier releases were "
                 "not collected" if lower_bound else None,
            introduced_by=introduced.commit if introduced else None,
            subject=introduced.subject if introduced else None,
            author=introduced.author if introduced else None,
            date=introduced.date if introduced else None,
            names=[
                ItemName(name, revision.commit if revision else None, found.name_release.get((kind, value, name)),
                         (kind, value, name) in found.aliases)
                for _order, name, revision in names
            ],
            windows=windows,
            unreleased=not windows and key in at_newest,
        ))
    return items


def _current_name(names: list[tuple[tuple, str, Revision | None]], at_newest: list[str] | None) -> str:
    """The name a program uses today: of the names the newest header still has, the one it has had longest.

    A renamed helper keeps only its new name, so that is the one; an enum value with an alias
    (BPF_PROG_TEST_RUN and BPF_PROG_RUN) keeps its original spelling.
    """
    if at_newest:
        for _order, name, _revision in names:
            if name in at_newest:
                return name
        return at_newest[0]
    return names[-1][1]
