"""The one check every name passes before a generator writes it into code: an identifier, in every language.

Names come from inputs (a header's enumerators, a build's BTF, a live probe), and an input may carry anything:
a newline, a quote, a backslash.  Every generator (C, the bpftool-style macros, Python, Go, Rust, the JSON
tables) takes names only through :func:`identifiers` (or :func:`is_identifier`), so a name that is no identifier
is skipped, with a warning naming it, and never reaches generated code.  Feature slugs (``isa.jmp32_v3``) are
identifiers joined by dots.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# ASCII only, bounded: what C, C++, Go, Rust and Python all accept as an identifier (a dotted slug for features).
MAX_LENGTH = 128
_IDENTIFIER_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SLUG_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def is_identifier(name: object, *, dotted: bool = False) -> bool:
    """Whether *name* may be written into generated code: an ASCII identifier (with *dotted*, identifiers joined by
    dots) of at most :data:`MAX_LENGTH` characters."""
    if not isinstance(name, str) or len(name) > MAX_LENGTH:
        return False
    return (_SLUG_RE if dotted else _IDENTIFIER_RE).fullmatch(name) is not None


def identifiers(names: Iterable[str], what: str, *, dotted: bool = False) -> list[str]:
    """The names that pass :func:`is_identifier`, in order; a warning for each one skipped."""
    from kb.vocab.warnings import warn

    kept = []
    for name in names:
        if is_identifier(name, dotted=dotted):
            kept.append(name)
        else:
            warn(f"{what} {name!r} is not an identifier: left out of the generated code")
    return kept


def c_part(name: str) -> str:
    """A name as a part of a C identifier that reserves nothing: no leading underscore and no double underscore
    (C reserves ``__x`` and ``_X``, C++ any name holding ``__``): ``__bpf_trap`` -> ``bpf_trap``, dots -> ``_``."""
    return re.sub(r"_+", "_", name.replace(".", "_")).strip("_")
