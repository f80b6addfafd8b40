"""The stable export linters import: one record per item, its fields and their JSON Schema declared once.

The README's field table and ``kbgen export --schema`` are generated from :data:`FIELDS`, so the three
cannot drift apart.  :data:`FORMAT_VERSION` changes only when a field is removed, renamed or changes its
meaning; new fields may appear within a format version (consumers must ignore fields they do not know).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from kb.vocab.facts import Window, windows_text
from kb.vocab.kinds import ITEM_KINDS

FORMAT_VERSION = 3
_NULLABLE_STRING = {"type": ["string", "null"]}
_RELEASE = {"type": ["string", "null"], "pattern": r"^\d+\.\d+"}
_SHA = {"type": ["string", "null"], "pattern": "^[0-9a-f]{40}$"}
_KEY = {"type": ["array", "null"], "items": {"type": "integer", "minimum": 0}, "minItems": 4}
# Facts of an item that do not depend on the build or distribution carrying it: where a tree's own sources do not
# give them, mainline's are exported, and the record's `carried` names them.
CARRIED = ("gpl_only", "signature", "title", "detect", "libbpf")


@dataclass(frozen=True)
class Field:
    name: str
    schema: dict
    meaning: str


FIELDS = (
    Field("kind", {"enum": list(ITEM_KINDS)}, "`" + "`, `".join(ITEM_KINDS) + "`"),
    Field("id", {"type": "string"}, "always a string: the enum value in decimal for helpers and enumerators "
          "(`\"195\"`), a kfunc's name, a feature's slug (`isa.jmp32_v3`)"),
    Field("value", {"type": ["integer", "null"]}, "the enum value as a number (helper id for helpers); `null` for "
          "kfuncs and features"),
    Field("name", {"type": "string"}, "the name in use today (helpers without `bpf_`, enumerators in full: "
          "`BPF_PROG_TYPE_XDP`)"),
    Field("names", {"type": "array", "items": {"type": "string"}}, "every name the item carried, oldest first "
          "(renames, then later aliases such as `BPF_PROG_RUN`)"),
    Field("first_release", _RELEASE, "first release that has it, a string such as `\"5.19\"`; `null` when none is "
          "known"),
    Field("removed_in", _RELEASE, "first release without it after its last window; `null` while it is there"),
    Field("first_release_after", _RELEASE, "where `first_release` is not established: the release its arrival "
          "came after (it is not in that one; `null`: no lower bound)"),
    Field("first_release_by", _RELEASE, "where `first_release` is not established: the release it is in by "
          "(it arrived in that one or earlier)"),
    Field("windows", {"type": "array", "items": {"type": "object", "properties": {
        "since": _RELEASE, "until": _RELEASE, "since_key": _KEY, "until_key": _KEY},
        "required": ["since", "until", "since_key", "until_key"], "additionalProperties": False}},
          "every `[since, until)` run of releases that has it (`until` `null`: still there), with the sort keys "
          "of both ends (`releases`); two windows for an item that was removed and came back"),
    Field("first_rc", _NULLABLE_STRING, "first `-rc` tag that has it, when collected with `--rc`"),
    Field("commit", _SHA, "full sha of the commit that added it"),
    Field("subject", _NULLABLE_STRING, "subject of that commit, where mined from git"),
    Field("author", _NULLABLE_STRING, "author of that commit, where mined from git"),
    Field("date", _NULLABLE_STRING, "author date of that commit, where mined from git"),
    Field("unreleased", {"type": "boolean"}, "`true` when the newest revision has it but no release does (mined "
          "trees only)"),
    Field("gpl_only", {"type": ["boolean", "null"]}, "helpers: `true` when the verifier refuses it to programs "
          "without a GPL-compatible license; `null` where not known or not a helper"),
    Field("signature", _NULLABLE_STRING, "kfuncs: the prototype, where a source renders it (a probed build's BTF)"),
    Field("title", _NULLABLE_STRING, "features: what the feature is"),
    Field("detect", _NULLABLE_STRING, "features: how a compiled object shows the need"),
    Field("libbpf", _NULLABLE_STRING, "features: how libbpf treats an older kernel: `required`, "
          "`sanitized:libbpf vX.Y` (rewritten or dropped from that libbpf release), `optional`, `libbpf-only`"),
    Field("alt_commit", _SHA, "the commit another reference gives, where the references disagree"),
    Field("note", _NULLABLE_STRING, "how a reference fact was established or reconciled"),
    Field("source", {"type": "string"}, "where the fact comes from: `git:REPO:PATH`, `reference:NAME`, "
          "`header:...`, `btf:...`, `live:...`"),
    Field("carried", {"type": "array", "items": {"enum": list(CARRIED)}}, "the fields whose values are "
          "mainline's, carried into a build or distribution tree whose own sources do not give them (`gpl_only`, "
          "`signature`, `title`, `detect`, `libbpf`); empty in mainline"),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)
RELEASE_FIELDS = {
    "version": {"type": "string"},
    "key": _KEY,
    "sort_key": {"type": "string"},
    "base": _NULLABLE_STRING,
    "tag": _NULLABLE_STRING,
    "date": _NULLABLE_STRING,
    "uname": _NULLABLE_STRING,
}
ENVELOPE = {
    "format_version": ({"const": FORMAT_VERSION}, "the export format's version (see below)"),
    "tree": ({"type": "string"}, "the tree exported"),
    "scheme": ({"type": "string"}, ("how the tree's releases are named and ordered: mainline, ubuntu, rhel, "
                                    "debian, suffixed, pattern, build")),
    "data_version": ({"type": "string"}, "what the facts were read from: the shipped data version, mined revisions"),
    "releases": ({"type": "array", "items": {"type": "object", "properties": RELEASE_FIELDS,
                                             "required": list(RELEASE_FIELDS), "additionalProperties": False}},
                 ("the tree's releases in order, each with its key (an array of integers that compares as the "
                  "releases order: X.Y.Z, rc, then the distribution's numbers) and sort_key (the same as text)")),
    "items": ({"type": "array", "items": {"$ref": "#/$defs/item"}}, "one record per item, by kind then id"),
}


def record(item, mainline=None) -> dict:
    """The export record of a queries.ItemRow; *mainline*: the same item in mainline, whose facts that do not depend
    on the build (:data:`CARRIED`) fill the ones this tree's sources do not give."""
    carried = [f for f in CARRIED if mainline is not None and getattr(item, f) is None
               and getattr(mainline, f) is not None]
    facts = {f: getattr(mainline if f in carried else item, f) for f in CARRIED}
    return {
        "kind": item.kind,
        "id": str(item.value),
        "value": item.value if isinstance(item.value, int) else None,
        "name": item.name,
        "names": list(item.names),
        "first_release": item.first_release,
        "removed_in": item.removed_in,
        "first_release_after": item.first_release_after,
        "first_release_by": item.first_release_by,
        "windows": [{"since": w.since, "until": w.until, "since_key": _key(since), "until_key": _key(until)}
                    for w, (since, until) in zip(item.windows, item.window_keys)],
        "first_rc": item.first_rc,
        "commit": item.commit,
        "subject": item.subject,
        "author": item.author,
        "date": item.date,
        "unreleased": item.unreleased,
        **facts,
        "alt_commit": item.alt_commit,
        "note": item.note,
        "source": item.source,
        "carried": carried,
    }


