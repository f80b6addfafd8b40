"""Parse the ids out of ``include/uapi/linux/bpf.h`` of every era.

The helper list has had three shapes:

* ``enum bpf_func_id { BPF_FUNC_unspec, BPF_FUNC_map_lookup_elem, ... }`` (oldest),
* ``#define __BPF_FUNC_MAPPER(FN) FN(unspec), FN(map_lookup_elem), ...`` (position is the id, up to 6.1),
* ``#define ___BPF_FUNC_MAPPER(FN, ctx...) FN(unspec, 0, ##ctx) ...`` (explicit ids, 6.2 on).

The tracked enums (``bpf_cmd``, ``bpf_map_type``, ...) are parsed as C does: implicit values count up from
the previous one, ``= N`` and ``= OTHER_ENUMERATOR`` set them, and the ``__MAX_*`` counters are skipped.
Only the regions that matter are read (the helper documentation alone is 4,000 lines of comment), so a
revision parses in about a millisecond and a whole history's worth of blobs stays cheap.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass, field

from collectors.uapi import ENUM_KINDS, HELPER_PREFIX, is_sentinel


class HeaderParseError(ValueError):
    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"line {line}: {message}" if line else message)


@dataclass(frozen=True)
class Enumerator:
    name: str
    value: int
    alias_of: str | None = None  # set for ``BPF_PROG_RUN = BPF_PROG_TEST_RUN``
    line: int = 0


@dataclass
class HeaderFacts:
    """The ids one revision of the header defines."""

    helper_format: str | None = None  # "enum", "mapper", "mapper-ids" or None (no helper list)
    helpers: list[Enumerator] = field(default_factory=list)
    enums: dict[str, list[Enumerator]] = field(default_factory=dict)

    def items(self):
        """Yield ``(kind, value, name, alias_of)`` for everything this revision has."""
        for helper in self.helpers:
            yield "helper", helper.value, helper.name, None
        for kind, enumerators in self.enums.items():
            for e in enumerators:
                yield kind, e.value, e.name, e.alias_of


_COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def _blank_comments(text: str) -> str:
    """Replace comments by spaces, keeping newlines so that offsets still give line numbers."""
    return _COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _region(text: str, start: int, end: int) -> tuple[str, int]:
    """``text[start:end]`` with comments blanked, and the line number it starts at."""
    region = _blank_comments(text[start:end])
    if "/*" in region:
        raise HeaderParseError("unterminated comment", _line_of(text, start + region.find("/*")))
    return region, _line_of(text, start)


def _enum_body(text: str, enum_name: str) -> tuple[str, int] | None:
    """The text between the braces of ``enum NAME { ... };`` and its first line, or None if absent."""
    # str.find first: a regex search over the whole header costs more than the rest of the parse.
    pattern = re.compile(r"enum\s+" + enum_name + r"\s*\{")
    match = None
    at = text.find("enum " + enum_name)
    while at >= 0 and match is None:
        if at == 0 or text[at - 1] == "\n":
            match = pattern.match(text, at)
        at = text.find("enum " + enum_name, at + 1)
    if match is None:
        return None
    start = match.end()
    end = start
    # A brace inside a comment must not end the enum, so look for the first one outside comments.
    while True:
        end = text.find("}", end)
        if end < 0:
            raise HeaderParseError(f"enum {enum_name} is not closed", _line_of(text, match.start()))
        body = _blank_comments(text[start : end + 1])
        # A "/*" left over means this brace sits inside a comment that goes on past it.
        if "/*" not in body and body.endswith("}"):
            return body[:-1], _line_of(text, start)
        end += 1


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.LShift: operator.lshift,
    ast.BitOr: operator.or_,
}


def _evaluate(expr: str, known: dict[str, int]) -> int:
    """Evaluate an enumerator's constant expression (``5``, ``0x10``, ``(1U << 3)``, ``OTHER + 1``)."""
    cleaned = re.sub(r"\b(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", r"\1", expr.strip())

    def walk(node):
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.Name) and node.id in known:
            return known[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        raise ValueError(expr)

    try:
        return walk(ast.parse(cleaned, mode="eval").body)
    except (SyntaxError, ValueError, RecursionError):
        raise ValueError(f"cannot evaluate {expr.strip()!r}") from None


_ENUMERATOR_RE = re.compile(r"^([A-Za-z_]\w*)\s*(?:=\s*(.+))?$", re.S)


def parse_enum(text: str, enum_name: str) -> list[Enumerator] | None:
    """Enumerators of ``enum NAME`` in the header *text*, or None if it has no such enum."""
    found = _enum_body(text, enum_name)
    if found is None:
        return None
    body, first_line = found
    enumerators: list[Enumerator] = []
    known: dict[str, int] = {}
    next_value = 0
    position = 0
    for raw in body.split(","):
        entry_offset = position + (len(raw) - len(raw.lstrip()))
        position += len(raw) + 1
        entry = "\n".join(line for line in raw.strip().splitlines() if not line.lstrip().startswith("#")).strip()
        if not entry:
            continue
        line = first_line + body.count("\n", 0, entry_offset)
        match = _ENUMERATOR_RE.match(entry)
        if not match:
            raise HeaderParseError(f"enum {enum_name}: cannot read enumerator {entry.split()[0]!r}", line)
        name, expr = match.group(1), match.group(2)
        alias_of = None
        if expr is None:
            value = next_value
        else:
            expr = expr.strip()
            if expr in known:
                alias_of = expr
            try:
                value = _evaluate(expr, known)
            except ValueError as err:
                raise HeaderParseError(f"enum {enum_name}: {name}: {err}", line) from None
        known[name] = value
        next_value = value + 1
        if is_sentinel(name):
            # What follows the __MAX_ counter are flags or'ed into the values (BPF_COMMON_ATTRS = 1 << 16).
            break
        enumerators.append(Enumerator(name, value, alias_of, line))
    return enumerators


_MAPPER_DEFINES = ("___BPF_FUNC_MAPPER", "#define ___BPF_FUNC_MAPPER(FN, ctx...)"), (
    "__BPF_FUNC_MAPPER",
    "#define __BPF_FUNC_MAPPER(FN)",
)
_FN_RE = re.compile(r"FN\(\s*(\w+)\s*(?:,\s*(\w+)\s*)?(?:,\s*##\s*ctx\s*)?\)\s*,?")


def _macro_body(text: str, start: int) -> tuple[str, int]:
    """The ``#define`` continuing from *start* (comments blanked) and the line number it starts at."""
    end = start
    while True:
        newline = text.find("\n", end)
        if newline < 0:
            newline = len(text)
        if newline == len(text) or not text[end:newline].rstrip().endswith("\\"):
            return _region(text, start, newline)
        end = newline + 1


def _parse_mapper(text: str) -> tuple[str, list[Enumerator]] | None:
    # 6.2+ headers define both macros; the explicit-id one is the list, the other a wrapper around it.
    for macro, define in _MAPPER_DEFINES:
        at = text.find(define)
        if at >= 0:
            break
    else:
        return None
    explicit = macro == "___BPF_FUNC_MAPPER"
    body, first_line = _macro_body(text, at + len(define))
    helpers: list[Enumerator] = []
    seen: dict[int, str] = {}
    position = 0
    for fn in _FN_RE.finditer(body):
        gap = body[position : fn.start()].replace("\\", " ")
        if gap.strip():
            at = position + len(gap) - len(gap.lstrip())
            raise HeaderParseError(
                f"{macro}: unexpected {gap.split()[0]!r} in the helper list", first_line + body.count("\n", 0, at)
            )
        line = first_line + body.count("\n", 0, fn.start())
        position = fn.end()
        name, given = fn.group(1), fn.group(2)
        if explicit:
            if given is None or not given.isdigit():
                raise HeaderParseError(f"{macro}: FN({name}) has no numeric id", line)
            value = int(given)
        else:
            if given is not None:
                raise HeaderParseError(f"__BPF_FUNC_MAPPER: FN({name}, {given}) in a positional list", line)
            value = len(helpers)
        if value in seen:
            raise HeaderParseError(f"helper id {value} given to both {seen[value]} and {name}", line)
        seen[value] = name
        helpers.append(Enumerator(name, value, None, line))
    rest = body[position:].replace("\\", "").strip()
    if rest:
        raise HeaderParseError(
            f"{macro}: unexpected {rest.split()[0]!r} in the helper list",
            first_line + body.count("\n", 0, position),
        )
    if not helpers:
        raise HeaderParseError(f"{macro} lists no helpers", _line_of(text, at))
    return ("mapper-ids" if explicit else "mapper"), helpers


def parse_header(source: str | bytes) -> HeaderFacts:
    """Parse one revision of ``bpf.h``; raises :class:`HeaderParseError` naming the line on malformed input."""
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    text = source
    facts = HeaderFacts()
    for kind, (enum_name, _prefix) in ENUM_KINDS.items():
        enumerators = parse_enum(text, enum_name)
        if enumerators is not None:
            facts.enums[kind] = enumerators
    mapper = _parse_mapper(text)
    if mapper is not None:
        facts.helper_format, facts.helpers = mapper
    else:
        enumerators = parse_enum(text, "bpf_func_id")
        if enumerators is not None:
            facts.helper_format = "enum"
            for e in enumerators:
                if not e.name.startswith(HELPER_PREFIX):
                    raise HeaderParseError(f"enum bpf_func_id: {e.name} is not a BPF_FUNC_ name", e.line)
                facts.helpers.append(Enumerator(e.name[len(HELPER_PREFIX) :], e.value, None, e.line))
    if not facts.enums and not facts.helpers:
        raise HeaderParseError("no BPF enum or helper list found (is this include/uapi/linux/bpf.h?)")
    return facts
