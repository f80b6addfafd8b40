"""libbpf's program section table: which ELF section name means which program type, in every libbpf release.

libbpf guesses a BPF program's type and expected attach type from its ELF section name (``SEC("...")``) by
walking one table in ``src/libbpf.c``, first match wins.  This module reads that table from any historical
``libbpf.c`` (:func:`parse_section_defs`), matches section names the way the release in question did
(:func:`match_section`, :func:`matching_rules`, :func:`match_for_release`), and mines every release tag of a
libbpf repository for the first release that has each entry (:func:`mine_history`).

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

Matching rules (see :data:`RULE_CHANGES`):

- up to v0.5.0 (``MATCH_PREFIX``): every entry is a plain prefix, ``strncmp(name, sec, strlen(sec))``;
- v0.6.0 - v0.8.x (``MATCH_SLOPPY``, commit 823881b4f629 "libbpf: Add opt-in strict BPF program section name
  handling logic"): ``"type/"`` needs the ``type/extras`` form, ``"type+"`` is ``type`` exactly or
  ``type/extras``, other entries match exactly, except that entries flagged ``SEC_SLOPPY_PFX`` still match as
  prefixes unless the application opted into ``LIBBPF_STRICT_SEC_NAME`` with ``libbpf_set_strict_mode()``
  (libbpf's default mode then was ``LIBBPF_STRICT_NONE``: sloppy);
- v1.0.0 onwards (``MATCH_STRICT``, commit fcd1b668c6d2 "libbpf: clean up SEC() handling" removed
  ``SEC_SLOPPY_PFX``, 62e8af46d2c2 "libbpf: enforce strict libbpf 1.0 behaviors" removed the mode): the
  v0.6.0 rules without sloppy prefixes;
- from v0.8.0 (commit e205664ddb7f "libbpf: Support opting out from autoloading BPF programs
  declaratively") a leading ``?`` (``SEC("?kprobe/x")``: not autoloaded) is dropped before matching.

Sleepable variants (``"lsm.s+"``, ``"fentry.s+"``, ``"uprobe.s+"``, ``"iter.s+"``...) are ordinary table
entries flagged ``SEC_SLEEPABLE`` (``.is_sleepable = true`` before v0.6.0); matching has no special case
for ``.s``.  Handlers an application registers at run time (``libbpf_register_prog_handler()``, v0.8.0)
are not part of the table and not modelled.

Nothing here prints; ``bench/mine_libbpf_sections.py`` does.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass

from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.facts import Facts, Release, SectionRule, Source
from kb.vocab.kinds import TREE_GIT
from kb.vocab.releases import MAINLINE_SCHEME
from kb.vocab.sections import (  # noqa: F401 - the collector's callers find them here too
    AUTOLOAD_PREFIX_COMMIT,
    AUTOLOAD_PREFIX_SINCE,
    MATCH_PREFIX,
    MATCH_SLOPPY,
    MATCH_STRICT,
    MATCHING_FLAGS,
    RULE_CHANGES,
    RuleChange,
    SectionDef,
    default_strict,
    match_for_release,
    match_section,
    matching_rules,
    strips_autoload_prefix,
    table_rules,
)
from kb.vocab.versions import Version, VersionError

LIBBPF_C = "src/libbpf.c"
_NO_FLAG = frozenset({"SEC_NONE", "0"})

class SectionTableError(KbgenError):
    """A section table that cannot be read; the message names the line (and the tag, when mining)."""

    def __init__(self, message: str, line: int | None = None, detail: str | None = None):
        super().__init__(message)
        self.line = line
        self.detail = detail or message


# ----------------------------------------------------------------------------------------------------------
# Parsing


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
    entries: list[_Entry] = []
    stack: list[tuple[str, int]] = []  # open brackets with the line they opened on
    current: list[str] = []
    entry_line = 0
    started = False  # the current entry has more than white space
    at_line_start = True
    n = len(text)
    i = pos
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            at_line_start = True
            current.append(ch)
            i += 1
            continue
        if ch in " \t\r\f\v":
            current.append(ch)
            i += 1
            continue
        if at_line_start and ch == "#":
            raise _fail(line, "preprocessor directive inside the section table")
        at_line_start = False
        if ch == "/" and text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise _fail(line, "unterminated comment in the section table")
            line += text.count("\n", i, end)
            current.append(" ")
            i = end + 2
            continue
        if ch == "/" and text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if not started:
            started, entry_line = True, line
        if ch in "\"'":
            end = i + 1
            while end < n and text[end] != ch:
                if text[end] == "\n":
                    raise _fail(line, "unterminated string in the section table")
                end += 2 if text[end] == "\\" else 1
            if end >= n:
                raise _fail(line, "unterminated string in the section table")
            current.append(text[i:end + 1])
            i = end + 1
            continue
        if ch in "({":
            stack.append((ch, entry_line))
        elif ch in ")}":
            if ch == "}" and not stack:
                _flush(entries, current, entry_line)
                return entries
            if not stack or stack[-1][0] != ("(" if ch == ")" else "{"):
                opened = stack[-1][1] if stack else line
                raise _fail(opened, f"unterminated {_entry_name(current)} (unbalanced {ch!r} on line {line})")
            stack.pop()
        elif ch == "," and not stack:
            _flush(entries, current, entry_line)
            current, started = [], False
            i += 1
            continue
        current.append(ch)
        i += 1
    opened = stack[-1][1] if stack else entry_line or line
    raise _fail(opened, f"unterminated {_entry_name(current)} (end of file inside the section table)")


def _entry_name(current: list[str]) -> str:
    match = _IDENT_RE.search("".join(current))
    return f"{match.group(0)}(" if match else "section table"


def _flush(entries: list[_Entry], current: list[str], line: int) -> None:
    text = "".join(current).strip()
    if text:
        entries.append(_Entry(text, line))


def _split_args(text: str) -> list[str]:
    """Split a macro's argument list at top-level commas (strings and brackets respected)."""
    args, depth, start, i = [], 0, 0, 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            i += 1
            while i < len(text) and text[i] != ch:
                i += 2 if text[i] == "\\" else 1
        elif ch in "({[":
            depth += 1
        elif ch in ")}]":
            depth -= 1
        elif ch == "," and depth == 0:
            args.append(text[start:i].strip())
            start = i + 1
        i += 1
    last = text[start:].strip()
    if last or args:
        args.append(last)
    return args


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


