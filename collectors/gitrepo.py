"""Read a git repository's objects directly: refs, history of one path, blobs.  Nothing is checked out.

Shared by the collectors that mine git history.  One ``git`` process per question: one ``for-each-ref``
for the tags, one ``log`` for the history of a path, one ``cat-file --batch-check`` for the blob every
commit holds; blobs are read through gitpython's object database (a persistent ``cat-file --batch``).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass

from kb.vocab.errors import KbgenError


class CollectError(KbgenError):
    """Bad input to a collect run; the message names the repository, tag, commit or line."""


@dataclass
class Revision:
    commit: str
    author: str
    date: str
    subject: str
    blob: str | None = None


@dataclass
class TagRef:
    name: str
    commit: str
    date: str


class Repository:
    def __init__(self, path: str):
        if not os.path.exists(path):
            raise CollectError(f"{path}: no such directory")
        import git  # gitpython: only collecting pays for importing it

        self.path = path
        try:
            self.repo = git.Repo(path, search_parent_directories=False)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise CollectError(f"{path}: not a git repository") from None
        self.git_dir = self.repo.git_dir

    @property
    def label(self) -> str:
        """The repository directory's name: ``linux`` for ``~/src/linux`` or ``linux.git``."""
        return os.path.basename(os.path.abspath(self.path).rstrip(os.sep)).removesuffix(".git") or self.path

    def git(self, *args: str, input: bytes | None = None) -> bytes:
        result = subprocess.run(["git", f"--git-dir={self.git_dir}", *args], input=input, capture_output=True,
                                check=False)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip().splitlines()
            raise CollectError(f"git {args[0]} failed in {self.path}: {message[-1] if message else 'no message'}")
        return result.stdout

    def resolve(self, rev: str) -> str:
        try:
            return self.git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
        except CollectError:
            raise CollectError(f"{self.path}: revision {rev!r} does not exist") from None

    def tags(self) -> list[TagRef]:
        """Every tag that names a commit (linux's v2.6.11 tags a tree: not a release)."""
        out = self.git(
            "for-each-ref", "refs/tags",
            "--format=%(refname:short)%1f%(objectname)%1f%(*objectname)%1f%(creatordate:iso-strict)%1f%(objecttype)"
            "%1f%(*objecttype)",
        )
        found = []
        for line in out.decode().splitlines():
            name, obj, peeled, date, kind, peeled_kind = line.split("\x1f")
            if (peeled_kind or kind) == "commit":
                found.append(TagRef(name, peeled or obj, date))
        return found

    def refs_digest(self) -> str:
        return hashlib.sha256(self.git("for-each-ref", "refs/tags", "--format=%(refname)%1f%(objectname)")).hexdigest()

    def revisions(self, starts: list[str], path: str) -> list[Revision]:
        """Commits that changed *path*, reachable from *starts*, parents before children."""
        out = self.git("log", "--topo-order", "--reverse", "--format=%H%x1f%an%x1f%aI%x1f%s%x1e", *starts, "--", path)
        revisions = []
        for record in out.decode(errors="replace").split("\x1e"):
            record = record.strip("\n")
            if record:
                commit, author, date, subject = record.split("\x1f", 3)
                revisions.append(Revision(commit, author, date, subject))
        return revisions

    def blob_ids(self, commits: list[str], path: str) -> dict[str, str | None]:
        """commit -> blob of *path* in it (None where the commit has no such file)."""
        unique = list(dict.fromkeys(commits))
        if not unique:
            return {}
        request = "".join(f"{c}:{path}\n" for c in unique).encode()
        lines = self.git("cat-file", "--batch-check", input=request).decode().splitlines()
        blobs = {}
        for commit, line in zip(unique, lines):
            fields = line.split()
            blobs[commit] = fields[0] if len(fields) == 3 and fields[1] == "blob" else None
        return blobs

    def read_blob(self, blob: str) -> bytes:
        try:
            return self.repo.odb.stream(bytes.fromhex(blob)).read()
        except Exception as err:  # noqa: BLE001 - gitdb's BadObject and friends share no narrower base
            raise CollectError(f"{self.path}: cannot read blob {blob} ({err})") from None
