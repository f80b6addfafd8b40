"""kbgen's Python API; the CLI is a thin layer over these functions."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from kb import store
from kb.paths import user_db


@dataclass
class CollectResult:
    tree: str
    status: str  # "collected" or "up to date"
    releases: int = 0
    items: int = 0
    unreleased: int = 0
    db: str = ""


def collect(
    repo: str,
    *,
    db: str | None = None,
    tree: str | None = None,
    tags: str | None = None,
    rev: str = "HEAD",
    with_rc: bool = False,
    path: str | None = None,
    force: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> CollectResult:
    """Mine *repo*'s bpf.h history into the tree *tree* of the user database (one transaction)."""
    from collectors import git_history
    from collectors.uapi import HEADER_PATH

    db = db or user_db()
    options = {"path": path or HEADER_PATH, "tags": tags or git_history.DEFAULT_TAGS, "rev": rev, "with_rc": with_rc}
    existed = os.path.exists(db)
    conn = store.connect(db)
    try:
        name = tree or git_history.default_tree_name(repo)
        current = git_history.fingerprint(repo, **options)
        if not force and store.tree_fingerprint(conn, name) == current:
            return CollectResult(name, "up to date", db=db)
        collected = git_history.collect_git(repo, tree=name, progress=progress, known_fingerprint=current, **options)
        with store.transaction(conn, db):
            store.create_schema(conn)
            store.write_tree(conn, collected)
    except BaseException:
        conn.close()
        if not existed:
            # Nothing was written; do not leave an empty database file behind either.
            for suffix in ("", "-journal"):
                if os.path.exists(db + suffix):
                    os.unlink(db + suffix)
        raise
    finally:
        conn.close()  # closing twice is harmless
    return CollectResult(
        name,
        "collected",
        releases=len(collected.releases),
        items=len(collected.items),
        unreleased=sum(1 for i in collected.items if i.first_release is None),
        db=db,
    )


def open_kb(db: str | None = None):
    from kb.kbase import open_kb as _open

    return _open(db or user_db())


def export(*, db: str | None = None, tree: str | None = None, kind: str = "all", fmt: str = "json") -> str:
    from kb import export as exporter
    from kb import queries

    conn = open_kb(db)
    name = queries.resolve_tree(conn, tree)
    rows = queries.items(conn, name, None if kind == "all" else kind)
    return exporter.to_json(rows) if fmt == "json" else exporter.to_csv(rows)


def import_reference(reference_dir: str, header: str | None, out_dir: str, data_version: str) -> list[str]:
    """Rebuild the shipped ``data/`` text from the reference facts and a real header."""
    from collectors.reference import read_reference
    from kb import shipped

    if not os.path.isdir(out_dir):
        raise store.StoreError(f"{out_dir}: no such directory")
    return shipped.dump(read_reference(reference_dir, header), out_dir, data_version)


def tables(*, db=None, tree=None, languages=None, output="kbgen-tables", check=False):
    from kb.tables import DEFAULT_LANGUAGES, generate

    return generate(open_kb(db), tree=tree, languages=languages or DEFAULT_LANGUAGES, output=output, check=check)


def info(query: str, *, db=None, tree=None) -> str:
    from kb import queries

    conn = open_kb(db)
    name = queries.resolve_tree(conn, tree)
    found = queries.find_item(conn, name, query)
    if not found:
        raise queries.QueryError(f"nothing named {query!r} in the {name} tree (try a helper id or a full name)")
    blocks = []
    for item in found:
        lines = [f"{item.kind} {item.value}  {item.name}"]
        docs = queries.helper_docs(conn, name, item.value) if item.kind == "helper" else []
        fields = [
            ("first release", item.first_release or ("not in any release yet" if item.unreleased else "unknown")),
            ("first rc", item.first_rc),
            ("commit", item.commit),
            ("subject", item.subject),
            ("author", f"{item.author}, {item.date}" if item.author else None),
            ("names", ", ".join(item.names)),
            ("source", item.source),
            ("other commit", item.alt_commit),
            ("note", item.note),
        ]
        fields += [("signature", doc[0]) for doc in docs]
        for field, used, used_source, other, other_source, note in queries.disagreements(
            conn, name, item.kind, item.value
        ):
            fields.append(("disagreement", f"{field}: {used} ({used_source}) vs {other} ({other_source})"))
        lines += [f"  {label:<14}{value}" for label, value in fields if value]
        if docs:
            lines.append("")
            lines += ["  " + line if line else "" for line in docs[0][1].splitlines()]
            lines.append("")
            lines.append("  Returns: " + docs[0][2].replace("\n", "\n           "))
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def diff(old: str, new: str, *, db=None, tree=None, kind="all") -> str:
    from kb import queries
    from kb.textable import render_table

    conn = open_kb(db)
    name = queries.resolve_tree(conn, tree)
    rows = [i for i in queries.arrived_between(conn, name, old, new) if kind in ("all", i.kind)]
    rows.sort(key=lambda i: (i.first_release_key, i.kind, str(i.value).zfill(8)))
    if not rows:
        return f"nothing arrived in {name} after {old} up to {new}\n"
    table = render_table(
        ["release", "kind", "id", "name"],
        [[i.first_release, i.kind, "" if i.kind == "kfunc" else i.value, i.name] for i in rows],
    )
    return table + f"{len(rows)} items arrived in {name} after {old} up to {new}\n"


def scan(paths: list[str], *, kernel=None, tree=None, fmt="text", db=None) -> tuple[str, bool]:
    """The report in *fmt* and whether anything fails the check against *kernel*."""
    from kb import scan_report
    from kb.scan import scan as run_scan

    if kernel:
        from kb.versions import Version

        Version.parse(kernel)  # a bad version is bad input before any object is read
    result = run_scan(open_kb(db), paths, kernel=kernel, tree=tree)
    render = {"text": scan_report.to_text, "json": scan_report.to_json, "sarif": scan_report.to_sarif}[fmt]
    return render(result), result.failed
