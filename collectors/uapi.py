"""What the UAPI header calls things: the enums kbgen tracks and how their enumerators are spelled.

Constants as data, kept apart from the parser so that adding a kind is one line here.
"""

HEADER_PATH = "include/uapi/linux/bpf.h"

# kind -> (C enum name, enumerator prefix); the stored name is the full enumerator (BPF_PROG_TYPE_XDP).
ENUM_KINDS = {
    "prog_type": ("bpf_prog_type", "BPF_PROG_TYPE_"),
    "map_type": ("bpf_map_type", "BPF_MAP_TYPE_"),
    "attach_type": ("bpf_attach_type", "BPF_"),
    "link_type": ("bpf_link_type", "BPF_LINK_TYPE_"),
    "cmd": ("bpf_cmd", "BPF_"),
}

HELPER = "helper"
KFUNC = "kfunc"
ITEM_KINDS = (HELPER, *ENUM_KINDS, KFUNC)

# Helper enumerators are stored without this prefix (map_lookup_elem), as the kernel's FN() list spells them.
HELPER_PREFIX = "BPF_FUNC_"


def is_sentinel(enumerator: str) -> bool:
    """``__MAX_BPF_REG``, ``MAX_BPF_LINK_TYPE``, ``__BPF_FUNC_MAX_ID``: counters, not features."""
    bare = enumerator.lstrip("_")
    return bare.startswith("MAX_") or bare.endswith("_MAX_ID")
