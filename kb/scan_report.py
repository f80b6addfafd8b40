"""How a scan reads: text for people, JSON for tools (fields in the README), SARIF 2.1.0 for code scanning."""

from __future__ import annotations

import hashlib
import json
import os

from kb import __version__
from kb.scan import FAILING, OK, RELEASE_UNKNOWN, REMOVED, TOO_NEW, UNKNOWN, Finding, ScanResult
from kb.textable import render_table

_STATUS_TEXT = {
    OK: "",
    TOO_NEW: "NEEDS A NEWER KERNEL",
    REMOVED: "REMOVED from the target",
    UNKNOWN: "UNKNOWN (newer than the knowledge base?)",
    RELEASE_UNKNOWN: "first release not known",
}


def _what(f: Finding) -> str:
    label = f.name or ("?" if f.kind != "kfunc" else f.id)
    if f.kind == "kfunc":
        return f"kfunc {label}"
    return f"{f.kind} {f.id} {label}"


def _where(f: Finding) -> str:
    if f.map is not None:
        return f"map {f.map}"
    where = f"{f.program or '?'} insn {f.insn}"
    if f.source is not None:
        where += f" ({os.path.basename(f.source.file)}:{f.source.line})"
    return where


def to_text(result: ScanResult) -> str:
    out = []
    for report in result.objects:
        minimum = report.min_kernel
        needs = f"needs Linux {minimum} or newer" if minimum else "uses nothing with a known release"
        forcing = ", ".join(sorted({_what(f) for f in report.forced_by}))
        head = f"{report.path}: {needs}" + (f" ({forcing})" if forcing else "")
        if result.kernel:
            problems = sum(1 for f in report.findings if f.status in FAILING)
            head += f"; {problems} problem(s) on {result.kernel}" if problems else f"; fine on {result.kernel}"
        out.append(head)
        rows = [
            [f.section, _where(f), _what(f), f.first_release or "-", _STATUS_TEXT[f.status]]
            for f in report.findings
        ]
        if rows:
            table = render_table(["section", "where", "uses", "since", "status"], rows)
            out.append("".join("  " + line + "\n" for line in table.splitlines()).rstrip("\n"))
    return "\n".join(out) + "\n"


def _finding_record(f: Finding) -> dict:
    return {
        "kind": f.kind,
        "id": f.id,
        "name": f.name,
        "first_release": f.first_release,
        "removed_in": f.removed_in,
        "status": f.status,
        "section": f.section,
        "program": f.program,
        "map": f.map,
        "insn": f.insn,
        "offset": f.offset,
        "file_offset": f.file_offset,
        "source": None if f.source is None else {
            "file": f.source.file, "line": f.source.line, "column": f.source.column, "text": f.source.text,
        },
    }


def to_json(result: ScanResult) -> str:
    document = {
        "tree": result.tree,
        "data_version": result.data_version,
        "kernel": result.kernel,
        "ok": not result.failed,
        "objects": [
            {
                "path": r.path,
                "min_kernel": r.min_kernel,
                "programs": [{"section": s, "name": n} for s, n in r.programs],
                "findings": [_finding_record(f) for f in r.findings],
            }
            for r in result.objects
        ],
    }
    return json.dumps(document, indent=2) + "\n"


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
]
_RULE_INDEX = {rule[0]: n for n, rule in enumerate(RULES)}


def _rule_for(f: Finding, kernel: str | None) -> str | None:
    if f.status == REMOVED and kernel:
        return "KBG008"
    if f.status == TOO_NEW and kernel:
        return {"helper": "KBG001", "kfunc": "KBG002", "map_type": "KBG003"}[f.kind]
    if f.status == UNKNOWN:
        return {"helper": "KBG004", "kfunc": "KBG005", "map_type": "KBG006"}[f.kind]
    if f.status == RELEASE_UNKNOWN:
        return "KBG007"
    return None


def _message(f: Finding, kernel: str | None) -> str:
    what = _what(f)
    where = f"in section {f.section}" + (f", program {f.program}, instruction {f.insn}" if f.insn is not None else "")
    if f.status == TOO_NEW:
        return f"{what} ({where}) first appeared in Linux {f.first_release}; the target is {kernel}."
    if f.status == REMOVED:
        return f"{what} ({where}) was removed in Linux {f.removed_in}; the target is {kernel}."
    if f.status == UNKNOWN:
        return f"{what} ({where}) is not in the knowledge base."
    return f"{what} ({where}) has no known first release."


def _object_location(path: str, f: Finding) -> dict:
    # An object file has no lines; code scanning wants one, and the byte range says exactly where.
    return {
        "artifactLocation": {"uri": path},
        "region": {"startLine": 1, "byteOffset": f.file_offset, "byteLength": 8},
    }


def _location(path: str, f: Finding, logical: str) -> dict:
    """The source line when the object carries line info (clang -g), else the bytes in the object."""
    if f.source is not None:
        region = {"startLine": f.source.line, "snippet": {"text": f.source.text}}
        if f.source.column:
            region["startColumn"] = f.source.column
        physical = {"artifactLocation": {"uri": f.source.file}, "region": region}
    else:
        physical = _object_location(path, f)
    return {
        "physicalLocation": physical,
        "logicalLocations": [{
            "name": f.program or f.map or f.section,
            "fullyQualifiedName": logical + (f"+{f.insn}" if f.insn is not None else ""),
            "kind": "function" if f.program else "variable",
        }],
    }


def to_sarif(result: ScanResult) -> str:
    results = []
    for report in result.objects:
        for f in report.findings:
            rule = _rule_for(f, result.kernel)
            if rule is None:
                continue
            logical = f"{f.section}/{f.program}" if f.program else f"{f.section}/{f.map}"
            fingerprint = hashlib.sha256(f"{rule}|{report.path}|{logical}|{f.kind}|{f.id}".encode()).hexdigest()
            results.append({
                "ruleId": rule,
                "ruleIndex": _RULE_INDEX[rule],
                "level": RULES[_RULE_INDEX[rule]][4],
                "message": {"text": _message(f, result.kernel)},
                "locations": [_location(report.path, f, logical)],
                "relatedLocations": [{
                    "id": 1,
                    "message": {"text": f"the instruction in {report.path}" if f.insn is not None
                                else f"the map definition in {report.path}"},
                    "physicalLocation": _object_location(report.path, f),
                }],
                "partialFingerprints": {"kbgenFinding/v1": fingerprint},
                "properties": {
                    "kind": f.kind, "id": f.id, "firstRelease": f.first_release, "section": f.section,
                    "instruction": f.insn, "sectionOffset": f.offset,
                },
            })
    log = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
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
            }},
            "artifacts": [{"location": {"uri": r.path}} for r in result.objects],
            "results": results,
            "properties": {"targetKernel": result.kernel, "tree": result.tree, "dataVersion": result.data_version},
        }],
    }
    return json.dumps(log, indent=2) + "\n"


def to_summary(result: ScanResult) -> str:
    lines = []
    for report in result.objects:
        forcing = ", ".join(sorted({_what(f) for f in report.forced_by}))
        lines.append(f"{report.path}: {report.min_kernel or '-'}" + (f" ({forcing})" if forcing else ""))
    return "\n".join(lines) + "\n"


def write(result: ScanResult, fmt: str, stream, *, summary: bool = False) -> None:
    """Write the report of *result* in *fmt* (text, json, sarif) to *stream*."""
    render = to_summary if summary else {"text": to_text, "json": to_json, "sarif": to_sarif}[fmt]
    stream.write(render(result))
