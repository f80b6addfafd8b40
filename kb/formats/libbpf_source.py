"""libbpf's program section table in ``src/libbpf.c``: which ELF section name means which program type.

libbpf guesses a BPF program's type and expected attach type from its ELF section name (``SEC("...")``) by
walking one table in ``src/libbpf.c``, first match wins.  :func:`parse_section_defs` reads that table from
any historical ``libbpf.c`` into :class:`kb.vocab.sections.SectionDef` entries; how a release matches names
against them is the vocabulary's (:mod:`kb.vocab.sections`).

Table forms, as libbpf's history has them (the libbpf release tags that have each in brackets):

- ``section_names[]`` of ``BPF_PROG_SEC`` / ``BPF_APROG_SEC`` / ``BPF_EAPROG_SEC`` / ``BPF_APROG_COMPAT``
  calls, all expanding to a positional ``BPF_PROG_SEC_IMPL`` [v0.0.3 - v0.0.6; ``BPF_PROG_BTF`` from
  v0.0.6; the two commits before v0.0.3 marked unattachable entries with ``-EINVAL``];
- ``section_defs[]`` mixing those with ``SEC_DEF("kprobe/", KPROBE, .attach_fn = ...)`` calls that set
  struct fields by name (``.expected_attach_type``, ``.is_attach_btf``, ``.is_sleepable``) [v0.0.7 - v0.5.0;
  ``BPF_PROG_SEC_IMPL`` designated and with ``eatype_optional`` from v0.0.8];
- ``section_defs[]`` of ``SEC_DEF("kprobe+", KPROBE, 0, SEC_NONE, attach_kprobe)`` calls with a flags word
  [v0.6.0 onwards].

The wrapper macros changed meaning over time (until v0.0.8 ``BPF_APROG_SEC`` left the expected attach type
at 0 and only named the attach type for ``bpf_prog_attach()``; from v0.0.8 it sets the expected attach type,
optional on old kernels), so they are not hard-coded: the ``#define``\\ s in the file itself are expanded down
to ``BPF_PROG_SEC_IMPL``, whose parameters are read by name (``string``, ``ptype``, ``eatype``,
``eatype_optional``, ``is_attachable``/``attachable``, ``btf``/``attach_btf``, ``atype``).  A file that
uses a wrapper without defining it gets the meaning the wrapper had last (v0.5.0).

Flags: for the ``SEC_DEF(..., flags)`` form, :attr:`SectionDef.flags` holds the flag names as written
(``SEC_NONE`` and ``0`` mean "no flag" and are left out).  The older forms write no flags; their entries get
the flags libbpf itself gave them when it unified the table in v0.6.0 (commit 20c1aa11b189): an attachable
entry with an optional expected attach type is ``SEC_ATTACHABLE_OPT``, an attachable one ``SEC_ATTACHABLE``,
``is_attach_btf``/``BPF_PROG_BTF`` is ``SEC_ATTACH_BTF``, ``is_sleepable`` is ``SEC_SLEEPABLE``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.vocab.errors import KbgenError
from kb.vocab.sections import SectionDef

_NO_FLAG = frozenset({"SEC_NONE", "0"})


class SectionTableError(KbgenError):
    """A section table that cannot be read; the message names the line (and the tag, when mining)."""

    def __init__(self, message: str, line: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.line = line
        self.detail = detail or message


_TABLE_RE = re.compile(r"\b(section_names|section_defs)\s*\[\s*\]\s*=\s*\{")
_DEFINE_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(([^)]*)\)", re.MULTILINE)
_FLAGS_ENUM_RE = re.compile(r"\benum\s+sec_def_flags\s*\{(.*?)\}", re.DOTALL)
_CALL_RE = re.compile(r"(\w+)\s*\((.*)\)", re.DOTALL)
_IDENT_RE = re.compile(r"[A-Za-z_]\w*")
_ENUM_RE = re.compile(r"[A-Z][A-Z0-9_]*")
_FLAG_RE = re.compile(r"SEC_[A-Z0-9_]+")
_DESIGNATED_RE = re.compile(r"\.\s*(\w+)\s*=\s*(.+)", re.DOTALL)

# How the parameters of BPF_PROG_SEC_IMPL (or of the fields of a SEC_DEF written with .field = value)
# are read, by name.
_ROLES = {
    "string": "pattern", "sec": "pattern", "sec_pfx": "pattern",
    "ptype": "prog_type", "type": "prog_type", "prog_type": "prog_type",
    "eatype": "expected", "expected_attach_type": "expected",
    "eatype_optional": "optional", "is_exp_attach_type_optional": "optional",
    "is_attachable": "attachable", "attachable": "attachable",
    "btf": "attach_btf", "attach_btf": "attach_btf", "is_attach_btf": "attach_btf",
    "is_sleepable": "sleepable", "sleepable": "sleepable",
    "atype": "attach_type", "attach_type": "attach_type",
}
_IMPL = "BPF_PROG_SEC_IMPL"
_IMPL_DEFAULT_PARAMS = ("string", "ptype", "eatype", "eatype_optional", "attachable", "attach_btf")
# What each wrapper passes to BPF_PROG_SEC_IMPL when the file does not define it (its last meaning, v0.5.0):
# positions refer to the wrapper's own arguments, other values are literals.
_WRAPPER_DEFAULTS: dict[str, tuple[int, tuple[int | str, ...]]] = {
    "BPF_PROG_SEC": (2, (0, 1, "0", "0", "0", "0")),
    "BPF_APROG_SEC": (3, (0, 1, 2, "1", "1", "0")),
    "BPF_EAPROG_SEC": (3, (0, 1, 2, "0", "1", "0")),
    "BPF_PROG_BTF": (3, (0, 1, 2, "0", "0", "1")),
    "BPF_APROG_COMPAT": (2, (0, 1, "0", "0", "0", "0")),
}
_TRUE = {"1", "true"}
_FALSE = {"0", "false"}


@dataclass
class _Entry:
    text: str  # comments removed
    line: int


@dataclass
class _Macro:
    params: tuple[str, ...]
    body: str
    line: int


def parse_section_defs(source: str | bytes) -> list[SectionDef]:
    """Every entry of the section table in *source* (a whole ``libbpf.c``), in table order.

    A file without a table gives ``[]``; a table that cannot be read raises :class:`SectionTableError`.
    """
    text = source.decode("utf-8", errors="replace") if isinstance(source, bytes) else source
    match = _find_table(text)
    if match is None:
        return []
    start_line = text.count("\n", 0, match.start()) + 1
    entries = _split_table(text, match.end(), start_line + text.count("\n", match.start(), match.end()))
    known_flags = _known_flags(text)
    macros: dict[str, _Macro] = {}
    defs = []
    for entry in entries:
        defs.append(_parse_entry(entry, text, match.start(), macros, known_flags))
    return defs


def _find_table(text: str) -> re.Match | None:
    """The table's opening: str.find first, as a regex search over the whole 400 KB file costs more than the parse."""
    for name in ("section_defs", "section_names"):
        at = text.find(name)
        while at >= 0:
            match = _TABLE_RE.match(text, at)
            if match and (at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_")):
                return match
            at = text.find(name, at + 1)
    return None


def _fail(line: int, message: str) -> SectionTableError:
    return SectionTableError(f"libbpf.c line {line}: {message}", line, message)


def _split_table(text: str, pos: int, line: int) -> list[_Entry]:
    """The top-level entries of the brace initializer whose ``{`` ends just before *pos*."""
    return _TableSplitter(text, pos, line).split()


class _TableSplitter:
    """Walks a brace initializer once: comments dropped, strings and brackets respected, entries cut at
    top-level commas, each with the line it starts on."""

    def __init__(self, text: str, pos: int, line: int):
        self.text = text
        self.i = pos
        self.line = line
        self.entries: list[_Entry] = []
        self.stack: list[tuple[str, int]] = []  # open brackets with the line their entry started on
        self.current: list[str] = []
        self.entry_line = 0
        self.started = False  # the current entry has more than white space
        self.at_line_start = True

    def split(self) -> list[_Entry]:
        text, n = self.text, len(self.text)
        while self.i < n:
            plain = _PLAIN_RE.match(text, self.i)  # a run of what needs no look, taken at once
            if plain:
                if not self.started:
                    self.started, self.entry_line = True, self.line
                self.at_line_start = False
                self.current.append(plain.group())
                self.i = plain.end()
                continue
            blank = _BLANK_RE.match(text, self.i)
            if blank:
                run = blank.group()
                newlines = run.count("\n")
                if newlines:
                    self.line += newlines
                    self.at_line_start = True
                self.current.append(run)
                self.i = blank.end()
                continue
            ch = text[self.i]
            if self.at_line_start and ch == "#":
                raise _fail(self.line, "preprocessor directive inside the section table")
            self.at_line_start = False
            if ch == "/" and text.startswith(("/*", "//"), self.i):
                self._comment()
                continue
            if not self.started:
                self.started, self.entry_line = True, self.line
            if ch in "\"'":
                self._string(ch)
            elif self._punctuation(ch):
                return self.entries
        opened = self.stack[-1][1] if self.stack else self.entry_line or self.line
        raise _fail(opened, f"unterminated {_entry_name(self.current)} (end of file inside the section table)")

    def _comment(self) -> None:
        text, i = self.text, self.i
        if text.startswith("//", i):
            end = text.find("\n", i)
            self.i = len(text) if end < 0 else end
            return
        end = text.find("*/", i + 2)
        if end < 0:
            raise _fail(self.line, "unterminated comment in the section table")
        self.line += text.count("\n", i, end)
        self.current.append(" ")
        self.i = end + 2

    def _string(self, quote: str) -> None:
        text, n = self.text, len(self.text)
        end = self.i + 1
        while end < n and text[end] != quote:
            if text[end] == "\n":
                break
            end += 2 if text[end] == "\\" else 1
        if end >= n or text[end] != quote:
            raise _fail(self.line, "unterminated string in the section table")
        self.current.append(text[self.i:end + 1])
        self.i = end + 1

    def _punctuation(self, ch: str) -> bool:
        """Brackets and commas; True at the ``}`` that closes the table."""
        if ch in "({":
            self.stack.append((ch, self.entry_line))
        elif ch in ")}":
            if ch == "}" and not self.stack:
                _flush(self.entries, self.current, self.entry_line)
                return True
            if not self.stack or self.stack[-1][0] != ("(" if ch == ")" else "{"):
                opened = self.stack[-1][1] if self.stack else self.line
                raise _fail(opened,
                            f"unterminated {_entry_name(self.current)} (unbalanced {ch!r} on line {self.line})")
            self.stack.pop()
        elif ch == "," and not self.stack:
            _flush(self.entries, self.current, self.entry_line)
            self.current, self.started = [], False
            self.i += 1
            return False
        self.current.append(ch)
        self.i += 1
        return False


# Characters the splitter need not look at one by one: none opens a string, comment, bracket or directive, ends an
# entry, or is blank.
_PLAIN_RE = re.compile(r"[^\s\"'/(){},#]+")
_BLANK_RE = re.compile(r"[ \t\r\f\v\n]+")


def _entry_name(current: list[str]) -> str:
    match = _IDENT_RE.search("".join(current))
    return f"{match.group(0)}(" if match else "section table"


def _flush(entries: list[_Entry], current: list[str], line: int) -> None:
    text = "".join(current).strip()
    if text:
        entries.append(_Entry(text, line))


def _split_args(text: str) -> list[str]:
    """Split a macro's argument list at top-level commas (strings and brackets respected)."""
    args, depth, start = [], 0, 0
    for token in _ARG_TOKEN_RE.finditer(text):
        ch = token.group()[0]
        if ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:token.start()].strip())
            start = token.end()
    last = text[start:].strip()
    if last or args:
        args.append(last)
    return args


