"""``kbgen scan``: what each compiled BPF object needs of a kernel and of libbpf, judged as the kernel and libbpf
will see it.

The object reader (collectors.bpf) reports facts: calls, maps, program sections, and every instruction,
relocation, section and BTF type a rule (collectors.bpf.enums) says shows the need of a feature.  Here each of
them becomes a :class:`Finding` judged against the knowledge base: its item (helper, kfunc, map, program or
attach type, feature), its first release, what libbpf does on a kernel without it (rewrites or strips it:
*sanitized*; leaves a weak extern 0: *optional*; resolves it when linking: *link*), and the verifier's
checks that do not depend on the release (a helper a program type cannot call, a GPL-only helper or any kfunc
in an object whose license is not GPL-compatible).  Each program and each object gets the minimum kernel its
*required* findings set, naming the findings that set it.

Results are produced one object at a time (:attr:`ScanResult.objects` is an iterator), so a report can be
written as it is produced, whatever the number of objects.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from kb.formats.bpf import enums as bpf
from kb.scan import adapt
from kb.store import availability, program_rules, queries
from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.facts import AS_DOCUMENTED, CALLABLE_FROM, PROBED
from kb.vocab.kinds import ATTACH_TYPE, FEATURE, HELPER, KFUNC, MAINLINE, MAP_TYPE, PROG_TYPE
from kb.vocab.releases import BUILD_SCHEME
from kb.vocab.sections import first_understood
from kb.vocab.warnings import warn

# Status of a finding on the target kernel (or, without one, in general).
OK = "ok"
TOO_NEW = "too_new"  # first release is newer than the target kernel
REMOVED = "removed"  # the target kernel no longer has it
UNKNOWN = "unknown"  # not in the knowledge base at all (a helper id newer than it, a kfunc it does not list)
RELEASE_UNKNOWN = "release_unknown"  # in the knowledge base, but no release is known to have it
HANDLED = "handled"  # the target lacks it and libbpf works around that (rewrites or strips it)
OPTIONAL = "optional"  # the target lacks it and that is allowed: a weak extern libbpf leaves 0
LINK = "link"  # an extern another object defines: resolved when the objects are linked, not by the kernel
REFUSED = "refused"  # the verifier refuses it whatever the release (license), or the probed build refuses it
UNDOCUMENTED = "undocumented"  # the documented lists do not pair it with the program type: a warning
LEGACY = "legacy"  # a section name only older libbpf releases load
ABSENT = "absent"  # the judged tree (a build, a distribution's history) gives every item of its kind, not this one
ADAPTS = "adapts"  # reached only where a guard holds, and the guard rules it out where it is missing
DEPENDS = "depends"  # reached only where a guard holds, which only the target's BTF (or kernel) can tell
UNRESOLVED = "unresolved"  # a CO-RE relocation the target's BTF cannot satisfy: libbpf poisons the instruction
TEST_ONLY = "test_only"  # exists only in kernels built for BPF selftests
FAILING = (TOO_NEW, REMOVED, UNKNOWN, REFUSED, ABSENT, UNRESOLVED)
FAILING_WITHOUT_TARGET = (REFUSED, ABSENT, UNKNOWN, UNRESOLVED)  # fails on every kernel (the tree describes)

# How a finding bears on the kernel minimum.
REQUIRED = "required"  # the kernel must have it
SANITIZED = "sanitized"  # libbpf (from the release in Finding.libbpf) rewrites or strips it on older kernels
OPTIONAL_NEED = "optional"  # the program works without it (weak extern, an attach type libbpf may leave out)
LIBBPF_ONLY = "libbpf"  # handled entirely by libbpf: the kernel never sees it
LINK_NEED = "link"  # resolved by linking objects (bpftool gen object)
CHECK = "check"  # a verifier check, not a release
GUARDED = "guarded"  # reached only where a guard in the code holds: it does not raise the minimum

# libbpf section flags that are needs of their own (kb.vocab.sections): flag -> feature.
SECTION_FLAG_FEATURES = {"SEC_SLEEPABLE": "verifier.sleepable", "SEC_XDP_FRAGS": "prog.xdp_frags"}
# Sections whose expected attach type libbpf leaves out where the kernel does not take one.
OPTIONAL_ATTACH_FLAGS = frozenset({"SEC_ATTACHABLE_OPT", "SEC_EXP_ATTACH_OPT"})
STRUCT_OPS_VALUE_PREFIX = "bpf_struct_ops_"  # libbpf's STRUCT_OPS_VALUE_PREFIX
CACHE_LIMIT = 1 << 14  # entries of a cache of verdicts or section names: past it, it starts again
_LIBBPF_RE = re.compile(r"^sanitized:libbpf v?(\d[\w.]*)")
_LIBBPF_NEEDS = {"required": REQUIRED, "optional": OPTIONAL_NEED, "libbpf-only": LIBBPF_ONLY}


@dataclass(frozen=True, slots=True, eq=False)
class Verdict:
    """What a finding says about the item it uses; one object for every site of the same call or feature."""

    kind: str  # helper, kfunc, map_type, prog_type, attach_type, feature, extern, section, context, license
    id: int | str
    name: str | None
    first_release: str | None
    status: str
    removed_in: str | None = None
    need: str = REQUIRED
    requires: str | None = None  # the kernel release this finding requires: what it adds to the minimum
    libbpf: str | None = None  # the libbpf release that handles it (sanitized) or understands it (sections)
    rule: str | None = None  # the detection rule that fired (collectors.bpf.enums), or how it was found
    reason: str = ""  # what was seen and how it is judged, in words
    guard: str | None = None  # where the code reaches it: "LINUX_KERNEL_VERSION ≥ 5.19" (kb.formats.bpf.guards)
    otherwise: str | None = None  # what the code uses where the guard does not hold
    arrival: str | None = None  # where the first release is not established: "between 6.12 and 7.2"


class Finding:
    """A use of an item at a place in an object: its :class:`Verdict` (``kind``, ``id``, ``status``... read
    through) and where it is."""

    __slots__ = (
        "count",
        "file_offset",
        "function",
        "insn",
        "map",
        "offset",
        "program",
        "section",
        "source",
        "symbol",
        "verdict",
    )

    def __init__(self, verdict: Verdict, section: str, program: str | None = None, insn: int | None = None,
                 offset: int | None = None, file_offset: int = 0, map: str | None = None, source=None,
                 count: int = 1, symbol: str | None = None, function: int | None = None):
        self.verdict = verdict
        self.section = section
        self.program = program  # the function symbol it is in
        self.insn = insn  # instruction slot; None for maps, sections and BTF
        self.offset = offset  # byte offset in the section
        self.file_offset = file_offset
        self.map = map  # the map variable, for map_type findings
        self.source = source  # collectors.bpf.elfobject.SourceLine, where the object has line info
        self.count = count  # times the rule fired in the function (the first is located)
        self.symbol = symbol
        self.function = function  # index of the function it is in (BPFObject.functions)

    def __repr__(self) -> str:
        return f"Finding({self.verdict!r}, {self.section!r}, {self.program!r}, insn={self.insn!r})"


for _field in Verdict.__dataclass_fields__:
    setattr(Finding, _field, property(lambda self, _name=_field: getattr(self.verdict, _name)))


@dataclass
class ProgramReport:
    section: str
    name: str
    subprogram: bool  # a function of .text, loaded only as part of the programs that call it
    prog_type: str | None = None
    attach_type: str | None = None
    libbpf: str | None = None  # the first libbpf release that loads the section as the newest one does
    min_kernel: str | None = None
    set_by: list[Finding] = field(default_factory=list)


@dataclass
class ObjectReport:
    path: str
    findings: list[Finding] = field(default_factory=list)
    programs: list[ProgramReport] = field(default_factory=list)
    license: str | None = None
    gpl_compatible: bool = False
    core: dict | None = None  # CO-RE against the target's BTF: {"target", "relocations", "resolved", "unresolved"}

    @property
    def min_kernel(self) -> str | None:
        return _highest(self.findings)[0]

    @property
    def forced_by(self) -> list[Finding]:
        return _highest(self.findings)[1]

    @property
    def min_libbpf(self) -> str | None:
        # A legacy section's release is the last that loads it, not a minimum.
        found = {f.verdict.libbpf for f in self.findings if f.verdict.status != LEGACY} - {None}
        return max(found, key=release_key) if found else None

    def failing(self, kernel: str | None) -> list[Finding]:
        statuses = FAILING if kernel else FAILING_WITHOUT_TARGET
        return [f for f in self.findings if f.verdict.status in statuses]


@functools.lru_cache(maxsize=4096)
def release_key(release: str) -> tuple[int, ...]:
    return rules.kernel_key(release)


def past_knowledge(where: availability.Target) -> bool:
    """Whether the target kernel is newer than every release the knowledge base knows."""
    return bool(getattr(where, "beyond", None))


def _highest(findings) -> tuple[str | None, list[Finding]]:
    releases = {f.verdict.requires for f in findings} - {None}
    if not releases:
        return None, []
    top = max(releases, key=release_key)
    return top, [f for f in findings if f.verdict.requires == top]


class Streamed:
    """Results produced one object at a time: :meth:`_stream` counts them and notes whether any fails."""

    def __init__(self, skipped: list[str] | None):
        self.skipped = skipped if skipped is not None else []  # BPF objects in directories that could not be read
        self.scanned = 0
        self._failed = False

    def _stream(self, items, fails):
        for item in items:
            self.scanned += 1
            if fails(item):
                self._failed = True
            yield item

    @property
    def failed(self) -> bool:
        return self._failed


class ScanResult(Streamed):
    """The scan of some objects: :attr:`objects` yields one :class:`ObjectReport` at a time, and
    :attr:`failed` says whether any report yielded so far fails on the target."""

    def __init__(self, tree: str, data_version: str, kernel: str | None, reports: Iterator[ObjectReport],
                 skipped: list[str] | None = None):
        super().__init__(skipped)
        self.tree = tree
        self.data_version = data_version
        self.kernel = kernel
        self._reports = reports

    @property
    def objects(self) -> Iterator[ObjectReport]:
        return self._stream(self._reports, lambda report: report.failing(self.kernel))


# -- finding the objects -----------------------------------------------------------------------------------------


def object_paths(paths: list[str]) -> Iterator[tuple[str, bool]]:
    """(path, given) of each candidate: files as given; directories searched for *.o, in a stable order."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs.sort()
                for name in sorted(files):
                    if name.endswith(".o"):
                        yield os.path.join(root, name), False
        else:
            yield path, True


