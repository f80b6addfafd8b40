"""The one rule for judging whether a kernel has an item: release keys, resolution, windows, rc kernels.

Self-contained on purpose (it imports only ``re``): ``kbgen tables`` copies this module's code into the
generated Python module, so kbgen itself, the generated module and everything built on them answer the
same way.  The generated C header follows the same rule by construction: a kernel's LINUX_VERSION_CODE
carries no rc number, which is exactly how the rule treats an rc kernel.

- A release string becomes a *key*, a tuple of numbers: ``(major, minor, patch, rc)`` followed, for trees
  whose releases carry distribution numbers, by those numbers (Ubuntu's ABI and upload, RHEL's build).
  A final release has rc ``FINAL``, above all of its release candidates.
- An rc kernel is judged as its final version (the kernel's own rule: 5.19-rc1 reports 5.19.0), except
  where the tree knows the rc an item first appeared in.
- In a mainline-style tree (``exact=False``) a distribution suffix plays no part: 5.15.0-91-generic is
  judged as 5.15.  In a distribution tree the kernel resolves to one of the tree's releases: the first
  release whose key starts with the kernel's key (Ubuntu: same X.Y.Z and ABI; RHEL: same X.Y.Z-N...),
  else the newest release before it.
- An item is available when the judged key lies in one of its windows ``[since, until)``.
- An item whose arrival is only bounded (seen in a real build of one release, missing from builds of an
  earlier one) is available from the later release on, not yet up to the earlier one, unknown between.
"""

import re

FINAL = 999
KEY_WIDTH = 6
MAINLINE_SCHEME = "mainline"  # releases compared by their mainline version
BUILD_SCHEME = "build"  # one probed kernel build: the tree is its one release

_KERNEL_RE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-.~_]?rc(\d+))?(.*?)\s*$")
# Distribution numbers run up to the first character that is not a digit, dot or dash: the ABI and upload
# of 5.15.0-91.101~20.04.1, the build of 5.14.0-427.13.1.el9_4, not the flavour or architecture after them.
_NUMBERS_RE = re.compile(r"^[-.+]?([0-9][0-9.\-]*)")


def kernel_key(text, exact=True):
    """The key of a release or kernel string: "5.19" -> (5, 19, 0, 999); "v5.19-rc3" -> (5, 19, 0, 3).

    With *exact*, distribution numbers follow: "5.15.0-91-generic" -> (5, 15, 0, 999, 91).
    Raises ValueError for what is not a version.
    """
    match = _KERNEL_RE.match(str(text))
    if not match:
        raise ValueError(f"not a kernel version: {text!r} (expected e.g. 5.15, 5.15.0-91-generic, v5.19-rc3)")
    major, minor, patch, rc, rest = match.groups()
    key = (int(major), int(minor), int(patch or 0), int(rc) if rc else FINAL)
    if exact and rest:
        numbers = _NUMBERS_RE.match(rest)
        if numbers:
            key += tuple(int(n) for n in re.split(r"[.\-]", numbers.group(1)) if n)
    return key


def is_mainline_version(text):
    """Whether *text* names a mainline release as such ("5.15", "6.1.12", "v5.19-rc3"), not a distribution's build of
    one ("5.15.0-91-generic", "4.18.0-513.el8.x86_64"), which may carry backports mainline arithmetic cannot see."""
    match = _KERNEL_RE.match(str(text))
    return bool(match) and not match.group(5)


# The newest major a kernel release may have beyond the newest the knowledge base knows: 8.0 is a kernel newer than
# the knowledge base; 22.04 is no kernel at all (a distribution's version).
PLAUSIBLE_MAJORS_AHEAD = 3


def horizon_verdict(key, newest):
    """None for a kernel within the knowledge base's horizon (*newest*: the key of the newest release it knows);
    "beyond" for a newer one (X.Y past the newest: 7.3 where 7.2 is the newest, whatever its patch level);
    raises ValueError for a version no kernel has (a major far past the newest, or below 2)."""
    if key[0] < 2 or key[0] > newest[0] + PLAUSIBLE_MAJORS_AHEAD:
        raise ValueError(f"not a kernel release: major version {key[0]} (the newest known kernel is "
                         f"{newest[0]}.{newest[1]}); give a kernel's release string, e.g. 5.15.0-91-generic")
    return "beyond" if tuple(key[:2]) > tuple(newest[:2]) else None


