"""How an object adapts to its kernel: the needs its own guards protect, and its CO-RE relocations on a target.

The object reader gives, per function, the blocks that run only where a guard holds (:mod:`kb.formats.bpf.guards`)
and where each function is called.  Here a function's entry condition is the disjunction, over its call sites, of
the caller's entry condition and the condition at the call; a finding's condition is its function's entry condition
and the condition of its block.  A finding with a condition is *guarded*: it does not raise the minimum kernel, and
the report says where the code reaches it and what it uses otherwise.  On a target, the guard is evaluated:
``LINUX_KERNEL_VERSION`` from the target kernel, CO-RE existence checks from the target's BTF (else, for
``enum bpf_func_id``, from the knowledge base's helpers), a weak ksym's address from the target's BTF or the
knowledge base's kfuncs.  A need the guard rules out where it is missing *adapts*; one whose guard cannot be told
*depends* on the target; neither fails.

With the target's BTF, every CO-RE relocation is resolved as libbpf does (:mod:`kb.formats.btf.core`): one
libbpf would poison is a finding of its own, failing unless a guard keeps the code from it.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from kb.formats.bpf import guards
from kb.formats.btf import core
from kb.scan import judge as verdicts
from kb.vocab.kinds import HELPER, KFUNC

FUNC_ID_ENUM = "enum bpf_func_id::BPF_FUNC_"
# .kconfig values libbpf computes itself rather than reading the kernel's config: the item whose presence decides
# each (libbpf.c kernel_supports: FEAT_BPF_COOKIE probes bpf_get_attach_cookie).
LIBBPF_KCONFIG = {"LINUX_HAS_BPF_COOKIE": (HELPER, "get_attach_cookie")}
MAX_ROUNDS = 64  # passes over the call graph (acyclic in loadable code) before entry conditions are settled
CALLS = (HELPER, KFUNC)
OTHERWISE_LIMIT = 3  # calls named as what the code uses where a guard does not hold


def kernel_version(key: tuple[int, ...]) -> int:
    """LINUX_KERNEL_VERSION as libbpf computes it (KERNEL_VERSION(a, b, c), c capped at 255)."""
    major, minor, patch = (list(key[:3]) + [0, 0, 0])[:3]
    return (major << 16) + (minor << 8) + min(patch, 255)


def _entry_conditions(obj) -> dict[int, guards.Condition]:
    """function -> the condition under which some program reaches it."""
    entry = {n: guards.TRUE for n, f in enumerate(obj.functions) if f.entry}
    for _round in range(MAX_ROUNDS):
        changed = False
        for callee, sites in obj.call_sites.items():
            if obj.functions[callee].entry:
                continue
            found = guards.FALSE
            for caller, slot in sites:
                if caller in entry:
                    found = guards.either(found, guards.both(entry[caller], _block(obj, caller, slot)))
            if sites and entry.get(callee) != found and found != guards.FALSE:
                entry[callee], changed = found, True
        if not changed:
            return entry
    return {}  # never settled: every function taken to run unconditionally


def _block(obj, function: int, slot: int) -> guards.Condition:
    blocks = obj.guards.get(function)
    if not blocks:
        return guards.TRUE
    at = bisect.bisect_right(blocks, (slot, float("inf"))) - 1
    if at >= 0 and blocks[at][0] <= slot < blocks[at][1]:
        return blocks[at][2]
    return guards.TRUE


class _Values:
    """What the target says about each guard's value; None where it cannot be told."""

    def __init__(self, judge, obj, resolutions: dict):
        self.judge = judge
        self.obj = obj
        self.resolutions = resolutions
        where = judge.kb.mainline.where if judge.kb.mainline.where is not None else judge.kb.tree.where
        self.version = kernel_version(where.key) if where is not None and not verdicts.past_knowledge(where) \
            else None
        self.sites = {(c.section, c.relocation.insn_offset): c for c in obj.core}

    def __call__(self, atom: guards.Atom) -> int | None:
        if atom.kind == guards.KCONFIG:
            if atom.key == ("LINUX_KERNEL_VERSION",):
                return self.version
            decided_by = LIBBPF_KCONFIG.get(atom.key[0])
            if decided_by is None or not self.judge.kernel:
                return None
            return self._known(decided_by[0], self.judge.kb.named(*decided_by))
        if atom.kind == guards.KSYM:
            return self._ksym(atom.key[0])
        resolution = self.resolutions.get(atom.key)
        if resolution is not None:
            return resolution.value
        site = self.sites.get(atom.key)
        if site is not None and site.local.startswith(FUNC_ID_ENUM) and self.judge.kernel:
            return self._known(HELPER, self.judge.kb.named(HELPER, site.local[len(FUNC_ID_ENUM):]))
        return None

    def _ksym(self, name: str) -> int | None:
        btf = self.judge.kb.btf
        if btf is not None:
            return int(btf.has_symbol(core.essential_name(name)))
        if not self.judge.kernel:
            return None
        return self._known(KFUNC, self.judge.kb.named(KFUNC, core.essential_name(name)))

    def _known(self, kind: str, item) -> int | None:
        if item is None:
            return None
        _item, status, _removed, _fallback = self.judge.kb.judge(kind, item.value)
        if status == verdicts.OK:
            return 1
        return 0 if status in (verdicts.TOO_NEW, verdicts.REMOVED, verdicts.ABSENT) else None


