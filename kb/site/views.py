"""The site's own pages beyond Datasette's tables and canned queries: the diff of two kernels, the fleet matrix
(items x builds and kernels) and a program type's callable helpers and kfuncs.

Each answer is computed on a connection of the published database by the store's one rule
(kb.store.availability) and its one resolver of names (kb.store.resolve): data in, dicts out.  The plugin
(kb/site/plugins/) runs them on Datasette's connections and renders them with the templates.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from kb.store import availability, queries, resolve
from kb.vocab.kinds import HELPER, KFUNC, KINDS, MAINLINE, PROG_TYPE
from kb.vocab.releases import BUILD_SCHEME

MAX_COLUMNS = 200  # builds and kernels in one fleet matrix
MAX_ROWS = 200  # items in one fleet matrix (resolve.MAX_WORDS words)


def published(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM kb_meta WHERE key = 'published_tree'").fetchone()
    return row[0] if row else MAINLINE


def _release_names(conn: sqlite3.Connection, tree: str) -> list[str]:
    """The releases of *tree* people can pick: its own, or, where it lists none, those its items' windows name."""
    found = [r.version for r in queries.releases(conn, tree)]
    if found:
        return found
    return [row[0] for row in conn.execute(
        "SELECT since FROM windows WHERE tree = ? AND since_key IS NOT NULL GROUP BY since_key ORDER BY since_key",
        (tree,))]


# -- diff ----------------------------------------------------------------------------------------------------------

def diff(conn: sqlite3.Connection, old: str, new: str) -> dict:
    """What a kernel *new* has that *old* lacks and the reverse, in the published tree (availability.between)."""
    tree = published(conn)
    releases = _release_names(conn, tree)
    answer = {"tree": tree, "old": old, "new": new, "releases": releases, "arrived": [], "removed": [],
              "error": None}
    if not old or not new:
        return answer
    try:
        arrived, removed = availability.between(conn, tree, old, new)
    except availability.TargetError as err:
        return dict(answer, error=str(err))

    def rows(changes):
        return [{"kind": c.item.kind, "kind_words": KINDS[c.item.kind].word, "id": c.item.value,
                 "name": resolve.display_name(c.item), "release": c.release, "arrival": c.arrival,
                 "first_release": c.item.first_release}
                for c in changes]

    answer.update(arrived=rows(arrived), removed=rows(removed))
    answer["counts"] = {kind.plural: sum(1 for c in arrived if c.item.kind == kind.name)
                        for kind in KINDS.values() if any(c.item.kind == kind.name for c in arrived)}
    return answer


# -- fleet ---------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    label: str  # what the reader sees: a build's release, or a kernel as asked
    tree: str
    kernel: str | None  # None for a build: it is its own release


def builds(conn: sqlite3.Connection) -> list[Column]:
    """Every build the knowledge base holds (shipped or probed), by release."""
    return [Column(version, tree, None) for tree, version in conn.execute(
        "SELECT r.tree, r.version FROM releases r JOIN trees t ON t.name = r.tree WHERE t.scheme = ?"
        " ORDER BY r.sort_key, r.tree", (BUILD_SCHEME,))]


def _judge_column(conn: sqlite3.Connection, column: Column, wanted: list[tuple], mainline: dict[tuple, object]
                  ) -> dict[tuple, dict]:
    """{(kind, value): {"available", "reason"}} of *wanted* items in *column*, as kbgen check judges them;
    *mainline*: mainline's items by (kind, value)."""
    where = availability.target(conn, column.tree, column.kernel)
    own = mainline if column.tree == MAINLINE else {
        (i.kind, i.value): i for i in queries.items(conn, column.tree, only=wanted)}
    stand_in = availability.mainline_stand_in(conn, where)
    covered = queries.covers(conn, column.tree)
    cells = {}
    for key in wanted:
        if key in own:
            verdict = availability.judge(own[key], where)
            cells[key] = {"available": verdict.available, "reason": verdict.reason}
        elif stand_in is not None and key[0] not in covered and key in mainline:
            verdict = availability.judge(mainline[key], stand_in)
            cells[key] = {"available": verdict.available, "reason": verdict.reason + " (judged by mainline)"}
        else:
            cells[key] = {"available": False, "reason": f"not in {column.tree}"}
    return cells


