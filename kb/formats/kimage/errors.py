"""The one error kernel image reading reports, and the message-only error its parts raise."""

from __future__ import annotations

from kb.vocab.errors import KbgenError


class KernelImageError(KbgenError):
    """A file that holds no readable kernel BTF; the message is one line naming the file and the offset."""


class FormatError(ValueError):
    """Raised by the parts, which do not know the file's name; :func:`read_kernel_btf` adds it."""


def one_line(text: object) -> str:
    """An exception's text, folded onto one line."""
    return " ".join(str(text).split())
