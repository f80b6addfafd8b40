"""The binary structures of BTF, declared in one place (include/uapi/linux/btf.h).

Formats take the byte order as their first character, '<' or '>', chosen from the header's magic.
"""

import struct

from kb.formats.btf import enums

# struct btf_header: magic, version, flags, hdr_len, type_off, type_len, str_off, str_len
HEADER = "HBBIIIII"
# struct btf_type: name_off, info (vlen 0-15, kind 24-28, kind_flag 31), size or type
TYPE = "III"
# The data that follows a btf_type, per kind.
INT_DATA = "I"  # encoding 24-27, offset 16-23, bits 0-7
ARRAY_DATA = "III"  # type, index_type, nelems
MEMBER = "IIi"  # name_off, type, offset (bitfield size in 24-31 when kind_flag)
ENUM_VALUE = "Ii"  # name_off, val
ENUM64_VALUE = "IiI"  # name_off, val_lo32, val_hi32
PARAM = "II"  # name_off, type
VAR_DATA = "I"  # linkage
VAR_SECINFO = "III"  # type, offset, size
DECL_TAG_DATA = "i"  # component_idx


def size(fmt: str) -> int:
    return struct.calcsize("<" + fmt)


def unpack_from(order: str, fmt: str, data: bytes, offset: int) -> tuple:
    return struct.unpack_from(order + fmt, data, offset)

# struct btf_ext_header: magic, version, flags, hdr_len, func_info_off, func_info_len, line_info_off, line_info_len
EXT_HEADER = "HBBIIIII"
# struct btf_ext_info_sec: sec_name_off, num_info (then num_info records of the block's record size)
EXT_INFO_SEC = "II"
# struct bpf_line_info: insn_off (bytes, in an object file), file_name_off, line_off, line_col (line << 10 | col)
LINE_INFO = "IIII"
# After EXT_HEADER, when hdr_len says it is there: core_relo_off, core_relo_len.
EXT_CORE = "II"
# struct bpf_core_relo: insn_off, type_id, access_str_off, kind (enum bpf_core_relo_kind)
CORE_RELO = "IIII"

# kind -> (format of the data after its btf_type, True when that is one record per vlen member).
# Kinds not listed have no data after their btf_type.
KIND_DATA = {
    enums.KIND_INT: (INT_DATA, False),
    enums.KIND_ARRAY: (ARRAY_DATA, False),
    enums.KIND_STRUCT: (MEMBER, True),
    enums.KIND_UNION: (MEMBER, True),
    enums.KIND_ENUM: (ENUM_VALUE, True),
    enums.KIND_FUNC_PROTO: (PARAM, True),
    enums.KIND_VAR: (VAR_DATA, False),
    enums.KIND_DATASEC: (VAR_SECINFO, True),
    enums.KIND_DECL_TAG: (DECL_TAG_DATA, False),
    enums.KIND_ENUM64: (ENUM64_VALUE, True),
}

# A kernel module's ELF (kb.formats.btf.module): ELF64's headers are kb.formats.bpf.structs'; a 32-bit kernel's
# modules are ELF32.  Elf32_Ehdr after e_ident: e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags,
# e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
ELF32_HEADER = "16xHHIIIIIHHHHHH"
# Elf32_Shdr: sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize
ELF32_SECTION_HEADER = "IIIIIIIIII"
