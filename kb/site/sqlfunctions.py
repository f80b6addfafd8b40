"""SQL functions and the ``version`` collation, so that SQL judges kernels and compares versions as kbgen does.

Registered on the connections that build and serve the published database (see kb/datasette_plugins/).
The canned queries (kb.site.canned) place a kernel with :func:`place_kernel` and judge each item
with :func:`kbgen_judge`: both call the one rule (kb.vocab.rules, kb.availability), never a copy of it.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections import OrderedDict
from types import SimpleNamespace
from urllib.parse import quote

from kb.store import availability, queries, resolve
from kb.vocab import rules
from kb.vocab.facts import Window
from kb.vocab.kinds import HELPER, MAINLINE
from kb.vocab.releases import BUILD_SCHEME, MAINLINE_SCHEME
from kb.vocab.versions import Version, VersionError

_RESOLVERS_LOCK = threading.Lock()


def display_name(kind, name):
    """SQL: the name shown everywhere (helpers with ``bpf_``)."""
    if name is None:
        return None
    return f"bpf_{name}" if kind == HELPER and not str(name).startswith("bpf_") else name


def version_key(text):
    """``version_key('5.15.0-91-generic')``: the sort key of its mainline base (as ``first_release_key`` of a
    mainline item), NULL for what is not a version."""
    if text is None:
        return None
    try:
        return Version.parse(str(text)).base.sort_key
    except VersionError:
        return None


@functools.lru_cache(maxsize=8192)
def exact_key(text):
    """The sort key of a version string (cached: a collation compares the same few hundred strings over and over)."""
    try:
        return Version.parse(str(text)).sort_key
    except VersionError:
        return None


def version_collation(left: str, right: str) -> int:
    """Order version strings numerically (5.9 before 5.10, 5.15.0-91.101 before 5.15.0-100.110); what is not a
    version sorts after, as text."""
    a, b = exact_key(left), exact_key(right)
    if a is None or b is None:
        key_a, key_b = (a is None, left if a is None else ""), (b is None, right if b is None else "")
        return (key_a > key_b) - (key_a < key_b)
    return (a > b) - (a < b)


def judge(key_text: str, windows: list[tuple], first_rc: str | None, first_release: str | None,
          unreleased: bool, first_release_after: str | None = None, first_release_by: str | None = None) -> dict:
    """The verdict of kb.availability.judge for an item with *windows* ``(position, since, until, since_key,
    until_key)`` on a kernel placed at *key_text*."""
    windows = sorted(windows)
    item = SimpleNamespace(
        windows=[Window(since, until) for _p, since, until, _sk, _uk in windows],
        window_keys=[(since_key, until_key) for _p, _s, _u, since_key, until_key in windows],
        first_rc=first_rc, first_release=first_release, unreleased=bool(unreleased),
        first_release_after=first_release_after, first_release_by=first_release_by)
    where = availability.Target("", "", availability.key_tuple(key_text), None)
    verdict = availability.judge(item, where)
    return {"available": int(verdict.available), "status": verdict.status, "reason": verdict.reason,
            "since": verdict.since, "removed_in": verdict.removed_in, "arrival": verdict.arrival}


def kbgen_judge(key_text, windows_json, first_rc, first_release, unreleased, first_release_after=None,
                first_release_by=None):
    """SQL: ``kbgen_judge(key, json_group_array(json_array(position, since, until, since_key, until_key)),
    first_rc, first_release, unreleased, first_release_after, first_release_by)``: a JSON verdict (available,
    status, reason, since, removed_in, arrival).  The two bounds may be left out (an item with a first release)."""
    if key_text is None:
        return None
    return json.dumps(judge(key_text, [tuple(w) for w in json.loads(windows_json or "[]")], first_rc, first_release,
                            unreleased, first_release_after, first_release_by))


def release_key(scheme, text):
    """SQL: the key a release named *text* has in a tree of *scheme* (NULL for what is not a version)."""
    if text is None:
        return None
    try:
        return rules.key_text(rules.kernel_key(str(text), exact=(scheme or MAINLINE_SCHEME) != MAINLINE_SCHEME))
    except ValueError:
        return None


# (database file, its size and time, tree) -> the Resolver of its names: the published database never changes
# while served, and indexing its names takes a fifth of a second.
_RESOLVERS: OrderedDict[tuple, resolve.Resolver] = OrderedDict()
_RESOLVERS_KEPT = 64


def _resolver(conn: sqlite3.Connection, tree: str) -> resolve.Resolver:
    path = _path(conn)
    if not path:
        return resolve.Resolver.of(conn, tree)
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns, tree)
    with _RESOLVERS_LOCK:
        found = _RESOLVERS.get(key)
        if found is not None:
            _RESOLVERS.move_to_end(key)
            return found
    # Indexed on a connection of its own: the asking query's time limit is for the question, not the index.
    own = _own_connection(path)
    try:
        found = resolve.Resolver.of(own, tree)
    finally:
        own.close()
    with _RESOLVERS_LOCK:
        _RESOLVERS[key] = found
        while len(_RESOLVERS) > _RESOLVERS_KEPT:
            _RESOLVERS.popitem(last=False)
    return found


def _own_connection(path: str) -> sqlite3.Connection:
    """A read-only connection of our own to the published database: work done there is not the asking query's."""
    own = sqlite3.connect(f"file:{quote(path)}?mode=ro&immutable=1", uri=True)
    own.create_collation("version", version_collation)
    return own


