"""Mine a kernel tree's ``bpf.h`` history: first release, introducing commit and every name of each id.

How, and why it is cheap: one ``git log`` lists the revisions of the header (parents before children),
one ``git cat-file --batch-check`` maps every revision and release tag to the blob it holds, and each
distinct blob is read from the object database and parsed exactly once.  Nothing is checked out.

The introducing commit of an item is the first revision, in topological order, whose header has it.  On a
history with merges that is the commit on the side branch that added it, never the merge that brought it in
(git's default history simplification follows the branch the header came from).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

from collectors.facts import CollectedTree, HelperDocFact, Item, ItemName, Release
from collectors.header import HeaderFacts, HeaderParseError, parse_header
from collectors.helper_docs import HelperDocError, parse_helper_docs
from collectors.uapi import HEADER_PATH
from kb.versions import Version, VersionError

# Bump when parsing changes what a blob yields, so that a re-collect is not skipped as "nothing new".
PARSER_VERSION = "1"
DEFAULT_TAGS = "v*"


class CollectError(Exception):
    """Bad input to a collect run; the message names the repository, tag, commit or line."""


@dataclass
class _Revision:
    commit: str
    author: str
    date: str
    subject: str
    blob: str | None = None


@dataclass
class _Tag:
    name: str
    version: Version
    commit: str
    date: str
    blob: str | None = None


def _git(git_dir: str, *args: str, input: bytes | None = None) -> bytes:
    result = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], input=input, capture_output=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise CollectError(f"git {args[0]} failed in {git_dir}: {message[-1] if message else 'no message'}")
    return result.stdout


def open_repo(repo_path: str):
    """A gitpython Repo for a normal clone or a bare repository."""
    import git  # gitpython: only the collect path pays for importing it

    if not os.path.exists(repo_path):
        raise CollectError(f"{repo_path}: no such directory")
    try:
        return git.Repo(repo_path, search_parent_directories=False)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise CollectError(f"{repo_path}: not a git repository") from None


def _release_tags(git_dir: str, pattern: str, with_rc: bool) -> list[_Tag]:
    out = _git(
        git_dir,
        "for-each-ref",
        "refs/tags",
        "--format=%(refname:short)%1f%(objectname)%1f%(*objectname)%1f%(creatordate:iso-strict)%1f%(objecttype)"
        "%1f%(*objecttype)",
    )
    tags: dict[Version, _Tag] = {}
    for line in out.decode().splitlines():
        name, obj, peeled, date, kind, peeled_kind = line.split("\x1f")
        if not fnmatch.fnmatchcase(name, pattern):
            continue
        if (peeled_kind or kind) != "commit":
            continue  # linux's v2.6.11 tags a tree, not a commit
        try:
            version = Version.parse(name)
        except VersionError:
            continue
        # "v2.6.11-tree" and the like are not releases; neither are rcs unless asked for.
        if version.suffix or (version.is_rc and not with_rc):
            continue
        tag = _Tag(name, version, peeled or obj, date)
        # Two tags for one version (v1.0 and v1.0.0): keep the one that sorts first by name, deterministically.
        if version not in tags or name < tags[version].name:
            tags[version] = tag
    return [tags[v] for v in sorted(tags)]


def _revisions(git_dir: str, starts: list[str], path: str) -> list[_Revision]:
    out = _git(
        git_dir, "log", "--topo-order", "--reverse", "--format=%H%x1f%an%x1f%aI%x1f%s%x1e", *starts, "--", path
    )
    revisions = []
    for record in out.decode(errors="replace").split("\x1e"):
        record = record.strip("\n")
        if record:
            commit, author, date, subject = record.split("\x1f", 3)
            revisions.append(_Revision(commit, author, date, subject))
    return revisions


def _blob_ids(git_dir: str, commits: list[str], path: str) -> dict[str, str | None]:
    """commit -> blob of *path* in it (None where the commit has no such file), in one git call."""
    unique = list(dict.fromkeys(commits))
    request = "".join(f"{c}:{path}\n" for c in unique).encode()
    lines = _git(git_dir, "cat-file", "--batch-check", input=request).decode().splitlines()
    blobs = {}
    for commit, line in zip(unique, lines):
        fields = line.split()
        blobs[commit] = fields[0] if len(fields) == 3 and fields[1] == "blob" else None
    return blobs


def fingerprint(repo_path: str, *, path=HEADER_PATH, tags=DEFAULT_TAGS, rev="HEAD", with_rc=False) -> str:
    """What a collect run depends on; equal fingerprints mean a re-collect would find nothing new."""
    repo = open_repo(repo_path)
    git_dir = repo.git_dir
    head = _resolve(git_dir, rev)
    refs = _git(git_dir, "for-each-ref", "refs/tags", "--format=%(refname)%1f%(objectname)")
    digest = hashlib.sha256()
    for part in (PARSER_VERSION, path, tags, str(with_rc), head, refs.decode()):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()


def default_tree_name(repo_path: str) -> str:
    """The repository directory's name: ``linux`` for ``~/src/linux`` or ``linux.git``."""
    return os.path.basename(os.path.abspath(repo_path).rstrip(os.sep)).removesuffix(".git") or repo_path


