"""The binary structures of BPF objects, declared in one place.

Formats take the byte order as their first character, '<' or '>', chosen from the ELF header's EI_DATA.
"""

import functools
import struct

# struct bpf_insn: code, dst_reg:4 + src_reg:4 (nibble order follows the byte order), off, imm
INSN = "BBhi"
# struct bpf_map_def (legacy "maps" section): type, key_size, value_size, max_entries, map_flags
LEGACY_MAP_DEF = "IIIII"

# e_ident: magic, EI_CLASS, EI_DATA, EI_VERSION, then padding to 16 bytes
ELF_IDENT = "4sBBB9x"
# Elf64_Ehdr after e_ident: e_type, e_machine, e_version, e_entry, e_phoff, e_shoff, e_flags, e_ehsize,
# e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx
ELF64_HEADER = "16xHHIQQQIHHHHHH"
# Elf64_Shdr: sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize
SECTION_HEADER = "IIQQQQIIQQ"
# Elf64_Sym: st_name, st_info (bind << 4 | type), st_other, st_shndx, st_value, st_size
SYMBOL = "IBBHQQ"
# Elf64_Rel: r_offset, r_info (symbol << 32 | type); Elf64_Rela adds r_addend
REL = "QQ"
RELA = "QQq"


def insn_struct(byte_order: str) -> struct.Struct:
    return compiled(byte_order, INSN)


@functools.lru_cache(maxsize=64)
def compiled(byte_order: str, fmt: str) -> struct.Struct:
    return struct.Struct(byte_order + fmt)


def size(fmt: str) -> int:
    return struct.calcsize("<" + fmt)