def place_kernel(conn: sqlite3.Connection, published: str, kernel: str | None) -> dict:
    """Where the site judges *kernel* (kb.store.availability.resolve, the rule ``kbgen check`` follows): the build
    whose release it is, else, on a site of mainline, the distribution tree that has its release, else the
    published tree.  ``{tree, key, release, label, approximate, beyond, stand_in_key, stand_in_label}`` or
    ``{tree, error}``."""
    kernel = (kernel or "").strip()
    if not kernel:
        return {"tree": published, "error": f"say which kernel to judge (tree {published} holds many releases)"}
    try:
        where = availability.resolve(conn, kernel, None)
        if where.tree != published and queries.tree_info(conn, where.tree).scheme != BUILD_SCHEME \
                and published != MAINLINE:
            where = availability.target(conn, published, kernel)
        stand_in = availability.mainline_stand_in(conn, where)
    except availability.TargetError as err:
        return {"tree": published, "error": str(err).replace("--kernel ", "")}
    found = {"tree": where.tree, "key": rules.key_text(where.key), "release": where.release, "label": where.label,
             "approximate": where.approximate, "beyond": where.beyond}
    if stand_in is not None:
        found.update(stand_in_key=rules.key_text(stand_in.key), stand_in_label=stand_in.label)
    return found


@functools.lru_cache(maxsize=1024)
def _placed(path: str, size: int, mtime: int, published: str, kernel: str) -> str:
    own = _own_connection(path)
    try:
        return json.dumps(place_kernel(own, published, kernel))
    finally:
        own.close()


def warm(conn: sqlite3.Connection) -> None:
    """Index the names of every tree with items before the first question needs them."""
    for (tree,) in conn.execute("SELECT DISTINCT tree FROM items").fetchall():
        _resolver(conn, tree)


def resolved(conn: sqlite3.Connection, tree: str | None, text: str | None) -> list[dict]:
    """Every asked word of *text* with what it names in *tree* (kb.store.resolve): one row per item, one row
    with no kind for a word that names nothing."""
    if not tree or not (text or "").strip():
        return []
    rows = []
    for match in _resolver(conn, tree).resolve_all(text):
        base = {"pos": match.position, "word": match.word, "how": match.how, "note": match.note,
                "suggestions": ", ".join(match.suggestions) or None}
        rows += [dict(base, kind=i.kind, value=i.value, name=resolve.display_name(i)) for i in match.items] or [
            dict(base, kind=None, value=None, name=None)]
    return rows


def _path(conn: sqlite3.Connection) -> str:
    return next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")


def register(conn: sqlite3.Connection) -> None:
    def kbgen_place(published, kernel):
        """SQL: ``kbgen_place(published_tree, kernel)``: :func:`place_kernel` as JSON."""
        path = _path(conn)
        if not path:
            return json.dumps(place_kernel(conn, published, kernel))
        stat = os.stat(path)
        return _placed(path, stat.st_size, stat.st_mtime_ns, published, (kernel or "").strip())

    def kbgen_resolve(tree, text):
        """SQL: ``kbgen_resolve(tree, text)``: :func:`resolved` as a JSON array (an error: ``{"error"}``)."""
        try:
            return json.dumps(resolved(conn, tree, text))
        except resolve.ResolveError as err:
            return json.dumps([{"pos": 0, "word": None, "error": str(err)}])

    conn.create_function("version_key", 1, version_key, deterministic=True)
    conn.create_function("kbgen_judge", 5, kbgen_judge, deterministic=True)
    conn.create_function("kbgen_judge", 7, kbgen_judge, deterministic=True)
    conn.create_function("kbgen_arrival", 3, availability.arrival_text, deterministic=True)
    conn.create_function("kbgen_release_key", 2, release_key, deterministic=True)
    conn.create_function("kbgen_resolve", 2, kbgen_resolve)
    conn.create_function("kbgen_place", 2, kbgen_place)
    conn.create_function("kbgen_display_name", 2, display_name, deterministic=True)
    conn.create_collation("version", version_collation)