def _objects(paths: list[str], skipped: list[str]):
    """Each BPF object of *paths*, read.  A file named on the command line must be one (else bad input, at once);
    of the files a directory holds, what is no BPF object is passed over with a note, and a BPF object that
    cannot be read is too, noted in *skipped* so that the scan still ends as bad input, its report whole."""
    from kb.formats.bpf.elfobject import NotBPFObject, NotELFObject, NotRegularFile, ObjectError, read_object

    for path, given in object_paths(paths):
        try:
            yield read_object(path)
        except ObjectError as err:
            if given:
                raise
            if not isinstance(err, (NotBPFObject, NotRegularFile, NotELFObject)):
                skipped.append(str(err))
            warn(f"{err}: skipped")


# -- the knowledge the judging needs, read once ------------------------------------------------------------------

_STATUS = {availability.AVAILABLE: OK, availability.NOT_YET: TOO_NEW, availability.REMOVED: REMOVED,
           availability.RELEASE_UNKNOWN: RELEASE_UNKNOWN, availability.UNRELEASED: RELEASE_UNKNOWN,
           availability.BOUNDED: RELEASE_UNKNOWN}
# Kinds judged by mainline's facts where the judged tree (a distribution's history) does not list the item:
# features are never in a tree's own header, and program and attach types come from libbpf's section rules.
# A kind a tree has no item of at all (a probed build lists no helpers, only which it accepts) is judged by
# mainline too; a probed build that lacks a program or attach type it does list has not got it.
_MAINLINE_FALLBACK = (FEATURE, PROG_TYPE, ATTACH_TYPE)