# ----------------------------------------------------------------------------------------------------------
# Mining every release


@dataclass
class ReleaseTable:
    """One release tag's table: ``blob`` is ``None`` when the tag has no ``src/libbpf.c``; ``defs`` is empty
    when the file has no table."""

    tag: str
    version: Version
    blob: str | None
    defs: list[SectionDef]
    rules: str

    @property
    def has_table(self) -> bool:
        return bool(self.defs)


@dataclass
class Presence:
    """Where an entry is: first and last release (version order) that has it, the first release after the
    last one that does not (``None`` while the newest release has it), and every release that has it."""

    first_release: str
    last_release: str
    removed_in: str | None
    releases: list[str]


@dataclass
class SectionMatch:
    tag: str
    sec_def: SectionDef


@dataclass
class MinedSections:
    repo: str
    releases: list[ReleaseTable]  # version order
    patterns: dict[str, Presence]
    entries: dict[tuple[str, str, str | None], Presence]
    blobs_parsed: int = 0

    def release(self, tag: str) -> ReleaseTable:
        for release in self.releases:
            if release.tag == tag:
                return release
        raise KbgenError(f"{self.repo}: no release tag {tag}")

    def match(self, section_name: str, *, strict: bool | None = None) -> list[SectionMatch | None]:
        """Per release (version order) what the section name maps to under that release's rules, with its
        default strictness unless *strict* says otherwise."""
        out: list[SectionMatch | None] = []
        for release in self.releases:
            found = match_for_release(release.defs, section_name, release.tag, strict=strict)
            out.append(SectionMatch(release.tag, found) if found else None)
        return out

    def first_release(self, section_name: str, *, strict: bool | None = None,
                      same_as_newest: bool = False) -> SectionMatch | None:
        """The first release that understands *section_name*; with *same_as_newest*, the first one that
        loads it the way the newest release does (same :attr:`SectionDef.signature`)."""
        matches = self.match(section_name, strict=strict)
        if same_as_newest:
            newest = matches[-1] if matches else None
            if newest is None:
                return None
            matches = [m for m in matches if m and m.sec_def.signature == newest.sec_def.signature]
        return next((m for m in matches if m), None)


