"""The facts collectors hand to the store: plain data, no database, no formatting.

A :class:`Facts` is everything one source says about one tree; the store replaces facts per
(tree, source), and the merged view reconciles the sources of a tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.vocab.kinds import source_kind
from kb.vocab.sections import SectionDef


@dataclass(frozen=True)
class Source:
    id: str  # "git:linux@0123456789ab:include/uapi/linux/bpf.h", "reference:bcc", "btf:vmlinuz-...@sha256:..."
    description: str = ""
    repo: str | None = None
    path: str | None = None
    revision: str | None = None  # the commit, tag or file digest the facts were read at

    @property
    def kind(self) -> str:
        return source_kind(self.id)


@dataclass(frozen=True)
class Release:
    version: str  # the release's name in its tree: "5.19", "5.15.0-91.101", "0.8.0"
    sort_key: str  # orders the tree's releases (kb.vocab.rules.key_text)
    base: str  # the mainline release it is based on: "5.15"
    tag: str | None = None
    commit: str | None = None
    date: str | None = None
    has_header: bool = True
    uname: str | None = None  # the kernel release string a build of it reports, where the tree says (Debian ABI)


@dataclass
class ItemName:
    name: str
    first_seen_commit: str | None = None
    first_release: str | None = None
    is_alias: bool = False  # spelled ``NAME = OTHER`` (BPF_PROG_RUN = BPF_PROG_TEST_RUN)


@dataclass(frozen=True)
class Window:
    """Releases ``[since, until)`` of a tree that have an item; ``until`` None: still there."""

    since: str | None
    until: str | None = None

    def text(self) -> str:
        return f"{self.since or ''}..{self.until or ''}"

    @classmethod
    def parse_list(cls, text: str) -> list[Window]:
        """``"6.17..6.18,7.0.."`` -> two windows."""
        windows = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            since, sep, until = part.partition("..")
            if not sep:
                raise ValueError(f"not a window: {part!r} (expected SINCE..UNTIL or SINCE..)")
            windows.append(cls(since or None, until or None))
        return windows


def windows_text(windows: list[Window]) -> str:
    return ",".join(w.text() for w in windows)


@dataclass
class Item:
    kind: str
    value: int | str  # the enum value; a kfunc's or feature's name
    name: str
    first_release: str | None = None  # start of the first window; None: in no release, or not known
    first_rc: str | None = None
    introduced_by: str | None = None  # full commit sha
    subject: str | None = None
    author: str | None = None
    date: str | None = None
    alt_commit: str | None = None
    note: str | None = None
    names: list[ItemName] = field(default_factory=list)
    windows: list[Window] = field(default_factory=list)
    unreleased: bool = False  # in the newest revision of a mined tree, but in no release of it
    gpl_only: bool | None = None  # helpers: the verifier refuses it to programs without a GPL-compatible license
    signature: str | None = None  # kfuncs: the prototype, where a source renders it
    title: str | None = None  # features: what the feature is
    detect: str | None = None  # features: how a compiled object shows the need
    libbpf: str | None = None  # features: how libbpf treats a kernel without it
    source: str | None = None  # None: the source of the Facts holding it
    # Where no release is established: the arrival is bounded, after this release and by that one (either may be
    # None); first_release stays None (never a guess shown as exact).
    first_release_after: str | None = None
    first_release_by: str | None = None

    def __post_init__(self):
        if not self.windows and self.first_release:
            self.windows = [Window(self.first_release)]
        elif self.windows and self.first_release is None:
            self.first_release = self.windows[0].since

    @property
    def removed_in(self) -> str | None:
        """The first release without the item after its last window, if it is gone."""
        return self.windows[-1].until if self.windows else None


@dataclass(frozen=True)
class Disagreement:
    kind: str
    value: int | str
    field: str  # first_release, introduced_by, removed_in
    used: str | None  # the value the tables use
    used_source: str
    other: str | None
    other_source: str
    note: str | None = None


@dataclass(frozen=True)
class HelperDoc:
    value: int
    name: str
    variant: int  # a helper documented once per context (get_socket_cookie) has several
    signature: str
    description: str
    returns: str
    attributes: str = ""
    source: str | None = None  # None: the source of the Facts holding it


# How to read a source's relations: what references document for the newest documented kernel (absence
# means "not documented", not "refused"), or what a live probe of one build saw the verifier accept.
AS_DOCUMENTED = "as documented"
PROBED = "probed"
IN_MODULE = "in module"  # an item's note in a build: a module of the build registers it (vmlinux does not)

# Relations between items.
CALLABLE_FROM = "callable_from"  # helper or kfunc -> prog_type that may call it
WORKS_WITH = "works_with"  # helper -> map_type it accepts


@dataclass(frozen=True)
class Relation:
    kind: str
    value: int | str
    relation: str
    other_kind: str
    other_value: int | str
    source: str | None = None  # None: the source of the Facts holding it


@dataclass(frozen=True)
class SectionRule:
    """An entry of a libbpf release's section table, at its place in the table."""

    release: str  # the libbpf release: "1.7.0"
    position: int
    definition: SectionDef


@dataclass
class Facts:
    """What one source says about one tree."""

    tree: str
    tree_kind: str  # kb.vocab.kinds.TREE_*
    source: Source
    collector: str  # the collector that produced them
    scheme: str | None = None  # the tree's release scheme (kb.vocab.releases)
    fingerprint: str | None = None  # what the run depended on; equal means a re-run finds nothing new
    head_commit: str | None = None
    tag_pattern: str | None = None
    qualifier: str | None = None  # how to read the relations: AS_DOCUMENTED, PROBED
    # The item kinds this source gives completely: an item of these kinds it lacks, the tree lacks (a build's BTF
    # gives every helper, enumerator and, where tagged, kfunc; it says nothing of features).
    covers: tuple[str, ...] = ()
    releases: list[Release] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    helper_docs: list[HelperDoc] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    sections: list[SectionRule] = field(default_factory=list)  # libbpf trees: every release's section table
    other_sources: list[Source] = field(default_factory=list)  # sources items name other than self.source
    warnings: list[str] = field(default_factory=list)  # what was skipped, one line each
    # A build's labels: distribution, distribution_version, arch, package, package_version, package_sha256, modules.
    labels: dict[str, str] = field(default_factory=dict)