class _Items:
    """A tree's items by (kind, value) and by (kind, any name)."""

    def __init__(self, conn, tree: str):
        self.by_value: dict[tuple[str, object], queries.ItemRow] = {}
        self.by_name: dict[tuple[str, str], queries.ItemRow] = {}
        for row in queries.items(conn, tree):
            self.by_value[(row.kind, row.value)] = row
            for name in row.names:
                self.by_name.setdefault((row.kind, name), row)


class _Tree:
    def __init__(self, conn, tree: str, where: availability.Target | None, items: _Items | None = None):
        self.name = tree
        self.where = where
        items = items or _Items(conn, tree)
        self.by_value, self.by_name = items.by_value, items.by_name
        self.verdicts: dict[tuple[str, object], tuple] = {}

    def judge(self, kind: str, value) -> tuple:
        """(item or None, status) of an item an object uses."""
        key = (kind, value)
        found = self.verdicts.get(key)
        if found is None:
            item = self.by_value.get(key)
            if item is None:
                found = (None, UNKNOWN, None)
            elif item.first_release is None and not availability.arrival(item):
                found = (item, RELEASE_UNKNOWN, None)
            elif self.where is None:
                found = (item, OK, None)
            else:
                verdict = availability.judge(item, self.where)
                # A kernel past the knowledge base (availability's "beyond"): nothing is known of it.
                found = (item, _STATUS.get(verdict.status, RELEASE_UNKNOWN), verdict.removed_in)
            self.verdicts[key] = found
        return found


class Common:
    """What judging needs that is the same whatever the target: libbpf's section tables, the program rules, mainline's
    items and documented relations.  Read once for a fleet of builds (a matrix of 26 builds read them 26 times)."""

    def __init__(self, conn):
        self.rules = program_rules.load()
        self.tables = queries.section_tables(conn)
        self.sections = _SectionRules(self.tables)
        self.has_mainline = MAINLINE in queries.tree_names(conn)
        self.mainline = _Items(conn, MAINLINE) if self.has_mainline else None
        self.documented = queries.relation_sets(conn, MAINLINE, CALLABLE_FROM)


