"""Write files so that readers see the old set or the new one, never half of either.

Each file is first written in full to a temporary beside it (``.NAME.XXXX.PID.kbgen-tmp``).  A set of several
files is then committed through a journal (``.kbgen-journal``, listing the renames): once the journal is on
disk the renames happen, then the journal goes.  A run killed midway leaves either no journal (the old set,
plus temporaries the next run removes) or a journal the next run in that directory completes.

Temporaries are removed on SIGINT, SIGTERM and SIGHUP: with :func:`on_signals` installed (the command line
does), the handler removes every temporary this process has open and raises an exception that unwinds
through the writers and transactions; SIGKILL leaves them to the next run writing into that directory.

One rule for every output (``-o``, ``--db``): its directory must exist.  kbgen creates no parent directories
(a typo would otherwise leave a tree of them); only an output directory itself (``tables -o DIR``) is created.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

from kb.vocab.errors import KbgenError

TMP_SUFFIX = ".kbgen-tmp"
JOURNAL = ".kbgen-journal"
# The signals after which this process's temporaries are removed before it dies.
CLEANUP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)

# Every temporary this process is writing: what a signal handler removes.
_open: set[str] = set()
# The process that installed the handlers (a forked worker inherits them).
_owner: int | None = None


class OutputError(KbgenError):
    """A file could not be written; the message names it."""


def output_directory(path: str, doing: str = "write") -> str:
    """The directory *path* is to be written in, which must exist (the rule of every output)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise OutputError(f"{path}: cannot {doing}: {_missing(directory)}")
    return directory


def make_output_directory(directory: str) -> None:
    """An output directory (``tables -o DIR``), created when missing if its own directory exists."""
    if os.path.isdir(directory):
        return
    output_directory(directory, "create the output directory")
    try:
        os.mkdir(directory)
    except OSError as err:
        raise OutputError(f"{directory}: cannot create the output directory ({err.strerror})") from None


def _missing(directory: str) -> str:
    problem = "is not a directory" if os.path.exists(directory) else "does not exist"
    return f"{directory} {problem} (kbgen creates no directory but an output directory itself)"


class Interrupted(BaseException):
    """Ctrl-C, as the handler :func:`on_signals` installs raises it: it unwinds like KeyboardInterrupt (every
    writer removes its temporary, a transaction rolls back) but is not click's to turn into "Aborted!"."""


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised by the handler :func:`on_signals` installs, to unwind as :class:`Interrupted`
    does; the command line then dies of the signal (:func:`die_of`)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def on_signals() -> None:
    """For the command line: SIGINT raises :class:`Interrupted`, SIGTERM and SIGHUP :class:`Terminated`, once
    this process's temporaries are removed (should the unwinding not get that far).  Handlers someone else
    installed are left alone."""
    global _owner
    _owner = os.getpid()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupted)
    for signum in CLEANUP_SIGNALS:
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _terminated)


def _interrupted(signum, _frame) -> None:
    if os.getpid() != _owner:
        os._exit(128 + signum)  # a forked worker: its parent, interrupted too, reports it
    raise Interrupted


def _terminated(signum, _frame) -> None:
    if os.getpid() != _owner:  # a forked worker: its copy of the registry is its parent's
        die_of(signum)
    remove_open()
    raise Terminated(signum)


def die_of(signum: int) -> None:
    """End this process by *signum*, as it would have ended without a handler (the status a shell expects)."""
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)  # not reached


def remove_open() -> None:
    """Remove every temporary this process is writing (a set in progress is abandoned: the old one stays)."""
    for tmp in list(_open):
        _remove(tmp)


def _remove(tmp: str) -> None:
    _open.discard(tmp)
    try:
        os.unlink(tmp)
    except OSError:
        pass


