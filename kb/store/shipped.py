"""The shipped knowledge base: reviewable text files in ``data/`` (installed as ``kb.data``).

One row per fact, tab-separated, sorted, with the source of every row; helper documentation as one JSON
object per line.  :func:`dump` writes them from facts, :func:`load` reads them back into the same facts,
so the store built from them is the same on every machine.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from kb.formats.atomic import write_all_atomic
from kb.store.reading import section_rule
from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.facts import (
    AS_DOCUMENTED,
    IN_MODULE,
    Disagreement,
    Facts,
    HelperDoc,
    Item,
    ItemName,
    Relation,
    Release,
    Source,
    Window,
    windows_text,
)
from kb.vocab.kinds import (
    ENUM_KINDS,
    FEATURE,
    HELPER,
    ITEM_KINDS,
    KFUNC,
    LIBBPF,
    MAINLINE,
    SHIPPED_COLLECTOR,
    TREE_BUILD,
    TREE_GIT,
    TREE_REFERENCE,
    value_of,
)
from kb.vocab.releases import BUILD_SCHEME, MAINLINE_SCHEME

FILES = {
    "sources": ("id", "kind", "description"),
    "items": ("kind", "value", "name", "first_release", "windows", "commit", "alt_commit", "gpl_only", "source",
              "note", "first_release_after", "first_release_by", "signature"),
    "features": ("id", "title", "detect", "libbpf"),
    "names": ("kind", "value", "name", "is_alias", "first_seen_commit", "first_release"),
    "relations": ("kind", "value", "relation", "other_kind", "other_value", "source"),
    "disagreements": ("kind", "value", "field", "used", "used_source", "other", "other_source", "note"),
}
DOCS_FILE = "helper_docs.jsonl"
VERSION_FILE = "VERSION"
# The libbpf tree: release tags and every release's section table, mined from the libbpf mirror.
LIBBPF_TREE = LIBBPF
# Not the id a user's clone gets (git:<directory>:src/libbpf.c): both can stand in the libbpf tree side by side.
LIBBPF_SOURCE = "git:github.com/libbpf/libbpf:src/libbpf.c"
LIBBPF_FILES = {
    "libbpf_releases": ("version", "tag", "commit", "date", "source"),
    "libbpf_sections": ("releases", "position", "pattern", "prog_type", "expected_attach_type", "attach_type",
                        "flags", "legacy_form"),
}
LIBBPF_SOURCE_DESCRIPTION = ("libbpf's section table in src/libbpf.c at every release tag of the libbpf mirror "
                             "(github.com/libbpf/libbpf), mined by kbgen's libbpf-sections collector")

_HEADERS = {
    "sources": "Where the facts in the other files come from; every row there names one of these ids.",
    "items": "One row per item: kind, enum value (kfuncs, features: the name), the name in use, first mainline "
    "release (empty: not known), the releases [since..until) that have it, the commit that added it, the other "
    "reference's commit where they differ, whether the verifier restricts it to GPL programs, its source, a note; "
    "where the first release is not established, the releases its arrival lies after and by; a kfunc's prototype "
    "where only builds know it.",
    "features": "What each feature item is, how a compiled object shows the need, and how libbpf treats a kernel "
    "without it (required, sanitized:libbpf vX.Y, optional, libbpf-only).",
    "names": "Every name an item carried, oldest first; is_alias marks a later second spelling (BPF_PROG_RUN).",
    "relations": "Program types that may call a helper or kfunc (callable_from) and map types a helper works with "
    "(works_with), as documented for the newest documented kernel: absence means not documented, not refused.",
    "disagreements": "Where sources disagree: the value the tables use and the other one, each with its source.",
    "libbpf_releases": "libbpf release tags whose src/libbpf.c has a section table, oldest first.",
    "libbpf_sections": "Each distinct libbpf section table, entry by entry in table order (the first entry a SEC() "
    "name matches wins), with the releases that have exactly this table.",
}


# The fleet: real distribution builds, each a build tree, as the maintainers' `kbgen import-fleet` read them.
FLEET_DIR = "fleet"
FLEET_FILES = {
    "builds": ("build", "base", "distribution", "distribution_version", "arch", "package", "package_version",
               "package_sha256", "modules_package", "modules_package_sha256", "modules", "kfuncs_tagged",
               "image_sha256", "container"),
    "items": ("kind", "value", "name", "is_alias", "signature", "module", "builds"),
}
_FLEET_HEADERS = {
    "builds": "Real distribution builds, one per row (the row's place, from 0, is its number in items.tsv): its uname -r, "
    "mainline base, labels, the package it came in (name, version, sha256 of the .deb; the modules' package where "
    "separate), whether its modules were read, whether its BTF tags kfuncs, the sha256 of the image read.",
    "items": "Every helper, enumerator and tagged kfunc of the builds: kind, value, the name, 1 for a second spelling of "
    "the value, a kfunc's prototype, the module that registers it (empty: vmlinux), and the builds that have exactly this "
    "(numbers of builds.tsv rows, as ranges).",
}


class DataError(KbgenError):
    pass


def data_dir() -> Path:
    """The installed ``kb.data`` package, or ``data/`` beside ``kb/`` in a source tree."""
    # Plain imports, not importlib.resources: the data is always files, and its import costs 20 ms.
    try:
        import kb.data

        return Path(kb.data.__file__).parent
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "data"  # kb/store/shipped.py -> the checkout


def _cell(value) -> str:
    text = "" if value is None else str(int(value) if isinstance(value, bool) else value)
    if "\t" in text or "\n" in text:
        raise DataError(f"a value holds a tab or newline: {text[:40]!r}")
    return text


def _value_key(kind: str, value) -> tuple:
    return (kind, 0, value, "") if isinstance(value, int) else (kind, 1, 0, str(value))


def dump(facts: Facts, directory: str, data_version: str) -> list[str]:
    """Write *facts* as the text knowledge base into *directory*, as a set; returns the files written."""
    sources = {s.id: s for s in (facts.source, *facts.other_sources)}
    items = sorted(facts.items, key=lambda i: _value_key(i.kind, i.value))
    rows = {
        "sources": sorted((s.id, s.kind, s.description) for s in sources.values()),
        "items": [
            (i.kind, i.value, i.name, i.first_release, windows_text(i.windows), i.introduced_by, i.alt_commit, i.gpl_only,
             i.source or facts.source.id, i.note, i.first_release_after, i.first_release_by, i.signature)
            for i in items
        ],
        "features": [(i.value, i.title, i.detect, i.libbpf) for i in items if i.kind == FEATURE],
        "names": [
            (i.kind, i.value, n.name, n.is_alias, n.first_seen_commit, n.first_release) for i in items for n in i.names
        ],
        "relations": sorted(
            ((r.kind, r.value, r.relation, r.other_kind, r.other_value, r.source or facts.source.id)
             for r in facts.relations),
            key=lambda r: (_value_key(r[0], r[1]), r[2], r[3], _value_key(r[3], r[4])[1:], r[5]),
        ),
        "disagreements": sorted(
            ((d.kind, d.value, d.field, d.used, d.used_source, d.other, d.other_source, d.note)
             for d in facts.disagreements),
            key=lambda d: (_value_key(d[0], d[1]), tuple(str(x) for x in d[2:])),
        ),
    }
    files: dict[str, str] = {}
    for name, columns in FILES.items():
        files[os.path.join(directory, f"{name}.tsv")] = _tsv(name, columns, rows[name])
    docs = sorted(facts.helper_docs, key=lambda d: (d.value, d.variant))
    files[os.path.join(directory, DOCS_FILE)] = "".join(
        json.dumps(
            {"id": d.value, "variant": d.variant, "name": d.name, "signature": d.signature,
             "description": d.description, "returns": d.returns, "attributes": d.attributes,
             "source": d.source or facts.source.id},
            ensure_ascii=False, sort_keys=True,
        ) + "\n"
        for d in docs
    )
    files[os.path.join(directory, VERSION_FILE)] = data_version.strip() + "\n"
    write_all_atomic(files)
    return list(files)


def _tsv(name: str, columns: tuple[str, ...], rows) -> str:
    lines = [f"# {_HEADERS[name]}", "\t".join(columns)]
    lines += ["\t".join(_cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def dump_libbpf(facts: Facts, directory: str) -> list[str]:
    """Write a mined libbpf tree's releases and section tables (identical tables once) into *directory*."""
    tables: dict[str, list] = {}
    for rule in facts.sections:
        tables.setdefault(rule.release, []).append(rule)
    groups: dict[tuple, list[str]] = {}
    for release in facts.releases:
        rules_ = tables.get(release.version, [])
        key = tuple((r.position, r.definition.pattern, r.definition.prog_type, r.definition.expected_attach_type,
                     r.definition.attach_type, " ".join(sorted(r.definition.flags)), int(r.definition.legacy_form))
                    for r in rules_)
        groups.setdefault(key, []).append(release.version)
    files = {
        os.path.join(directory, "libbpf_releases.tsv"): _tsv("libbpf_releases", LIBBPF_FILES["libbpf_releases"], [
            (r.version, r.tag, r.commit, r.date, LIBBPF_SOURCE) for r in facts.releases]),
        os.path.join(directory, "libbpf_sections.tsv"): _tsv("libbpf_sections", LIBBPF_FILES["libbpf_sections"], [
            (",".join(releases), *entry) for key, releases in groups.items() for entry in key]),
    }
    write_all_atomic(files)
    return list(files)