class Knowledge:
    """What judging needs of the knowledge base, read once for a whole scan."""

    def __init__(self, conn, tree: str, where: availability.Target | None, btf=None, common: Common | None = None):
        common = common or Common(conn)
        self.btf = btf  # kb.formats.btf.core.Target: the target's BTF, where one is known
        self.rules = common.rules
        self.tree = _Tree(conn, tree, where, common.mainline if tree == MAINLINE else None)
        self.build = queries.tree_info(conn, tree).scheme == BUILD_SCHEME
        # Kinds the tree gives completely: an item of them it lacks, it has not got.  Others (features in any tree,
        # kfuncs of a build whose BTF tags none, a distribution history's kfuncs) are judged by mainline.
        self.covered = queries.covers(conn, tree)
        if tree == MAINLINE:
            self.mainline = self.tree
        else:
            try:
                mainline_where = availability.mainline_stand_in(conn, where) if where else None
            except KbgenError:
                mainline_where = None
            self.mainline = _Tree(conn, MAINLINE, mainline_where, common.mainline) if common.has_mainline \
                else self.tree
        self.tables = common.tables
        self._sections = common.sections
        self.callable = queries.relation_sets(conn, tree, CALLABLE_FROM)
        self.documented = self.callable if tree == MAINLINE else common.documented
        # The program types a live probe tried, per kind of callee: it probes helpers only, so a kfunc is never
        # refused for want of a probed relation.
        self.probed_types: dict[str, set] = {}
        for (kind, _value), by in self.callable.items():
            self.probed_types.setdefault(kind, set()).update(by.get(PROBED, ()))

    def judge(self, kind: str, value) -> tuple:
        """(item, status, removed_in, judged by mainline instead of the tree)."""
        item, status, removed = self.tree.judge(kind, value)
        if item is None and self.mainline is not self.tree and (
                kind not in self.covered or (kind in _MAINLINE_FALLBACK and not self.build)):
            item, status, removed = self.mainline.judge(kind, value)
            return item, status, removed, True
        return item, status, removed, False

    def named(self, kind: str, name: str) -> queries.ItemRow | None:
        return self.tree.by_name.get((kind, name)) or self.mainline.by_name.get((kind, name))

    def section(self, name: str):
        return self._sections.judge(name)


class _SectionRules:
    """libbpf's answer for a section name: the newest table's entry, the first release that loads it so, and for
    a name the newest release does not load, the last release that did.  Names that every pattern of every
    table treats alike get the same answer, so it is computed once per such class of names."""

    def __init__(self, tables):
        self.tables = tables
        patterns = sorted({d.pattern for t in tables for d in t.defs})
        # Every test below needs the name to start as the pattern does: only patterns of its first letter count.
        self.tests: dict[str, list] = {}
        for n, pattern in enumerate(patterns):
            self.tests.setdefault(pattern[:1], []).append((n, pattern, pattern.removesuffix("+")))
        self.cache: dict[tuple, tuple] = {}
        self.by_name: dict[str, tuple] = {}

    def _signature(self, name: str) -> tuple:
        bits = []
        for n, pattern, base in self.tests.get(name[:1], []) + self.tests.get("", []):
            flags = (name.startswith(pattern), name == pattern, name == base, name.startswith(base + "/"))
            if any(flags):
                bits.append((n, flags))
        return tuple(bits)

    def judge(self, name: str) -> tuple:
        found = self.by_name.get(name)
        if found is None:
            if len(self.by_name) > CACHE_LIMIT:  # names such as kprobe/<function> rarely recur: keep memory flat
                self.by_name.clear()
            found = self.by_name[name] = self._judge(name)
        return found

    def _judge(self, name: str) -> tuple:
        key = (self._signature(name), self._signature(name[1:]) if name.startswith("?") else None,
               name.startswith("?"))
        found = self.cache.get(key)
        if found is None:
            newest = self.tables[-1].match(name) if self.tables else None
            first = first_understood(self.tables, name, same_as_newest=True) if newest else None
            last = None
            if newest is None:
                last = next(((t, d) for t in reversed(self.tables) if (d := t.match(name)) is not None), None)
            found = self.cache[key] = (newest, first, last)
        return found


# -- judging one object -------------------------------------------------------------------------------------------


def _libbpf_release(text: str | None) -> str | None:
    match = _LIBBPF_RE.match(text or "")
    return match.group(1) if match else None


def _version(text: str | None) -> str | None:
    return text.removeprefix("v") if text else text