# What _split_args looks at: a whole string or character literal (a backslash escapes what follows; one left open
# runs to the end), a bracket, a comma.
_ARG_TOKEN_RE = re.compile(r"\"(?:\\.|[^\"\\])*\"?|'(?:\\.|[^'\\])*'?|[(){}\[\],]", re.DOTALL)


def _known_flags(text: str) -> frozenset[str] | None:
    at = text.find("sec_def_flags")
    match = _FLAGS_ENUM_RE.search(text, max(at - 16, 0)) if at >= 0 else None
    if match is None:
        return None
    body = re.sub(r"/\*.*?\*/|//[^\n]*", " ", match.group(1), flags=re.DOTALL)
    return frozenset(re.findall(r"\b(SEC_\w+)\s*(?:=|,|$)", body.strip()))


def _find_macro(name: str, text: str, before: int, macros: dict[str, _Macro]) -> _Macro | None:
    """The last ``#define name(...)`` before the table (continuation lines joined, comments dropped)."""
    if name in macros:
        return macros[name]
    found = None
    # Only the lines that can define it: str.find, where a regex over every line before the table costs a lot.
    at = text.find(name)
    while 0 <= at < before:
        line_start = text.rfind("\n", 0, at) + 1
        match = _DEFINE_RE.match(text, line_start)
        at = text.find(name, at + 1)
        if match is None or match.group(1) != name or match.start() >= before:
            continue
        end = match.end()
        while True:
            eol = text.find("\n", end)
            if eol < 0:
                eol = len(text)
            if text[end:eol].rstrip().endswith("\\") and eol < len(text):
                end = eol + 1
                continue
            break
        body = text[match.end():eol].replace("\\\n", " ")
        body = re.sub(r"/\*.*?\*/|//[^\n]*", " ", body, flags=re.DOTALL).strip()
        params = tuple(p.strip() for p in match.group(2).replace("\\\n", " ").split(",") if p.strip())
        found = _Macro(params, body, text.count("\n", 0, match.start()) + 1)
    if found is not None:
        macros[name] = found
    return found


