"""The stable export linters import: one object per item (see README, "Export fields")."""

from __future__ import annotations

import csv
import io
import json

from kb.queries import ItemRow

FIELDS = (
    "kind", "id", "name", "names", "first_release", "first_rc", "commit", "subject", "author", "date",
    "unreleased", "alt_commit", "note", "source",
)


def record(item: ItemRow) -> dict:
    return {
        "kind": item.kind,
        "id": item.value,
        "name": item.name,
        "names": item.names,
        "first_release": item.first_release,
        "first_rc": item.first_rc,
        "commit": item.commit,
        "subject": item.subject,
        "author": item.author,
        "date": item.date,
        "unreleased": item.unreleased,
        "alt_commit": item.alt_commit,
        "note": item.note,
        "source": item.source,
    }


def to_json(items: list[ItemRow]) -> str:
    return json.dumps([record(i) for i in items], indent=2, ensure_ascii=False) + "\n"


def to_csv(items: list[ItemRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for item in items:
        row = record(item)
        row["names"] = "|".join(row["names"])
        row["unreleased"] = int(row["unreleased"])
        writer.writerow(["" if row[f] is None else row[f] for f in FIELDS])
    return out.getvalue()