def _resolve(git_dir: str, rev: str) -> str:
    try:
        return _git(git_dir, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except CollectError:
        raise CollectError(f"{git_dir}: revision {rev!r} does not exist") from None


def collect_git(
    repo_path: str,
    *,
    tree: str | None = None,
    path: str = HEADER_PATH,
    tags: str = DEFAULT_TAGS,
    rev: str = "HEAD",
    with_rc: bool = False,
    progress: Callable[[int, int], None] | None = None,
    known_fingerprint: str | None = None,
) -> CollectedTree:
    """Mine *repo_path*.  *known_fingerprint*: the :func:`fingerprint` the caller already computed."""
    # Taken before reading anything, so that a commit landing mid-run makes the next run look again.
    fingerprint_value = known_fingerprint or fingerprint(repo_path, path=path, tags=tags, rev=rev, with_rc=with_rc)
    repo = open_repo(repo_path)
    git_dir = repo.git_dir
    head = _resolve(git_dir, rev)
    repo_label = default_tree_name(repo_path)
    tree = tree or repo_label

    all_tags = _release_tags(git_dir, tags, with_rc)
    if not all_tags:
        raise CollectError(f"{repo_path}: no tag matches {tags!r} (use --tags to name the release tags)")
    revisions = _revisions(git_dir, [head, *dict.fromkeys(t.commit for t in all_tags)], path)
    blob_of = _blob_ids(git_dir, [r.commit for r in revisions] + [t.commit for t in all_tags] + [head], path)
    for r in revisions:
        r.blob = blob_of[r.commit]
    for t in all_tags:
        t.blob = blob_of[t.commit]
    head_blob = blob_of[head]
    if not any(t.blob for t in all_tags):
        raise CollectError(f"{repo_path}: {path} is missing at every tag matching {tags!r}")

    # Name each blob by where it first appears, so that a parse error says which tag or commit to look at.
    where: dict[str, str] = {}
    for t in all_tags:
        if t.blob:
            where.setdefault(t.blob, f"tag {t.name}")
    for r in revisions:
        if r.blob:
            where.setdefault(r.blob, f"commit {r.commit[:12]}")
    if head_blob:
        where.setdefault(head_blob, f"{rev} ({head[:12]})")
    parsed = _parse_blobs(repo, where, path, progress)

    return _assemble(
        tree=tree,
        repo_path=os.path.abspath(repo_path),
        repo_label=repo_label,
        path=path,
        tags_pattern=tags,
        head=head,
        head_blob=head_blob,
        tags_found=all_tags,
        revisions=revisions,
        parsed=parsed,
        docs=_docs(repo, head_blob, where, path),
        fingerprint_value=fingerprint_value,
    )


def _read_blob(repo, blob: str) -> bytes:
    return repo.odb.stream(bytes.fromhex(blob)).read()


def _parse_blobs(repo, where: dict[str, str], path: str, progress) -> dict[str, HeaderFacts]:
    parsed: dict[str, HeaderFacts] = {}
    total = len(where)
    for done, (blob, label) in enumerate(where.items(), 1):
        try:
            parsed[blob] = parse_header(_read_blob(repo, blob))
        except HeaderParseError as err:
            raise CollectError(f"{path} at {label}: {err}") from None
        if progress:
            progress(done, total)
    return parsed


def _docs(repo, head_blob: str | None, where: dict[str, str], path: str) -> list[HelperDocFact]:
    if not head_blob:
        return []
    try:
        docs = parse_helper_docs(_read_blob(repo, head_blob))
    except HelperDocError as err:
        raise CollectError(f"{path} at {where.get(head_blob, 'HEAD')}: helper documentation: {err}") from None
    return docs


def _assemble(
    *, tree, repo_path, repo_label, path, tags_pattern, head, head_blob, tags_found, revisions, parsed, docs,
    fingerprint_value,
) -> CollectedTree:
    source = f"git:{repo_label}@{head[:12]}:{path}"
    collected = CollectedTree(
        name=tree,
        kind="git",
        source=source,
        source_description=f"mined from the history of {path} in {repo_path} at {head}",
        repo=repo_path,
        path=path,
        tag_pattern=tags_pattern,
        head_commit=head,
        fingerprint=fingerprint_value,
    )

    # First appearance of every (kind, value) and of every (kind, value, name), in topological order.
    # A blob seen before adds nothing: all it holds was recorded at the earlier revision that had it.
    first_commit: dict[tuple, _Revision] = {}
    names_of: dict[tuple, dict[str, tuple[tuple, _Revision | None]]] = {}
    aliases: set[tuple] = set()
    # Nor does a revision whose regions parsed to the very same objects as an earlier one's.
    seen: set = set()
    for order, revision in enumerate(revisions):
        if not revision.blob or revision.blob in seen or parsed[revision.blob].signature in seen:
            continue
        seen.update((revision.blob, parsed[revision.blob].signature))
        for position, (kind, value, name, alias_of) in enumerate(parsed[revision.blob].items()):
            first_commit.setdefault((kind, value), revision)
            # Names first seen together rank the plain spelling before its alias, then by header order.
            rank = (order, bool(alias_of), position)
            names_of.setdefault((kind, value), {}).setdefault(name, (rank, revision))
            if alias_of:
                aliases.add((kind, value, name))

    first_release: dict[tuple, str] = {}
    first_rc: dict[tuple, str] = {}
    name_release: dict[tuple, str] = {}
    for tag in tags_found:
        version = tag.name[1:] if tag.name[:1] in "vV" else tag.name
        if not tag.version.is_rc:
            collected.releases.append(
                Release(version, tag.version.sort_key, tag.name, tag.commit, tag.date, bool(tag.blob))
            )
        if not tag.blob:
            continue
        present: set[tuple] = set()  # an alias names a value twice in one header
        for kind, value, name, alias_of in parsed[tag.blob].items():
            if tag.version.is_rc:
                first_rc.setdefault((kind, value), version)
                continue
            if (kind, value) not in present:
                present.add((kind, value))
                collected.presence.append((kind, value, version))
            first_release.setdefault((kind, value), version)
            name_release.setdefault((kind, value, name), version)
            # A name only a tag shows (its revision lies outside the walked history) still counts, last.
            names_of.setdefault((kind, value), {}).setdefault(name, ((len(revisions), bool(alias_of), 0), None))
            if alias_of:
                aliases.add((kind, value, name))

    newest_blob = head_blob or next((t.blob for t in reversed(tags_found) if t.blob), None)
    at_newest: dict[tuple, list[str]] = {}
    for kind, value, name, _alias in parsed[newest_blob].items() if newest_blob else ():
        at_newest.setdefault((kind, value), []).append(name)

    for kind, value in sorted(set(first_release) | set(at_newest)):
        names = sorted((order, name, revision) for name, (order, revision) in names_of[(kind, value)].items())
        introduced = first_commit.get((kind, value))
        collected.items.append(
            Item(
                kind=kind,
                value=value,
                name=_current_name(names, at_newest.get((kind, value))),
                first_release=first_release.get((kind, value)),
                first_rc=first_rc.get((kind, value)),
                introduced_by=introduced.commit if introduced else None,
                subject=introduced.subject if introduced else None,
                author=introduced.author if introduced else None,
                date=introduced.date if introduced else None,
                names=[
                    ItemName(
                        name,
                        revision.commit if revision else None,
                        name_release.get((kind, value, name)),
                        (kind, value, name) in aliases,
                    )
                    for _order, name, revision in names
                ],
                present_at_head=(kind, value) in at_newest,
            )
        )
    collected.helper_docs = _doc_facts(docs, collected.items)
    collected.docs_source = source if docs else None
    return collected


def _current_name(names: list[tuple[tuple, str, _Revision | None]], at_newest: list[str] | None) -> str:
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


def _doc_facts(docs, items: list[Item]) -> list[HelperDocFact]:
    value_of = {n.name: i.value for i in items if i.kind == "helper" for n in i.names}
    facts: list[HelperDocFact] = []
    variants: dict[int, int] = {}
    for doc in docs:
        value = value_of.get(doc.name)
        if value is None:
            continue
        variants[value] = variants.get(value, -1) + 1
        facts.append(
            HelperDocFact(value, doc.name, variants[value], doc.signature, doc.description, doc.returns, doc.attributes)
        )
    return facts