def _string(arg: str, line: int, macro: str) -> str:
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', arg)
    if not parts or re.sub(r'"(?:[^"\\]|\\.)*"', "", arg).strip():
        raise _fail(line, f"{macro}: section name {arg!r} is not a string literal")
    return "".join(re.sub(r"\\(.)", r"\1", part) for part in parts)


def _prog_type(arg: str, line: int, macro: str) -> str:
    if not _ENUM_RE.fullmatch(arg):
        raise _fail(line, f"{macro}: unknown program type argument {arg!r}")
    return arg if arg.startswith("BPF_PROG_TYPE_") else "BPF_PROG_TYPE_" + arg


def _attach_type(arg: str, line: int, macro: str) -> str | None:
    if arg in ("0", "-EINVAL"):
        return None
    if not _ENUM_RE.fullmatch(arg) or not arg.startswith("BPF_"):
        raise _fail(line, f"{macro}: unknown attach type argument {arg!r}")
    return arg


def _bool(arg: str, line: int, macro: str) -> bool:
    if arg in _TRUE:
        return True
    if arg in _FALSE:
        return False
    raise _fail(line, f"{macro}: unknown boolean argument {arg!r}")


def _flags(arg: str, line: int, macro: str, known: frozenset[str] | None) -> frozenset[str]:
    names = set()
    for part in arg.replace("(", " ").replace(")", " ").split("|"):
        name = part.strip()
        if name in _NO_FLAG:
            continue
        if not _FLAG_RE.fullmatch(name) or (known is not None and name not in known):
            raise _fail(line, f"{macro}: unknown flag argument {name or arg!r}")
        names.add(name)
    return frozenset(names)


