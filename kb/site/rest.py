"""The reStructuredText of bpf.h's helper documentation, rendered as the kernel's man page renders it.

``scripts/bpf_doc.py`` copies each helper's Description and Return text as is into an RST document that
rst2man (docutils) turns into bpf-helpers(7).  This module renders the subset of RST that text uses the
way docutils does, as HTML: paragraphs; ``**strong**``, ``*emphasis*``, ````literal```` and `interpreted`
text (recognised only where RST recognises inline markup: after whitespace or opening punctuation,
before whitespace or closing punctuation); backslash escapes (``\\ `` vanishes: ``**bpf_probe_read**\\ ()``
reads ``bpf_probe_read()``); a paragraph ending in ``::`` introducing an indented literal block (a
paragraph that is only ``::`` disappears, ``text::`` keeps one colon); bullet lists; definition lists (a
line followed by indented lines: the flag lists); indented blocks as block quotes.  Tabs are 8 columns.
The helper prototype is set as bpf_doc.py sets it: bold, with the argument names in italics.
"""

from __future__ import annotations

import functools
import re

from markupsafe import Markup, escape

_BULLET = re.compile(r"^([*+\-\u2022])( +|$)")
_WS = frozenset(" \t\n")
_BEFORE_START = frozenset(" \t\n'\"([{<-/:\u2018\u201c")
_AFTER_END = frozenset(" \t\n'\")]}>-/:.,;!?\\\u2019\u201d")
_ESCAPED_SPACE = "\x00"  # a backslash-escaped space: renders as nothing, delimits markup as a space does


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _dedent(lines: list[str]) -> list[str]:
    widths = [_indent(line) for line in lines if line.strip()]
    cut = min(widths) if widths else 0
    return [line[cut:] for line in lines]


def _take_indented(lines: list[str], i: int) -> tuple[list[str], int]:
    """The indented block starting at *i* (blank lines inside it included), and where it ends."""
    block = []
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > 0):
        block.append(lines[i])
        i += 1
    while block and not block[-1].strip():
        block.pop()
    return _dedent(block), i


def _bullets(lines: list[str], i: int, marker: str) -> tuple[tuple, int]:
    """A bullet list of *marker* starting at *i*, and where it ends."""
    n, items = len(lines), []
    while i < n and (match := _BULLET.match(lines[i])) and match.group(1) == marker:
        body = [lines[i][match.end():]]
        i += 1
        while i < n and (not lines[i].strip() or _indent(lines[i]) > 0):
            if not lines[i].strip() and (i + 1 >= n or _indent(lines[i + 1]) == 0):
                break
            body.append(lines[i])
            i += 1
        items.append(_blocks([body[0]] + _dedent(body[1:])))
        while i < n and not lines[i].strip():
            i += 1
    return ("bullets", items), i


def _definitions(lines: list[str], term: str, i: int) -> tuple[tuple, int]:
    """A definition list whose first term is *term*, its body indented from *i*; consecutive items form one
    list.  Returns the list and where it ends."""
    n, entries = len(lines), []
    while True:
        body, i = _take_indented(lines, i)
        entries.append((term, _blocks(body)))
        j = i
        while j < n and not lines[j].strip():
            j += 1
        if j + 1 < n and _indent(lines[j]) == 0 and lines[j + 1].strip() and _indent(lines[j + 1]) > 0 \
                and not _BULLET.match(lines[j]):
            term, i = lines[j], j + 1
            continue
        return ("dl", entries), i


def _paragraph(lines: list[str], para: list[str], i: int) -> tuple[list[tuple], int]:
    """A paragraph, and the literal block its ending ``::`` introduces; and where they end."""
    nodes, n = [], len(lines)
    text = "\n".join(para)
    literal = text.endswith("::")
    if literal:
        text = text[:-2].rstrip() if text[:-2].endswith((" ", "\n")) or text.strip() == "::" else text[:-1]
    if text.strip():
        nodes.append(("p", text))
    if literal:
        j = i
        while j < n and not lines[j].strip():
            j += 1
        if j < n and _indent(lines[j]) > 0:
            block, i = _take_indented(lines, j)
            nodes.append(("literal", "\n".join(block)))
    return nodes, i


def _blocks(lines: list[str]) -> list[tuple]:
    """Parse lines (at indentation 0) into block nodes."""
    nodes: list[tuple] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if _indent(line) > 0:
            block, i = _take_indented(lines, i)
            nodes.append(("quote", _blocks(block)))
            continue
        bullet = _BULLET.match(line)
        if bullet:
            node, i = _bullets(lines, i, bullet.group(1))
            nodes.append(node)
            continue
        para = [line]
        i += 1
        while i < n and lines[i].strip() and _indent(lines[i]) == 0:
            para.append(lines[i])
            i += 1
        if i < n and lines[i].strip() and len(para) == 1:
            # A line followed at once by indented lines: a definition list item.
            node, i = _definitions(lines, para[0], i)
            nodes.append(node)
            continue
        found, i = _paragraph(lines, para, i)
        nodes += found
    return nodes


def _tokens(text: str) -> list[tuple[str, bool]]:
    """(character, escaped) pairs; a backslash-escaped whitespace becomes one escaped marker character."""
    tokens, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            following = text[i + 1]
            tokens.append((_ESCAPED_SPACE if following in _WS else following, True))
            i += 2
        else:
            tokens.append((text[i], False))
            i += 1
    return tokens


def _is(tokens, k: int, char: str) -> bool:
    return 0 <= k < len(tokens) and tokens[k] == (char, False)


def _starts(tokens, k: int, width: int) -> bool:
    before = tokens[k - 1][0] if k > 0 else " "
    after = tokens[k + width][0] if k + width < len(tokens) else " "
    return (before in _BEFORE_START or before == _ESCAPED_SPACE) and after not in _WS and after != _ESCAPED_SPACE


