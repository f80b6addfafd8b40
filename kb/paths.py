"""Where kbgen keeps things by default."""

from __future__ import annotations

import os
from pathlib import Path


def user_db(*, create: bool = True) -> str:
    """The user's knowledge base: ``$KBGEN_DB``, else ``$XDG_DATA_HOME/kbgen/kb.db`` (~/.local/share).

    The default's directory, kbgen's own, is created here (unless not to *create* it); the directory of one
    named (``$KBGEN_DB``, ``--db``) must exist, as for every output.
    """
    if os.environ.get("KBGEN_DB"):
        return os.environ["KBGEN_DB"]
    directory = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "kbgen"
    if create:
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            pass  # writing the database says what is wrong
    return str(directory / "kb.db")


DEFAULT_TABLES_DIR = "kbgen-tables"