def as_final(key):
    """How an rc kernel is judged: as the release it will become."""
    return key[:3] + (FINAL,) + tuple(key[4:])


def key_text(key):
    """A text that sorts like the key (for SQL): (5, 19, 0, 999) -> "000005.000019.000000.000999"."""
    return ".".join(str(n).zfill(KEY_WIDTH) for n in key)


class OlderThanTree(ValueError):
    pass


def resolve(key, release_keys):
    """Index of the release that judges a kernel of *key* in a tree whose releases answer to *release_keys*.

    Each entry holds the release's own key and, where the tree names it, the key of the release string its
    builds report (Debian's 6.1.0-13 for 6.1.76-1), in release order.  The first release one of whose keys
    starts with the kernel's key; else the newest release before the kernel, comparing each release by the
    key of the kernel's form (a build's release string is compared with the builds' release strings); None
    when the kernel is older than every release.
    """
    size = len(key)
    for index, keys in enumerate(release_keys):
        if any(tuple(k[:size]) == tuple(key) for k in keys if k):
            return index
    before = None
    for index, keys in enumerate(release_keys):
        own = tuple(keys[0])
        reported = [tuple(k) for k in keys[1:] if k and k[2] == key[2]]
        if (reported[0] if reported else own) < tuple(key):
            before = index
    return before


def place(scheme, kernel, releases):
    """The key a kernel is judged by in a tree of *scheme*, and the release it resolved to (an index).

    *releases*: ``(own key, reported key or None)`` per release, in release order.  A mainline-style tree
    judges the kernel's mainline version; a build tree is its one release, whatever kernel is named; any other
    tree resolves the kernel to one of its releases.  Raises ValueError when the kernel cannot be placed.
    """
    if scheme == BUILD_SCHEME:
        if not releases:
            raise ValueError("a build tree without its release")
        return tuple(releases[0][0]), 0
    if scheme == MAINLINE_SCHEME:
        return kernel_key(kernel, exact=False), None
    key = as_final(kernel_key(kernel, exact=True))
    index = resolve(key, releases)
    if index is None:
        raise OlderThanTree(f"{kernel} is older than every release of the tree")
    return tuple(releases[index][0]), index


def verdict(key, windows, first_rc=None):
    """(status, window) of an item with *windows* on a kernel judged by *key*, by the rc rule.

    status: "available" (window: the one it lies in), "not_yet" (the next window, or None), "removed" (the
    last window that closed before it).  *first_rc*: the key of the rc the item first appeared in, where the
    tree recorded rcs; it decides only for rc kernels of the release the first window starts in.
    """
    key = tuple(key)
    windows = [(None if s is None else tuple(s), None if u is None else tuple(u)) for s, u in windows]
    if not windows:
        return "not_yet", None
    first_since = windows[0][0]
    if (first_rc is not None and key[3] != FINAL and first_since is not None
            and key[:3] == tuple(first_rc[:3]) == first_since[:3]):
        return ("available", 0) if key >= tuple(first_rc) else ("not_yet", 0)
    judged = as_final(key)
    gone = None
    for index, (since, until) in enumerate(windows):
        if since is not None and judged < since:
            return ("removed", gone) if gone is not None else ("not_yet", index)
        if until is None or judged < until:
            return "available", index
        gone = index
    return "removed", gone


def arrival_verdict(key, after, by):
    """The status of an item whose arrival is bounded, not known, on a kernel judged by *key*: a real build of
    release *by* has it, builds of release *after* (None: none) lack it.  Release series are compared (X.Y): a
    stable update does not bring new BPF items.  "available" from *by* on, "not_yet" up to *after*, "unknown"
    between them."""
    judged = tuple(key[:2])
    if judged >= tuple(by[:2]):
        return "available"
    if after is not None and judged <= tuple(after[:2]):
        return "not_yet"
    return "unknown"


def in_windows(key, windows, first_rc=None):
    """Whether *key* lies in one of *windows*, ``[(since, until or None), ...]``, by the rc rule."""
    return verdict(key, windows, first_rc)[0] == "available"
