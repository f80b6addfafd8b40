"""How a scan reads: text for people, JSON for tools (fields in the README), SARIF 2.1.0 for code scanning.

Every format is written as the scan produces it, one object at a time (:func:`write`): memory stays flat in
the number of objects, and the document's last fields (JSON ``ok``, SARIF ``artifacts``) come after the
objects they summarise.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.parse

from kb import __version__
from kb.scan.judge import (
    ABSENT,
    ADAPTS,
    DEPENDS,
    HANDLED,
    LEGACY,
    LINK,
    OK,
    OPTIONAL,
    REFUSED,
    RELEASE_UNKNOWN,
    REMOVED,
    SANITIZED,
    TEST_ONLY,
    TOO_NEW,
    UNDOCUMENTED,
    UNKNOWN,
    UNRESOLVED,
    Finding,
    ObjectReport,
    ScanResult,
)
from kb.vocab.kinds import KINDS

_STATUS_TEXT = {
    OK: "",
    TOO_NEW: "NEEDS A NEWER KERNEL",
    REMOVED: "REMOVED from the target",
    UNKNOWN: "UNKNOWN (newer than the knowledge base?)",
    RELEASE_UNKNOWN: "first release not known",
    HANDLED: "handled by libbpf {libbpf}+",
    OPTIONAL: "optional, missing on the target",
    LINK: "resolved when linking objects",
    REFUSED: "REFUSED by the verifier: {reason}",
    UNDOCUMENTED: "warning: {reason}",
    LEGACY: "warning: {reason}",
    ABSENT: "NOT IN THE JUDGED TREE: {reason}",
    ADAPTS: "adapts: missing on the target, and not reached there",
    DEPENDS: "depends on the target (its BTF or kernel version decides)",
    UNRESOLVED: "CO-RE FAILS: {reason}",
    TEST_ONLY: "warning: {reason}",
}


def _what(f: Finding) -> str:
    if f.kind in ("kfunc", "feature", "extern", "section", "program", "struct_ops", "core"):
        return f"{f.kind} {f.id}"
    if f.kind in ("context", "license"):
        return f"{f.kind}: {'kfunc' if isinstance(f.id, str) else 'helper'} {f.name or f.id}"
    return f"{f.kind} {f.id} {f.name or '?'}"


def _where(f: Finding) -> str:
    if f.map is not None:
        return f"map {f.map}"
    if f.insn is None:
        return f.symbol or "-"
    where = f"{f.program or '?'} insn {f.insn}"
    if f.source is not None:
        where += f" ({os.path.basename(f.source.file)}:{f.source.line})"
    return where


def _status(f: Finding, kernel: str | None) -> str:
    verdict = f.verdict
    if verdict.status == OK and verdict.need == SANITIZED and verdict.libbpf and not kernel:
        return f"(libbpf {verdict.libbpf}+ handles older kernels)"
    if verdict.kind == "section" and verdict.status == UNKNOWN:
        return f"UNKNOWN: {verdict.reason}"
    text = _STATUS_TEXT[verdict.status].format(libbpf=verdict.libbpf, reason=verdict.reason)
    if verdict.guard:
        guard = f"only where {verdict.guard}" + (f"; otherwise {verdict.otherwise}" if verdict.otherwise else "")
        return guard + (f" ({text})" if text else "")
    return text


def _set_by(findings: list[Finding]) -> str:
    return ", ".join(sorted({_what(f) for f in findings}))


def _head(report: ObjectReport, kernel: str | None) -> str:
    minimum = report.min_kernel
    needs = f"needs Linux {minimum} or newer" if minimum else "uses nothing with a known release"
    forcing = _set_by(report.forced_by)
    head = f"{report.path}: {needs}" + (f" ({forcing})" if forcing else "")
    if report.min_libbpf:
        head += f", libbpf {report.min_libbpf} or newer"
    problems = len(report.failing(kernel))
    if kernel:
        head += f"; {problems} problem(s) on {kernel}" if problems else f"; fine on {kernel}"
    elif problems:
        head += f"; {problems} problem(s) on any kernel"
    return head


_COLUMNS = ("section", "where", "uses", "since", "status")


def _since(f: Finding) -> str:
    return f.verdict.first_release or f.verdict.arrival or "-"


def _rows(report: ObjectReport, kernel: str | None) -> list[tuple[str, ...]]:
    """Problems and notes site by site, first; what is fine, once per item and section with its count of sites
    (a tracee object calls helpers 34,000 times: the problems must not drown)."""
    flagged, fine = [], {}
    for f in report.findings:
        status = _status(f, kernel)
        if status:
            flagged.append((f.section, _where(f), _what(f), _since(f), status))
        else:
            key = (f.section, _what(f), _since(f))
            fine[key] = fine.get(key, 0) + f.count
    rows = flagged + [(section, f"{count} site{'s' if count > 1 else ''}", what, since, "")
                      for (section, what, since), count in fine.items()]
    return rows


def _program_lines(report: ObjectReport) -> str:
    lines = []
    for p in report.programs:
        if p.subprogram or not p.prog_type:
            continue
        needs = f"needs {p.min_kernel}" if p.min_kernel else "needs no known release"
        libbpf = f", libbpf {p.libbpf}" if p.libbpf else ""
        lines.append(f"  program {p.name} ({p.section}): {p.prog_type}, {needs}{libbpf}\n")
    return "".join(lines)


def text_chunks(result: ScanResult):
    for report in result.objects:
        yield _head(report, result.kernel) + "\n" + _program_lines(report)
        rows = _rows(report, result.kernel)
        if not rows:
            continue
        widths = [max(len(heading), *(len(row[n]) for row in rows)) for n, heading in enumerate(_COLUMNS)]
        yield _line(_COLUMNS, widths) + _line(["-" * w for w in widths], widths)
        for start in range(0, len(rows), 512):
            yield "".join(_line(row, widths) for row in rows[start : start + 512])


def _line(values, widths) -> str:
    return "  " + "  ".join(v.ljust(w) for v, w in zip(values, widths)).rstrip() + "\n"


def summary_chunks(result: ScanResult):
    for report in result.objects:
        forcing = _set_by(report.forced_by)
        line = f"{report.path}: {report.min_kernel or '-'}" + (f" ({forcing})" if forcing else "")
        problems = report.failing(result.kernel)
        if problems:
            where = f"on {result.kernel}" if result.kernel else "on any kernel"
            line += f"; {len(problems)} problem(s) {where}: {_set_by(problems)}"
        yield line + "\n"


_VERDICT_FIELDS = ("kind", "id", "name", "first_release", "removed_in", "status", "need", "requires", "libbpf",
                   "rule", "reason", "guard", "otherwise", "arrival")


class _FindingEncoder:
    """JSON of findings, from pieces encoded once: a verdict is shared by every site of the same call or feature,
    and sections, programs and source lines repeat."""

    def __init__(self):
        self.verdicts: dict = {}
        self.strings: dict = {None: "null"}
        self.sources: dict = {}
        self.heads: dict = {}  # what a finding shares with the others of its function

    def text(self, value) -> str:
        found = self.strings.get(value)
        if found is None:
            found = self.strings[value] = json.dumps(value)
        return found

    def __call__(self, f: Finding) -> str:
        key = (f.verdict, f.section, f.program, f.map, f.symbol)
        head = self.heads.get(key)
        if head is None:
            verdict, text = f.verdict, self.text
            head = self.verdicts.get(verdict)
            if head is None:
                head = self.verdicts[verdict] = json.dumps({k: getattr(verdict, k) for k in _VERDICT_FIELDS})[:-1]
            head = self.heads[key] = (f'{head}, "section": {text(f.section)}, "program": {text(f.program)}, '
                                      f'"map": {text(f.map)}, "symbol": {text(f.symbol)}, ')
        source = self.sources.get(f.source)
        if source is None:
            line = f.source
            source = self.sources[line] = "null" if line is None else (
                f'{{"file": {self.text(line.file)}, "line": {line.line}, "column": {line.column}, '
                f'"text": {json.dumps(line.text)}}}')
        insn = f.insn
        if insn is None:
            return (f'{head}"insn": null, "offset": {_number(f.offset)}, "file_offset": {f.file_offset}, '
                    f'"source": {source}, "count": {f.count}}}')
        return (f'{head}"insn": {insn}, "offset": {f.offset}, "file_offset": {f.file_offset}, "source": {source}, '
                f'"count": {f.count}}}')


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


def _setter(f: Finding) -> dict:
    return {"kind": f.kind, "id": f.id, "name": f.name, "requires": f.requires, "section": f.section,
            "program": f.program, "insn": f.insn, "map": f.map}


def _object_record(report: ObjectReport) -> dict:
    return {
        "path": report.path,
        "min_kernel": report.min_kernel,
        "min_kernel_set_by": [_setter(f) for f in report.forced_by],
        "min_libbpf": report.min_libbpf,
        "license": report.license,
        "gpl_compatible": report.gpl_compatible,
        "core": report.core,
        "programs": [
            {"section": p.section, "name": p.name, "subprogram": p.subprogram, "prog_type": p.prog_type,
             "attach_type": p.attach_type, "libbpf": p.libbpf, "min_kernel": p.min_kernel,
             "min_kernel_set_by": [_setter(f) for f in p.set_by]}
            for p in report.programs
        ],
    }


def json_chunks(result: ScanResult):
    head = {"tree": result.tree, "data_version": result.data_version, "kernel": result.kernel}
    yield "{\n" + "".join(f"  {json.dumps(k)}: {json.dumps(v)},\n" for k, v in head.items()) + '  "objects": ['
    separator = "\n"
    encode = _FindingEncoder()
    for report in result.objects:
        encode.sources.clear()  # lines and names of one object rarely recur in the next
        encode.heads.clear()
        if len(encode.strings) > 4096:
            encode.strings = {None: "null"}
        if len(encode.verdicts) > 4096:
            encode.verdicts.clear()
        record = json.dumps(_object_record(report), indent=None)
        yield f'{separator}    {record[:-1]}, "findings": ['
        for start in range(0, len(report.findings), 512):
            lines = ",\n      ".join(encode(f) for f in report.findings[start : start + 512])
            yield ("\n      " if start == 0 else ",\n      ") + lines
        yield "\n    ]}" if report.findings else "]}"
        separator = ",\n"
    yield f"\n  ],\n  \"scanned\": {result.scanned},\n  \"ok\": {json.dumps(not result.failed)}\n}}\n"


RULES = [
    ("KBG001", "helper-needs-newer-kernel", "A BPF helper call needs a newer kernel than the target",
     "The helper's first release is newer than the target kernel: the verifier will reject the program.", "error"),
    ("KBG002", "kfunc-needs-newer-kernel", "A kfunc call needs a newer kernel than the target",
     "The kfunc's first release is newer than the target kernel: loading will fail.", "error"),
    ("KBG003", "map-type-needs-newer-kernel", "A map type needs a newer kernel than the target",
     "The map type's first release is newer than the target kernel: creating the map will fail.", "error"),
    ("KBG004", "unknown-helper", "A BPF helper id the knowledge base does not know",
     "No release in the knowledge base has this helper id: it is newer than the knowledge base, or not a helper.",
     "error"),
    ("KBG005", "unknown-kfunc", "A kfunc the knowledge base does not know",
     "The knowledge base lists no such kfunc: it may be newer than the knowledge base, out of tree, or misnamed.",
     "warning"),
    ("KBG006", "unknown-map-type", "A map type the knowledge base does not know",
     "No release in the knowledge base has this map type.", "error"),
    ("KBG007", "first-release-unknown", "An item whose first release is not known",
     "The knowledge base has the item but no release for it, so availability on the target cannot be checked.",
     "note"),
    ("KBG008", "removed-from-target", "An item the target kernel no longer has",
     "The item was removed before the target kernel (a kfunc renamed or dropped): loading will fail there.",
     "error"),
    ("KBG009", "program-type-needs-newer-kernel", "A program's type needs a newer kernel than the target",
     "libbpf loads the program's section as a program type whose first release is newer than the target kernel.",
     "error"),
    ("KBG010", "attach-type-needs-newer-kernel", "A program's expected attach type needs a newer kernel",
     "libbpf loads the program with an expected attach type the target kernel does not have.", "error"),
    ("KBG011", "feature-needs-newer-kernel", "An instruction, section or BTF feature needs a newer kernel",
     ("The object uses an ISA, verifier, BTF or ELF feature (the rule that found it is in the message) that the "
     "target kernel lacks and libbpf does not work around."), "error"),
    ("KBG012", "unknown-program-section", "A program section no libbpf release understands",
     ("An executable section other than .text whose name matches no entry of any libbpf release's section table: "
     "libbpf cannot tell its program type and refuses to load it."), "error"),
    ("KBG013", "legacy-program-section", "A program section only older libbpf releases understand",
     "The newest libbpf does not load this section name; the message names the last release that did.",
     "warning"),
    ("KBG014", "not-callable-in-probed-build", "A call the probed kernel build refuses in this program type",
     ("The tree is a probed build whose probes show that this program type cannot call the helper: the verifier "
     "will reject the program."), "error"),
    ("KBG015", "not-documented-for-program-type", "A call not documented for this program type",
     ("The mainline documentation does not list the program type among those that may call the helper or kfunc. "
     "The documented lists miss pairs real kernels accept, so this is a warning; a probed build (--tree) decides."),
     "warning"),
    ("KBG016", "gpl-only-in-non-gpl-object", "A GPL-only helper or a kfunc in an object that is not GPL",
     ("The object's license section is not one the kernel counts as GPL-compatible, and the verifier refuses "
     "GPL-only helpers and every kfunc to such programs, on every kernel."), "error"),
    ("KBG017", "resolved-when-linking", "An extern another object defines",
     ("An extern function or variable that is not a __ksym or __kconfig: libbpf's linker (bpftool gen object) "
     "resolves it against the other objects; loaded alone, the object fails."), "note"),
    ("KBG018", "handled-by-libbpf", "A need libbpf works around on the target",
     ("The target kernel lacks it, and libbpf (from the release in the message) rewrites or strips it at load "
     "time, so it does not raise the minimum kernel."), "note"),
    ("KBG019", "optional-missing-on-target", "An optional need the target kernel lacks",
     ("A weak extern or optional attribute the target kernel does not have: libbpf leaves it out, and the program "
     "must not depend on it (bpf_ksym_exists)."), "note"),
    ("KBG020", "unknown-item", "A program type, attach type or feature the knowledge base does not know",
     "The object needs something the knowledge base has no item for.", "error"),
    ("KBG021", "absent-from-judged-tree", "An item the judged build or distribution tree does not have",
     ("The tree judged by (--tree: a probed build, a distribution's history) gives every item of this kind and "
     "not this one, although mainline has it: that kernel lacks it (configured out, or never backported)."),
     "error"),
    ("KBG022", "program-needs-newer-kernel", "A struct_ops type or program section the target kernel cannot load",
     ("The kernel struct of a struct_ops map (sched_ext_ops: 6.12) or the program's section (uprobe.s: sleepable "
     "uprobes, 6.0) arrived after the target kernel (data/program_rules.tsv names the source)."), "error"),
    ("KBG023", "core-relocation-unresolved", "A CO-RE relocation the target's BTF cannot satisfy",
     ("Resolved as libbpf does against the target's BTF (--btf, or the BTF kept for --tree), the relocation matches "
     "no type or member: libbpf poisons the instruction and the verifier refuses the program where the code "
     "reaches it, or libbpf refuses an ambiguous match outright."), "error"),
    ("KBG024", "guarded-need", "A need the program reaches only where its own guard holds",
     ("A helper, kfunc, feature or CO-RE access inside a branch on LINUX_KERNEL_VERSION, a CO-RE existence check or "
     "bpf_ksym_exists: where the target lacks it, the guard keeps the code from it and the verifier drops the "
     "dead branch. The message says where the code reaches it and what it uses otherwise."), "note"),
    ("KBG025", "test-only-kfunc", "A kfunc that exists only in kernels built for BPF selftests",
     "The kfunc is registered only by the kernel's BPF test code (test_run, bpf_testmod): production kernels lack it.",
     "warning"),
]
_RULE_INDEX = {rule[0]: n for n, rule in enumerate(RULES)}
_UNKNOWN_SECTION_RULE = "KBG012"


def _rule_for(f: Finding, kernel: str | None) -> str | None:
    if f.status in (ADAPTS, DEPENDS):
        return "KBG024"
    if f.status == UNRESOLVED:
        return "KBG023"
    if f.status == TEST_ONLY:
        return "KBG025"
    if f.status == TOO_NEW and kernel and f.kind in ("program", "struct_ops"):
        return "KBG022"
    if f.status == REMOVED and kernel:
        return "KBG008"
    if f.status == TOO_NEW and kernel:
        return KINDS[f.kind].too_new_rule if f.kind in KINDS else "KBG011"
    if f.status == UNKNOWN:
        return _UNKNOWN_SECTION_RULE if f.kind == "section" else KINDS[f.kind].unknown_rule if f.kind in KINDS \
            else "KBG020"
    if f.status == REFUSED:
        return "KBG016" if f.kind == "license" else "KBG014"
    if f.status == ABSENT:
        return "KBG021"
    return {RELEASE_UNKNOWN: "KBG007", LEGACY: "KBG013", UNDOCUMENTED: "KBG015", LINK: "KBG017",
            HANDLED: "KBG018", OPTIONAL: "KBG019"}.get(f.status)


def _message(f: Finding, kernel: str | None) -> str:
    what = _what(f)
    where = f"in section {f.section}" + (f", program {f.program}, instruction {f.insn}" if f.insn is not None else "")
    rule = f" [{f.rule}: {f.reason}]" if f.reason else ""
    if f.status in (ADAPTS, DEPENDS):
        otherwise = f"; otherwise it uses {f.verdict.otherwise}" if f.verdict.otherwise else ""
        how = "the target lacks it and the guard keeps the code from it" if f.status == ADAPTS else \
            "whether the target reaches it depends on the target's BTF or kernel"
        return f"{what} ({where}) is used only where {f.verdict.guard}{otherwise}: {how}.{rule}"
    if f.status == UNRESOLVED:
        return f"{what} ({where}): {f.reason}."
    if f.status == TOO_NEW and f.first_release is None:  # an arrival known only within bounds
        return f"{what} ({where}) arrived after the target's release ({kernel}).{rule}"
    if f.status == TOO_NEW:
        return f"{what} ({where}) first appeared in Linux {f.first_release}; the target is {kernel}.{rule}"
    if f.status == REMOVED:
        return f"{what} ({where}) was removed in Linux {f.removed_in}; the target is {kernel}.{rule}"
    if f.status == ABSENT:
        return f"{what} ({where}): {f.reason}."
    if f.status == UNKNOWN and f.kind != "section":
        return f"{what} ({where}) is not in the knowledge base.{rule}"
    if f.status == RELEASE_UNKNOWN:
        return f"{what} ({where}) has no known first release.{rule}"
    if f.status == HANDLED:
        return f"{what} ({where}) is missing on {kernel}; libbpf {f.libbpf} and later handle that.{rule}"
    if f.status == OPTIONAL:
        return f"{what} ({where}) is missing on {kernel}; it is optional.{rule}"
    return f"{what} ({where}): {f.reason}"


def uri(path: str) -> str:
    """A path as a SARIF URI: relative to the working directory where it lies below it, else a file: URI."""
    relative = os.path.relpath(os.path.abspath(path))
    if relative.startswith(os.pardir):
        return "file://" + urllib.parse.quote(os.path.abspath(path))
    return urllib.parse.quote(relative.replace(os.sep, "/"))


def _artifact(path: str) -> dict:
    location = {"uri": uri(path)}
    if not location["uri"].startswith("file:"):
        location["uriBaseId"] = "SRCROOT"
    return location


def _object_location(path: str, f: Finding) -> dict:
    # An object file has no lines; code scanning wants one, and the byte range says exactly where.
    return {
        "artifactLocation": _artifact(path),
        "region": {"startLine": 1, "byteOffset": f.file_offset, "byteLength": 8 if f.insn is not None else 1},
    }


def _location(path: str, f: Finding, logical: str) -> dict:
    """The source line when the object carries line info (clang -g), else the bytes in the object."""
    if f.source is not None:
        region = {"startLine": f.source.line, "snippet": {"text": f.source.text}}
        if f.source.column:
            region["startColumn"] = f.source.column
        physical = {"artifactLocation": _artifact(f.source.file), "region": region}
    else:
        physical = _object_location(path, f)
    return {
        "physicalLocation": physical,
        "logicalLocations": [{
            "name": f.program or f.map or f.symbol or f.section,
            "fullyQualifiedName": logical + (f"+{f.insn}" if f.insn is not None else ""),
            "kind": "function" if f.program else "variable" if f.map else "module",
        }],
    }


def _sarif_result(report: ObjectReport, f: Finding, kernel: str | None) -> dict | None:
    rule = _rule_for(f, kernel)
    if rule is None:
        return None
    logical = f"{f.section}/{f.program or f.map or f.symbol or f.id}"
    path = uri(report.path)
    fingerprint = hashlib.sha256(f"{rule}|{path}|{logical}|{f.kind}|{f.id}".encode()).hexdigest()
    return {
        "ruleId": rule,
        "ruleIndex": _RULE_INDEX[rule],
        "level": RULES[_RULE_INDEX[rule]][4],
        "message": {"text": _message(f, kernel)},
        "locations": [_location(report.path, f, logical)],
        "relatedLocations": [{
            "id": 1,
            "message": {"text": f"the instruction in {report.path}" if f.insn is not None
                        else f"the definition in {report.path}"},
            "physicalLocation": _object_location(report.path, f),
        }],
        "partialFingerprints": {"kbgenFinding/v1": fingerprint},
        "properties": {
            "kind": f.kind, "id": f.id, "firstRelease": f.first_release, "section": f.section,
            "instruction": f.insn, "sectionOffset": f.offset, "need": f.need, "rule": f.rule,
            "libbpf": f.libbpf, "requires": f.requires,
        },
    }


def _driver() -> dict:
    return {
        "name": "kbgen",
        "version": __version__,
        "informationUri": "https://github.com/kbgen/kbgen",
        "rules": [
            {
                "id": rule_id,
                "name": name,
                "shortDescription": {"text": short},
                "fullDescription": {"text": full},
                "help": {"text": full},
                "defaultConfiguration": {"level": level},
            }
            for rule_id, name, short, full, level in RULES
        ],
    }


def sarif_chunks(result: ScanResult):
    driver = _driver()
    yield ('{\n  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",\n  "version": "2.1.0",\n'
           f'  "runs": [{{\n    "tool": {{"driver": {json.dumps(driver)}}},\n'
           f'    "originalUriBaseIds": {json.dumps({"SRCROOT": {"uri": _cwd_uri()}})},\n    "results": [')
    separator = "\n"
    artifacts = []
    for report in result.objects:
        artifacts.append(report.path)
        for f in report.findings:
            found = _sarif_result(report, f, result.kernel)
            if found is not None:
                yield f"{separator}      {json.dumps(found)}"
                separator = ",\n"
    properties = {"targetKernel": result.kernel, "tree": result.tree, "dataVersion": result.data_version}
    yield (f"\n    ],\n    \"artifacts\": {json.dumps([{'location': _artifact(p)} for p in artifacts])},\n"
           f"    \"properties\": {json.dumps(properties)}\n  }}]\n}}\n")


def _cwd_uri() -> str:
    return "file://" + urllib.parse.quote(os.getcwd().rstrip("/") + "/")


def write(result: ScanResult, fmt: str, stream, *, summary: bool = False) -> None:
    """Write the report of *result* in *fmt* (text, json, sarif) to *stream*, one object at a time."""
    chunks = summary_chunks if summary else {"text": text_chunks, "json": json_chunks, "sarif": sarif_chunks}[fmt]
    for chunk in chunks(result):
        stream.write(chunk)


def rules_markdown() -> str:
    """The README's table of SARIF rules."""
    lines = ["| rule | what | level |", "| --- | --- | --- |"]
    lines += [f"| `{rule_id}` | {short} | {level} |" for rule_id, _name, short, _full, level in RULES]
    return "\n".join(lines) + "\n"


