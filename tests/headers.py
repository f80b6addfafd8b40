"""Build bpf.h texts of each era, shaped like the real ones, for fixture histories."""

from __future__ import annotations

FORMATS = ("enum", "mapper", "mapper-ids")

DEFAULT_ENUMS = {
    "bpf_cmd": ["BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_PROG_LOAD"],
    "bpf_map_type": ["BPF_MAP_TYPE_UNSPEC", "BPF_MAP_TYPE_HASH"],
    "bpf_prog_type": ["BPF_PROG_TYPE_UNSPEC", "BPF_PROG_TYPE_SOCKET_FILTER"],
}
_SENTINELS = {
    "bpf_cmd": None,
    "bpf_map_type": None,
    "bpf_prog_type": None,
    "bpf_attach_type": "__MAX_BPF_ATTACH_TYPE",
    "bpf_link_type": "MAX_BPF_LINK_TYPE",
}


def _enum(name: str, entries: list[str]) -> str:
    lines = [f"enum {name} {{"]
    for entry in entries:
        lines.append(f"\t{entry},")
    if _SENTINELS.get(name):
        lines.append(f"\t{_SENTINELS[name]}")
    lines.append("};")
    return "\n".join(lines)


def _doc(name: str) -> str:
    return (
        f" * long bpf_{name}(void *ctx, u64 flags)\n"
        " * \tDescription\n"
        f" * \t\tDoes {name} things, with *flags*.\n"
        " *\n"
        " * \t\tA second paragraph.\n"
        " * \tReturn\n"
        " * \t\t0 on success, or a negative error in case of failure.\n"
        " *\n"
    )


def make_header(helpers, fmt: str = "mapper", enums: dict | None = None) -> str:
    """*helpers*: names in id order (list) or {id: name}; *enums*: C enum name -> enumerator lines."""
    if isinstance(helpers, dict):
        ids = dict(sorted(helpers.items()))
    else:
        ids = dict(enumerate(helpers))
    if fmt != "mapper-ids" and list(ids) != list(range(len(ids))):
        raise ValueError("positional formats need ids 0..n-1")
    parts = [
        "/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */",
        "/* Copyright (c) 2011-2014 PLUMgrid, http://plumgrid.com */",
        "#ifndef _UAPI__LINUX_BPF_H__",
        "#define _UAPI__LINUX_BPF_H__",
        "",
        "#include <linux/types.h>",
        "",
    ]
    for enum_name, entries in (enums if enums is not None else DEFAULT_ENUMS).items():
        parts += [_enum(enum_name, entries), ""]
    names = [n for n in ids.values()]
    if fmt == "enum":
        parts.append("enum bpf_func_id {")
        for value, name in ids.items():
            if value == 2:
                # Old headers documented helpers inline, commas and braces included.
                parts.append("\t/**\n\t * int bpf_probe_read(void *dst, int size, void *src) { a, b }\n\t */")
            parts.append(f"\tBPF_FUNC_{name}, /* {name}(ctx, flags) */")
        parts += ["\t__BPF_FUNC_MAX_ID,", "};"]
    else:
        parts.append("/*\n * Start of BPF helper function descriptions:\n *")
        parts.append("".join(_doc(n) for n in names if n != "unspec").rstrip("\n"))
        parts.append(" */")
        if fmt == "mapper":
            parts.append("#define __BPF_FUNC_MAPPER(FN)\t\t\\")
            parts += [f"\tFN({n}),\t\t\\" for n in names]
            parts += ["\t/* */", "", "#define __BPF_ENUM_FN(x) BPF_FUNC_ ## x"]
            parts += ["enum bpf_func_id {", "\t__BPF_FUNC_MAPPER(__BPF_ENUM_FN)", "\t__BPF_FUNC_MAX_ID,", "};"]
        else:
            parts.append("#define ___BPF_FUNC_MAPPER(FN, ctx...)\t\t\\")
            parts += [f"\tFN({n}, {v}, ##ctx)\t\t\\" for v, n in ids.items()]
            parts += ["\t/* */", ""]
            parts.append("#define __BPF_FUNC_MAPPER_APPLY(name, value, FN) FN(name),")
            parts.append("#define __BPF_FUNC_MAPPER(FN) ___BPF_FUNC_MAPPER(__BPF_FUNC_MAPPER_APPLY, FN)")
            parts += ["#define __BPF_ENUM_FN(x, y) BPF_FUNC_ ## x = y,"]
            parts += ["enum bpf_func_id {", "\t___BPF_FUNC_MAPPER(__BPF_ENUM_FN)", "\t__BPF_FUNC_MAX_ID,", "};"]
    parts += ["", "#endif /* _UAPI__LINUX_BPF_H__ */", ""]
    return "\n".join(parts)