def _git(repo: str, *args: str, input: bytes | None = None) -> bytes:
    try:
        result = subprocess.run(["git", "-C", repo, *args], input=input, capture_output=True, check=False)
    except OSError as exc:
        raise KbgenError(f"cannot run git: {exc}") from exc
    if result.returncode != 0:
        lines = result.stderr.decode(errors="replace").strip().splitlines()
        raise KbgenError(f"git {args[0]} failed in {repo}: {lines[-1] if lines else 'no message'}")
    return result.stdout


def _release_tags(repo: str, tags: list[str] | None) -> list[tuple[Version, str]]:
    names = _git(repo, "for-each-ref", "refs/tags", "--format=%(refname:strip=2)").decode().split()
    if tags is None:
        candidates = [name for name in names if name.startswith("v")]
    else:
        unknown = sorted(set(tags) - set(names))
        if unknown:
            raise KbgenError(f"{repo}: no tag {unknown[0]}")
        candidates = list(dict.fromkeys(tags))
    out = []
    for name in candidates:
        try:
            version = Version.parse(name)
        except VersionError:
            if tags is not None:
                raise KbgenError(f"{repo}: tag {name!r} is not a version") from None
            continue
        if tags is None and (version.is_rc or version.suffix):
            continue
        out.append((version, name))
    return sorted(out)


def _read_blobs(repo: str, tags: list[str]) -> dict[str, tuple[str | None, bytes | None]]:
    """tag -> (blob sha, contents) of src/libbpf.c, all through one ``git cat-file --batch``."""
    if not tags:
        return {}
    request = "".join(f"{tag}:{LIBBPF_C}\n" for tag in tags).encode()
    out = _git(repo, "cat-file", "--batch", input=request)
    result: dict[str, tuple[str | None, bytes | None]] = {}
    pos = 0
    for tag in tags:
        eol = out.find(b"\n", pos)
        if eol < 0:
            raise KbgenError(f"{repo}: git cat-file --batch ended early at {tag}")
        header = out[pos:eol].decode(errors="replace").split()
        pos = eol + 1
        if len(header) == 3 and header[1] in ("blob", "tree", "commit", "tag"):
            size = int(header[2])
            data = out[pos:pos + size]
            pos += size + 1
            result[tag] = (header[0], data) if header[1] == "blob" else (None, None)
        else:  # "<name> missing" or "ambiguous"
            result[tag] = (None, None)
    return result


