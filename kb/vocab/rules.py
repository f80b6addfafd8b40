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
"""

import re

FINAL = 999
KEY_WIDTH = 6

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


def as_final(key):
    """How an rc kernel is judged: as the release it will become."""
    return key[:3] + (FINAL,) + tuple(key[4:])


def key_text(key):
    """A text that sorts like the key (for SQL): (5, 19, 0, 999) -> "000005.000019.000000.000999"."""
    return ".".join(str(n).zfill(KEY_WIDTH) for n in key)


def resolve(key, release_keys):
    """Index of the release that judges a kernel of *key* in a tree whose releases have *release_keys*.

    Each entry is a tuple of keys a release answers to (its own, and e.g. the uname key Debian's ABI
    gives it), in release order.  None when the kernel is older than every release.
    """
    size = len(key)
    for index, keys in enumerate(release_keys):
        if any(tuple(k[:size]) == tuple(key) for k in keys):
            return index
    before = None
    for index, keys in enumerate(release_keys):
        if tuple(keys[0]) < tuple(key):
            before = index
    return before


def in_windows(key, windows, first_rc=None):
    """Whether *key* lies in one of *windows*, ``[(since, until or None), ...]``, by the rc rule.

    *first_rc*: the key of the rc the item first appeared in, where the tree recorded rcs.
    """
    key = tuple(key)
    if first_rc is not None and key[3] != FINAL and key[:3] == tuple(first_rc[:3]):
        return key >= tuple(first_rc)
    judged = as_final(key)
    for since, until in windows:
        if since is not None and judged < tuple(since):
            continue
        if until is not None and judged >= tuple(until):
            continue
        return True
    return False
