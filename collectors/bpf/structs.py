"""The binary structures of BPF objects, declared in one place."""

import struct

# struct bpf_insn: code, dst_reg:4 + src_reg:4 (nibble order follows the byte order), off, imm
INSN = "BBhi"
# struct bpf_map_def (legacy "maps" section): type, key_size, value_size, max_entries, map_flags
LEGACY_MAP_DEF = "IIIII"


def insn_struct(byte_order: str) -> struct.Struct:
    return struct.Struct(byte_order + INSN)