def _key(text: str | None) -> list[int] | None:
    return None if text is None else [int(n) for n in text.split(".")]


def release(row) -> dict:
    """The export record of a queries.ReleaseRow."""
    return {"version": row.version, "key": _key(row.sort_key), "sort_key": row.sort_key,
            "base": row.base, "tag": row.tag, "date": row.date, "uname": row.uname}


def schema() -> dict:
    """JSON Schema (2020-12) of ``kbgen export --format json``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://kbgen.invalid/export-v{FORMAT_VERSION}.schema.json",
        "title": "kbgen export",
        "type": "object",
        "required": list(ENVELOPE),
        "properties": {name: dict(spec, description=meaning) for name, (spec, meaning) in ENVELOPE.items()},
        "$defs": {"item": {
            "type": "object",
            "required": list(FIELD_NAMES),
            "properties": {f.name: dict(f.schema, description=_plain(f.meaning)) for f in FIELDS},
        }},
    }


def _plain(text: str) -> str:
    return text.replace("`", "")


def to_json(export) -> str:
    document = {"format_version": FORMAT_VERSION, "tree": export.tree, "scheme": export.scheme,
                "data_version": export.data_version, "releases": export.releases, "items": export.records}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def to_csv(export) -> str:
    """CSV with the same columns: names joined by ``|``, windows as ``6.17..6.18,7.0..``, booleans 0/1."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELD_NAMES)
    for row in export.records:
        row = dict(row)
        row["names"] = "|".join(row["names"])
        row["windows"] = windows_text([Window(w["since"], w["until"]) for w in row["windows"]])
        row["carried"] = "|".join(row["carried"])
        for flag in ("unreleased", "gpl_only"):
            if row[flag] is not None:
                row[flag] = int(row[flag])
        writer.writerow(["" if row[f] is None else row[f] for f in FIELD_NAMES])
    return out.getvalue()


def markdown_table() -> str:
    """The README's table of export fields."""
    lines = ["| field | meaning |", "| --- | --- |"]
    lines += [f"| `{f.name}` | {f.meaning} |" for f in FIELDS]
    return "\n".join(lines) + "\n"
