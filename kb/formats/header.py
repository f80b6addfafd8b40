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


def _enum_starts(text: str, names) -> dict[str, int]:
    """Where each of the enums *names* is declared (``enum NAME`` at the start of a line), found in one pass."""
    wanted = set(names)
    found: dict[str, int] = {}
    at = 0 if text.startswith("enum ") else text.find("\nenum ") + 1
    while at > 0 or text.startswith("enum ") and at == 0:
        end = at + 5
        while end < len(text) and (text[end].isalnum() or text[end] == "_"):
            end += 1
        name = text[at + 5 : end]
        if name in wanted and name not in found:
            found[name] = at
            if len(found) == len(wanted):
                break
        at = text.find("\nenum ", end) + 1
        if at == 0:
            break
    return found


def _enum_region(text: str, enum_name: str, at: int | None = None) -> tuple[int, int] | None:
    """Offsets of the text between the braces of ``enum NAME { ... };``, or None if absent.

    *at*: where ``enum NAME`` starts, where the caller found it already."""
    if at is None:
        at = _enum_starts(text, [enum_name]).get(enum_name)
    match = None if at is None or at < 0 else re.compile(r"enum\s+" + enum_name + r"\s*\{").match(text, at)
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


def _line_numbers(text: str, offsets) -> dict[int, int]:
    """offset -> its line number, for several offsets, counting the text once from left to right."""
    lines = _Lines(text)
    return {offset: lines.at(offset) + 1 for offset in sorted(offsets)}


def _enum_relative(text: str, enum_name: str, region: tuple[int, int] | None = None, first_line: int | None = None
                   ) -> tuple[tuple[Enumerator, ...], int] | None:
    region = region or _enum_region(text, enum_name)
    if region is None:
        return None
    first_line = _line_of(text, region[0]) if first_line is None else first_line
    try:
        return _parse_enum_body(enum_name, text[region[0] : region[1]]), first_line
    except HeaderParseError as err:
        raise err.shifted(first_line) from None


_MAPPER_DEFINES = (
    ("___BPF_FUNC_MAPPER", "#define ___BPF_FUNC_MAPPER(FN, ctx...)"),
    ("__BPF_FUNC_MAPPER", "#define __BPF_FUNC_MAPPER(FN)"),
)
_FN_RE = re.compile(r"FN\(\s*(\w+)\s*(?:,\s*(\w+)\s*)?(?:,\s*##\s*ctx\s*)?\)\s*,?")


# The line that ends a #define: the first whose last non-blank character is not a backslash.
_MACRO_END_RE = re.compile(r"[^\\ \t\n][ \t]*\n|\n[ \t]*\n")


def _macro_end(text: str, start: int) -> int:
    """Offset where the ``#define`` continuing from *start* ends (its last line has no backslash)."""
    match = _MACRO_END_RE.search(text, start)
    return match.end() - 1 if match else len(text)


# How far past the helper list's #define to look for the blank line that follows it: the text up to there is
# cut once and parsed once per distinct text (the list changes in few of a history's revisions), so that where
# the macro ends is found once per distinct text too.
_MAPPER_CHUNK = 64 * 1024


@functools.lru_cache(maxsize=1024)
def _parse_mapper_chunk(macro: str, chunk: str) -> tuple[Enumerator, ...]:
    return _parse_mapper_body(macro, chunk[: _macro_end(chunk, 0)])


# What may stand between two FN() entries: blanks and the macro's line continuations.
_GAP_RE = re.compile(r"[\s\\]*")


def _parse_mapper_body(macro: str, raw: str) -> tuple[Enumerator, ...]:
    """The FN() entries of one helper-list macro body, lines relative to its first line."""
    body = _blank_comments(raw) if "/" in raw else raw
    if "/*" in body:
        raise HeaderParseError("unterminated comment", body.count("\n", 0, body.find("/*")))
    explicit = macro == "___BPF_FUNC_MAPPER"
    helpers: list[Enumerator] = []
    seen: dict[int, str] = {}
    position = 0
    lines = _Lines(body)
    for fn in _FN_RE.finditer(body):
        if fn.start() != position and _GAP_RE.match(body, position).end() < fn.start():
            gap = body[position : fn.start()].replace("\\", " ")
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