def _parse_entry(entry: _Entry, text: str, table_pos: int, macros: dict[str, _Macro],
                 known_flags: frozenset[str] | None) -> SectionDef:
    call = _CALL_RE.fullmatch(entry.text)
    if call is None:
        raise _fail(entry.line, f"unreadable section table entry {entry.text[:60]!r}")
    macro, args = call.group(1), _split_args(call.group(2))
    if macro == "SEC_DEF":
        return _parse_sec_def(args, entry.line, known_flags)
    fields = _expand(macro, args, entry.line, text, table_pos, macros, 0)
    return _from_fields(fields, entry.line, macro, legacy=True)


def _parse_sec_def(args: list[str], line: int, known_flags: frozenset[str] | None) -> SectionDef:
    if len(args) < 2:
        raise _fail(line, f"SEC_DEF: expected a section name and a program type, got {len(args)} arguments")
    if len(args) == 2 or args[2].startswith("."):
        # v0.0.7 - v0.5.0: SEC_DEF("name", PTYPE, .field = value, ...)
        fields: dict[str, str] = {"pattern": args[0], "prog_type": args[1]}
        for arg in args[2:]:
            designated = _DESIGNATED_RE.fullmatch(arg)
            if designated is None:
                raise _fail(line, f"SEC_DEF: unknown argument {arg!r} (expected .field = value)")
            name, value = designated.group(1), designated.group(2).strip()
            if name.endswith("_fn"):
                continue  # attach/init callbacks
            if name not in _ROLES:
                raise _fail(line, f"SEC_DEF: unknown field .{name}")
            fields[_ROLES[name]] = value
        return _from_fields(fields, line, "SEC_DEF", legacy=True)
    if len(args) < 4:
        raise _fail(line, f"SEC_DEF: expected name, program type, attach type and flags, got {len(args)} arguments")
    for extra in args[4:]:
        if not _IDENT_RE.fullmatch(extra) and _DESIGNATED_RE.fullmatch(extra) is None:
            raise _fail(line, f"SEC_DEF: unknown argument {extra!r}")
    flags = _flags(args[3], line, "SEC_DEF", known_flags)
    expected = _attach_type(args[2], line, "SEC_DEF")
    attachable = bool(flags & {"SEC_ATTACHABLE", "SEC_ATTACHABLE_OPT"})
    return SectionDef(_string(args[0], line, "SEC_DEF"), _prog_type(args[1], line, "SEC_DEF"), expected, flags,
                      line, expected if attachable else None, "SEC_DEF", False)


