"""One parser for every kernel and library version string the knowledge base meets.

``5.15.0-91-generic``, ``6.1.0-13-amd64``, ``5.14.0-427.13.1.el9_4.x86_64``, ``v5.19-rc3`` and ``0.8.0``
all become a :class:`Version`.  Versions order numerically, an rc below its release, and distribution
numbers after the mainline part (5.14.0-284.el9 < 5.14.0-427.el9); :attr:`Version.base` is the mainline
release a version is compared with mainline facts as.  The key arithmetic is :mod:`kb.vocab.rules`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from kb.vocab import rules
from kb.vocab.errors import KbgenError

FINAL = rules.FINAL


class VersionError(KbgenError, ValueError):
    """A string that is not a version."""


@functools.total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    major: int
    minor: int
    patch: int = 0
    rc: int = FINAL
    suffix: str = ""
    text: str = field(default="", compare=False)  # as given, for display

    @classmethod
    def parse(cls, text: str) -> Version:
        try:
            key = rules.kernel_key(text or "", exact=False)
        except ValueError as err:
            raise VersionError(str(err)) from None
        match = rules._KERNEL_RE.match(text)
        return cls(*key, suffix=match.group(5) or "", text=text.strip())

    @property
    def key(self) -> tuple[int, ...]:
        """Mainline numbers, then the distribution numbers of the suffix: the order within any tree."""
        return rules.kernel_key(self.short() + self.suffix, exact=True)

    def __eq__(self, other) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def is_rc(self) -> bool:
        return self.rc != FINAL

    @property
    def base(self) -> Version:
        """The mainline release this version is compared with mainline facts as (no distribution suffix)."""
        return Version(self.major, self.minor, self.patch, self.rc)

    @property
    def sort_key(self) -> str:
        """A text that orders versions in SQL the way :class:`Version` orders them in Python."""
        return rules.key_text(self.key)

    def short(self) -> str:
        """``5.19``, ``5.19.3``, ``5.19-rc1``: the mainline part, as the knowledge base stores releases."""
        text = f"{self.major}.{self.minor}"
        if self.patch:
            text += f".{self.patch}"
        if self.is_rc:
            text += f"-rc{self.rc}"
        return text

    def __str__(self) -> str:
        return self.text or self.short() + self.suffix
