"""Moved to :mod:`kb.vocab.versions` (kept while code that names the old place is updated)."""

from kb.vocab.versions import Version, VersionError, sort_key  # noqa: F401
