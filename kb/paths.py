"""Where kbgen keeps things by default."""

from __future__ import annotations

import os
from pathlib import Path


def user_db() -> str:
    """The user's knowledge base: ``$KBGEN_DB``, else ``$XDG_DATA_HOME/kbgen/kb.db`` (~/.local/share)."""
    if os.environ.get("KBGEN_DB"):
        return os.environ["KBGEN_DB"]
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return str(Path(base) / "kbgen" / "kb.db")


DEFAULT_TABLES_DIR = "kbgen-tables"