def _temporary(path: str, directory: str) -> tuple[int, str]:
    """A new temporary beside *path*, registered for removal."""
    remove_stale(directory)
    import tempfile  # loaded by a run that writes: its imports (shutil, random, lzma) cost every start 4 ms

    # A signal handled between creating the file and registering it would leave it behind (its handler runs as soon
    # as the open returns, which is when someone watching for the file sends it): held off for that moment.
    held = signal.pthread_sigmask(signal.SIG_BLOCK, (signal.SIGINT, *CLEANUP_SIGNALS))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=f".{os.getpid()}{TMP_SUFFIX}",
                                   dir=directory)
        _open.add(tmp)
    except OSError as err:
        raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    return fd, tmp


def write_atomic(path: str, content: str | bytes) -> None:
    write_all_atomic({path: content})


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover(directory: str) -> None:
    """Finish a set a killed run had committed, and remove temporaries no live run owns."""
    journal = os.path.join(directory, JOURNAL)
    try:
        with open(journal, encoding="utf-8") as handle:
            renames = [line.rstrip("\n").split("\t") for line in handle if "\t" in line]
    except FileNotFoundError:
        renames = []
    except OSError as err:
        raise OutputError(f"{journal}: cannot read ({err.strerror})") from None
    try:
        for tmp, path in renames:
            if os.path.exists(tmp):
                os.replace(tmp, path)
        if renames or os.path.exists(journal):
            os.unlink(journal)
    except OSError as err:
        raise OutputError(f"{journal}: cannot finish the set of files it names ({err.strerror})") from None
    remove_stale(directory)


def remove_stale(directory: str) -> None:
    """Remove the temporaries of runs that were killed (their process is gone) from *directory*, but those a
    journal names: they are a committed set's, which recover() finishes."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    journaled = set()
    if JOURNAL in names:
        try:
            with open(os.path.join(directory, JOURNAL), encoding="utf-8") as handle:
                journaled = {os.path.basename(line.split("\t")[0]) for line in handle}
        except OSError:
            return
    for name in names:
        if not (name.startswith(".") and name.endswith(TMP_SUFFIX)) or name in journaled:
            continue
        pid = name[: -len(TMP_SUFFIX)].rsplit(".", 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() and not _pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _stage(path: str, data: bytes) -> str:
    """*data* written in full to a temporary beside *path*: its name."""
    fd, tmp = _temporary(path, output_directory(path))
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
    except OSError as err:
        _remove(tmp)
        raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def _write_journal(staged: list[tuple[str, str]]) -> str:
    journal = os.path.join(os.path.dirname(os.path.abspath(staged[0][1])), JOURNAL)
    try:
        with open(journal, "w", encoding="utf-8") as handle:
            handle.write("".join(f"{tmp}\t{path}\n" for tmp, path in staged))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise OutputError(f"{journal}: cannot write ({err.strerror})") from None
    return journal


def write_all_atomic(files: dict[str, str | bytes]) -> None:
    """Stage every file, then replace them all (through a journal when there are several)."""
    staged: list[tuple[str, str]] = []
    journal = None
    committed = False  # a file of the set was replaced: from here a failure leaves the journal for recover()
    try:
        for path, content in files.items():
            staged.append((_stage(path, content.encode("utf-8") if isinstance(content, str) else content), path))
        if len(staged) > 1:
            journal = _write_journal(staged)
            _open.difference_update(tmp for tmp, _path in staged)  # the journal's now: a signal must leave them
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
                _open.discard(tmp)
                committed = journal is not None
            except OSError as err:
                where = "; the next run in that directory finishes the set" if committed else ""
                raise OutputError(f"{path}: cannot write ({err.strerror}){where}") from None
        if journal:
            os.unlink(journal)
            journal = None
    finally:
        if not committed:
            if journal and os.path.exists(journal):
                os.unlink(journal)
            for tmp, _path in staged:
                _remove(tmp)


@contextmanager
def atomic_stream(path: str):
    """A text stream that becomes *path* only if the block completes: for output written as it is produced."""
    fd, tmp = _temporary(path, output_directory(path))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        _open.discard(tmp)
    except OSError as err:
        raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    finally:
        if tmp in _open:
            _remove(tmp)