def _expand(macro: str, args: list[str], line: int, text: str, table_pos: int, macros: dict[str, _Macro],
            depth: int) -> dict[str, str]:
    """Expand a table macro down to BPF_PROG_SEC_IMPL; its arguments keyed by role."""
    if depth > 8:
        raise _fail(line, f"{macro}: macro expansion too deep")
    definition = _find_macro(macro, text, table_pos, macros)
    if definition is None:
        if macro == _IMPL:
            definition = _Macro(_IMPL_DEFAULT_PARAMS, "{}", 0)
        elif macro in _WRAPPER_DEFAULTS:
            count, passes = _WRAPPER_DEFAULTS[macro]
            if len(args) != count:
                raise _fail(line, f"{macro}: expected {count} arguments, got {len(args)}")
            inner = [args[p] if isinstance(p, int) else p for p in passes]
            return _expand(_IMPL, inner, line, text, table_pos, macros, depth + 1)
        else:
            raise _fail(line, f"unknown section table macro {macro}")
    if len(args) != len(definition.params):
        raise _fail(line, f"{macro}: expected {len(definition.params)} arguments, got {len(args)}")
    if definition.body.startswith("{"):
        fields = {}
        for param, value in zip(definition.params, args):
            if param not in _ROLES:
                raise _fail(line, f"{macro}: cannot read parameter {param!r} (defined on line {definition.line})")
            fields[_ROLES[param]] = value
        return fields
    inner_call = _CALL_RE.fullmatch(definition.body)
    if inner_call is None:
        raise _fail(line, f"{macro}: cannot read its definition on line {definition.line}")
    bindings = dict(zip(definition.params, args))
    inner_args = [_IDENT_RE.sub(lambda m: bindings.get(m.group(0), m.group(0)), arg)
                  for arg in _split_args(inner_call.group(2))]
    return _expand(inner_call.group(1), inner_args, line, text, table_pos, macros, depth + 1)


def _from_fields(fields: dict[str, str], line: int, macro: str, *, legacy: bool) -> SectionDef:
    if "pattern" not in fields or "prog_type" not in fields:
        raise _fail(line, f"{macro}: no section name or program type")
    pattern = _string(fields["pattern"], line, macro)
    prog_type = _prog_type(fields["prog_type"], line, macro)
    expected = _attach_type(fields.get("expected", "0"), line, macro)
    optional = _bool(fields.get("optional", "0"), line, macro)
    attach_btf = _bool(fields.get("attach_btf", "0"), line, macro)
    sleepable = _bool(fields.get("sleepable", "0"), line, macro)
    if "attach_type" in fields:  # until v0.0.8 the attach type was a field of its own
        attach_type = _attach_type(fields["attach_type"], line, macro)
        attachable = _bool(fields["attachable"], line, macro) if "attachable" in fields else attach_type is not None
        attach_type = attach_type if attachable else None
    else:
        attachable = _bool(fields.get("attachable", "0"), line, macro)
        attach_type = expected if attachable else None
    flags = set()
    if attachable:
        flags.add("SEC_ATTACHABLE_OPT" if optional else "SEC_ATTACHABLE")
    elif optional:
        flags.add("SEC_EXP_ATTACH_OPT")
    if attach_btf:
        flags.add("SEC_ATTACH_BTF")
    if sleepable:
        flags.add("SEC_SLEEPABLE")
    return SectionDef(pattern, prog_type, expected, frozenset(flags), line, attach_type, macro, legacy)
