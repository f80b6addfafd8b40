"""Read the helper documentation block of ``bpf.h`` the way the kernel's ``scripts/bpf_doc.py`` does.

The block starts after the line ``Start of BPF helper function descriptions:``; each helper is a prototype
line (`` * void *bpf_map_lookup_elem(struct bpf_map *map, const void *key)``), a ``Description`` section,
a ``Return`` section and, in newer headers, an ``Attributes`` section (headers before 5.17 leave out the
Description or Return of some helpers, which the kernel's scripts/bpf_helpers_doc.py of that time read as
empty: so does this); section bodies are indented one
level deeper than their title, and a bare `` *`` line is a blank line inside them.  The regular
expressions are bpf_doc.py's, so whatever the kernel's own documentation build accepts, this accepts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOC_START = "Start of BPF helper function descriptions:"

# bpf_doc.py: a return type, a name, and one to five arguments ("void", "type name", "type *name",
# with optional const/struct, or "..." for bpf_trace_printk).
_PROTO_RE = re.compile(r" \* ?((.+) \**\w+\((((const )?(struct )?(\w+|\.\.\.)( \**\w+)?)(, )?){1,5}\))$")
_NAME_RE = re.compile(r"(.+?) (\**)(\w+)\(")
_SECTION_BODY_RE = re.compile(r" \* ?(?:\t| {5,8})(?:\t| {8})(.*)")


def _section_title_re(title: str) -> re.Pattern:
    return re.compile(r" \* ?(?:\t| {5,8})" + title + "$")


_DESCRIPTION_RE = _section_title_re("Description")
_RETURN_RE = _section_title_re("Return")
_ATTRIBUTES_RE = _section_title_re("Attributes")


class HelperDocError(ValueError):
    def __init__(self, message: str, line: int):
        self.line = line
        super().__init__(f"line {line}: {message}")


@dataclass(frozen=True)
class HelperDoc:
    name: str  # without the bpf_ prefix, as the FN() list spells it
    signature: str  # the prototype line, e.g. "long bpf_tail_call(void *ctx, ...)"
    description: str
    returns: str
    attributes: str = ""
    line: int = 0


class _Reader:
    def __init__(self, lines: list[str], start: int, first_line: int):
        self.lines = lines
        self.index = start
        self.first_line = first_line  # line number of lines[0] in the header

    @property
    def line(self) -> str:
        return self.lines[self.index] if self.index < len(self.lines) else ""

    @property
    def number(self) -> int:
        return self.first_line + self.index

    def advance(self) -> str:
        self.index += 1
        return self.line


def _section(reader: _Reader, title_re: re.Pattern, title: str, proto: str) -> str:
    if not title_re.match(reader.line):
        return ""
    text = ""
    present = False
    while True:
        line = reader.advance()
        if line == " *":
            text += "\n"
            continue
        capture = _SECTION_BODY_RE.match(line)
        if not capture:
            break
        present = True
        text += capture.group(1) + "\n"
    if not present:
        raise HelperDocError(f"empty {title} section for {proto}", reader.number)
    return text


def parse_helper_docs(source: str | bytes) -> list[HelperDoc]:
    """Every documented helper in header order; an empty list for headers older than the doc block."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    start = source.find(DOC_START)
    if start < 0:
        return []
    lines = source[start:].split("\n")
    first_line = source.count("\n", 0, start) + 1
    # bpf_doc.py skips the title line and the blank line after it.
    reader = _Reader(lines, 2, first_line)
    docs = []
    while True:
        proto_match = _PROTO_RE.match(reader.line)
        if not proto_match:
            break
        proto = proto_match.group(1)
        line_number = reader.number
        reader.advance()
        description = _section(reader, _DESCRIPTION_RE, "Description", proto)
        returns = _section(reader, _RETURN_RE, "Return", proto)
        attributes = _section(reader, _ATTRIBUTES_RE, "Attributes", proto)
        name = _NAME_RE.match(proto).group(3)
        docs.append(
            HelperDoc(
                name=name.removeprefix("bpf_"),
                signature=proto,
                description=description.strip("\n"),
                returns=returns.strip("\n"),
                attributes=attributes.strip("\n"),
                line=line_number,
            )
        )
    if reader.line.strip() not in ("*/", ""):
        raise HelperDocError(f"cannot read helper prototype {reader.line.strip()!r}", reader.number)
    return docs
