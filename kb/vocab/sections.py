"""libbpf's rules for program section names: which entry of its section table a ``SEC("...")`` name picks,
under the matching rules of each libbpf release.

The vocabulary of libbpf sections, shared by the collector that mines libbpf's tables from its history
(collectors/libbpf_sections.py) and the scanner that judges compiled objects by them.  Pure functions on
data; nothing here reads a file.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kb.vocab.errors import KbgenError
from kb.vocab.versions import Version, VersionError

MATCH_PREFIX = "prefix"
MATCH_SLOPPY = "sloppy"
MATCH_STRICT = "strict"


@dataclass(frozen=True)
class RuleChange:
    """One change to how libbpf matches section names: the first release with it and the commit."""

    since: str
    rules: str
    commit: str
    subject: str


RULE_CHANGES: tuple[RuleChange, ...] = (
    RuleChange("v0.0.3", MATCH_PREFIX, "66684189f0f5d182b1c3ab362fc0f919970c7079",
               "initial commit (strncmp prefix over section_names[])"),
    RuleChange("v0.6.0", MATCH_SLOPPY, "823881b4f629442dcc6e14c1d90fdaa21f9a7365",
               "libbpf: Add opt-in strict BPF program section name handling logic"),
    RuleChange("v1.0.0", MATCH_STRICT, "fcd1b668c6d29a6cb0d7126883a07f5eec6aadde",
               "libbpf: clean up SEC() handling"),
)
# SEC("?name"): the program is not autoloaded and "?" is not part of the name that is matched.
AUTOLOAD_PREFIX_SINCE = "v0.8.0"
AUTOLOAD_PREFIX_COMMIT = "e205664ddb7fa9beb4de70740e499ab603ec7215"

# Flags that only steer matching or the legacy bpf_prog_attach() helpers, not what is loaded.
MATCHING_FLAGS = frozenset({"SEC_SLOPPY_PFX", "SEC_DEPRECATED", "SEC_ATTACHABLE", "SEC_ATTACHABLE_OPT",
                            "SEC_EXP_ATTACH_OPT"})



@dataclass(frozen=True)
class SectionDef:
    """One entry of libbpf's section table.

    ``attach_type`` (what ``libbpf_attach_type_by_name()`` answers, ``None`` when the entry is not
    attachable), ``macro`` (the macro the entry is written with) and ``legacy_form`` (written in a form
    older than v0.6.0, which means prefix matching) take no part in comparisons.
    """

    pattern: str
    prog_type: str
    expected_attach_type: str | None
    flags: frozenset[str]
    line: int
    attach_type: str | None = field(default=None, compare=False)
    macro: str = field(default="SEC_DEF", compare=False)
    legacy_form: bool = field(default=False, compare=False)

    @property
    def sleepable(self) -> bool:
        return "SEC_SLEEPABLE" in self.flags

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.pattern, self.prog_type, self.expected_attach_type)

    @property
    def signature(self) -> tuple[str, str | None, frozenset[str]]:
        """What loading a program of this section means: program type, expected attach type, load flags."""
        return (self.prog_type, self.expected_attach_type, self.flags - MATCHING_FLAGS)




def _version(libbpf_version: str) -> Version:
    try:
        return Version.parse(libbpf_version).base
    except VersionError as exc:
        raise KbgenError(f"not a libbpf version: {libbpf_version!r}") from exc


def matching_rules(libbpf_version: str) -> str:
    """How the libbpf release *libbpf_version* (``"0.7.0"``, ``"v1.0.0"``) matches section names.

    ``MATCH_PREFIX`` before v0.6.0, ``MATCH_SLOPPY`` for v0.6.0 - v0.8.x, ``MATCH_STRICT`` from v1.0.0;
    :data:`RULE_CHANGES` names the commits.
    """
    version = _version(libbpf_version)
    rules = RULE_CHANGES[0].rules
    for change in RULE_CHANGES:
        if version >= _version(change.since):
            rules = change.rules
    return rules


def strips_autoload_prefix(libbpf_version: str) -> bool:
    """Whether the release reads ``SEC("?name")`` as ``name`` not autoloaded (v0.8.0 onwards)."""
    return _version(libbpf_version) >= _version(AUTOLOAD_PREFIX_SINCE)


def default_strict(libbpf_version: str) -> bool:
    """Whether the release matches strictly without the application asking (``libbpf_set_strict_mode``)."""
    return matching_rules(libbpf_version) == MATCH_STRICT


def table_rules(defs: Iterable[SectionDef]) -> str:
    """The rules a table was matched with, judged from its form: every release whose table is written in a
    pre-v0.6.0 form matched prefixes; v0.6.0 brought the ``SEC_DEF(..., flags)`` form and the new rules."""
    defs = list(defs)
    if any(d.legacy_form for d in defs):
        return MATCH_PREFIX
    if any("SEC_SLOPPY_PFX" in d.flags for d in defs):
        return MATCH_SLOPPY
    return MATCH_STRICT


def _matches(sec_def: SectionDef, name: str, rules: str, strict: bool) -> bool:
    pattern = sec_def.pattern
    if rules == MATCH_PREFIX:
        return name.startswith(pattern)
    if pattern.endswith("/"):
        return name.startswith(pattern)
    if pattern.endswith("+"):
        base = pattern[:-1]
        return name == base or name.startswith(base + "/")
    if rules == MATCH_SLOPPY and not strict and "SEC_SLOPPY_PFX" in sec_def.flags:
        return name.startswith(pattern)
    return name == pattern


def match_section(defs: Sequence[SectionDef], section_name: str, *, strict: bool, rules: str | None = None,
                  strip_autoload_prefix: bool = False) -> SectionDef | None:
    """The entry libbpf picks for *section_name*: the first in table order that matches.

    *strict* is libbpf's ``LIBBPF_STRICT_SEC_NAME`` mode: with ``MATCH_SLOPPY`` rules, ``SEC_SLOPPY_PFX``
    entries match as prefixes only when it is off.  ``MATCH_PREFIX`` rules (before v0.6.0) have no strict
    mode and ``MATCH_STRICT`` (v1.0.0 onwards) no sloppy one, so there *strict* changes nothing.  *rules*
    defaults to :func:`table_rules` of *defs*.  *strip_autoload_prefix* drops a leading ``?`` first, as
    v0.8.0 onwards does.
    """
    if rules is None:
        rules = table_rules(defs)
    if rules not in (MATCH_PREFIX, MATCH_SLOPPY, MATCH_STRICT):
        raise KbgenError(f"unknown section matching rules {rules!r}")
    if strip_autoload_prefix and section_name.startswith("?"):
        section_name = section_name[1:]
    for sec_def in defs:
        if _matches(sec_def, section_name, rules, strict):
            return sec_def
    return None


def match_for_release(defs: Sequence[SectionDef], section_name: str, libbpf_version: str, *,
                      strict: bool | None = None) -> SectionDef | None:
    """:func:`match_section` with the rules of release *libbpf_version*; *strict* defaults to that release's
    default mode (sloppy until v1.0.0)."""
    return match_section(defs, section_name, rules=matching_rules(libbpf_version),
                         strict=default_strict(libbpf_version) if strict is None else strict,
                         strip_autoload_prefix=strips_autoload_prefix(libbpf_version))


@dataclass(frozen=True)
class SectionTable:
    """One libbpf release's section table, in table order (the first matching entry wins)."""

    release: str  # "1.7.0"
    defs: tuple[SectionDef, ...]

    @property
    def rules(self) -> str:
        return matching_rules(self.release)

    def match(self, section_name: str, *, strict: bool | None = None) -> SectionDef | None:
        return match_for_release(self.defs, section_name, self.release, strict=strict)


def first_understood(tables: Sequence[SectionTable], section_name: str, *, same_as_newest: bool = True
                     ) -> tuple[SectionTable, SectionDef] | None:
    """The first release (tables in release order) that understands *section_name*; with *same_as_newest*,
    the first that loads it as the newest release does (same program type, expected attach type and load
    flags)."""
    found = [(table, table.match(section_name)) for table in tables]
    if same_as_newest:
        if not found or found[-1][1] is None:
            return None
        newest = found[-1][1].signature
        found = [(t, d) for t, d in found if d is not None and d.signature == newest]
    return next(((t, d) for t, d in found if d is not None), None)
