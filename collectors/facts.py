"""The plain facts collectors hand to the store: no database, no formatting, just what was found and where."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Release:
    version: str  # "5.19", "0.8.0", "5.19-rc1"
    sort_key: int
    tag: str | None = None
    commit: str | None = None
    date: str | None = None
    has_header: bool = True


@dataclass
class ItemName:
    name: str
    first_seen_commit: str | None = None
    first_release: str | None = None
    is_alias: bool = False  # spelled ``NAME = OTHER`` (BPF_PROG_RUN = BPF_PROG_TEST_RUN)


@dataclass
class Item:
    kind: str
    value: int | str  # the enum value; a kfunc's name
    name: str
    first_release: str | None = None  # None: in no release (unreleased, or unknown for reference facts)
    first_rc: str | None = None
    introduced_by: str | None = None  # full commit sha
    subject: str | None = None
    author: str | None = None
    date: str | None = None
    alt_commit: str | None = None
    note: str | None = None
    names: list[ItemName] = field(default_factory=list)
    present_at_head: bool = True
    source: str | None = None  # None: the tree's own source


@dataclass
class HelperDocFact:
    value: int
    name: str
    variant: int  # a helper documented once per context (get_socket_cookie) has several
    signature: str
    description: str
    returns: str
    attributes: str = ""


@dataclass
class CollectedTree:
    """Everything one collector run learnt about one tree, ready to replace that tree in the store."""

    name: str
    kind: str  # "git", "reference", "build"
    source: str  # provenance label stored with every fact: "git:linux@<sha>:include/uapi/linux/bpf.h"
    source_description: str
    repo: str | None = None
    path: str | None = None
    tag_pattern: str | None = None
    head_commit: str | None = None
    fingerprint: str | None = None
    releases: list[Release] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    presence: list[tuple[str, int | str, str]] = field(default_factory=list)  # (kind, value, version)
    helper_docs: list[HelperDocFact] = field(default_factory=list)
    docs_source: str | None = None
    # (kind, value, field, used, used_source, other, other_source, note): where two sources differ
    disagreements: list[tuple] = field(default_factory=list)
    # Every other source the facts name (id -> description), for the sources table.
    other_sources: dict[str, str] = field(default_factory=dict)