def load_libbpf(base: Path) -> Facts | None:
    if not (base / "libbpf_releases.tsv").exists():
        return None
    releases = _read_tsv(base / "libbpf_releases.tsv", LIBBPF_FILES["libbpf_releases"])
    source_id = releases[-1]["source"] if releases else LIBBPF_SOURCE
    facts = Facts(LIBBPF_TREE, TREE_GIT, Source(source_id, LIBBPF_SOURCE_DESCRIPTION,
                                                revision=releases[-1]["commit"] if releases else None),
                  SHIPPED_COLLECTOR, MAINLINE_SCHEME)
    for row in releases:
        facts.releases.append(Release(row["version"], rules.key_text(rules.kernel_key(row["version"])),
                                      row["version"], row["tag"], row["commit"], row["date"]))
    known = {r.version for r in facts.releases}
    for number, row in enumerate(_read_tsv(base / "libbpf_sections.tsv", LIBBPF_FILES["libbpf_sections"]), 2):
        for release in (row["releases"] or "").split(","):
            if release not in known:
                raise DataError(f"{base / 'libbpf_sections.tsv'}: data row {number}: unknown release {release!r}")
            facts.sections.append(section_rule(dict(row, release=release, position=int(row["position"]),
                                                    legacy_form=row["legacy_form"] == "1")))
    return facts


