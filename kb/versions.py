"""One parser for every kernel and library version string the knowledge base meets.

``5.15.0-91-generic``, ``6.1.0-13-amd64``, ``5.14.0-427.13.1.el9_4.x86_64``, ``v5.19-rc3`` and
``0.8.0`` all become a :class:`Version`.  Comparison is numeric on (major, minor, patch) and puts a
release candidate below its release; a distribution suffix is kept for display but plays no part in
mainline comparison, because a distribution kernel's features are its own tree's business.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_VERSION_RE = re.compile(
    r"""^\s*v?
    (?P<major>\d+)\.(?P<minor>\d+)(?:\.(?P<patch>\d+))?
    (?:-?rc(?P<rc>\d+))?
    (?P<suffix>[-+._~].*)?\s*$""",
    re.VERBOSE,
)

# A final release sorts above all of its release candidates.
_FINAL = 999


class VersionError(ValueError):
    """A string that is not a version."""


@dataclass(frozen=True, order=True)
class Version:
    major: int
    minor: int
    patch: int = 0
    rc: int = _FINAL
    suffix: str = field(default="", compare=False)
    text: str = field(default="", compare=False)  # as given, for display

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION_RE.match(text or "")
        if not match:
            raise VersionError(f"not a version: {text!r} (expected e.g. 5.15, 5.15.0-91-generic, v5.19-rc3)")
        return cls(
            int(match["major"]),
            int(match["minor"]),
            int(match["patch"] or 0),
            int(match["rc"]) if match["rc"] else _FINAL,
            match["suffix"] or "",
            text.strip(),
        )

    @property
    def is_rc(self) -> bool:
        return self.rc != _FINAL

    @property
    def release(self) -> Version:
        """The version without its distribution suffix (what mainline comparison uses)."""
        return Version(self.major, self.minor, self.patch, self.rc)

    @property
    def sort_key(self) -> int:
        """An integer that orders versions in SQL the way :class:`Version` orders them in Python."""
        return ((self.major * 1000 + self.minor) * 1000 + self.patch) * 1000 + self.rc

    def short(self) -> str:
        """``5.19``, ``5.19.3``, ``5.19-rc1``: the form the knowledge base stores."""
        text = f"{self.major}.{self.minor}"
        if self.patch:
            text += f".{self.patch}"
        if self.is_rc:
            text += f"-rc{self.rc}"
        return text

    def __str__(self) -> str:
        return self.text or self.short() + self.suffix


def sort_key(text: str | None) -> int | None:
    """Sort key of a stored version string, ``None`` for an unknown release."""
    return None if text is None else Version.parse(text).sort_key
