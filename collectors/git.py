"""Read a git repository's objects directly, through gitpython: tags, the history of one path, the blob a
commit holds at a path, blob contents.  Nothing is checked out.

The one git layer of the collectors.  Blobs are read through two ``git cat-file`` processes gitpython starts
and keeps for the run: one ``--batch-check`` process names the blob of every commit, one ``--batch`` process
streams each distinct blob once.  Requests are written in pipelined chunks: gitpython's own object database
asks one object at a time and waits for each answer, which cost 0.44 s of a 1 s collect of libbpf's history.
The history of a path is one ``git log``.

Git output is read as bytes, in NUL-separated records, and decoded field by field: a commit subject may
hold any byte.  A tag whose name is not UTF-8 cannot be named in the knowledge base; it is warned about
and skipped.

The questions a no-op re-collect asks (where the git directory is, which commit a revision is, what the tags
are, whether the clone is shallow) are answered by plain ``git`` processes, before gitpython is imported:
importing it costs more than the whole answer (see bench/bench_collect.py).  So is the listing of a path's
history (one ``git log``), which a collector can start before the run imports gitpython
(:meth:`Repository.start_revisions`).
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from dataclasses import dataclass

from kb.vocab.errors import KbgenError
from kb.vocab.warnings import warn

# Far above any file a collector reads (bpf.h is 0.3 MB, libbpf.c 0.5 MB); a blob beyond it is refused
# before it is read, so that a hostile repository cannot make a collect hold gigabytes.
MAX_BLOB_SIZE = 64 << 20
# Requests written before their answers are read.  Each is under 120 bytes, so a chunk stays far below a pipe's
# buffer and git never waits on a reader that is still writing; one round trip per request cost 0.4 s a history.
_PIPELINE = 256
_TAGS_PREFIX = b"refs/tags/"
_TAG_FIELDS = ("%(refname)", "%(objectname)", "%(*objectname)", "%(creatordate:iso-strict)", "%(objecttype)",
               "%(*objecttype)")
_LISTING_ARGS = ("for-each-ref", "--format=" + "%00".join(_TAG_FIELDS) + "%00", "refs/tags")
_LOG_FIELDS = ("%H", "%an", "%aI", "%s")
_COMMIT_RE = re.compile(rb"[0-9a-f]{40}|[0-9a-f]{64}")


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


def _field(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


class Repository:
    """One git repository, read-only.  Answers are taken once per instance: an instance serves one run."""

    def __init__(self, path: str, *, rev: str | None = None):
        """Asked, with *rev*, what that revision is and what the tags are (:meth:`ask_early`) at once, while git
        says where the repository's git directory is."""
        if not os.path.exists(path):
            raise CollectError(f"{path}: no such directory")
        self.path = path
        self._git_dir: str | None = None  # "": the path is no repository
        self._git_dir_process = self._popen(["git", "-C", path, "rev-parse", "--absolute-git-dir"])
        self._early: dict[tuple, subprocess.Popen] = {}  # git arguments -> the process ask_early started
        if rev is not None:
            self.ask_early(rev)
        self._repo = None
        self._tag_listing: bytes | None = None
        self._tags: list[TagRef] | None = None
        self._resolved: dict[str, str] = {}
        self._sizes: dict[str, int] = {}
        self._cat: dict = {}  # cat-file option -> gitpython's process
        self._started: tuple | None = None  # (starts, path, the git log process) of start_revisions

    def __getstate__(self) -> dict:
        # A collector handed to a worker process travels without the gitpython repository: the persistent
        # cat-file processes stay with this process, the worker opens its own.  It may be pickled while this
        # process reads on (a pool pickles in a thread of its own): nothing that reading changes travels.  The git
        # directory travels resolved (a collector's start() has asked for it by then: the wait is no wait).
        return dict(self.__dict__, _git_dir=self.git_dir, _git_dir_process=None, _repo=None, _sizes={}, _cat={},
                    _started=None, _early={})

    @property
    def git_dir(self) -> str:
        """The repository's git directory; a path that is no git repository is refused here, at the first question
        that needs it."""
        self._settle_git_dir()
        if not self._git_dir:
            raise CollectError(f"{self.path}: not a git repository")
        return self._git_dir

    def _settle_git_dir(self) -> None:
        """Take rev-parse's answer, once."""
        if self._git_dir_process is not None:
            out, _err = self._git_dir_process.communicate()
            found = self._git_dir_process.returncode == 0 and out.strip()
            self._git_dir = os.fsdecode(out.rstrip(b"\n")) if found else ""
            self._git_dir_process = None

    @property
    def label(self) -> str:
        """The repository directory's name: ``linux`` for ``~/src/linux`` or ``linux.git``."""
        return os.path.basename(os.path.abspath(self.path).rstrip(os.sep)).removesuffix(".git") or self.path

    # -- plain git processes: the cheap questions ---------------------------------------------------------

    def _popen(self, command: list[str]) -> subprocess.Popen:
        try:
            return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except OSError as err:
            raise CollectError(f"{self.path}: cannot run git ({err.strerror})") from None

    def _run(self, *args: str, quiet: bool = False) -> bytes | None:
        process = self._early.pop(args, None) or self._popen(["git", f"--git-dir={self.git_dir}", *args])
        out, err = process.communicate()
        if process.returncode != 0:
            _ = self.git_dir  # an early question of a path that is no repository fails: git_dir says so
            if quiet:
                return None
            raise CollectError(f"git {args[0]} failed in {self.path}: {_last_line(err)}")
        return out

    def ask_early(self, rev: str) -> None:
        """Start the questions every collector's fingerprint asks (what *rev* is, what the tags are) now, each in
        its own git process: they run while the caller loads its collectors (a no-op re-collect's git time).  They
        name the repository by its path, so that they need not wait for :attr:`git_dir`."""
        for args in (_resolve_args(rev), _LISTING_ARGS):
            if args not in self._early:
                self._early[args] = self._popen(["git", "-C", self.path, *args])

    def resolve(self, rev: str) -> str:
        if rev not in self._resolved:
            out = self._run(*_resolve_args(rev), quiet=True)
            if not out or not _COMMIT_RE.fullmatch(out.strip()):
                raise CollectError(f"{self.path}: revision {rev!r} does not exist")
            self._resolved[rev] = out.strip().decode()
        return self._resolved[rev]

    def has_file(self, rev: str, path: str) -> bool:
        return self._run("cat-file", "-e", "--end-of-options", f"{rev}:{path}", quiet=True) is not None

    def _listing(self) -> bytes:
        if self._tag_listing is None:
            self._tag_listing = self._run(*_LISTING_ARGS)
        return self._tag_listing

    def refs_digest(self) -> str:
        """What the tags are now; a new or moved tag changes it.  The tags are read here, before a run forks its
        collectors, so that a name that must be skipped is warned about once."""
        self.tags()
        return hashlib.sha256(self._listing()).hexdigest()

    def tags(self) -> list[TagRef]:
        """Every tag that names a commit (linux's v2.6.11 tags a tree: not a release).  A tag whose name is
        not UTF-8 is warned about, once per instance, and skipped."""
        if self._tags is None:
            self._tags = []
            for record in self._listing().split(b"\0\n"):
                if not record:
                    continue
                fields = record.split(b"\0")
                if len(fields) != len(_TAG_FIELDS) or not fields[0].startswith(_TAGS_PREFIX):
                    raise CollectError(f"{self.path}: cannot read the tag list at {_field(record[:80])!r}")
                raw_name, obj, peeled, date, kind, peeled_kind = fields
                try:
                    name = raw_name[len(_TAGS_PREFIX):].decode("utf-8")
                except UnicodeDecodeError:
                    shown = raw_name[len(_TAGS_PREFIX):].decode("utf-8", errors="backslashreplace")
                    warn(f"{self.path}: tag {shown} is not UTF-8; skipped")
                    continue
                if (peeled_kind or kind) == b"commit":
                    self._tags.append(TagRef(name, (peeled or obj).decode("ascii"), _field(date)))
        return self._tags

    # -- through gitpython --------------------------------------------------------------------------------

    @property
    def repo(self):
        """The gitpython repository, opened on first use."""
        if self._repo is None:
            import git

            try:
                self._repo = git.Repo(self.path, odbt=git.GitCmdObjectDB, search_parent_directories=True)
            except git.GitError as err:
                raise CollectError(f"{self.path}: cannot open the repository ({err})") from None
        return self._repo

    def close(self) -> None:
        """End the persistent ``cat-file`` processes and any early question or history listing nobody read; take
        rev-parse's answer if nobody asked for it either, so that no git process outlives the run."""
        for process in self._cat.values():
            process.proc.stdin.close()
            process.proc.kill()
            process.proc.wait()
        self._cat = {}
        listing = [self._started[2]] if self._started else []  # a history listing revisions() never read
        for early in [*self._early.values(), *listing]:
            early.kill()
            early.communicate()
        self._early, self._started = {}, None
        self._settle_git_dir()
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def is_shallow(self) -> bool:
        """A shallow clone: its history stops at grafted commits, so what looks first may not be."""
        return (self._run("rev-parse", "--is-shallow-repository") or b"").strip() == b"true"

    def _log_command(self, starts: list[str], path: str) -> list[str]:
        return ["log", "-z", "--topo-order", "--reverse", "--format=" + "%x00".join(_LOG_FIELDS), *starts, "--", path]

    def start_revisions(self, starts: list[str], path: str) -> None:
        """Start listing the history of *path* now, in the plain git process :meth:`revisions` reads: started before
        the run imports gitpython (0.08 s), the listing (0.07 s of libbpf's history) runs meanwhile."""
        process = self._popen(["git", f"--git-dir={self.git_dir}", *self._log_command(starts, path)])
        self._started = (tuple(starts), path, process)

    def revisions(self, starts: list[str], path: str) -> list[Revision]:
        """Commits that changed *path*, reachable from *starts*, parents before children."""
        started, self._started = self._started, None
        if started is None or started[:2] != (tuple(starts), path):
            if started is not None:  # a listing of something else: not wanted
                started[2].kill()
                started[2].wait()
            self.start_revisions(starts, path)
            started, self._started = self._started, None
        out, err = started[2].communicate()
        if started[2].returncode != 0:
            raise CollectError(f"git log failed in {self.path}: {_last_line(err)}")
        fields = out.split(b"\0")
        if fields[-1] == b"":
            fields.pop()
        width = len(_LOG_FIELDS)
        revisions = []
        for at in range(0, len(fields), width):
            record = fields[at:at + width]
            if len(record) != width or not _COMMIT_RE.fullmatch(record[0]):
                raise CollectError(f"{self.path}: cannot read the history of {path} at record {at // width + 1}")
            commit, author, date, subject = record
            revisions.append(Revision(commit.decode("ascii"), _field(author), _field(date), _field(subject)))
        return revisions

    def _cat_file(self, option: str):
        """gitpython's ``git cat-file`` process for *option* (``--batch-check``, ``--batch``), started once and kept:
        its pipes are read in pipelined chunks, not one request and answer at a time (see :data:`_PIPELINE`)."""
        if option not in self._cat:
            import git

            try:
                self._cat[option] = self.repo.git.cat_file(option, as_process=True, istream=subprocess.PIPE)
            except git.GitError as err:
                raise CollectError(f"{self.path}: cannot run git cat-file ({err})") from None
        return self._cat[option].proc

    def _asked(self, option: str, requests: list[str]):
        """Yield (request, answer line, stdout) per request; for ``--batch`` the caller reads the content."""
        proc = self._cat_file(option)
        for at in range(0, len(requests), _PIPELINE):
            chunk = requests[at:at + _PIPELINE]
            try:
                proc.stdin.write(b"".join(r.encode() + b"\n" for r in chunk))
                proc.stdin.flush()
            except OSError:
                raise CollectError(f"{self.path}: git cat-file {option} ended early") from None
            for request in chunk:
                answer = proc.stdout.readline()
                if not answer.endswith(b"\n"):
                    raise CollectError(f"{self.path}: git cat-file {option} ended early at {request}")
                yield request, answer.split(), proc.stdout

    def blob_ids(self, commits: list[str], path: str) -> dict[str, str | None]:
        """commit -> blob of *path* in it (None where the commit has no such file), from ``cat-file --batch-check``."""
        if "\n" in path or "\0" in path:
            raise CollectError(f"{self.path}: cannot read path {path!r}")
        blobs: dict[str, str | None] = {}
        commits = list(dict.fromkeys(commits))
        for request, answer, _out in self._asked("--batch-check", [f"{c}:{path}" for c in commits]):
            commit = request[: -len(path) - 1]
            # "<commit>:<path> missing" where the commit has no such file (the path may hold spaces: look at the end)
            if len(answer) != 3 or answer[-1] == b"missing" or answer[1] != b"blob":
                blobs[commit] = None
                continue
            blobs[commit] = answer[0].decode("ascii")
            self._sizes[blobs[commit]] = int(answer[2])
        return blobs

    def read_blobs(self, blobs: list[str]):
        """Yield (blob, content) for each distinct blob, in order, from ``cat-file --batch``.

        A blob larger than :data:`MAX_BLOB_SIZE` is refused, before its content is read where
        :meth:`blob_ids` saw its size.
        """
        blobs = list(dict.fromkeys(blobs))
        for blob in blobs:
            if self._sizes.get(blob, 0) > MAX_BLOB_SIZE:
                raise self._too_large(blob, self._sizes[blob])
        for blob, answer, out in self._asked("--batch", blobs):
            if len(answer) != 3 or not answer[2].isdigit():
                raise CollectError(f"{self.path}: cannot read blob {blob}")
            kind, size = answer[1], int(answer[2])
            if kind != b"blob" or size > MAX_BLOB_SIZE:
                self.close()  # the rest of the answer is never read: the process goes, not its pipe's backlog
                if kind != b"blob":
                    raise CollectError(f"{self.path}: {blob} is a {_field(kind)}, not a blob")
                raise self._too_large(blob, size)
            content = out.read(size)
            if len(content) != size or out.read(1) != b"\n":
                raise CollectError(f"{self.path}: git cat-file --batch ended early in blob {blob}")
            yield blob, content

    def _too_large(self, blob: str, size: int) -> CollectError:
        return CollectError(f"{self.path}: blob {blob} holds {size} bytes, more than the {MAX_BLOB_SIZE} a "
                            "collector reads")


def _resolve_args(rev: str) -> tuple[str, ...]:
    return ("rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}")


def load_gitpython() -> None:
    """Import gitpython now: a run about to fork its collectors loads it once, for every worker to inherit."""
    import git  # noqa: F401


def _last_line(stderr: bytes) -> str:
    lines = stderr.decode(errors="replace").strip().splitlines()
    return lines[-1] if lines else "no message"
