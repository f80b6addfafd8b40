"""Write a file so that readers see the old content or the new, never half of it."""

from __future__ import annotations

import os
import tempfile


class OutputError(Exception):
    """A file could not be written; the message names it."""


def write_atomic(path: str, content: str | bytes) -> None:
    write_all_atomic({path: content})


def write_all_atomic(files: dict[str, str | bytes]) -> None:
    """Write every file to a temporary beside it first; only when all are written are they renamed in."""
    staged: list[tuple[str, str]] = []
    try:
        for path, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            directory = os.path.dirname(os.path.abspath(path))
            try:
                fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
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
        for tmp, path in staged:
            try:
                os.replace(tmp, path)
            except OSError as err:
                raise OutputError(f"{path}: cannot write ({err.strerror})") from None
    finally:
        for tmp, _path in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
