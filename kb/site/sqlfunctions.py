"""SQL functions and the ``version`` collation, so that SQL judges kernels and compares versions as kbgen does.

Registered on the connections that build and serve the published database (see kb/datasette_plugins/).
The canned queries (kb.canned) place a kernel in a tree with :func:`kbgen_target` and judge each item
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

from kb.store import availability, resolve
from kb.vocab import rules
from kb.vocab.facts import Window
from kb.vocab.kinds import HELPER
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


def short_release(key: tuple[int, ...]) -> str:
    """(5, 15, 0, 999) -> "5.15"; (5, 19, 0, 3) -> "5.19-rc3": how a mainline key reads."""
    text = f"{key[0]}.{key[1]}" + (f".{key[2]}" if key[2] else "")
    return text + (f"-rc{key[3]}" if key[3] != rules.FINAL else "")


def place(tree: str, scheme: str | None, kernel: str | None, releases: list[tuple]) -> dict:
    """Where *kernel* stands in *tree*: kb.vocab.rules.place on the tree's releases, with the refusals
    kb.availability.target makes (no kernel for a tree of many releases, another kernel than a build's).

    *releases*: ``(version, sort_key, uname, tag)`` of the tree.  Returns ``{"key", "release", "label"}`` (the key
    judged as text, the tree's release it resolved to, a label for people) or ``{"error"}``.
    """
    kernel = (kernel or "").strip() or None
    releases = sorted(releases, key=lambda r: r[1])
    scheme = scheme or MAINLINE_SCHEME
    if scheme == BUILD_SCHEME and releases and kernel and kernel not in (releases[0][0], releases[0][3]):
        return {"error": f"tree {tree} is the build {releases[0][0]}: {kernel} is another kernel "
                         "(leave the kernel empty to judge by the build)"}
    if kernel is None and scheme != BUILD_SCHEME:
        return {"error": f"say which kernel to judge (tree {tree} holds many releases)"}
    keys = [(availability.key_tuple(r[1]), availability.uname_key(r[2])) for r in releases]
    try:
        rules.kernel_key(kernel or "0.0")
    except ValueError:
        return {"error": f"not a kernel version: {kernel}"}
    try:
        key, index = rules.place(scheme, kernel or "", keys)
    except ValueError:
        first = releases[0][0] if releases else "none"
        return {"error": f"{kernel} is older than every release of tree {tree} (the first is {first})"}
    if index is None:
        return {"key": rules.key_text(key), "release": None, "label": f"{tree} {short_release(key)}"}
    version = releases[index][0]
    return {"key": rules.key_text(key), "release": version, "label": version if tree == version else f"{tree} {version}"}


def kbgen_target(tree, scheme, kernel, releases_json):
    """SQL: ``kbgen_target(tree, scheme, kernel, json_group_array(json_array(version, sort_key, uname, tag)))``."""
    return json.dumps(place(tree, scheme, kernel, [tuple(r) for r in json.loads(releases_json or "[]")]))


def judge(key_text: str, windows: list[tuple], first_rc: str | None, first_release: str | None,
          unreleased: bool) -> dict:
    """The verdict of kb.availability.judge for an item with *windows* ``(position, since, until, since_key,
    until_key)`` on a kernel placed at *key_text*."""
    windows = sorted(windows)
    item = SimpleNamespace(
        windows=[Window(since, until) for _p, since, until, _sk, _uk in windows],
        window_keys=[(since_key, until_key) for _p, _s, _u, since_key, until_key in windows],
        first_rc=first_rc, first_release=first_release, unreleased=bool(unreleased))
    where = availability.Target("", "", availability.key_tuple(key_text), None)
    verdict = availability.judge(item, where)
    return {"available": int(verdict.available), "status": verdict.status, "reason": verdict.reason,
            "since": verdict.since, "removed_in": verdict.removed_in}


def kbgen_judge(key_text, windows_json, first_rc, first_release, unreleased):
    """SQL: ``kbgen_judge(key, json_group_array(json_array(position, since, until, since_key, until_key)),
    first_rc, first_release, unreleased)``: a JSON verdict (available, status, reason, since, removed_in)."""
    if key_text is None:
        return None
    return json.dumps(judge(key_text, [tuple(w) for w in json.loads(windows_json or "[]")], first_rc, first_release,
                            unreleased))


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
    path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
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
    own = sqlite3.connect(f"file:{quote(path)}?mode=ro&immutable=1", uri=True)
    own.create_collation("version", version_collation)
    try:
        found = resolve.Resolver.of(own, tree)
    finally:
        own.close()
    with _RESOLVERS_LOCK:
        _RESOLVERS[key] = found
        while len(_RESOLVERS) > _RESOLVERS_KEPT:
            _RESOLVERS.popitem(last=False)
    return found


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


def register(conn: sqlite3.Connection) -> None:
    def kbgen_resolve(tree, text):
        """SQL: ``kbgen_resolve(tree, text)``: :func:`resolved` as a JSON array (an error: ``{"error"}``)."""
        try:
            return json.dumps(resolved(conn, tree, text))
        except resolve.ResolveError as err:
            return json.dumps([{"pos": 0, "word": None, "error": str(err)}])

    conn.create_function("version_key", 1, version_key, deterministic=True)
    conn.create_function("kbgen_target", 4, kbgen_target, deterministic=True)
    conn.create_function("kbgen_judge", 5, kbgen_judge, deterministic=True)
    conn.create_function("kbgen_release_key", 2, release_key, deterministic=True)
    conn.create_function("kbgen_resolve", 2, kbgen_resolve)
    conn.create_function("kbgen_display_name", 2, display_name, deterministic=True)
    conn.create_collation("version", version_collation)