def mine_history(repo_path: str, tags: list[str] | None = None) -> MinedSections:
    """Read ``src/libbpf.c`` at every release tag (``v*`` tags that are versions, no rc) or at *tags*.

    One ``git for-each-ref`` lists the tags, one ``git cat-file --batch`` reads the files, and each
    distinct blob is parsed once.  Nothing is checked out; bare repositories work.
    """
    ordered = _release_tags(repo_path, tags)
    blobs = _read_blobs(repo_path, [name for _version, name in ordered])
    parsed: dict[str, list[SectionDef]] = {}
    releases: list[ReleaseTable] = []
    for version, tag in ordered:
        sha, data = blobs[tag]
        defs: list[SectionDef] = []
        if sha is not None and data is not None:
            if sha not in parsed:
                try:
                    parsed[sha] = parse_section_defs(data)
                except SectionTableError as exc:
                    raise SectionTableError(f"{repo_path} {tag}:{LIBBPF_C} line {exc.line}: {exc.detail}", exc.line,
                                            exc.detail) from None
            defs = parsed[sha]
        releases.append(ReleaseTable(tag, version, sha, defs, matching_rules(tag)))
    patterns = _presence(releases, lambda d: d.pattern)
    entries = _presence(releases, lambda d: d.key)
    return MinedSections(repo_path, releases, patterns, entries, len(parsed))


def _presence(releases: list[ReleaseTable], key) -> dict:
    seen: dict = {}
    for index, release in enumerate(releases):
        for sec_def in release.defs:
            indexes = seen.setdefault(key(sec_def), [])
            if not indexes or indexes[-1] != index:
                indexes.append(index)
    out = {}
    for item, indexes in seen.items():
        last = indexes[-1]
        removed = releases[last + 1].tag if last + 1 < len(releases) else None
        out[item] = Presence(releases[indexes[0]].tag, releases[last].tag, removed,
                             [releases[i].tag for i in indexes])
    return out


# ----------------------------------------------------------------------------------------------------------
# The collector


class LibbpfSectionsCollector:
    """Every libbpf release's section table, from ``src/libbpf.c`` of a libbpf repository (the GitHub mirror
    layout): which release first understands each ``SEC()`` name, and as what program and attach type."""

    name = "libbpf-sections"
    reads = f"{LIBBPF_C} at every release tag of a libbpf repository"

    @classmethod
    def accepts(cls, repo: str, *, rev: str = "HEAD", **_options) -> bool:
        # The kernel carries libbpf in tools/lib/bpf, but its tags are kernel releases, not libbpf's.
        return subprocess.run(["git", "-C", repo, "cat-file", "-e", f"{rev}:{LIBBPF_C}"], capture_output=True,
                              check=False).returncode == 0

    def __init__(self, repo: str, *, tree: str | None = None, rev: str = "HEAD", **_options):
        from collectors.git import Repository

        self.repository = Repository(repo)
        self.tree = tree or self.repository.label
        self.rev = rev
        self.source_id = f"git:{self.repository.label}:{LIBBPF_C}"

    def fingerprint(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        for part in (PARSER_VERSION, self.repository.resolve(self.rev), self.repository.refs_digest()):
            digest.update(part.encode() + b"\0")
        return digest.hexdigest()

    def collect(self, progress=None) -> Facts:
        fingerprint = self.fingerprint()
        head = self.repository.resolve(self.rev)
        mined = mine_history(self.repository.path)
        refs = {ref.name: ref for ref in self.repository.tags()}
        facts = Facts(
            tree=self.tree, tree_kind=TREE_GIT, collector=self.name, scheme=MAINLINE_SCHEME,
            source=Source(self.source_id, f"libbpf's section table in {LIBBPF_C}, mined from every release tag of "
                          f"{self.repository.path}", self.repository.path, LIBBPF_C, head),
            fingerprint=fingerprint, head_commit=head,
        )
        for release in mined.releases:
            if not release.has_table:
                continue
            version = release.tag.removeprefix("v")
            ref = refs.get(release.tag)
            facts.releases.append(Release(version, rules.key_text(rules.kernel_key(version)), str(release.version),
                                          release.tag, ref.commit if ref else None, ref.date if ref else None))
            facts.sections += [SectionRule(version, position, d) for position, d in enumerate(release.defs)]
        if not facts.releases:
            raise SectionTableError(f"{self.repository.path}: no release tag has a section table in {LIBBPF_C}")
        return facts


# Bump when parsing changes what a table yields.
PARSER_VERSION = "1"
