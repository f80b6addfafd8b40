"""String literals of generated code: printable ASCII kept, quotes and backslashes escaped, everything else in each
language's escape, so that no text from an input (a tree's name, a release, a data version) ends a literal."""

from __future__ import annotations


def _literal(text: str, escape) -> str:
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(escape(char))
    return '"' + "".join(out) + '"'


def c_string(text: str) -> str:
    """A C string literal (octal escapes of the UTF-8 bytes; ``?`` escaped against trigraphs)."""
    return _literal(text, lambda char: "".join(f"\\{b:03o}" for b in char.encode("utf-8"))).replace("?", "\\?")


def go_string(text: str) -> str:
    """A Go interpreted string literal."""
    return _literal(text, lambda char: "".join(f"\\x{b:02x}" for b in char.encode("utf-8")))


def rust_string(text: str) -> str:
    """A Rust string literal."""
    return _literal(text, lambda char: f"\\u{{{ord(char):x}}}")
