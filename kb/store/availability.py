"""Whether a kernel has an item, judged by one rule (kb.vocab.rules) on the windows of the item's tree.

A *target* is a kernel placed in a tree: a mainline-style tree judges the kernel's mainline version
(5.15.0-91-generic is 5.15); a distribution tree resolves it to one of its releases (Ubuntu: same X.Y.Z
and ABI number; RHEL: same X.Y.Z-N...; Debian: the ABI its packaging names) and judges that release; a
probed build has one release, itself.  No mainline arithmetic is done for the releases of other trees.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from kb.store import queries
from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.kinds import MAINLINE
from kb.vocab.releases import BUILD_SCHEME, MAINLINE_SCHEME

AVAILABLE = "available"
NOT_YET = "not_yet"  # its first release is newer than the target
REMOVED = "removed"  # it was there, and is gone by the target
RELEASE_UNKNOWN = "release_unknown"  # the knowledge base has it, but no release is known to have it
UNRELEASED = "unreleased"  # in the newest revision of a mined tree, in no release yet
BEYOND = "beyond"  # the kernel is newer than every release the knowledge base knows: nothing can be said
BOUNDED = "bounded"  # the item's arrival is only bounded, and the kernel lies between the bounds


class TargetError(KbgenError, ValueError):
    pass


@dataclass(frozen=True)
class Target:
    tree: str
    kernel: str  # as given
    key: tuple[int, ...]  # the key judged (rc kept; the rule decides what an rc means)
    release: str | None  # the tree's release it resolved to, where the tree has releases
    # Why the answer is approximate: a distribution's build judged by mainline arithmetic; None when the tree
    # judging it is the kernel's own (a build, its distribution's history) or the kernel is a mainline release.
    approximate: str | None = None
    # "newer than the knowledge base (7.2)": a kernel past the newest release known; every answer is unknown.
    beyond: str | None = None

    @property
    def label(self) -> str:
        text = self.kernel
        if self.release and self.release != self.kernel:
            text = f"{self.kernel} ({self.tree} {self.release})"
        elif self.tree != MAINLINE:
            text = f"{self.kernel} ({self.tree})"
        return text + (" (approximate)" if self.approximate else "")

    @property
    def exact(self) -> bool:
        return self.approximate is None and self.beyond is None


@dataclass(frozen=True)
class Verdict:
    status: str
    available: bool
    since: str | None  # the start of the window the target is in, or of the next one
    removed_in: str | None  # the release that removed it, where that is why it is unavailable
    # Where the item's first release is not established: "between 6.12 and 7.2" (or "by 7.2"), what is known.
    arrival: str | None = None

    @property
    def reason(self) -> str:
        if self.arrival:
            return _BOUNDED_REASONS[self.status].format(arrival=self.arrival)
        if self.status == AVAILABLE:
            return f"available since {self.since}"
        if self.status == NOT_YET:
            return f"not yet: first in {self.since}"
        if self.status == REMOVED:
            return f"removed in {self.removed_in}"
        if self.status == UNRELEASED:
            return "in no release yet"
        if self.status == BEYOND:
            return f"unknown: {self.since}"
        return "first release not known"


_BOUNDED_REASONS = {
    AVAILABLE: "available (arrived {arrival}; the first release is not established)",
    NOT_YET: "not yet: arrived {arrival}",
    BOUNDED: "unknown: arrived {arrival}; the first release is not established",
}


def arrival(item) -> str | None:
    """What is known of the arrival of an item whose first release is not established: "between 6.12 and 7.2",
    "by 7.2"; None for an item with a first release (or none at all)."""
    return arrival_text(item.first_release, item.first_release_after, item.first_release_by)


def arrival_keys(item) -> tuple[tuple | None, tuple] | None:
    """The rule keys of the two bounds of an arrival that is not established (the earlier one None where no build
    lacks it), as kb.vocab.rules.arrival_verdict takes them; None for an item with a first release."""
    if not arrival(item):
        return None
    after = rules.kernel_key(item.first_release_after, exact=False) if item.first_release_after else None
    return after, rules.kernel_key(item.first_release_by, exact=False)


def arrival_text(first_release: str | None, after: str | None, by: str | None) -> str | None:
    """:func:`arrival` of the three columns (also the site's SQL function kbgen_arrival)."""
    if not by or first_release:
        return None
    return f"between {after} and {by}" if after else f"by {by}"


def key_tuple(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else tuple(int(part) for part in text.split("."))


def target(conn: sqlite3.Connection, tree: str, kernel: str | None) -> Target:
    """Place *kernel* in *tree*.  A build tree needs no kernel: it is one."""
    info = queries.tree_info(conn, tree)
    rows = queries.releases(conn, tree)
    if info.scheme == BUILD_SCHEME:
        if not rows:
            raise TargetError(f"tree {tree} is a build without a release")
        if kernel and kernel not in (rows[0].version, rows[0].tag):
            raise TargetError(f"tree {tree} is the build {rows[0].version}: --kernel {kernel} is another kernel "
                              "(leave --kernel out to judge by the build)")
        kernel = kernel or rows[0].version
    elif kernel is None:
        raise TargetError(f"tree {tree} holds many releases: say which kernel to judge with --kernel")
    answers = [(key_tuple(r.sort_key), uname_key(r.uname)) for r in rows]
    try:
        beyond = _beyond(conn, kernel)
        key, index = rules.place(info.scheme, kernel, answers)
    except rules.OlderThanTree:
        raise TargetError(f"{kernel} is older than every release of tree {tree} (the first is {rows[0].version})"
                          ) from None
    except ValueError as err:
        raise TargetError(str(err)) from None
    approximate = None
    if tree == MAINLINE and not rules.is_mainline_version(kernel):
        approximate = (f"{kernel} is a distribution's build the knowledge base has no record of, judged as mainline "
                       f"{'.'.join(map(str, key[:2]))}: distributions backport (RHEL 8's 4.18 carries 5.0 helpers), "
                       "so it may have more; probe it (kbgen probe) for an exact answer")
    return Target(tree, kernel, key, None if index is None else rows[index].version, approximate,
                  None if info.scheme == BUILD_SCHEME else beyond)


def horizon(conn: sqlite3.Connection) -> tuple[str, tuple[int, ...]] | None:
    """The newest kernel release the knowledge base knows, with its key: mainline's newest release (or, where the
    mainline tree lists no releases, the newest its windows name), or the base of any distribution's release or
    build newer than it; None for a knowledge base without kernels."""
    keys = [key_tuple(k) for (k,) in conn.execute(
        "SELECT max(since_key) FROM windows WHERE tree = ? UNION ALL SELECT max(until_key) FROM windows WHERE tree = ?"
        " UNION ALL SELECT max(sort_key) FROM releases WHERE tree = ?", (MAINLINE, MAINLINE, MAINLINE)) if k]
    for tree, base in conn.execute("SELECT r.tree, r.base FROM releases r JOIN trees t ON t.name = r.tree "
                                   "WHERE t.scheme <> ? AND r.base IS NOT NULL", (MAINLINE_SCHEME,)):
        keys.append(rules.as_final(rules.kernel_key(base, exact=False)))
    if not keys:
        return None
    best = max(tuple(k[:4]) for k in keys)
    return f"{best[0]}.{best[1]}", best


def _beyond(conn: sqlite3.Connection, kernel: str) -> str | None:
    """Raises ValueError for a string that is no kernel release; "newer than the knowledge base (X.Y)" for a
    kernel past the newest known release; None otherwise."""
    known = horizon(conn)
    key = rules.kernel_key(kernel, exact=False)
    if known is None or rules.horizon_verdict(key, known[1]) is None:
        return None
    return f"newer than the knowledge base ({known[0]})"


def resolve(conn: sqlite3.Connection, kernel: str, tree: str | None = None) -> Target:
    """Place a kernel's release string (``uname -r``) where the knowledge base can answer for it best: in *tree*
    when one is named; else the build whose release it is (probed or shipped); else a distribution tree that has
    its release; else mainline, labelled approximate when the string is a distribution's build."""
    if tree is not None:
        return target(conn, tree, kernel)
    build = _build_of(conn, kernel)
    if build is not None:
        return target(conn, build, None)
    try:
        key = rules.as_final(rules.kernel_key(kernel, exact=True))
    except ValueError as err:
        raise TargetError(str(err)) from None
    for name in queries.tree_names(conn):
        info = queries.tree_info(conn, name)
        if info.scheme in (MAINLINE_SCHEME, BUILD_SCHEME):
            continue
        answers = [(key_tuple(r.sort_key), uname_key(r.uname)) for r in queries.releases(conn, name)]
        if any(k and tuple(k[:len(key)]) == key for keys in answers for k in keys):
            return target(conn, name, kernel)
    return target(conn, MAINLINE, kernel)


def _build_of(conn: sqlite3.Connection, kernel: str) -> str | None:
    """The build tree whose one release is *kernel* (its uname -r), where one is recorded."""
    found = conn.execute(
        "SELECT r.tree FROM releases r JOIN trees t ON t.name = r.tree WHERE t.scheme = ? AND ? IN (r.version, "
        "r.uname, r.tag) ORDER BY r.tree LIMIT 1", (BUILD_SCHEME, kernel)).fetchone()
    return found[0] if found else None


def mainline_stand_in(conn: sqlite3.Connection, where: Target) -> Target | None:
    """Where the judged tree does not give a kind completely (features anywhere but mainline, a distribution
    history's kfuncs, a build's untagged kfuncs), mainline judges it: the kernel placed in mainline by the mainline
    version of the release it resolved to.  None when the tree is mainline."""
    if where.tree == MAINLINE or MAINLINE not in queries.tree_names(conn):
        return None
    base = next((r.base for r in queries.releases(conn, where.tree) if r.version == where.release), None)
    return target(conn, MAINLINE, base or where.kernel)


def uname_key(uname: str | None) -> tuple[int, ...] | None:
    return rules.kernel_key(uname, exact=True) if uname else None


def compare(a: Target, b: Target) -> int:
    return (a.key > b.key) - (a.key < b.key)


_STATUS = {"available": AVAILABLE, "not_yet": NOT_YET, "removed": REMOVED}


def judge(item: queries.ItemRow, where: Target) -> Verdict:
    if where.beyond:
        return Verdict(BEYOND, False, where.beyond, None)
    if not item.window_keys:
        bounds = arrival_keys(item)
        if bounds:
            status = rules.arrival_verdict(where.key, *bounds)
            return Verdict({"unknown": BOUNDED}.get(status, status), status == "available", None, None, arrival(item))
        status = UNRELEASED if item.unreleased else RELEASE_UNKNOWN
        return Verdict(status, False, None, None)
    windows = [(key_tuple(since), key_tuple(until)) for since, until in item.window_keys]
    first_rc = rules.kernel_key(item.first_rc, exact=False) if item.first_rc else None
    status, index = rules.verdict(where.key, windows, first_rc)
    window = item.windows[index] if index is not None else None
    if status == "removed":
        return Verdict(REMOVED, False, window.since, window.until)
    return Verdict(_STATUS[status], status == "available", window.since if window else item.first_release, None)


@dataclass(frozen=True)
class Change:
    item: queries.ItemRow
    release: str | None  # where it arrived (the start of the window NEW is in) or went (the end of OLD's window)
    arrival: str | None = None  # where the first release is not established: "between 6.18 and 7.0"


def between(conn: sqlite3.Connection, tree: str, old: str, new: str) -> tuple[list[Change], list[Change]]:
    """(what a kernel *new* has that *old* lacks, what *old* has that *new* no longer has), judged by the rule;
    each in the order of the release it arrived in or went in."""
    low, high = target(conn, tree, old), target(conn, tree, new)
    if compare(high, low) < 0:
        raise TargetError(f"{new} is older than {old}")
    arrived, removed = [], []
    for item in queries.items(conn, tree):
        before, after = judge(item, low), judge(item, high)
        if after.available and not before.available:
            arrived.append(Change(item, after.since, after.arrival))
        elif before.available and not after.available:
            removed.append(Change(item, after.removed_in))

    def order(change: Change) -> tuple:
        # An arrival known only within bounds sorts by its later bound: the release that surely has it.
        release = change.release or (change.item.first_release_by if change.arrival else None)
        return (rules.kernel_key(release) if release else (), queries.kind_order(change.item))

    return sorted(arrived, key=order), sorted(removed, key=order)
