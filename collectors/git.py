"""Read a git repository's objects directly: refs, history of one path, blobs.  Nothing is checked out.

Shared by the collectors that mine git history.  One ``git`` process per question: one ``for-each-ref``
for the tags, one ``log`` for the history of a path, one ``cat-file --batch-check`` for the blob every
commit holds, and one ``cat-file --batch`` that is handed every blob id at once and streams the contents
back (asking object by object would wait on a round trip per blob).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import threading
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
        self.path = path
        try:
            out = subprocess.run(["git", "-C", path, "rev-parse", "--absolute-git-dir"], capture_output=True,
                                 check=False)
        except OSError as err:
            raise CollectError(f"{path}: cannot run git ({err.strerror})") from None
        if out.returncode != 0 or not out.stdout.strip():
            raise CollectError(f"{path}: not a git repository")
        self.git_dir = out.stdout.decode().strip()

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

    def is_shallow(self) -> bool:
        """A shallow clone: its history stops at grafted commits, so what looks first may not be."""
        return self.git("rev-parse", "--is-shallow-repository").decode().strip() == "true"

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
        return next(self.read_blobs([blob]))[1]

    def read_blobs(self, blobs: list[str]):
        """Yield (blob, content) for every blob, in order, from one ``git cat-file --batch``."""
        if not blobs:
            return
        process = subprocess.Popen(["git", f"--git-dir={self.git_dir}", "cat-file", "--batch"], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)

        def ask():
            try:
                process.stdin.write("".join(f"{b}\n" for b in blobs).encode())
                process.stdin.close()
            except OSError:
                pass  # git stopped early; reading says why

        writer = threading.Thread(target=ask, daemon=True)
        writer.start()
        try:
            for blob in blobs:
                header = process.stdout.readline().split()
                if len(header) != 3 or header[1] != b"blob":
                    raise CollectError(f"{self.path}: cannot read blob {blob} ({b' '.join(header).decode()})")
                content = process.stdout.read(int(header[2]))
                process.stdout.read(1)  # the newline after the content
                yield blob, content
        finally:
            process.stdout.close()
            process.kill()
            process.wait()
            writer.join()
