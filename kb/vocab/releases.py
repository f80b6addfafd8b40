"""Releases of any tree: which tags are releases, what each is called, how they order, what mainline
release each is based on.

Built-in schemes, tried in this order on every tag:

==========  ==========================================  ====================  ===========================
scheme      tags                                         release               key (order in its tree)
==========  ==========================================  ====================  ===========================
ubuntu      ``Ubuntu-5.15.0-91.101``, ``Ubuntu-hwe-5.15-  ``5.15.0-91.101``     X.Y.Z, ABI, upload
            5.15.0-91.101~20.04.1``, ``Ubuntu-azure-...``
rhel        ``kernel-5.14.0-427.el9``,                   ``5.14.0-427.el9``    X.Y.Z, build numbers
            ``kernel-5.14.0-427.13.1.el9_4``
debian      ``debian/6.1.76-1``, ``debian/6.8_rc7-1_exp1``  ``6.1.76-1``       X.Y.Z, rc, Debian revision
mainline    ``v5.19``, ``v5.19-rc3``, ``v6.1.12``, ``v0.8.0``  ``5.19``          X.Y.Z, rc
suffixed    ``v5.14.0-427.el9``, ``v6.1.0-13-amd64``      ``5.14.0-427.el9``   X.Y.Z, suffix numbers
==========  ==========================================  ====================  ===========================

A ``--tag-pattern`` regular expression teaches any other scheme: named groups ``major`` and ``minor``
(required), ``patch`` and ``rc`` (optional), and any other named groups holding numbers, which follow
in the key in the order the pattern names them.  Keys are :mod:`kb.vocab.rules` keys, so a running
kernel's release string resolves against them by the one rule.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kb.vocab import rules
from kb.vocab.errors import KbgenError
from kb.vocab.versions import Version

MAINLINE_SCHEME = rules.MAINLINE_SCHEME
BUILD_SCHEME = rules.BUILD_SCHEME
UBUNTU_SCHEME, RHEL_SCHEME, DEBIAN_SCHEME, SUFFIXED_SCHEME, PATTERN_SCHEME = (
    "ubuntu", "rhel", "debian", "suffixed", "pattern")


class ReleaseSchemeError(KbgenError, ValueError):
    pass


@dataclass(frozen=True)
class TagRelease:
    """What a release tag says: the release's name in its tree, its key there and its mainline base."""

    tag: str
    scheme: str
    version: str  # "5.19", "5.15.0-91.101", "5.14.0-427.el9", "6.1.76-1"
    key: tuple[int, ...]
    flavour: str | None = None  # Ubuntu's hwe-5.15, azure; None for the generic kernel

    @property
    def base(self) -> Version:
        """The mainline release this one is based on (5.15 for Ubuntu-5.15.0-91.101)."""
        major, minor, patch, rc = self.key[:4]
        return Version(major, minor, patch, rc)

    @property
    def is_rc(self) -> bool:
        return self.key[3] != rules.FINAL

    @property
    def sort_key(self) -> str:
        return rules.key_text(self.key)


_V = r"(?P<major>\d+)\.(?P<minor>\d+)"
_SCHEMES = {
    UBUNTU_SCHEME: re.compile(
        r"^Ubuntu-(?:(?P<flavour>[A-Za-z][\w.+-]*?)-)?(?P<version>" + _V + r"\.(?P<patch>\d+)-(?P<abi>\d+)\.(?P<upload>\d+)"
        r"(?P<rest>[~+.][\w.+~]*)?)$"
    ),
    RHEL_SCHEME: re.compile(
        r"^kernel-(?P<version>" + _V + r"\.(?P<patch>\d+)-(?P<build>\d+(?:\.\d+)*)\.el\d+[\w.]*)$"
    ),
    DEBIAN_SCHEME: re.compile(
        r"^debian/(?P<version>" + _V + r"(?:\.(?P<patch>\d+))?(?:_rc(?P<rc>\d+))?-(?P<revision>\d+)[\w.+%~-]*)$"
    ),
    MAINLINE_SCHEME: re.compile(r"^v?(?P<version>" + _V + r"(?:\.(?P<patch>\d+))?(?:-rc(?P<rc>\d+))?)$"),
    SUFFIXED_SCHEME: re.compile(
        r"^v?(?P<version>" + _V + r"\.(?P<patch>\d+)(?:-rc(?P<rc>\d+))?-(?P<suffix>\d[\w.+~-]*))$"
    ),
}
SCHEMES = tuple(_SCHEMES)


def _key_from_match(match: re.Match, numbered: list[str]) -> tuple[int, ...]:
    groups = match.groupdict()
    key = [int(groups["major"]), int(groups["minor"]), int(groups.get("patch") or 0)]
    key.append(int(groups["rc"]) if groups.get("rc") else rules.FINAL)
    for name in numbered:
        text = match.group(name)
        if text:
            key += [int(n) for n in re.split(r"\D+", text) if n]
    return tuple(key)


_NUMBERED = {UBUNTU_SCHEME: ["abi", "upload"], RHEL_SCHEME: ["build"], DEBIAN_SCHEME: ["revision"],
             MAINLINE_SCHEME: [], SUFFIXED_SCHEME: []}


def parse_tag(tag: str, scheme: str | None = None) -> TagRelease | None:
    """The release a tag names, by *scheme* or the first built-in scheme that reads it; None if none does."""
    for name, pattern in _SCHEMES.items():
        if scheme is not None and name != scheme:
            continue
        match = pattern.match(tag)
        if not match:
            continue
        version = match["version"]
        if name == SUFFIXED_SCHEME:
            key = rules.kernel_key(version, exact=True)
        else:
            key = _key_from_match(match, _NUMBERED[name])
        if name == DEBIAN_SCHEME:
            version = version.replace("_rc", "~rc").replace("%", ":")
        flavour = match.groupdict().get("flavour")
        return TagRelease(tag, name, version, key, flavour)
    return None


class TagPattern:
    """A user's ``--tag-pattern``: a regular expression with named groups that reads another scheme."""

    def __init__(self, pattern: str):
        try:
            self.regex = re.compile(pattern)
        except re.error as err:
            raise ReleaseSchemeError(f"--tag-pattern {pattern!r}: not a regular expression ({err})") from None
        missing = {"major", "minor"} - set(self.regex.groupindex)
        if missing:
            raise ReleaseSchemeError(
                f"--tag-pattern {pattern!r}: needs the named groups major and minor (missing: {', '.join(sorted(missing))})"
            )
        self.numbered = [g for g in self.regex.groupindex if g not in ("major", "minor", "patch", "rc", "version")]

    def parse(self, tag: str) -> TagRelease | None:
        match = self.regex.fullmatch(tag)
        if not match:
            return None
        try:
            key = _key_from_match(match, self.numbered)
        except ValueError:
            return None
        version = match["version"] if "version" in self.regex.groupindex else tag[match.start("major"):]
        return TagRelease(tag, PATTERN_SCHEME, version, key)


def release_scheme_of(releases: list[TagRelease]) -> str:
    """The scheme a tree's releases follow: the one most of its tags follow."""
    counts: dict[str, int] = {}
    for release in releases:
        counts[release.scheme] = counts.get(release.scheme, 0) + 1
    return max(sorted(counts), key=counts.get) if counts else MAINLINE_SCHEME


