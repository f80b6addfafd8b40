"""Write files so that readers see the old set or the new one, never half of either.

Each file is first written in full to a temporary beside it (``.NAME.PID.kbgen-tmp``).  A set of several
files is then committed through a journal (``.kbgen-journal``, listing the renames): once the journal is on
disk the renames happen, then the journal goes.  A run killed midway leaves either no journal (the old set,
plus temporaries the next run removes) or a journal the next run in that directory completes.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

from kb.vocab.errors import KbgenError

TMP_SUFFIX = ".kbgen-tmp"
JOURNAL = ".kbgen-journal"


class OutputError(KbgenError):
    """A file could not be written; the message names it."""


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
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not (name.startswith(".") and name.endswith(TMP_SUFFIX)):
            continue
        pid = name[: -len(TMP_SUFFIX)].rsplit(".", 1)[-1]
        if pid.isdigit() and not _pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def write_all_atomic(files: dict[str, str | bytes]) -> None:
    """Stage every file, then replace them all (through a journal when there are several)."""
    staged: list[tuple[str, str]] = []
    journal = None
    committed = False  # a file of the set was replaced: from here a failure leaves the journal for recover()
    try:
        for path, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            directory = os.path.dirname(os.path.abspath(path))
            prefix = f".{os.path.basename(path)}."
            try:
                fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=f".{os.getpid()}{TMP_SUFFIX}", dir=directory)
            except OSError as err:
                raise OutputError(f"{path}: cannot write ({err.strerror})") from None
            staged.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.chmod(tmp, 0o644)
            except OSError as err:
                raise OutputError(f"{path}: cannot write ({err.strerror})") from None
        if len(staged) > 1:
            journal = os.path.join(os.path.dirname(os.path.abspath(staged[0][1])), JOURNAL)
            try:
                with open(journal, "w", encoding="utf-8") as handle:
                    handle.write("".join(f"{tmp}\t{path}\n" for tmp, path in staged))
                    handle.flush()
                    os.fsync(handle.fileno())
            except OSError as err:
                raise OutputError(f"{journal}: cannot write ({err.strerror})") from None
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
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
                if os.path.exists(tmp):
                    os.unlink(tmp)


@contextmanager
def atomic_stream(path: str):
    """A text stream that becomes *path* only if the block completes: for output written as it is produced."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=f".{os.getpid()}{TMP_SUFFIX}",
                                   dir=directory)
    except OSError as err:
        raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