def _ranges(numbers: list[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    parts: list[str] = []
    for n in sorted(set(numbers)):
        if parts and parts[-1][1] == n - 1:
            parts[-1][1] = n
        else:
            parts.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in parts)


def _numbers(text: str, where: str, count: int) -> list[int]:
    numbers = []
    try:
        for part in filter(None, text.split(",")):
            low, _, high = part.partition("-")
            numbers += range(int(low), int(high or low) + 1)
    except ValueError:
        raise DataError(f"{where}: builds {text!r} is not a list of ranges (0-3,7)") from None
    if any(not 0 <= n < count for n in numbers):
        raise DataError(f"{where}: builds {text!r} names a build past the {count} of builds.tsv")
    return numbers


def _fleet_key(facts: Facts) -> tuple:
    return (rules.kernel_key(facts.releases[0].version), facts.releases[0].version)


def dump_fleet(builds: list[Facts], directory: str) -> list[str]:
    """Write the fleet's builds (each one build tree's facts, labels holding its provenance) into
    *directory*/fleet/, as a set: a row per build, a row per distinct item spelling with the builds that have it."""
    ordered = sorted(builds, key=_fleet_key)
    build_rows = []
    having: dict[tuple, list[int]] = {}
    for number, facts in enumerate(ordered):
        release, labels = facts.releases[0], facts.labels
        build_rows.append((release.version, release.base, *(labels.get(c) for c in FLEET_FILES["builds"][2:11]),
                           int(KFUNC in facts.covers), labels.get("image_sha256"),
                           labels.get("container")))
        for item in facts.items:
            for position, name in enumerate(item.names or [ItemName(item.name)]):
                key = (item.kind, item.value, name.name, int(position > 0),
                       item.signature if position == 0 else None, _module(item))
                having.setdefault(key, []).append(number)
    item_rows = [(*key, _ranges(numbers)) for key, numbers in sorted(
        having.items(), key=lambda entry: (*_value_key(entry[0][0], entry[0][1]), entry[0][3], entry[0][2],
                                           entry[0][4] or "", entry[1]))]
    base = os.path.join(directory, FLEET_DIR)
    os.makedirs(base, exist_ok=True)
    files = {os.path.join(base, "builds.tsv"): _fleet_tsv("builds", build_rows),
             os.path.join(base, "items.tsv"): _fleet_tsv("items", item_rows)}
    write_all_atomic(files)
    return list(files)


def _module(item: Item) -> str | None:
    """The module a build's item is in (its note "in module nf_conntrack"), None for vmlinux's."""
    note = item.note or ""
    return note[len(IN_MODULE) + 1:] if note.startswith(f"{IN_MODULE} ") else None


def _fleet_tsv(name: str, rows) -> str:
    lines = [f"# {_FLEET_HEADERS[name]}", "\t".join(FLEET_FILES[name])]
    lines += ["\t".join(_cell(v) for v in row) for row in rows]
    return "\n".join(lines) + "\n"


def load_fleet(directory: str | Path | None = None) -> list[Facts]:
    """The shipped fleet: one build tree's facts per build, named by its uname -r ([] where data/ has no fleet)."""
    base = Path(directory or data_dir()) / FLEET_DIR
    if not (base / "builds.tsv").exists():
        return []
    builds = []
    for row in _read_tsv(base / "builds.tsv", FLEET_FILES["builds"]):
        uname = row["build"]
        try:
            release = Release(uname, rules.key_text(rules.kernel_key(uname, exact=True)), row["base"], uname=uname)
        except ValueError as err:
            raise DataError(f"{base / 'builds.tsv'}: {err}") from None
        labels = {c: row[c] for c in (*FLEET_FILES["builds"][2:11], "image_sha256", "container") if row[c]}
        tagged = row["kfuncs_tagged"] == "1"
        source = Source(f"btf:{row['package']}_{row['package_version']}@sha256:{(row['package_sha256'] or '')[:16]}",
                        f"the BTF of {labels.get('distribution', 'a distribution')}'s {row['package']} "
                        f"{row['package_version']} (.deb sha256 {row['package_sha256']}), read by kbgen import-fleet"
                        + ("" if labels.get("modules") != "probed without its modules" else ", without its modules"),
                        revision=f"sha256:{row['package_sha256']}" if row["package_sha256"] else None)
        builds.append(Facts(uname, TREE_BUILD, source, SHIPPED_COLLECTOR, BUILD_SCHEME, fingerprint=None,
                            covers=(HELPER, *ENUM_KINDS, *((KFUNC,) if tagged else ())), releases=[release],
                            labels=labels))
    items: list[dict[tuple, Item]] = [{} for _ in builds]
    for number, row in enumerate(_read_tsv(base / "items.tsv", FLEET_FILES["items"]), 2):
        where = f"{base / 'items.tsv'}: data row {number}"
        kind = row["kind"]
        if kind not in ITEM_KINDS:
            raise DataError(f"{where}: unknown kind {kind!r}")
        value = value_of(kind, row["value"])
        for build in _numbers(row["builds"] or "", where, len(builds)):
            uname = builds[build].tree
            item = items[build].get((kind, value))
            if item is None:
                item = items[build][(kind, value)] = Item(kind, value, row["name"], uname, windows=[Window(uname)],
                                                          note=row["module"] and f"{IN_MODULE} {row['module']}")
            if row["is_alias"] == "1":
                item.names.append(ItemName(row["name"], is_alias=True))
            else:
                item.name, item.signature = row["name"], row["signature"]
                item.names.insert(0, ItemName(row["name"]))
    for facts, found in zip(builds, items):
        facts.items = sorted(found.values(), key=lambda i: _value_key(i.kind, i.value))
    return builds


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


def _flag(text: str | None) -> bool | None:
    return None if text is None else text == "1"


def load(directory: str | Path | None = None) -> Facts:
    """The shipped mainline tree, as facts."""
    base = Path(directory) if directory else data_dir()
    tables = {name: _read_tsv(base / f"{name}.tsv", columns) for name, columns in FILES.items()}
    sources = {row["id"]: Source(row["id"], row["description"] or "") for row in tables["sources"]}
    features = {row["id"]: row for row in tables["features"]}
    items: dict[tuple, Item] = {}
    for number, row in enumerate(tables["items"], 2):
        kind = row["kind"]
        if row["source"] not in sources:
            raise DataError(f"{base / 'items.tsv'}: data row {number}: unknown source {row['source']!r}")
        try:
            windows = Window.parse_list(row["windows"] or "")
        except ValueError as err:
            raise DataError(f"{base / 'items.tsv'}: data row {number}: {err}") from None
        feature = features.get(row["value"], {}) if kind == FEATURE else {}
        item = Item(kind, value_of(kind, row["value"]), row["name"], row["first_release"],
                    introduced_by=row["commit"], alt_commit=row["alt_commit"], note=row["note"], windows=windows,
                    gpl_only=_flag(row["gpl_only"]), source=row["source"], title=feature.get("title"),
                    detect=feature.get("detect"), libbpf=feature.get("libbpf"),
                    first_release_after=row["first_release_after"], first_release_by=row["first_release_by"],
                    signature=row["signature"])
        items[(kind, item.value)] = item
    for row in tables["names"]:
        key = (row["kind"], value_of(row["kind"], row["value"]))
        if key not in items:
            raise DataError(f"{base / 'names.tsv'}: {key[0]} {key[1]} is not in items.tsv")
        items[key].names.append(
            ItemName(row["name"], row["first_seen_commit"], row["first_release"], row["is_alias"] == "1")
        )
    counts: dict[str, int] = {}
    for item in items.values():
        counts[item.source] = counts.get(item.source, 0) + 1
    main = max(sorted(counts), key=counts.get)
    facts = Facts(
        MAINLINE, TREE_REFERENCE, sources[main], SHIPPED_COLLECTOR, MAINLINE_SCHEME, qualifier=AS_DOCUMENTED,
        covers=ITEM_KINDS,
        items=list(items.values()),
        relations=[
            Relation(r["kind"], value_of(r["kind"], r["value"]), r["relation"], r["other_kind"],
                     value_of(r["other_kind"], r["other_value"]), r["source"])
            for r in tables["relations"]
        ],
        disagreements=[
            Disagreement(r["kind"], value_of(r["kind"], r["value"]), r["field"], r["used"], r["used_source"],
                         r["other"], r["other_source"], r["note"])
            for r in tables["disagreements"]
        ],
        other_sources=[s for sid, s in sorted(sources.items()) if sid != main],
    )
    number = 0
    try:
        for number, line in enumerate((base / DOCS_FILE).read_text(encoding="utf-8").splitlines(), 1):
            doc = json.loads(line)
            facts.helper_docs.append(HelperDoc(doc["id"], doc["name"], doc["variant"], doc["signature"],
                                               doc["description"], doc["returns"], doc["attributes"], doc["source"]))
    except OSError as err:
        raise DataError(f"{base / DOCS_FILE}: {err.strerror}") from None
    except (ValueError, KeyError, TypeError) as err:
        raise DataError(f"{base / DOCS_FILE}: line {number}: {err}") from None
    facts.fingerprint = data_version(base)
    return facts


def load_all(directory: str | Path | None = None) -> list[Facts]:
    """Every shipped tree's facts (mainline first, then libbpf's section tables, then the fleet's builds)."""
    base = Path(directory) if directory else data_dir()
    mainline = load(base)
    libbpf = load_libbpf(base)
    if libbpf is not None:
        libbpf.fingerprint = mainline.fingerprint
    fleet = load_fleet(base)
    for build in fleet:
        build.fingerprint = mainline.fingerprint
    return ([mainline] if libbpf is None else [mainline, libbpf]) + fleet


def data_version(directory: str | Path | None = None) -> str:
    """``2026.12.01+<digest>``: the release label in VERSION plus a digest of the data files' content."""
    base = Path(directory) if directory else data_dir()
    try:
        label = (base / VERSION_FILE).read_text(encoding="utf-8").strip()
        digest = hashlib.sha256()
        for name in [f"{n}.tsv" for n in FILES] + [DOCS_FILE]:
            digest.update((base / name).read_bytes())
        for name in LIBBPF_FILES:
            if (base / f"{name}.tsv").exists():
                digest.update((base / f"{name}.tsv").read_bytes())
        for name in FLEET_FILES:
            if (base / FLEET_DIR / f"{name}.tsv").exists():
                digest.update((base / FLEET_DIR / f"{name}.tsv").read_bytes())
    except OSError as err:
        raise DataError(f"{base}: {err.strerror}: {err.filename}") from None
    return f"{label}+{digest.hexdigest()[:12]}"
