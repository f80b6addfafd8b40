"""BPF instruction-set and ELF constants as data (include/uapi/linux/bpf.h, bpf_common.h, elf.h)."""

# Instruction classes (code & 0x07).
CLASS_LD = 0x00
CLASS_LDX = 0x01
CLASS_ST = 0x02
CLASS_STX = 0x03
CLASS_ALU = 0x04
CLASS_JMP = 0x05
CLASS_JMP32 = 0x06
CLASS_ALU64 = 0x07

# Jump operations (code & 0xf0) and the one load that spans two slots.
OP_CALL = 0x80
OP_EXIT = 0x90
CODE_CALL = CLASS_JMP | OP_CALL  # 0x85
CODE_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW

# src_reg of a call says what imm means.
CALL_HELPER = 0  # imm: helper id (enum bpf_func_id)
PSEUDO_CALL = 1  # imm: relative offset of a BPF subprogram; with a relocation to an extern: a kfunc (clang)
PSEUDO_KFUNC_CALL = 2  # imm: BTF id of a kernel function (as libbpf rewrites it)

INSN_SIZE = 8

EM_BPF = 247
SHF_EXECINSTR = 0x4

# Sections that hold maps: BTF-defined (struct with __uint(type, ...)) and legacy struct bpf_map_def.
MAPS_SECTION = ".maps"
LEGACY_MAPS_SECTION = "maps"