# -- a matrix of objects x builds (kbgen scan --fleet) --------------------------------------------------------------


def fleet_text_chunks(result):
    """Per object, the builds it runs on, adapts to and fails on, builds with the same answer and reason together."""
    yield f"builds ({len(result.trees)}): " + ", ".join(tree for tree, _label in result.trees) + "\n"
    for row in result.rows:
        groups: dict[tuple, list[str]] = {}
        for c in row.cells:
            groups.setdefault((c.result, tuple(c.why)), []).append(c.tree)
        yield f"{row.path}\n"
        for (outcome, why), trees in groups.items():
            yield f"  {outcome.upper() if outcome == 'fails' else outcome:6}  {', '.join(trees)}\n"
            if why:
                yield f"          {'; '.join(why)}\n"


def fleet_json_chunks(result):
    trees = [{"tree": tree, "kernel": label} for tree, label in result.trees]
    yield ('{\n  "data_version": ' + json.dumps(result.data_version) + ',\n  "builds": ' + json.dumps(trees) +
           ',\n  "objects": [')
    separator = "\n"
    for row in result.rows:
        record = {"path": row.path, "cells": [
            {"tree": c.tree, "kernel": c.kernel, "result": c.result, "why": c.why,
             "min_kernel": c.report.min_kernel if c.report else None,
             "core": c.report.core if c.report else None} for c in row.cells]}
        yield f"{separator}    {json.dumps(record)}"
        separator = ",\n"
    yield f"\n  ],\n  \"scanned\": {result.scanned},\n  \"ok\": {json.dumps(not result.failed)}\n}}\n"


def fleet_sarif_chunks(result):
    """SARIF with one run per build: each run's results are that build's, its properties name the build."""
    rows = list(result.rows)
    yield '{\n  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",\n  "version": "2.1.0",\n  "runs": ['
    for n, (tree, label) in enumerate(result.trees):
        results = []
        for row in rows:
            cell = row.cells[n]
            for f in cell.report.findings if cell.report else ():
                found = _sarif_result(cell.report, f, label)
                if found is not None:
                    found["properties"]["build"] = tree
                    results.append(found)
        run = {"tool": {"driver": _driver()}, "originalUriBaseIds": {"SRCROOT": {"uri": _cwd_uri()}},
               "results": results, "artifacts": [{"location": _artifact(r.path)} for r in rows],
               "properties": {"targetKernel": label, "tree": tree, "dataVersion": result.data_version,
                              "matrix": {r.path: r.cells[n].result for r in rows}}}
        yield ("\n    " if n == 0 else ",\n    ") + json.dumps(run)
    yield "\n  ]\n}\n"


def write_fleet(result, fmt: str, stream) -> None:
    for chunk in {"text": fleet_text_chunks, "json": fleet_json_chunks, "sarif": fleet_sarif_chunks}[fmt](result):
        stream.write(chunk)