def fleet(conn: sqlite3.Connection, items_text: str, kernels_text: str = "") -> dict:
    """The matrix of the items *items_text* names against every build and the kernels of *kernels_text*."""
    tree = published(conn)
    columns = builds(conn) + [Column(k, tree, k) for k in kernels_text.replace(",", " ").split() if k]
    answer = {"tree": tree, "asked": items_text, "kernels": kernels_text, "columns": [], "rows": [],
              "unknown": [], "errors": []}
    if len(columns) > MAX_COLUMNS:
        return dict(answer, errors=[f"more than {MAX_COLUMNS} builds and kernels: ask about fewer"])
    names = resolve.Resolver.of(conn, tree)
    try:
        matches = names.resolve_all(items_text or "")
    except resolve.ResolveError as err:
        return dict(answer, errors=[str(err)])
    rows, seen = [], set()
    for match in matches:
        if not match.known:
            answer["unknown"].append({"word": match.word, "suggestions": match.suggestions})
        for item in match.items:
            if (item.kind, item.value) not in seen and len(rows) < MAX_ROWS:
                seen.add((item.kind, item.value))
                rows.append({"asked": match.word, "kind": item.kind, "id": item.value,
                             "name": resolve.display_name(item), "first_release": item.first_release, "cells": []})
    wanted = [(r["kind"], r["id"]) for r in rows]
    mainline = {(i.kind, i.value): i for i in queries.items(conn, MAINLINE, only=wanted)}
    kept = []
    for column in columns:
        try:
            cells = _judge_column(conn, column, wanted, mainline)
        except availability.TargetError as err:
            answer["errors"].append(f"{column.label}: {err}")
            continue
        kept.append(column)
        for row, key in zip(rows, wanted):
            row["cells"].append(cells[key])
    answer["columns"] = [{"label": c.label, "tree": c.tree, "build": c.kernel is None,
                          "runs_all": all(r["cells"][i]["available"] for r in rows) if rows else None}
                         for i, c in enumerate(kept)]
    answer["rows"] = rows
    return answer


def fleet_records(answer: dict) -> list[dict]:
    """One record a cell, for JSON and CSV."""
    return [{"asked": row["asked"], "kind": row["kind"], "id": row["id"], "name": row["name"],
             "first_release": row["first_release"], "kernel": column["label"], "tree": column["tree"],
             "available": cell["available"], "reason": cell["reason"]}
            for row in answer["rows"] for column, cell in zip(answer["columns"], row["cells"])]


# -- a program type's helpers and kfuncs ---------------------------------------------------------------------------

def callable_items(conn: sqlite3.Connection, tree: str, value: int, kernel: str | None) -> dict:
    """The helpers and kfuncs a program type can call, with first release and GPL-only, judged on *kernel*."""
    where, error = None, None
    if kernel:
        try:
            where = availability.target(conn, tree, kernel)
        except availability.TargetError as err:
            error = str(err)
    found = {(i.kind, i.value): i for i in queries.items(conn, tree) if i.kind in (HELPER, KFUNC)}
    rows = []
    for other_kind, other_value, qualifier in conn.execute(
            "SELECT kind, value, qualifier FROM relations WHERE tree = ? AND relation = 'callable_from'"
            " AND other_kind = ? AND other_value = ? AND kind IN (?, ?) ORDER BY kind, value",
            (tree, PROG_TYPE, value, HELPER, KFUNC)):
        item = found.get((other_kind, other_value))
        if item is None:
            continue
        verdict = availability.judge(item, where) if where else None
        rows.append({"kind": item.kind, "id": item.value, "name": resolve.display_name(item),
                     "first_release": item.first_release, "gpl_only": item.gpl_only, "qualifier": qualifier,
                     "available": verdict.available if verdict else None,
                     "reason": verdict.reason if verdict else None})
    return {"rows": rows, "kernel": kernel or "", "error": error,
            "available": sum(1 for r in rows if r["available"])}
