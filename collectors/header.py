"""Parse the ids out of ``include/uapi/linux/bpf.h`` of every era.

The helper list has had three shapes:

* ``enum bpf_func_id { BPF_FUNC_unspec, BPF_FUNC_map_lookup_elem, ... }`` (oldest),
* ``#define __BPF_FUNC_MAPPER(FN) FN(unspec), FN(map_lookup_elem), ...`` (position is the id, up to 6.1),
* ``#define ___BPF_FUNC_MAPPER(FN, ctx...) FN(unspec, 0, ##ctx) ...`` (explicit ids, 6.2 on).

The tracked enums (``bpf_cmd``, ``bpf_map_type``, ...) are parsed as C does: implicit values count up from
the previous one, ``= N`` and ``= OTHER_ENUMERATOR`` set them, and the ``__MAX_*`` counters end them.

Only the regions that matter are read (the helper documentation alone is 4,000 lines of comment), and a
region whose text was parsed before is not parsed again: most revisions of the header change neither the
enums nor the helper list, so a whole history costs little more than its distinct regions.
"""

from __future__ import annotations

import ast
import functools
import operator
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from kb.vocab.kinds import ENUM_KINDS, HELPER_PREFIX, is_sentinel


class HeaderParseError(ValueError):
    def __init__(self, message: str, line: int | None = None):
        self.line = line
        self.message = message
        super().__init__(f"line {line}: {message}" if line else message)

    def shifted(self, first_line: int) -> HeaderParseError:
        """The same error with its region-relative line made a line of the header."""
        return HeaderParseError(self.message, first_line + (self.line or 0))


class Enumerator(NamedTuple):
    name: str
    value: int
    alias_of: str | None = None  # set for ``BPF_PROG_RUN = BPF_PROG_TEST_RUN``
    line: int = 0


@dataclass
class HeaderFacts:
    """The ids one revision of the header defines.

    Regions are kept as parsed (relative lines, shared between revisions whose region text is the same),
    so that walking a history's worth of revisions neither copies them nor re-reads what did not change.
    """

    helper_format: str | None = None  # "enum", "mapper", "mapper-ids" or None (no helper list)
    regions: dict[str, tuple[tuple[Enumerator, ...], int]] = field(default_factory=dict)  # kind -> (rel, line)

    @property
    def signature(self) -> tuple[int, ...]:
        """Equal for two revisions whose tracked regions are the same parsed objects."""
        return tuple(id(rel) for rel, _line in self.regions.values())

    def _absolute(self, kind: str) -> list[Enumerator]:
        relative, first_line = self.regions[kind]
        return [e._replace(line=e.line + first_line) for e in relative]

    @property
    def helpers(self) -> list[Enumerator]:
        return self._absolute("helper") if "helper" in self.regions else []

    @property
    def enums(self) -> dict[str, list[Enumerator]]:
        return {kind: self._absolute(kind) for kind in self.regions if kind != "helper"}

    def items(self):
        """Yield ``(kind, value, name, alias_of)`` for everything this revision has."""
        for kind, (relative, _line) in self.regions.items():
            for e in relative:
                yield kind, e.value, e.name, e.alias_of


_COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def _blank_comments(text: str) -> str:
    """Replace comments by spaces, keeping newlines so that offsets still give line numbers."""
    return _COMMENT_RE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


class _Lines:
    """Line numbers (0-based) of increasing offsets in one text, counted once from left to right."""

    def __init__(self, text: str):
        self.text = text
        self.offset = 0
        self.line = 0

    def at(self, offset: int) -> int:
        self.line += self.text.count("\n", self.offset, offset)
        self.offset = offset
        return self.line


def _enum_region(text: str, enum_name: str) -> tuple[int, int] | None:
    """Offsets of the text between the braces of ``enum NAME { ... };``, or None if absent."""
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
    start = end = match.end()
    while True:
        end = text.find("}", end)
        if end < 0:
            raise HeaderParseError(f"enum {enum_name} is not closed", _line_of(text, match.start()))
        region = text[start:end]
        # A brace inside a comment that goes on past it does not end the enum.
        if "/*" not in region or "/*" not in _blank_comments(region):
            return start, end
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


_ENUMERATOR_RE = re.compile(r"^([A-Za-z_]\w*)\s*(?:=\s*(.+))?$", re.DOTALL)


@functools.lru_cache(maxsize=1024)
def _parse_enum_body(enum_name: str, raw: str) -> tuple[Enumerator, ...]:
    """Enumerators of one enum body, lines relative to the body's first line."""
    body = _blank_comments(raw) if "/" in raw else raw
    if "/*" in body:
        raise HeaderParseError("unterminated comment", body.count("\n", 0, body.find("/*")))
    enumerators: list[Enumerator] = []
    known: dict[str, int] = {}
    next_value = 0
    position = 0
    lines = _Lines(body)
    for raw_entry in body.split(","):
        entry_offset = position + (len(raw_entry) - len(raw_entry.lstrip()))
        position += len(raw_entry) + 1
        entry = raw_entry.strip()
        if "#" in entry:
            entry = "\n".join(ln for ln in entry.splitlines() if not ln.lstrip().startswith("#")).strip()
        if not entry:
            continue
        line = lines.at(entry_offset)
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
    return tuple(enumerators)


