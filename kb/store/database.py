"""The SQLite store of facts: open it, check it is ours, replace one (tree, source) in one transaction
(:mod:`kb.store.reading` reads every fact back).

Plain ``sqlite3`` on purpose: reading commands build a knowledge base in memory, and importing
sqlite-utils alone costs most of the start-up budget of ``kbgen tables`` (measured in bench/).
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from typing import TYPE_CHECKING

from kb.formats.atomic import output_directory
from kb.store.schema import BY_NAME, FACT_TABLES, SCHEMA_VERSION, statements
from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.kinds import MAINLINE

if TYPE_CHECKING:
    from kb.vocab.facts import Facts

# The integers an SQLite column holds.
SQLITE_MIN, SQLITE_MAX = -(1 << 63), (1 << 63) - 1


class StoreError(KbgenError):
    """The database cannot be used; the message names the file."""


def _check(conn: sqlite3.Connection, label: str) -> None:
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if tables and "kb_meta" not in tables:
            raise StoreError(f"{label}: an SQLite database, but not a kbgen knowledge base")
        if "kb_meta" in tables:
            row = conn.execute("SELECT value FROM kb_meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row and str(row[0]).isdigit() else None
            if version is None or version > SCHEMA_VERSION:
                raise StoreError(f"{label}: knowledge base schema {version} is newer than this kbgen understands")
            if version < SCHEMA_VERSION:
                raise StoreError(
                    f"{label}: written by an older kbgen (schema {version}); collect your trees again into a new file"
                )
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{label}: not a usable SQLite database ({err})") from None


def connect(path: str, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (creating if needed, unless *readonly*) a knowledge base file, checked to be ours."""
    if readonly:
        if not os.path.exists(path):
            raise StoreError(f"{path}: no such knowledge base")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
        except sqlite3.Error as err:
            raise StoreError(f"{path}: cannot open ({err})") from None
    else:
        if os.path.isdir(path):
            raise StoreError(f"{path}: is a directory, not a knowledge base file")
        output_directory(path, "open for writing")
        try:
            conn = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"{path}: cannot open for writing ({getattr(err, 'strerror', None) or err})") from None
    try:
        _check(conn, path)
    except StoreError:
        conn.close()
        raise
    return conn