def _find_mapper(text: str) -> tuple[str, int, int] | None:
    """(macro, start, end) of the text holding the helper-list macro's body: up to the blank line after it."""
    # 6.2+ headers define both macros; the explicit-id one is the list, the other a wrapper around it.
    for macro, define in _MAPPER_DEFINES:
        at = text.find(define)
        if at >= 0:
            start = at + len(define)
            blank = text.find("\n\n", start, start + _MAPPER_CHUNK)
            return macro, start, (blank + 1 if blank >= 0 else _macro_end(text, start))
    return None


def _parse_mapper(text: str, found: tuple[str, int, int], first_line: int) -> tuple[str, tuple[Enumerator, ...]]:
    macro, start, end = found
    try:
        relative = _parse_mapper_chunk(macro, text[start:end])
    except HeaderParseError as err:
        raise err.shifted(first_line) from None
    return ("mapper-ids" if macro == "___BPF_FUNC_MAPPER" else "mapper"), relative


@functools.lru_cache(maxsize=256)
def _strip_helper_prefix(relative: tuple[Enumerator, ...]) -> tuple[Enumerator, ...]:
    for e in relative:
        if not e.name.startswith(HELPER_PREFIX):
            raise HeaderParseError(f"enum bpf_func_id: {e.name} is not a BPF_FUNC_ name", e.line)
    return tuple(e._replace(name=e.name[len(HELPER_PREFIX) :]) for e in relative)


def parse_header(source: str | bytes, *, lines: bool = True) -> HeaderFacts:
    """Parse one revision of ``bpf.h``; raises :class:`HeaderParseError` naming the line on malformed input.

    Without *lines*, the regions' first lines are not counted (0): a history's worth of revisions needs only
    the ids, and counting lines costs a tenth of the parse; an error is then reported relative to its region.
    """
    text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    facts = HeaderFacts()
    mapper = _find_mapper(text)
    # Only where there is no helper-list macro is bpf_func_id looked for: asking for an enum the text lacks reads
    # the text to its end, and the tracked enums come before the 4,000 lines of helper documentation.
    starts = _enum_starts(text, [name for name, _prefix in ENUM_KINDS.values()] + ([] if mapper else ["bpf_func_id"]))
    enums = {kind: _enum_region(text, name, starts.get(name, -1)) for kind, (name, _prefix) in ENUM_KINDS.items()}
    if mapper is None:
        enums["helper"] = _enum_region(text, "bpf_func_id", starts.get("bpf_func_id", -1))
    starts = [region[0] for region in enums.values() if region] + ([mapper[1]] if mapper else [])
    line = _line_numbers(text, starts) if lines else dict.fromkeys(starts, 0)
    if mapper is not None:
        facts.helper_format, relative = _parse_mapper(text, mapper, line[mapper[1]])
        facts.regions["helper"] = (relative, line[mapper[1]])
    elif enums["helper"] is not None:
        relative, first_line = _enum_relative(text, "bpf_func_id", enums["helper"], line[enums["helper"][0]])
        try:
            facts.regions["helper"] = (_strip_helper_prefix(relative), first_line)
        except HeaderParseError as err:
            raise err.shifted(first_line) from None
        facts.helper_format = "enum"
    for kind, (enum_name, _prefix) in ENUM_KINDS.items():
        if enums[kind] is not None:
            facts.regions[kind] = _enum_relative(text, enum_name, enums[kind], line[enums[kind][0]])
    if not facts.regions:
        raise HeaderParseError("no BPF enum or helper list found (is this include/uapi/linux/bpf.h?)")
    return facts
