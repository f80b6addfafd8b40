"""A kernel module's BTF: the ``.BTF`` section of a ``.ko`` (as decompressed by the caller), split BTF over its
kernel's vmlinux BTF, and whether the module can register kfuncs at all.

A module registers kfuncs with ``register_btf_kfunc_id_set()``, whose sets (``BTF_KFUNCS_START`` ...
``BTF_KFUNCS_END``; ``BTF_SET8_START`` before 6.9) live in the module's ``.BTF_ids`` section, which
resolve_btfids fills in at build time and the kernel reads when the module loads.  pahole (1.25 and later)
tags as ``bpf_kfunc`` exactly the functions of those sets.  So a module without ``.BTF_ids`` registers no kfunc
and its BTF tags none: its section table says so, and its BTF need not be parsed.  A distribution kernel has
thousands of modules, a few hundred with ``.BTF_ids``.

Only the section headers and the names of the two sections are read, with :mod:`struct`, in place, every offset
checked against the buffer (pyelftools builds an object per header: ten times slower over thousands of files).
Errors are :class:`ModuleError` (a ValueError) naming the offset or the section.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from kb.formats.bpf import structs as elf_structs
from kb.formats.btf import structs
from kb.vocab.errors import KbgenError

BTF_SECTION = ".BTF"
KFUNC_SETS_SECTION = ".BTF_ids"
_ELF_MAGIC = b"\x7fELF"
_SHT_NOBITS = 8
_SHN_XINDEX = 0xFFFF
# ELF class -> (file header, section header) formats after the byte order.
_LAYOUTS = {1: (structs.ELF32_HEADER, structs.ELF32_SECTION_HEADER),
            2: (elf_structs.ELF64_HEADER, elf_structs.SECTION_HEADER)}


class ModuleError(KbgenError, ValueError):
    """Raised inside the reader; the probe turns it into a warning naming the module file."""


class ModuleBTF(NamedTuple):
    btf: bytes  # the module's split BTF (empty when it has no kfunc sets and read_module was asked to skip it)
    kfunc_sets: bool  # it has a .BTF_ids section: it may register kfuncs


class _Section(NamedTuple):
    type: int
    offset: int
    size: int


def is_elf(data) -> bool:
    return bytes(data[:4]) == _ELF_MAGIC


def read_module(data, *, skip_without_kfunc_sets: bool = False) -> ModuleBTF:
    """The ``.BTF`` of the module ELF in *data*, and whether it has ``.BTF_ids``.

    *skip_without_kfunc_sets*: leave out (empty) the BTF of a module without ``.BTF_ids``: it tells no kfunc.
    Raises :class:`ModuleError` for a file that is not a readable ELF or has no ``.BTF``.
    """
    sections = _sections(memoryview(data).cast("B"), (BTF_SECTION, KFUNC_SETS_SECTION))
    btf = sections.get(BTF_SECTION)
    if btf is None:
        raise ModuleError("no .BTF section")
    if btf.type == _SHT_NOBITS:
        raise ModuleError("section .BTF has no bytes in the file (SHT_NOBITS)")
    kfunc_sets = KFUNC_SETS_SECTION in sections
    if skip_without_kfunc_sets and not kfunc_sets:
        return ModuleBTF(b"", False)
    return ModuleBTF(bytes(data[btf.offset : btf.offset + btf.size]), kfunc_sets)


def _sections(view: memoryview, wanted: tuple[str, ...]) -> dict[str, _Section]:
    """The sections named in *wanted* that the ELF in *view* has (the first of each name)."""
    if not is_elf(view):
        raise ModuleError("not an ELF file (no ELF magic at offset 0)")
    if len(view) < 16:
        raise ModuleError(f"truncated ELF header ({len(view)} bytes)")
    elf_class, encoding = view[4], view[5]
    if elf_class not in _LAYOUTS or encoding not in (1, 2):
        raise ModuleError(f"ELF class {elf_class}, data encoding {encoding} at offset 4: neither ELF32 nor ELF64")
    order = "<" if encoding == 1 else ">"
    header = struct.Struct(order + _LAYOUTS[elf_class][0])
    entry = struct.Struct(order + _LAYOUTS[elf_class][1])
    if len(view) < header.size:
        raise ModuleError(f"truncated ELF header ({len(view)} bytes, {header.size} needed)")
    *_, shoff, _flags, _ehsize, _phentsize, _phnum, shentsize, shnum, shstrndx = header.unpack_from(view, 0)
    if shoff == 0 or shentsize != entry.size or shoff + entry.size > len(view):
        raise ModuleError(f"no section headers of {entry.size} bytes at offset 0x{shoff:x} "
                          f"(e_shentsize {shentsize}, {len(view)} bytes)")
    first = entry.unpack_from(view, shoff)
    shnum = shnum or first[5]  # extended numbering: the count is section 0's sh_size
    shstrndx = first[6] if shstrndx == _SHN_XINDEX else shstrndx
    if shoff + shnum * entry.size > len(view):
        raise ModuleError(f"{shnum} section headers at offset 0x{shoff:x} run past the end of the file "
                          f"({len(view)} bytes)")
    if not 0 <= shstrndx < shnum:
        raise ModuleError(f"section name table index {shstrndx} out of range (0..{shnum - 1})")
    names = entry.unpack_from(view, shoff + shstrndx * entry.size)
    names_start, names_end = names[4], names[4] + names[5]
    if names[1] == _SHT_NOBITS or names_end > len(view):
        raise ModuleError(f"section name table (section {shstrndx}) lies past the end of the file")
    targets = {name.encode() + b"\0": name for name in wanted}
    longest = max(map(len, targets))
    found: dict[str, _Section] = {}
    for index, (name, sh_type, _f, _a, offset, size, *_rest) in enumerate(entry.iter_unpack(
            view[shoff : shoff + shnum * entry.size])):
        at = names_start + name
        if at >= names_end:
            continue
        wanted_name = targets.get(bytes(view[at : min(at + longest, names_end)]).partition(b"\0")[0] + b"\0")
        if wanted_name is None or wanted_name in found:
            continue
        if sh_type != _SHT_NOBITS and offset + size > len(view):
            raise ModuleError(f"section {index} ({wanted_name}) claims {size} bytes at offset 0x{offset:x}, past "
                              f"the end of the file ({len(view)} bytes)")
        found[wanted_name] = _Section(sh_type, offset, size)
    return found