def _ends(tokens, k: int, width: int) -> bool:
    before = tokens[k - 1][0]
    after = tokens[k + width][0] if k + width < len(tokens) else " "
    return before not in _WS and before != _ESCAPED_SPACE and (after in _AFTER_END or after == _ESCAPED_SPACE)


def _plain(tokens) -> str:
    return "".join(char for char, _escaped in tokens if char != _ESCAPED_SPACE)


def _find_end(tokens, start: int, marker: str) -> int | None:
    width = len(marker)
    k = start
    while k + width <= len(tokens):
        if all(_is(tokens, k + m, marker[m]) for m in range(width)) and k > start and _ends(tokens, k, width):
            if width == 1 and _is(tokens, k + 1, marker):  # a single-star end is not the start of **
                k += 1
                continue
            return k
        k += 1
    return None


_MARKUP = (("``", "code"), ("**", "strong"), ("*", "em"), ("`", "cite"))


def inline(text: str) -> Markup:
    """Inline RST as HTML."""
    tokens = _tokens(text)
    out: list[str] = []
    k = 0
    while k < len(tokens):
        for marker, tag in _MARKUP:
            width = len(marker)
            if all(_is(tokens, k + m, marker[m]) for m in range(width)) and _starts(tokens, k, width):
                end = _find_end(tokens, k + width, marker)
                if end is not None:
                    inner = tokens[k + width:end]
                    content = ("".join(("\\" + c if escaped and c != _ESCAPED_SPACE else c) for c, escaped in inner)
                               if tag == "code" else _plain(inner))
                    out.append(f"<{tag}>{escape(content)}</{tag}>")
                    k = end + width
                    break
        else:
            char = tokens[k][0]
            if char != _ESCAPED_SPACE:
                out.append(str(escape(char)))
            k += 1
    return Markup("".join(out))


def _html(nodes: list[tuple]) -> str:
    parts = []
    for node in nodes:
        kind = node[0]
        if kind == "p":
            parts.append(f"<p>{inline(node[1])}</p>")
        elif kind == "literal":
            parts.append(f"<pre>{escape(node[1])}</pre>")
        elif kind == "quote":
            parts.append(f"<blockquote>{_html(node[1])}</blockquote>")
        elif kind == "bullets":
            parts.append("<ul>" + "".join(f"<li>{_html(item)}</li>" for item in node[1]) + "</ul>")
        elif kind == "dl":
            parts.append("<dl>" + "".join(f"<dt>{inline(term)}</dt><dd>{_html(body)}</dd>"
                                          for term, body in node[1]) + "</dl>")
    return "".join(parts)


@functools.lru_cache(maxsize=4096)
def to_html(text: str | None) -> Markup:
    """A helper's Description or Return text as HTML (cached: table pages render the same texts again)."""
    if not text:
        return Markup("")
    lines = text.expandtabs(8).split("\n")
    return Markup(_html(_blocks([line.rstrip() for line in lines])))


def _text(nodes: list[tuple], indent: str = "") -> list[str]:
    out: list[str] = []
    for node in nodes:
        kind = node[0]
        if kind == "p":
            out.append(indent + inline(node[1]).striptags())
        elif kind == "literal":
            out += [indent + "    " + line for line in node[1].split("\n")]
        elif kind == "quote":
            out += _text(node[1], indent + "    ")
        elif kind == "bullets":
            for item in node[1]:
                lines = _text(item, indent + "  ")
                while lines and not lines[-1]:
                    lines.pop()
                if lines:
                    lines[0] = indent + "* " + lines[0][len(indent) + 2:]
                out += lines
        elif kind == "dl":
            for term, body in node[1]:
                out.append(indent + inline(term).striptags())
                out += _text(body, indent + "    ")
        out.append("")
    return out


def to_text(text: str | None) -> str:
    """The same text as plain text, markup resolved (what the man page shows, without its fonts)."""
    if not text:
        return ""
    lines = text.expandtabs(8).split("\n")
    return "\n".join(_text(_blocks([line.rstrip() for line in lines]))).strip()


_PROTO = re.compile(r"^(.+?) ?(\**)(\w+)\((.*)\)$")
_ARG = re.compile(r"^((?:\w+ )*?(?:\w+|\.\.\.))(?: (\**)(\w+))?$")


@functools.lru_cache(maxsize=4096)
def signature(proto: str | None) -> Markup:
    """A prototype set as bpf_doc.py sets it for the man page: bold, argument names in italics."""
    if not proto:
        return Markup("")
    match = _PROTO.match(proto.strip())
    if not match:
        return Markup(f"<code>{escape(proto)}</code>")
    ret, star, name, args = match.groups()
    parts = [f"<strong>{escape(ret)} {escape(star)}{escape(name)}(</strong>"]
    for n, arg in enumerate(a.strip() for a in args.split(",")):
        comma = "<strong>, </strong>" if n else ""
        found = _ARG.match(arg)
        if found and found.group(3):
            parts.append(f"{comma}<strong>{escape(found.group(1))} {escape(found.group(2))}</strong>"
                         f"<em>{escape(found.group(3))}</em>")
        else:
            parts.append(f"{comma}<strong>{escape(arg)}</strong>")
    parts.append("<strong>)</strong>")
    return Markup(f'<code class="kbgen-proto">{"".join(parts)}</code>')


def first_argument(proto: str | None) -> str | None:
    """The first word inside a prototype's parentheses (``void`` of ``u64 bpf_ktime_get_ns(void)``)."""
    match = _PROTO.match((proto or "").strip())
    if not match:
        return None
    words = match.group(4).split()
    return words[0] if words else None