def memory(*, facts: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    create_schema(conn, facts=facts)
    return conn


def create_schema(conn: sqlite3.Connection, *, facts: bool = True) -> None:
    """Create what is missing (statement by statement: executescript() would commit a transaction)."""
    for statement in statements(facts=facts):
        conn.execute(statement)
    conn.execute("INSERT OR REPLACE INTO kb_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


@contextmanager
def transaction(conn: sqlite3.Connection, label: str):
    """All or nothing: on any error (a full disk too) the database is exactly as it was."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as err:
        raise StoreError(f"{label}: cannot write ({err})") from None
    try:
        yield conn
        conn.execute("COMMIT")
    except sqlite3.Error as err:
        _rollback(conn)
        raise StoreError(f"{label}: cannot write ({err})") from None
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back what is left to roll back: SQLite has already rolled back a statement that hit a full disk or an
    I/O error (then ROLLBACK would fail with "no transaction is active")."""
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # the journal stays hot: recover() has the next connection roll it back


def recover(path: str) -> None:
    """Roll back what a failed or killed write left in the journal beside *path*, and remove the journal
    (SQLite does so when a connection first reads the database and the journal is hot)."""
    if not os.path.exists(path + "-journal"):
        return
    try:
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # still hot: the next connection to read the database rolls it back


def fingerprints(path: str, tree: str) -> dict[str, str]:
    """source -> the fingerprint of the last run that collected it into *tree* ({} for a new database)."""
    if not os.path.exists(path):
        return {}
    conn = connect(path, readonly=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'collections'").fetchone():
            return {}
        return dict(conn.execute("SELECT source, fingerprint FROM collections WHERE tree = ?", (tree,)))
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path}: cannot read ({err})") from None
    finally:
        conn.close()


def _check_scheme(conn: sqlite3.Connection, path: str, facts: Facts) -> None:
    """A tree's releases follow one scheme: another source's facts of another scheme go in another tree."""
    from kb.vocab.releases import MAINLINE_SCHEME

    if facts.tree == MAINLINE and facts.scheme not in (None, MAINLINE_SCHEME):
        raise StoreError(f"{path}: tree {MAINLINE} holds mainline releases, and {facts.source.id} has "
                         f"{facts.scheme} releases: record them in another tree (--tree)")
    row = conn.execute("SELECT scheme FROM trees WHERE name = ?", (facts.tree,)).fetchone()
    if row and row[0] and facts.scheme and row[0] != facts.scheme:
        others = conn.execute("SELECT count(*) FROM collections WHERE tree = ? AND source != ?",
                              (facts.tree, facts.source.id)).fetchone()[0]
        if others:
            raise StoreError(f"{path}: tree {facts.tree} holds {row[0]} releases, and {facts.source.id} has "
                             f"{facts.scheme} releases: record them in another tree (--tree)")


def drop_tree(conn: sqlite3.Connection, tree: str) -> None:
    """Forget every fact of *tree*, whatever its source (inside the caller's transaction)."""
    for table in FACT_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE tree = ?", (tree,))
    conn.execute("DELETE FROM trees WHERE name = ?", (tree,))


def tree_releases(path: str, tree: str) -> list[str]:
    """The release names *tree* has in the database at *path* ([] when it has no such tree)."""
    if not os.path.exists(path):
        return []
    conn = connect(path, readonly=True)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'releases'").fetchone():
            return []
        return [row[0] for row in conn.execute("SELECT DISTINCT version FROM releases WHERE tree = ?", (tree,))]
    except sqlite3.DatabaseError as err:
        raise StoreError(f"{path}: cannot read ({err})") from None
    finally:
        conn.close()


def record(path: str, all_facts: list[Facts], *, replacing: tuple[str, ...] = ()) -> None:
    """Write *all_facts* into the database at *path* in one transaction, each replacing what its (tree, source)
    said before, after forgetting the trees named in *replacing* whole.  A database this call creates is removed
    again when anything fails, and one that existed is left as it was (its journal rolled back): nothing
    half-written."""
    existed = os.path.exists(path)
    conn = connect(path)
    try:
        with transaction(conn, path):
            create_schema(conn, facts=True)
            for tree in replacing:
                drop_tree(conn, tree)
            for facts in all_facts:
                _check_scheme(conn, path, facts)
                write_facts(conn, facts)
    except BaseException:
        conn.close()
        if existed:
            recover(path)
        else:
            for suffix in ("", "-journal", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.unlink(path + suffix)
        raise
    conn.close()


def release_keys(facts: Facts) -> dict[str, str]:
    """version -> sort key of every release the facts name (their own releases first, else by the rule)."""
    return {r.version: r.sort_key for r in facts.releases}


def key_of(version: str | None, known: dict[str, str]) -> str | None:
    if version is None:
        return None
    if version in known:
        return known[version]
    return rules.key_text(rules.kernel_key(version, exact=True))


def insert(conn: sqlite3.Connection, table: str, rows: list[tuple], *, replace: bool = True) -> None:
    """Insert *rows*; a row whose key is taken replaces it (a fact store), or, without *replace*, is dropped (the
    merged view, written in rank order: the first source to give a release or section rule keeps it)."""
    if rows:
        columns = BY_NAME[table].column_names
        marks = ", ".join("?" * len(columns))
        names = ", ".join(f'"{c}"' for c in columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        conn.executemany(f"{verb} INTO {table} ({names}) VALUES ({marks})", rows)


def fact_rows(facts: Facts, *, item_sources: bool) -> dict[str, list[tuple]]:
    """The rows of every table for *facts*, in the tables' column order.

    *item_sources*: give each item the source it names itself (the merged view: the shipped reference
    items each name the reference they come from); otherwise every row is the facts' own (the store
    replaces rows per (tree, source)).
    """
    tree, source = facts.tree, facts.source.id
    keys = release_keys(facts)
    sources = [facts.source, *facts.other_sources]

    def own(fact) -> str:
        return (fact.source or source) if item_sources else source

    rows: dict[str, list[tuple]] = {
        "sources": [(s.id, s.kind, s.description, s.repo, s.path, s.revision) for s in sources],
        "collections": [(tree, source, facts.collector, facts.tree_kind, facts.fingerprint, facts.head_commit,
                         facts.tag_pattern, facts.qualifier, " ".join(facts.covers) or None, len(facts.items),
                         "\n".join(facts.warnings) or None)],
        "releases": [(tree, source, r.version, r.sort_key, r.base, r.tag, r.commit, r.date, int(r.has_header), r.uname)
                     for r in facts.releases],
        "items": [], "item_names": [], "windows": [],
        "helper_docs": [(tree, own(d), d.value, d.variant, d.name, d.signature, d.description, d.returns,
                         d.attributes) for d in facts.helper_docs],
        "relations": [(tree, own(r), r.kind, r.value, r.relation, r.other_kind, r.other_value, facts.qualifier)
                      for r in facts.relations],
        "disagreements": [(tree, source, d.kind, d.value, d.field, d.used, d.used_source, d.other, d.other_source,
                           d.note) for d in facts.disagreements],
        "section_rules": [(tree, source, r.release, r.position, r.definition.pattern, r.definition.prog_type,
                           r.definition.expected_attach_type, r.definition.attach_type,
                           " ".join(sorted(r.definition.flags)), int(r.definition.legacy_form))
                          for r in facts.sections],
        "tree_labels": [(tree, source, key, value) for key, value in sorted(facts.labels.items())],
    }
    for i in facts.items:
        rows["items"].append((
            tree, own(i), i.kind, i.value, i.name, i.first_release, key_of(i.first_release, keys),
            i.removed_in, key_of(i.removed_in, keys), i.first_rc, i.introduced_by, i.subject, i.author, i.date,
            i.alt_commit, i.note, int(i.unreleased), None if i.gpl_only is None else int(i.gpl_only), i.signature,
            i.title, i.detect, i.libbpf, i.first_release_after, i.first_release_by,
        ))
        rows["item_names"] += [
            (tree, source, i.kind, i.value, n.name, position, n.first_seen_commit, n.first_release, int(n.is_alias))
            for position, n in enumerate(i.names)
        ]
        rows["windows"] += [
            (tree, source, i.kind, i.value, position, w.since, key_of(w.since, keys), w.until, key_of(w.until, keys))
            for position, w in enumerate(i.windows)
        ]
    return rows


def write_facts(conn: sqlite3.Connection, facts: Facts) -> None:
    """Replace every fact of (``facts.tree``, ``facts.source``), inside the caller's transaction."""
    tree, source = facts.tree, facts.source.id
    for table in FACT_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE tree = ? AND source = ?", (tree, source))
    rows = fact_rows(facts, item_sources=False)
    conn.execute(
        "INSERT OR IGNORE INTO trees (name, kind, scheme, description, repo, path, tag_pattern)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (tree, facts.tree_kind, facts.scheme, facts.source.description, facts.source.repo, facts.source.path,
         facts.tag_pattern),
    )
    if facts.scheme:
        conn.execute("UPDATE trees SET scheme = ? WHERE name = ?", (facts.scheme, tree))
    for table, table_rows in rows.items():
        if table == "sources":
            conn.executemany("INSERT OR IGNORE INTO sources VALUES (?, ?, ?, ?, ?, ?)", table_rows)
            conn.execute("UPDATE sources SET revision = ?, description = ? WHERE id = ?",
                         (facts.source.revision, facts.source.description, source))
            continue
        try:
            insert(conn, table, table_rows)
        except OverflowError:
            raise StoreError(_beyond_range(facts, table, table_rows)) from None


def _beyond_range(facts: Facts, table: str, rows: list[tuple]) -> str:
    """What says a number SQLite cannot hold (an enum64 value past 2**63 - 1), naming where it comes from."""
    for row in rows:
        named = dict(zip(BY_NAME[table].column_names, row))
        for column, value in named.items():
            if isinstance(value, int) and not SQLITE_MIN <= value <= SQLITE_MAX:
                what = " ".join(str(named[c]) for c in ("kind", "name") if named.get(c) is not None)
                return (f"{facts.source.path or facts.source.id}: {what or table} has {column} {value}, beyond "
                        f"the 64-bit signed integers the knowledge base stores")
    return f"{facts.source.path or facts.source.id}: a number in {table} beyond the integers SQLite stores"
