"""What kbgen calls things: item kinds, tree kinds, source kinds, and the mainline tree's name.

Constants as data, so that adding a kind is one line here and no other module spells a literal.
"""

from __future__ import annotations

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

# kind -> (C enum name in the UAPI header, enumerator prefix); stored names are full enumerators.
ENUM_KINDS = {
    PROG_TYPE: ("bpf_prog_type", "BPF_PROG_TYPE_"),
    MAP_TYPE: ("bpf_map_type", "BPF_MAP_TYPE_"),
    ATTACH_TYPE: ("bpf_attach_type", "BPF_"),
    LINK_TYPE: ("bpf_link_type", "BPF_LINK_TYPE_"),
    CMD: ("bpf_cmd", "BPF_"),
}
HELPER_ENUM = "bpf_func_id"
# Kinds whose value is a number (the enum value); kfuncs and features are identified by name.
NUMBERED_KINDS = (HELPER, *ENUM_KINDS)
ITEM_KINDS = (HELPER, *ENUM_KINDS, KFUNC, FEATURE)

# Helper enumerators are stored without this prefix (map_lookup_elem), as the kernel's FN() list spells them.
HELPER_PREFIX = "BPF_FUNC_"


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
