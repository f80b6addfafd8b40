"""What kbgen calls things: item kinds, tree kinds, source kinds, and the mainline tree's name.

Constants as data, so that adding a kind is one line here and no other module spells a literal.
"""

from __future__ import annotations

from dataclasses import dataclass

# The tree whose facts ship with kbgen; a mined mainline tree supersedes them item by item.
MAINLINE = "mainline"
# The tree of libbpf's releases, whose section tables ship with kbgen too.
LIBBPF = "libbpf"
# The collector name of the facts kbgen ships (data/).
SHIPPED_COLLECTOR = "shipped"

HELPER = "helper"
PROG_TYPE = "prog_type"
MAP_TYPE = "map_type"
ATTACH_TYPE = "attach_type"
LINK_TYPE = "link_type"
CMD = "cmd"
KFUNC = "kfunc"
FEATURE = "feature"


@dataclass(frozen=True)
class Kind:
    """Every per-kind fact in one place; each other table of kinds is derived from :data:`KINDS`."""

    name: str  # "prog_type": the word stored in every table
    word: str  # what people call one: "program type"
    plural: str  # "program types"
    table: str  # the published database's table of this kind: "prog_types"
    c_enum: str | None  # the UAPI header's enum: "bpf_prog_type"; None for kfuncs and features
    prefix: str | None  # its enumerators' prefix: "BPF_PROG_TYPE_" (helpers are stored without theirs)
    build_field: str | None  # the field of a build's items (kb.formats.btf.kernel.BuildItems) that holds them
    docs_section: str | None  # the ebpf-docs section with one page per item, named by its full name
    too_new_rule: str  # the scanner's rule code for "needs a newer kernel"
    unknown_rule: str  # ... and for "the knowledge base does not know it"
    colour: str  # in charts: the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies
    columns: tuple[str, ...] = ()  # the published table's columns beyond those every kind has
    searched: tuple[str, ...] = ("id", "name", "names")  # the columns its full-text search covers (the id: 195)

    @property
    def numbered(self) -> bool:
        """Identified by its enum value (helpers and the enums), not by name (kfuncs, features)."""
        return self.c_enum is not None


KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind(HELPER, "helper", "helpers", "helpers", "bpf_func_id", "BPF_FUNC_", "helpers", "helper-function",
         "KBG001", "KBG004", "#0072B2", ("gpl_only", "signature", "description", "returns", "alt_commit"),
         ("id", "name", "names", "signature", "description")),
    Kind(PROG_TYPE, "program type", "program types", "prog_types", "bpf_prog_type", "BPF_PROG_TYPE_", "prog_types",
         "program-type", "KBG009", "KBG020", "#009E73"),
    Kind(MAP_TYPE, "map type", "map types", "map_types", "bpf_map_type", "BPF_MAP_TYPE_", "map_types", "map-type",
         "KBG003", "KBG006", "#56B4E9"),
    Kind(ATTACH_TYPE, "attach type", "attach types", "attach_types", "bpf_attach_type", "BPF_", "attach_types", None,
         "KBG010", "KBG020", "#CC79A7"),
    Kind(LINK_TYPE, "link type", "link types", "link_types", "bpf_link_type", "BPF_LINK_TYPE_", "link_types", None,
         "KBG011", "KBG020", "#D55E00"),
    Kind(CMD, "bpf() command", "bpf() commands", "commands", "bpf_cmd", "BPF_", "cmds", "syscall", "KBG011", "KBG020",
         "#999999"),
    Kind(KFUNC, "kfunc", "kfuncs", "kfuncs", None, None, None, "kfuncs", "KBG002", "KBG005", "#E69F00", ("signature",),
         ("id", "signature")),
    Kind(FEATURE, "feature", "features", "features", None, None, None, None, "KBG011", "KBG020", "#F0E442",
         ("title", "detect", "libbpf"), ("id", "title", "detect", "libbpf")),
)}
ITEM_KINDS = tuple(KINDS)
# kind -> (C enum name in the UAPI header, enumerator prefix); stored names are full enumerators.
ENUM_KINDS = {k.name: (k.c_enum, k.prefix) for k in KINDS.values() if k.numbered and k.name != HELPER}
HELPER_ENUM = KINDS[HELPER].c_enum
# Kinds whose value is a number (the enum value); kfuncs and features are identified by name.
NUMBERED_KINDS = tuple(k.name for k in KINDS.values() if k.numbered)
# Helper enumerators are stored without this prefix (map_lookup_elem), as the kernel's FN() list spells them.
HELPER_PREFIX = KINDS[HELPER].prefix
# The published database's table of each kind, and back.
TABLE_OF_KIND = {k.name: k.table for k in KINDS.values()}
KIND_OF_TABLE = {k.table: k.name for k in KINDS.values()}


def is_numbered(kind: str) -> bool:
    return kind in NUMBERED_KINDS


def value_of(kind: str, text: str) -> int | str:
    """An item's value from its text form: the enum value as a number, a kfunc's or feature's name as is."""
    return int(text) if is_numbered(kind) else text


def is_sentinel(enumerator: str) -> bool:
    """``__MAX_BPF_REG``, ``MAX_BPF_LINK_TYPE``, ``__BPF_FUNC_MAX_ID``: counters, not features."""
    bare = enumerator.lstrip("_")
    return bare.startswith("MAX_") or bare.endswith("_MAX_ID")


# Trees: a line of history with releases (git), facts gathered from references, or one kernel build.
TREE_GIT = "git"
TREE_REFERENCE = "reference"
TREE_BUILD = "build"

# Sources: the part of a source id before the first colon says what kind of source it is.
SOURCE_GIT = "git"  # git:linux@0123456789ab:include/uapi/linux/bpf.h
SOURCE_REFERENCE = "reference"  # reference:bcc+ebpf-docs
SOURCE_HEADER = "header"  # header:/usr/include/linux/bpf.h@sha256:...
SOURCE_CURATED = "curated"  # curated:kbgen-brief
SOURCE_BTF = "btf"  # btf:vmlinuz-6.1.0-13-cloud-amd64@sha256:...
SOURCE_LIVE = "live"  # live:6.18.44@host

# Where two sources of one tree give an item, the fact of the higher one is used (the other is kept as a
# disagreement): what was read from the thing itself beats what references say about it.
SOURCE_PRIORITY = {
    SOURCE_LIVE: 55,  # what the running kernel loads, over what its BTF declares
    SOURCE_BTF: 50,
    SOURCE_GIT: 40,
    SOURCE_HEADER: 30,
    SOURCE_CURATED: 20,
    SOURCE_REFERENCE: 10,
}


def source_kind(source_id: str) -> str:
    return source_id.split(":", 1)[0]


def source_priority(source_id: str) -> int:
    return SOURCE_PRIORITY.get(source_kind(source_id), 0)
