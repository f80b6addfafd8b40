"""The shipped knowledge base: reviewable text files in ``data/`` (installed as ``kb.data``).

One row per fact, tab-separated, sorted, with the source of every row; helper documentation as one JSON
object per line.  :func:`dump` writes them (from any collected tree), :func:`load` reads them back into the
same facts, so the store built from them is the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from collectors.facts import CollectedTree, HelperDocFact, Item, ItemName
from kb.atomic import write_atomic

SHIPPED_TREE = "mainline"
FILES = {
    "sources": ("id", "kind", "description"),
    "items": ("kind", "value", "name", "first_release", "commit", "alt_commit", "source", "note"),
    "names": ("kind", "value", "name", "is_alias", "first_seen_commit", "first_release"),
    "disagreements": ("kind", "value", "field", "used", "used_source", "other", "other_source", "note"),
}
DOCS_FILE = "helper_docs.jsonl"
VERSION_FILE = "VERSION"
CURATED_NAMES_FILE = "curated_names.tsv"  # hand-kept, never written by dump()
CURATED_COLUMNS = ("kind", "value", "name", "source", "note")

_HEADERS = {
    "sources": "Where the facts in the other files come from; every row there names one of these ids.",
    "items": "One row per item: kind, enum value (kfuncs: the name), the name in use, first mainline release "
    "(empty: not known), the commit that added it, the other reference's commit where they differ.",
    "names": "Every name an item carried; is_alias marks a spelling defined as another (BPF_PROG_RUN).",
    "disagreements": "Where sources disagree: the value the tables use and the other one, each with its source.",
}


class DataError(ValueError):
    pass


def data_dir() -> Path:
    """The installed ``kb.data`` package, or ``data/`` beside ``kb/`` in a source tree."""
    # Plain imports, not importlib.resources: the data is always files, and its import costs 20 ms.
    try:
        import kb.data

        return Path(kb.data.__file__).parent
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "data"


def _cell(value) -> str:
    text = "" if value is None else str(int(value) if isinstance(value, bool) else value)
    if "\t" in text or "\n" in text:
        raise DataError(f"a value holds a tab or newline: {text[:40]!r}")
    return text


def _value_key(kind: str, value) -> tuple:
    return (kind, 0, value, "") if isinstance(value, int) else (kind, 1, 0, str(value))


def dump(collected: CollectedTree, directory: str, data_version: str) -> list[str]:
    """Write *collected* as the text knowledge base into *directory*; returns the files written."""
    sources = {collected.source: collected.source_description, **collected.other_sources}
    items = sorted(collected.items, key=lambda i: _value_key(i.kind, i.value))
    rows = {
        "sources": sorted((sid, sid.split(":", 1)[0], desc) for sid, desc in sources.items()),
        "items": [
            (i.kind, i.value, i.name, i.first_release, i.introduced_by, i.alt_commit, i.source or collected.source,
             i.note)
            for i in items
        ],
        "names": [
            (i.kind, i.value, n.name, n.is_alias, n.first_seen_commit, n.first_release) for i in items for n in i.names
        ],
        "disagreements": sorted(collected.disagreements, key=lambda d: (_value_key(d[0], d[1]), d[2:])),
    }
    written = []
    for name, columns in FILES.items():
        lines = [f"# {_HEADERS[name]}", "\t".join(columns)]
        lines += ["\t".join(_cell(v) for v in row) for row in rows[name]]
        path = os.path.join(directory, f"{name}.tsv")
        write_atomic(path, "\n".join(lines) + "\n")
        written.append(path)
    docs = sorted(collected.helper_docs, key=lambda d: (d.value, d.variant))
    doc_lines = [
        json.dumps(
            {"id": d.value, "variant": d.variant, "name": d.name, "signature": d.signature,
             "description": d.description, "returns": d.returns, "attributes": d.attributes,
             "source": collected.docs_source},
            ensure_ascii=False, sort_keys=True,
        )
        for d in docs
    ]
    path = os.path.join(directory, DOCS_FILE)
    write_atomic(path, "\n".join(doc_lines) + "\n")
    written.append(path)
    path = os.path.join(directory, VERSION_FILE)
    write_atomic(path, data_version.strip() + "\n")
    written.append(path)
    return written


def _read_tsv(path: Path, columns: tuple[str, ...]) -> list[dict[str, str | None]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"{path}: {err.strerror}") from None
    lines = [line for line in text.split("\n") if line and not line.startswith("#")]
    if not lines or tuple(lines[0].split("\t")) != columns:
        raise DataError(f"{path}: expected the columns {', '.join(columns)}")
    rows = []
    for number, line in enumerate(lines[1:], 2):
        cells = line.split("\t")
        if len(cells) != len(columns):
            raise DataError(f"{path}: data row {number}: {len(cells)} columns, expected {len(columns)}")
        rows.append({c: (v if v != "" else None) for c, v in zip(columns, cells)})
    return rows


def _value(kind: str, text: str):
    return text if kind == "kfunc" else int(text)


def load(directory: str | Path | None = None) -> CollectedTree:
    """The shipped mainline tree, as facts ready for :func:`kb.store.write_tree`."""
    base = Path(directory) if directory else data_dir()
    tables = {name: _read_tsv(base / f"{name}.tsv", columns) for name, columns in FILES.items()}
    descriptions = {row["id"]: row["description"] for row in tables["sources"]}
    main_source = next(iter(descriptions), None)
    items: dict[tuple, Item] = {}
    for row in tables["items"]:
        kind = row["kind"]
        item = Item(kind, _value(kind, row["value"]), row["name"], row["first_release"],
                    introduced_by=row["commit"], alt_commit=row["alt_commit"], note=row["note"], source=row["source"])
        items[(kind, item.value)] = item
        if row["source"] not in descriptions:
            raise DataError(f"{base / 'items.tsv'}: {kind} {row['value']}: unknown source {row['source']!r}")
    for row in tables["names"]:
        key = (row["kind"], _value(row["kind"], row["value"]))
        if key not in items:
            raise DataError(f"{base / 'names.tsv'}: {key[0]} {key[1]} is not in items.tsv")
        items[key].names.append(
            ItemName(row["name"], row["first_seen_commit"], row["first_release"], row["is_alias"] == "1")
        )
    for row in _read_tsv(base / CURATED_NAMES_FILE, CURATED_COLUMNS):
        key = (row["kind"], _value(row["kind"], row["value"]))
        if key not in items:
            raise DataError(f"{base / CURATED_NAMES_FILE}: {key[0]} {key[1]} is not in items.tsv")
        if all(n.name != row["name"] for n in items[key].names):
            # A former name: first in the list, as it came before the names the references know.
            items[key].names.insert(0, ItemName(row["name"]))
        descriptions.setdefault(row["source"], row["note"])
    collected = CollectedTree(
        name=SHIPPED_TREE,
        kind="reference",
        source=_most_used_source(items.values()) or main_source,
        source_description="",
        items=list(items.values()),
        disagreements=[
            (r["kind"], _value(r["kind"], r["value"]), r["field"], r["used"], r["used_source"], r["other"],
             r["other_source"], r["note"])
            for r in tables["disagreements"]
        ],
    )
    collected.source_description = descriptions.get(collected.source, "")
    collected.other_sources = {k: v for k, v in descriptions.items() if k != collected.source}
    try:
        doc_lines = (base / DOCS_FILE).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(doc_lines, 1):
            doc = json.loads(line)
            collected.helper_docs.append(
                HelperDocFact(doc["id"], doc["name"], doc["variant"], doc["signature"], doc["description"],
                              doc["returns"], doc["attributes"])
            )
            collected.docs_source = doc["source"]
    except OSError as err:
        raise DataError(f"{base / DOCS_FILE}: {err.strerror}") from None
    except (ValueError, KeyError) as err:
        raise DataError(f"{base / DOCS_FILE}: line {number}: {err}") from None
    collected.fingerprint = data_version(base)
    return collected


def _most_used_source(items) -> str | None:
    counts: dict[str, int] = {}
    for item in items:
        counts[item.source] = counts.get(item.source, 0) + 1
    return max(sorted(counts), key=counts.get) if counts else None


def data_version(directory: str | Path | None = None) -> str:
    """``2026.11.29+<digest>``: the release label in VERSION plus a digest of the data files' content."""
    base = Path(directory) if directory else data_dir()
    try:
        label = (base / VERSION_FILE).read_text(encoding="utf-8").strip()
        digest = hashlib.sha256()
        for name in [f"{n}.tsv" for n in FILES] + [DOCS_FILE, CURATED_NAMES_FILE]:
            digest.update((base / name).read_bytes())
    except OSError as err:
        raise DataError(f"{base}: {err.strerror}: {err.filename}") from None
    return f"{label}+{digest.hexdigest()[:12]}"
