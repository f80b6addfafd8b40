"""Where kbgen keeps things by default."""

from __future__ import annotations

import os


def user_db(*, create: bool = True) -> str:
    """The user's knowledge base: ``$KBGEN_DB``, else ``$XDG_DATA_HOME/kbgen/kb.db`` (~/.local/share).

    The default's directory, kbgen's own, is created here (unless not to *create* it); the directory of one
    named (``$KBGEN_DB``, ``--db``) must exist, as for every output.
    """
    if os.environ.get("KBGEN_DB"):
        return os.environ["KBGEN_DB"]
    # os.path, not pathlib: every command asks for this, and pathlib's imports cost a no-op 4 ms
    data = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    directory = os.path.join(data, "kbgen")
    if create:
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError:
            pass  # writing the database says what is wrong
    return os.path.join(directory, "kb.db")


DEFAULT_TABLES_DIR = "kbgen-tables"