class _Judge:
    """Verdicts on what objects use, each worked out once for the whole scan."""

    def __init__(self, knowledge: Knowledge, kernel: str | None):
        self.kb = knowledge
        self.kernel = kernel
        self.cache: dict[tuple, Verdict] = {}

    def verdict(self, kind: str, value, need: str = REQUIRED, rule: str | None = None, reason: str = "",
                libbpf: str | None = None) -> Verdict:
        key = (kind, value, need, rule, reason, libbpf)
        found = self.cache.get(key)
        if found is None:
            item, status, removed, fallback = self.kb.judge(kind, value)
            name = item.name if item else None
            mainline = self.kb.mainline.by_value.get((kind, value))
            if fallback:
                reason += f" (judged by {MAINLINE}: tree {self.kb.tree.name} does not list it)"
            elif item is None and self.kb.mainline is not self.kb.tree and mainline is not None:
                # The tree gives every item of this kind: it has not got this one, which mainline has.
                what = "probed build" if self.kb.build else "tree"
                status, name = ABSENT, mainline.name
                reason += f" (the {what} {self.kb.tree.name} does not have it)"
            first = item.first_release if item else None
            bounded = availability.arrival(item) if item else None
            if bounded and status != OK:
                reason += f" (arrived {bounded}; its first release is not established)"
            if removed is None and item is not None:
                removed = item.removed_in
            requires = None
            if need == REQUIRED:
                # The minimum is said in mainline releases: a build's or a distribution's release names are no
                # kernel versions another reader can compare.
                requires = (mainline.first_release if mainline else None) if self.kb.mainline is not self.kb.tree \
                    else first
            elif need == SANITIZED and self.kernel and status in (TOO_NEW, REMOVED):
                status = HANDLED
            elif need == OPTIONAL_NEED and (self.kernel or status == UNKNOWN) and status in (TOO_NEW, REMOVED,
                                                                                             UNKNOWN, ABSENT):
                status = OPTIONAL
            elif need == LIBBPF_ONLY:
                status = OK
            found = self.cache[key] = Verdict(kind, value, name, first, status, removed, need, requires, libbpf, rule,
                                              reason, arrival=bounded)
        return found

    # -- the parts of an object --

    def programs(self, obj, report: ObjectReport) -> dict[int, object]:
        """Program and attach type of each program (function of a program section); returns the newest
        libbpf entry of each entry function."""
        entries = {}
        unknown_sections = set()
        for index, function in enumerate(obj.functions):
            program = ProgramReport(function.section, function.name, not function.entry)
            report.programs.append(program)
            if not function.entry:
                continue
            newest, first, last = self.kb.section(function.section)
            site = (function.section, function.name, function.start // 8, function.start, function.file_offset)
            definition, release = newest, first[0].release if first else None
            if newest is None:
                if function.section not in unknown_sections:
                    unknown_sections.add(function.section)
                    report.findings.append(Finding(self._unknown_section(function.section, last), *site,
                                                   source=function.source, function=index))
                if last is None:
                    continue
                definition, release = last[1], None
            entries[index] = definition
            program.prog_type, program.attach_type = definition.prog_type, definition.expected_attach_type
            program.libbpf = _version(release)
            for verdict in self._program_verdicts(definition, function.section, program.libbpf):
                report.findings.append(Finding(verdict, *site, source=function.source, function=index))
        return entries

    def _unknown_section(self, section: str, last) -> Verdict:
        if last is None:
            return Verdict("section", section, None, None, UNKNOWN, need=CHECK, rule="libbpf_section",
                           reason=f'no libbpf release loads SEC("{section}") as a program')
        table, definition = last
        return Verdict("section", section, None, None, LEGACY, need=CHECK, rule="libbpf_section",
                       libbpf=_version(table.release),
                       reason=f'libbpf {_version(table.release)} is the last release that loads SEC("{section}") '
                              f"(as {definition.prog_type}); newer releases refuse it")

    def _program_verdicts(self, definition, section: str, libbpf: str | None) -> list[Verdict]:
        value = self.kb.named(PROG_TYPE, definition.prog_type)
        found = [self.verdict(PROG_TYPE, value.value if value else definition.prog_type,
                              rule=f"section {definition.pattern}", libbpf=libbpf,
                              reason=f'SEC("{section}"): libbpf loads it as {definition.prog_type}')]
        rules = self.kb.rules
        section_rule = rules.sections.get(definition.pattern)
        if section_rule is not None:
            found.append(self.release_verdict("program", definition.pattern, section_rule,
                                              f'SEC("{section}"): {section_rule.note}'))
        if definition.expected_attach_type:
            value = self.kb.named(ATTACH_TYPE, definition.expected_attach_type)
            optional = bool(definition.flags & OPTIONAL_ATTACH_FLAGS)
            how = "; libbpf leaves it out on kernels without it" if optional else ""
            if definition.pattern in rules.attach_required:
                optional, how = False, f"; {rules.attach_required[definition.pattern].note}, so it is needed"
            elif definition.pattern in rules.attach_ignored:
                optional, how = True, f"; {rules.attach_ignored[definition.pattern].note}"
            found.append(self.verdict(
                ATTACH_TYPE, value.value if value else definition.expected_attach_type,
                need=OPTIONAL_NEED if optional else REQUIRED, rule=f"section {definition.pattern}",
                reason=f'SEC("{section}"): expected attach type {definition.expected_attach_type}{how}'))
        for flag, feature in SECTION_FLAG_FEATURES.items():
            if flag in definition.flags:
                found.append(self.feature(feature, rule=f"section flag {flag}",
                                          reason=f'SEC("{section}"): libbpf loads it with {flag}'))
        return found

    def release_verdict(self, kind: str, value: str, fact, reason: str) -> Verdict:
        """A need whose first release is a fact of data/program_rules.tsv rather than an item of the store."""
        key = (kind, value, reason)
        found = self.cache.get(key)
        if found is None:
            status = OK
            where = self.kb.mainline.where if self.kb.mainline.where is not None else self.kb.tree.where
            if where is not None and not past_knowledge(where) and \
                    where.key[:4] < rules.kernel_key(fact.release)[:4]:
                status = TOO_NEW
            found = self.cache[key] = Verdict(kind, value, None, fact.release, status, requires=fact.release,
                                              rule=f"program_rules {fact.rule}",
                                              reason=f"{reason}; from Linux {fact.release} ({fact.source})")
        return found

    def struct_ops(self, type_name: str | None) -> Verdict:
        fact = self.kb.rules.struct_ops.get(type_name or "")
        if fact is None:
            found = Verdict("struct_ops", type_name or "?", None, None, RELEASE_UNKNOWN, rule="program_rules struct_ops",
                            reason=f"struct_ops map of struct {type_name}: its first release is not in the rules")
        else:
            found = self.release_verdict("struct_ops", fact.subject, fact, f"struct_ops map of struct {fact.subject}: "
                                         f"{fact.note}")
        btf = self.kb.btf
        if btf is None or not type_name:
            return found
        # libbpf finds the kernel's side of a struct_ops type as struct bpf_struct_ops_<name> in the kernel's BTF:
        # the target's BTF says whether this kernel registers the type (configured in, or backported).
        value = STRUCT_OPS_VALUE_PREFIX + type_name
        if btf.has_struct(value):
            return replace(found, status=OK if found.status == TOO_NEW else found.status,
                           reason=f"{found.reason}; {btf.name} has struct {value}")
        return replace(found, status=ABSENT, reason=f"{found.reason}; {btf.name} has no struct {value}: the kernel "
                       "does not register this struct_ops type (configured out, or in a module)")

    def feature(self, slug: str, *, rule: str, reason: str, weak: bool = False) -> Verdict:
        key = (FEATURE, slug, rule, reason, weak)
        found = self.cache.get(key)
        if found is None:
            item = self.kb.named(FEATURE, slug)
            how = item.libbpf if item else None
            libbpf = _libbpf_release(how)
            need = SANITIZED if libbpf else _LIBBPF_NEEDS.get((how or "required").split(":")[0], REQUIRED)
            if weak:
                need = OPTIONAL_NEED
            elif rule in bpf.KERNEL_ONLY_RULES:
                need, libbpf = REQUIRED, None
            text = reason + {SANITIZED: f"; libbpf {libbpf} and later handle kernels without it",
                             LIBBPF_ONLY: "; handled by libbpf, the kernel never sees it",
                             OPTIONAL_NEED: "; optional: libbpf does without it"}.get(need, "")
            found = self.cache[key] = self.verdict(FEATURE, slug, need=need, rule=rule, reason=text, libbpf=libbpf)
        return found

    def call(self, obj, call) -> Verdict:
        if call.kind == HELPER:
            return self.helper(call.target)
        if call.kind == "extern" and (obj.has_btf or self.kb.named(KFUNC, call.target) is None):
            what = "variable" if call.variable else "function"
            return Verdict("extern", call.target, None, None, LINK, need=LINK_NEED, rule="extern",
                           reason=f"extern {what} {call.target} is not a __ksym: another object defines it, "
                                  "resolved when the objects are linked (bpftool gen object)")
        key = ("kfunc call", call.target, call.weak, call.kind)
        found = self.cache.get(key)
        if found is None:
            found = self.cache[key] = self._kfunc(call)
        return found

    def _kfunc(self, call) -> Verdict:
        name = essential_name(call.target)
        reason = f"call of kfunc {call.target}" + (f" (libbpf looks up {name})" if name != call.target else "") + (
            " (weak: optional, libbpf leaves the call out where the kernel lacks it)" if call.weak else "")
        if call.kind == "extern":
            reason += " (the object has no BTF: named as the knowledge base's kfunc)"
        verdict = self.verdict(KFUNC, name, need=OPTIONAL_NEED if call.weak else REQUIRED, rule="kfunc_call",
                               reason=reason)
        test_only = self.kb.rules.test_only_rule(name)
        if test_only is not None and verdict.status == UNKNOWN:
            verdict = replace(verdict, status=TEST_ONLY, requires=None, rule="program_rules test_only",
                              reason=f"{reason}: {test_only.note} ({test_only.source})")
        if name != call.target:  # the finding names what the code calls
            verdict = Verdict(verdict.kind, call.target, *[getattr(verdict, f) for f in _VERDICT_TAIL])
        return verdict

    def helper(self, helper: int) -> Verdict:
        key = (HELPER, helper)
        found = self.cache.get(key)
        if found is not None:
            return found
        fallback = bpf.SANITIZED_HELPERS.get(helper)
        item = self.kb.tree.by_value.get(key) or self.kb.mainline.by_value.get(key)
        name = item.name if item else "not in the knowledge base"
        if fallback is None:
            found = self.verdict(HELPER, helper, rule="call", reason=f"call of helper {helper} ({name})")
        else:
            feature = self.kb.named(FEATURE, bpf.SANITIZED_HELPERS_FEATURE)
            libbpf = _libbpf_release(feature.libbpf if feature else None)
            replacement, status, _removed, _fallback = self.kb.judge(HELPER, fallback)
            found = self.verdict(
                HELPER, helper, need=SANITIZED, rule=bpf.SANITIZED_HELPERS_FEATURE, libbpf=libbpf,
                reason=f"call of helper {helper} ({name}); libbpf {libbpf} and later rewrite it to helper {fallback} "
                       f"({replacement.name if replacement else fallback}) on kernels without it")
            status_now = TOO_NEW if self.kernel and found.status == HANDLED and status != OK else found.status
            # It still needs libbpf's replacement: that helper's release is what it adds to the minimum.
            found = Verdict(*[getattr(found, f) for f in ("kind", "id", "name", "first_release")], status_now,
                            found.removed_in, found.need, replacement.first_release if replacement else None,
                            found.libbpf, found.rule, found.reason)
        self.cache[key] = found
        return found


_VERDICT_TAIL = ("name", "first_release", "status", "removed_in", "need", "requires", "libbpf", "rule", "reason")


def essential_name(name: str) -> str:
    """The name libbpf resolves an extern by: without its last ``___flavour`` (``bpf_core_essential_name_len``),
    as in ``scx_bpf_dsq_insert___v2___compat``, a second declaration of ``scx_bpf_dsq_insert___v2``."""
    for at in range(len(name) - 5, -1, -1):
        if name[at] != "_" and name[at + 1 : at + 4] == "___" and name[at + 4] != "_":
            return name[: at + 1]
    return name


def judge_object(obj, knowledge: Knowledge, kernel: str | None, judge: _Judge | None = None) -> ObjectReport:
    if judge is None:
        judge = _Judge(knowledge, kernel)
    elif len(judge.cache) > CACHE_LIMIT:  # verdicts naming sections or symbols of objects already reported
        judge.cache.clear()
    report = ObjectReport(obj.path, license=obj.license)
    report.gpl_compatible = obj.license in bpf.GPL_COMPATIBLE_LICENSES
    entries = judge.programs(obj, report)
    findings = report.findings
    calls = []
    for call in obj.calls:
        finding = Finding(judge.call(obj, call), call.section, call.program, call.index, call.offset,
                          call.file_offset, None, call.source, 1, None, call.function)
        calls.append(finding)
    findings += calls
    for hit in obj.hits:
        weak = hit.weak
        if weak and hit.rule == "kfunc_address" and kernel and judge.verdict(KFUNC, hit.symbol).status == OK:
            # bpf_ksym_exists() on a weak kfunc the target has: libbpf loads its address, which kernels before
            # kfunc.exists_check refuse; only where the kfunc is missing does libbpf leave a harmless 0.
            weak = False
        findings.append(Finding(judge.feature(hit.feature, rule=hit.rule, reason=hit.reason, weak=weak),
                                hit.section, hit.program, hit.index, hit.offset, hit.file_offset, None, hit.source,
                                hit.count, hit.symbol, hit.function))
    what = {"btf": "BTF-defined map", "legacy": "legacy bpf_map_def map", "inner": "inner map of a map-in-map",
            "global_data": "libbpf's map for the global data section", "struct_ops": "struct_ops map"}
    for definition in obj.maps:
        verdict = judge.verdict(MAP_TYPE, definition.map_type, rule=definition.origin,
                                reason=what.get(definition.origin, "map"))
        findings.append(Finding(verdict, definition.section, file_offset=definition.file_offset, map=definition.name))
        if definition.origin == "struct_ops":
            findings.append(Finding(judge.struct_ops(definition.value_type), definition.section,
                                    file_offset=definition.file_offset, map=definition.name))
    reached = _reached_by(obj, entries)
    _verifier_checks(judge, obj, report, calls, entries, reached)
    adapt.judge_object(obj, report, judge)
    _minimums(obj, report, entries)
    return report


def _reached_by(obj, entries: dict) -> dict[int, list[int]]:
    """function -> the entry functions (programs) that load it."""
    reached: dict[int, list[int]] = {}
    for entry in entries:
        for function in obj.reach(entry):
            reached.setdefault(function, []).append(entry)
    return reached


def _verifier_checks(judge: _Judge, obj, report: ObjectReport, calls: list[Finding], entries: dict,
                     reached: dict) -> None:
    """The license and program-type checks, once for each function and helper or kfunc it calls."""
    kb = judge.kb
    first_calls: dict[tuple, Finding] = {}
    for call in calls:
        verdict = call.verdict
        if verdict.kind == HELPER or verdict.kind == KFUNC:
            first_calls.setdefault((call.function, verdict.kind, verdict.id), call)
    # An object without a license section is licensed by what it is linked to when it has no programs or calls
    # functions another object defines (scx's libraries): the check belongs to the linked object.
    links = any(f.verdict.status == LINK for f in report.findings)
    licensed = report.license is not None or (bool(entries) and not links)
    for (function, kind, value), call in first_calls.items():
        item = kb.tree.by_value.get((kind, value)) or kb.mainline.by_value.get((kind, value))
        if licensed and not report.gpl_compatible and (kind == KFUNC or (item is not None and item.gpl_only)):
            what = "kfuncs are" if kind == KFUNC else f"helper {value} ({call.verdict.name}) is"
            has = f'license "{report.license}"' if report.license is not None else "no license section"
            report.findings.append(_check(call, "license", REFUSED, "gpl_only",
                                          f"{what} GPL-only and the object has {has}, which is not "
                                          "GPL-compatible: the verifier refuses the call"))
        seen = set()
        for entry in reached.get(function, ()) if function is not None else ():
            prog_type = kb.named(PROG_TYPE, entries[entry].prog_type)
            if prog_type is None or prog_type.value in seen:
                continue
            seen.add(prog_type.value)
            verdict = _context(kb, kind, value, prog_type.value)
            if verdict is not None:
                status, how = verdict
                name = call.verdict.name or value
                report.findings.append(_check(call, "context", status, f"callable_from {how}",
                                              f"{kind} {name} is not callable from {prog_type.name} programs "
                                              f"({how}; program {obj.functions[entry].name})"))


def _context(kb: Knowledge, kind: str, value, prog_type: int) -> tuple[str, str] | None:
    """(status, qualifier) when the tree's relations say *kind* *value* cannot be called from *prog_type*."""
    if prog_type in kb.probed_types.get(kind, ()):
        accepted = kb.callable.get((kind, value), {}).get(PROBED, set())
        return None if prog_type in accepted else (REFUSED, f"probed on {kb.tree.name}")
    documented = kb.documented.get((kind, value), {}).get(AS_DOCUMENTED)
    if documented and prog_type not in documented:
        return UNDOCUMENTED, AS_DOCUMENTED
    return None


def _check(call: Finding, kind: str, status: str, rule: str, reason: str) -> Finding:
    verdict = Verdict(kind, call.verdict.id, call.verdict.name, None, status, need=CHECK, rule=rule, reason=reason)
    return Finding(verdict, call.section, call.program, call.insn, call.offset, call.file_offset, None, call.source,
                   1, None, call.function)


def _minimums(obj, report: ObjectReport, entries: dict) -> None:
    by_function: dict[int | None, list[Finding]] = {}
    by_map: dict[str, list[Finding]] = {}
    for finding in report.findings:
        by_function.setdefault(finding.function, []).append(finding)
        if finding.map is not None:  # an inner map goes with its outer map: the program that uses one has both
            outer = finding.map.removesuffix(".inner") if finding.verdict.rule == "inner" else finding.map
            by_map.setdefault(outer, []).append(finding)
    for index, program in enumerate(report.programs):
        if index not in entries:
            continue
        functions = obj.reach(index)
        mine = [f for n in functions for f in by_function.get(n, ())]
        mine += [f for n in functions for name in sorted(obj.map_uses.get(n, ())) for f in by_map.get(name, ())]
        program.min_kernel, program.set_by = _highest(mine)


def target_btf(source: str):
    """The BTF of --btf SOURCE (raw BTF, vmlinux, vmlinuz, .btf.tar.xz), ready for CO-RE resolution."""
    from kb.formats.btf.core import Target
    from kb.formats.kimage import KernelImageError, read_kernel_btf

    try:
        found = read_kernel_btf(source)
        return Target(found.parse(), os.path.basename(source.rstrip("/")) or source)
    except (KernelImageError, OSError) as err:
        raise ScanError(str(err) if isinstance(err, KernelImageError) else f"{source}: {err.strerror}") from None


def _where(conn, kernel: str | None, tree: str | None) -> tuple[str, availability.Target | None]:
    """The tree to judge by and the kernel placed in it: with no tree named, the kernel's own build or distribution
    tree where the knowledge base has one, else mainline (approximate for a distribution's build)."""
    if kernel and tree is None:
        where = availability.resolve(conn, kernel)
        return where.tree, where
    name = queries.resolve_tree(conn, tree)
    if kernel or queries.tree_info(conn, name).scheme == BUILD_SCHEME:
        return name, availability.target(conn, name, kernel)
    return name, None


def stored_btf(btf_of, tree: str):
    from kb.formats.btf.core import Target
    from kb.formats.btf.reader import BTFError, parse_btf

    data = btf_of(tree) if btf_of else None
    if data is None:
        return None
    try:
        return Target(parse_btf(data), tree)
    except BTFError as err:
        raise ScanError(f"the BTF kept for {tree}: {err}") from None


def scan(conn, paths: list[str], *, kernel: str | None = None, tree: str | None = None, btf: str | None = None,
         btf_of=None) -> ScanResult:
    """Judge the objects of *paths* against *kernel* in *tree*; *btf* (a probe source) or, for a build tree, the BTF
    ``btf_of(tree)`` keeps, is the target's BTF for CO-RE and existence guards."""
    name, where = _where(conn, kernel, tree)
    target = target_btf(btf) if btf else stored_btf(btf_of, name)
    knowledge = Knowledge(conn, name, where, target)
    label = where.label if where else None
    skipped: list[str] = []
    objects = _objects(paths, skipped)
    first = next(objects, None)
    if first is None:
        given = ", ".join(paths)
        if where is not None:
            raise ScanError(f"no BPF object found in {given}")
        warn(f"no BPF object found in {given}")

    judge = _Judge(knowledge, label)

    def reports():
        if first is not None:
            yield judge_object(first, knowledge, label, judge)
            for obj in objects:
                yield judge_object(obj, knowledge, label, judge)

    return ScanResult(name, queries.tree_version(conn, name), label, reports(), skipped)


class ScanError(KbgenError):
    pass