def _resolve(obj, target) -> dict:
    if target is None or obj.btf is None:
        return {}
    return {(c.section, c.relocation.insn_offset): core.resolve(obj.btf, c.relocation, target) for c in obj.core}


def _core_findings(obj, report, resolutions: dict, target) -> None:
    if target is None:
        return
    unresolved = 0
    for site in obj.core:
        resolution = resolutions.get((site.section, site.relocation.insn_offset))
        if resolution is None or resolution.resolved:
            continue
        unresolved += 1
        where = f"{site.source.file}:{site.source.line}" if site.source else f"instruction {site.index}"
        if resolution.error:
            reason = f"CO-RE {site.relocation.kind_name} of {site.local} ({where}): {resolution.error}; libbpf " \
                     f"refuses the object on {target.name}"
            rule = "core_error"
        else:
            found = "no type of that name" if not resolution.candidates else \
                f"{resolution.candidates} candidate(s), none with that member or a compatible type"
            reason = f"CO-RE {site.relocation.kind_name} of {site.local} ({where}): {target.name} has {found}; " \
                     "libbpf poisons the instruction and the verifier refuses it where the code reaches it"
            rule = "core_relocation"
        verdict = verdicts.Verdict("core", site.local, None, None, verdicts.UNRESOLVED, need=verdicts.CHECK, rule=rule,
                                   reason=reason)
        report.findings.append(verdicts.Finding(verdict, site.section, site.program, site.index,
                                                site.index * 8, site.file_offset, None, site.source, 1, None,
                                                site.function))
    report.core = {"target": target.name, "relocations": len(obj.core), "resolved": len(obj.core) - unresolved,
                   "unresolved": unresolved}


def judge_object(obj, report, judge) -> None:
    """Add the CO-RE findings of a target's BTF, then turn every finding a guard protects into a guarded one."""
    target = judge.kb.btf
    resolutions = _resolve(obj, target)
    _core_findings(obj, report, resolutions, target)
    if not obj.guards:
        return
    entry = _entry_conditions(obj)
    values = _Values(judge, obj, resolutions)
    conditions: dict[int, guards.Condition] = {}
    for n, finding in enumerate(report.findings):
        if finding.function is None or finding.insn is None or finding.verdict.rule == "core_error":
            continue
        condition = guards.both(entry.get(finding.function, guards.TRUE), _block(obj, finding.function, finding.insn))
        if condition != guards.TRUE:
            conditions[n] = condition
    # Per function, the calls each literal guards: what the code calls where a guard does not hold is found by
    # the negation of the guard's literals, in time linear in the findings.
    calls_by_literal: dict[tuple, list[int]] = {}
    for n, condition in conditions.items():
        if report.findings[n].verdict.kind in CALLS:
            for lit in {lit for term in condition for lit in term}:
                calls_by_literal.setdefault((report.findings[n].function, lit), []).append(n)
    cache: dict = {}
    for n, condition in conditions.items():
        finding = report.findings[n]
        otherwise = _otherwise(report, calls_by_literal, condition, finding) if finding.verdict.kind in CALLS \
            else None
        key = (finding.verdict, condition, otherwise)
        verdict = cache.get(key)
        if verdict is None:
            verdict = cache[key] = _guarded(finding.verdict, condition, guards.evaluate(condition, values), otherwise)
        finding.verdict = verdict


def _otherwise(report, calls_by_literal: dict, condition: guards.Condition, finding) -> str | None:
    """The calls the code makes instead, where the guard of *finding* does not hold."""
    found: list[str] = []
    negated = sorted({lit.negate() for term in condition for lit in term}, key=lambda lit: lit.text)
    for lit in negated:
        for m in calls_by_literal.get((finding.function, lit), ()):
            other = report.findings[m].verdict
            name = other.name or str(other.id)
            if other.id != finding.verdict.id and name not in found:
                found.append(name)
                if len(found) == OTHERWISE_LIMIT:
                    return ", ".join(found)
    return ", ".join(found) or None


def _guarded(verdict, condition: guards.Condition, holds: bool | None, otherwise: str | None):
    status = verdict.status
    guard = guards.describe(condition)
    if status in verdicts.FAILING or status in (verdicts.OPTIONAL, verdicts.HANDLED):
        if holds is False:
            status = verdicts.ADAPTS
        elif holds is None:
            status = verdicts.DEPENDS
    if status == verdicts.OK and holds is None and verdict.kind == "core":
        status = verdicts.DEPENDS
    return replace(verdict, status=status, need=verdicts.GUARDED if verdict.need in (
        verdicts.REQUIRED, verdicts.SANITIZED) else verdict.need, requires=None, guard=guard, otherwise=otherwise)