def _enum_relative(text: str, enum_name: str) -> tuple[tuple[Enumerator, ...], int] | None:
    region = _enum_region(text, enum_name)
    if region is None:
        return None
    first_line = _line_of(text, region[0])
    try:
        return _parse_enum_body(enum_name, text[region[0] : region[1]]), first_line
    except HeaderParseError as err:
        raise err.shifted(first_line) from None


def parse_enum(text: str, enum_name: str) -> list[Enumerator] | None:
    """Enumerators of ``enum NAME`` in the header *text*, or None if it has no such enum."""
    found = _enum_relative(text, enum_name)
    if found is None:
        return None
    relative, first_line = found
    return [e._replace(line=e.line + first_line) for e in relative]


_MAPPER_DEFINES = (
    ("___BPF_FUNC_MAPPER", "#define ___BPF_FUNC_MAPPER(FN, ctx...)"),
    ("__BPF_FUNC_MAPPER", "#define __BPF_FUNC_MAPPER(FN)"),
)
_FN_RE = re.compile(r"FN\(\s*(\w+)\s*(?:,\s*(\w+)\s*)?(?:,\s*##\s*ctx\s*)?\)\s*,?")


def _macro_end(text: str, start: int) -> int:
    """Offset where the ``#define`` continuing from *start* ends (its last line has no backslash)."""
    end = start
    while True:
        newline = text.find("\n", end)
        if newline < 0:
            return len(text)
        if not text[end:newline].rstrip().endswith("\\"):
            return newline
        end = newline + 1


@functools.lru_cache(maxsize=1024)
def _parse_mapper_body(macro: str, raw: str) -> tuple[Enumerator, ...]:
    """The FN() entries of one helper-list macro body, lines relative to its first line."""
    body = _blank_comments(raw)
    if "/*" in body:
        raise HeaderParseError("unterminated comment", body.count("\n", 0, body.find("/*")))
    explicit = macro == "___BPF_FUNC_MAPPER"
    helpers: list[Enumerator] = []
    seen: dict[int, str] = {}
    position = 0
    lines = _Lines(body)
    for fn in _FN_RE.finditer(body):
        gap = body[position : fn.start()].replace("\\", " ")
        if gap.strip():
            at = position + len(gap) - len(gap.lstrip())
            raise HeaderParseError(f"{macro}: unexpected {gap.split()[0]!r} in the helper list", lines.at(at))
        position = fn.end()
        line = lines.at(fn.start())
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
    rest = body[position:].replace("\\", " ")
    if rest.strip():
        at = position + len(rest) - len(rest.lstrip())
        raise HeaderParseError(f"{macro}: unexpected {rest.split()[0]!r} in the helper list", lines.at(at))
    if not helpers:
        raise HeaderParseError(f"{macro} lists no helpers", 0)
    return tuple(helpers)


def _parse_mapper(text: str) -> tuple[str, tuple[Enumerator, ...], int] | None:
    # 6.2+ headers define both macros; the explicit-id one is the list, the other a wrapper around it.
    for macro, define in _MAPPER_DEFINES:
        at = text.find(define)
        if at >= 0:
            break
    else:
        return None
    start = at + len(define)
    first_line = _line_of(text, start)
    try:
        relative = _parse_mapper_body(macro, text[start : _macro_end(text, start)])
    except HeaderParseError as err:
        raise err.shifted(first_line) from None
    return ("mapper-ids" if macro == "___BPF_FUNC_MAPPER" else "mapper"), relative, first_line


@functools.lru_cache(maxsize=256)
def _strip_helper_prefix(relative: tuple[Enumerator, ...]) -> tuple[Enumerator, ...]:
    for e in relative:
        if not e.name.startswith(HELPER_PREFIX):
            raise HeaderParseError(f"enum bpf_func_id: {e.name} is not a BPF_FUNC_ name", e.line)
    return tuple(e._replace(name=e.name[len(HELPER_PREFIX) :]) for e in relative)


def parse_header(source: str | bytes) -> HeaderFacts:
    """Parse one revision of ``bpf.h``; raises :class:`HeaderParseError` naming the line on malformed input."""
    text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    facts = HeaderFacts()
    mapper = _parse_mapper(text)
    if mapper is not None:
        facts.helper_format, relative, first_line = mapper
        facts.regions["helper"] = (relative, first_line)
    else:
        found = _enum_relative(text, "bpf_func_id")
        if found is not None:
            relative, first_line = found
            try:
                facts.regions["helper"] = (_strip_helper_prefix(relative), first_line)
            except HeaderParseError as err:
                raise err.shifted(first_line) from None
            facts.helper_format = "enum"
    for kind, (enum_name, _prefix) in ENUM_KINDS.items():
        found = _enum_relative(text, enum_name)
        if found is not None:
            facts.regions[kind] = found
    if not facts.regions:
        raise HeaderParseError("no BPF enum or helper list found (is this include/uapi/linux/bpf.h?)")
    return facts
