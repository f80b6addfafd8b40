"""BPF instruction-set and ELF constants, and the rules that tell what an object needs, as data.

Constants from include/uapi/linux/bpf.h, bpf_common.h and elf.h; rules from the feature table's ``detect``
column (data/features.tsv), each naming the feature item (kind ``feature``) it shows the need of.
"""

from typing import NamedTuple

from kb.formats.btf import enums as btf

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
CODE_EXIT = CLASS_JMP | OP_EXIT  # 0x95
CODE_JA = CLASS_JMP  # 0x05: goto, offset in off
CODE_GOTOL = CLASS_JMP32  # 0x06: goto, offset in imm (ISA v4)
CODE_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW

# Conditional jump operations: JEQ JGT JGE JSET JNE JSGT JSGE, then JLT JLE JSLT JSLE (ISA v2).
COND_OPS = (0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0xA0, 0xB0, 0xC0, 0xD0)
SOURCES = (0x00, 0x08)  # BPF_K (imm), BPF_X (register)
CODE_MAY_GOTO = 0xE5  # BPF_JMP | BPF_JCOND | BPF_K

# src_reg of a call says what imm means.
CALL_HELPER = 0  # imm: helper id (enum bpf_func_id)
PSEUDO_CALL = 1  # imm: relative offset of a BPF subprogram; with a relocation to an extern: a kfunc (clang)
PSEUDO_KFUNC_CALL = 2  # imm: BTF id of a kernel function (as libbpf rewrites it)

INSN_SIZE = 8

# ELF (elf.h).
ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB = 1
ELFDATA2MSB = 2
EM_BPF = 247
MACHINES = {3: "EM_386", 8: "EM_MIPS", 20: "EM_PPC", 21: "EM_PPC64", 22: "EM_S390", 40: "EM_ARM", 62: "EM_X86_64",
            183: "EM_AARCH64", 243: "EM_RISCV", 258: "EM_LOONGARCH"}

SHT_NULL = 0
SHT_PROGBITS = 1
SHT_SYMTAB = 2
SHT_STRTAB = 3
SHT_RELA = 4
SHT_NOBITS = 8
SHT_REL = 9
SECTION_TYPES = {SHT_NULL: "SHT_NULL", SHT_PROGBITS: "SHT_PROGBITS", SHT_SYMTAB: "SHT_SYMTAB",
                 SHT_STRTAB: "SHT_STRTAB", SHT_RELA: "SHT_RELA", SHT_NOBITS: "SHT_NOBITS", SHT_REL: "SHT_REL"}
SHF_EXECINSTR = 0x4
SHN_UNDEF = 0
SHN_XINDEX = 0xFFFF

STB_WEAK = 2
STT_NOTYPE = 0
STT_OBJECT = 1
STT_FUNC = 2
STT_SECTION = 3

# Sections libbpf gives a meaning to (libbpf.c bpf_object__elf_collect).
TEXT_SECTION = ".text"
LICENSE_SECTION = "license"
MAPS_SECTION = ".maps"
LEGACY_MAPS_SECTION = "maps"
KCONFIG_SECTION = ".kconfig"
KSYMS_SECTION = ".ksyms"
ARENA_SECTION = ".addr_space.1"
GLOBAL_DATA_SECTIONS = (".data", ".bss", ".rodata")  # and NAME.anything: one internal array map each
STRUCT_OPS_SECTIONS = {  # section -> (feature, libbpf creates the map with BPF_F_LINK)
    ".struct_ops": "elf.struct_ops",
    ".struct_ops.link": "elf.struct_ops_link",
    "?.struct_ops": "elf.struct_ops",
    "?.struct_ops.link": "elf.struct_ops_link",
}
OPTIONAL_PREFIX = "?"  # ?.struct_ops: a struct_ops map not created unless asked for (elf.optional_struct_ops)

# The kernel's license_is_gpl_compatible() (include/linux/license.h): the licenses GPL-only helpers and kfuncs
# are allowed to.
GPL_COMPATIBLE_LICENSES = frozenset({"GPL", "GPL v2", "GPL and additional rights", "Dual BSD/GPL", "Dual MIT/GPL",
                                     "Dual MPL/GPL"})

# Helpers libbpf rewrites on a kernel without them (bpf_object__sanitize_prog): helper id -> the helper it uses.
SANITIZED_HELPERS = {112: 4, 113: 4, 114: 45, 115: 45}  # probe_read_{user,kernel}[_str] -> probe_read[_str]
SANITIZED_HELPERS_FEATURE = "helper.probe_read_kernel_fallback"
HELPER_TAIL_CALL = 12
BPF_MAXINSNS = 4096  # instructions a program may have on kernels without verifier.large_programs
BPF_F_MMAPABLE = 0x400


class InsnRule(NamedTuple):
    """Instructions that show a need: opcodes, optionally one field (src, off or imm) taking some values."""

    name: str
    feature: str
    opcodes: frozenset[int]
    text: str
    field: str | None = None
    values: frozenset[int] = frozenset()


def _ops(*codes) -> frozenset[int]:
    return frozenset(codes)


JMP32_CONDITIONAL = frozenset(CLASS_JMP32 | op | src for op in COND_OPS for src in SOURCES)
JMP_EXTENDED = frozenset(CLASS_JMP | op | src for op in (0xA0, 0xB0, 0xC0, 0xD0) for src in SOURCES)
ATOMIC_W_DW = _ops(0xC3, 0xDB)  # BPF_STX | BPF_ATOMIC | BPF_W, BPF_DW

INSN_RULES = (
    InsnRule("jmp32", "isa.jmp32_v3", JMP32_CONDITIONAL, "BPF_JMP32 conditional jump (class 0x06)"),
    InsnRule("gotol", "isa.gotol", _ops(CODE_GOTOL), "gotol: BPF_JMP32|BPF_JA, 32-bit offset (opcode 0x06)"),
    InsnRule("alu32_arsh", "isa.alu32_arsh", _ops(0xC4, 0xCC), "32-bit arithmetic right shift (opcode 0xc4/0xcc)"),
    InsnRule("jmp_ext", "isa.jmp_ext_v2", JMP_EXTENDED, "JLT/JLE/JSLT/JSLE jump (ISA v2)"),
    InsnRule("ld_abs", "isa.ld_abs", _ops(0x20, 0x28, 0x30, 0x40, 0x48, 0x50), "LD_ABS/LD_IND packet load"),
    InsnRule("ldsx", "isa.ldsx", _ops(0x81, 0x89, 0x91), "sign-extending load BPF_MEMSX (opcode 0x81/0x89/0x91)"),
    InsnRule("bswap", "isa.bswap", _ops(0xD7), "unconditional byte swap BPF_ALU64|BPF_END (opcode 0xd7)"),
    InsnRule("may_goto", "isa.may_goto", _ops(CODE_MAY_GOTO), "may_goto (opcode 0xe5, src_reg 0)", "src",
             _ops(0)),
    InsnRule("sdiv_smod", "isa.sdiv_smod", _ops(0x34, 0x3C, 0x37, 0x3F, 0x94, 0x9C, 0x97, 0x9F),
             "signed division or modulo (BPF_DIV/BPF_MOD with off 1)", "off", _ops(1)),
    InsnRule("movsx", "isa.movsx", _ops(0xBC, 0xBF), "sign-extending move (BPF_MOV|BPF_X with off 8/16/32)", "off",
             _ops(8, 16, 32)),
    InsnRule("addr_space_cast", "isa.addr_space_cast", _ops(0xBF), "addr_space_cast (opcode 0xbf, off 1)", "off",
             _ops(1)),
    InsnRule("atomic_add", "isa.xadd", ATOMIC_W_DW, "atomic add without fetch (BPF_ATOMIC imm 0x00)", "imm",
             _ops(0x00)),
    InsnRule("atomic_fetch_add", "isa.atomic_fetch_add", ATOMIC_W_DW, "atomic fetch-and-add (BPF_ATOMIC imm 0x01)",
             "imm", _ops(0x01)),
    InsnRule("atomic_bitwise", "isa.atomic_bitwise", ATOMIC_W_DW, "atomic and/or/xor (BPF_ATOMIC imm 0x40-0xa1)",
             "imm", _ops(0x40, 0x41, 0x50, 0x51, 0xA0, 0xA1)),
    InsnRule("atomic_xchg_cmpxchg", "isa.atomic_xchg_cmpxchg", ATOMIC_W_DW,
             "atomic exchange or compare-exchange (BPF_ATOMIC imm 0xe1/0xf1)", "imm", _ops(0xE1, 0xF1)),
    InsnRule("load_acquire_store_release", "isa.load_acquire_store_release", _ops(0xC3, 0xDB, 0xD3, 0xCB),
             "load-acquire or store-release (BPF_ATOMIC imm 0x100/0x110)", "imm", _ops(0x100, 0x110)),
)

# Jumps that take their offset from off: every conditional jump of both classes, goto, may_goto.
OFF_JUMPS = JMP32_CONDITIONAL | frozenset(CLASS_JMP | op | src for op in COND_OPS for src in SOURCES) | _ops(
    CODE_JA, CODE_MAY_GOTO)
UNCONDITIONAL_JUMPS = _ops(CODE_JA, CODE_GOTOL)
LOOP_RULE = InsnRule("back_edge", "verifier.bounded_loops", OFF_JUMPS | _ops(CODE_GOTOL),
                     "a jump back to an instruction that leads to it again (a loop)")


class Rule(NamedTuple):
    """A need shown by something other than one instruction's encoding: a relocation, a section, BTF."""

    name: str
    feature: str
    text: str


# ld_imm64 and call relocations, by what the symbol is.
REFERENCE_RULES = {r.name: r for r in (
    Rule("global_data", "verifier.global_data", "ld_imm64 of a global variable in {section}"),
    Rule("kconfig", "elf.kconfig", "ld_imm64 of the __kconfig extern {symbol}"),
    Rule("ksym_typed", "ksym.typed", "ld_imm64 of the typed __ksym {symbol}"),
    Rule("ksym_typeless", "ksym.typeless", "ld_imm64 of the typeless __ksym {symbol}"),
    Rule("ksym_weak", "ksym.weak", "ld_imm64 of the weak __ksym {symbol}"),
    Rule("kfunc_address", "kfunc.exists_check", "ld_imm64 of the address of kfunc {symbol} (bpf_ksym_exists)"),
    Rule("callback", "verifier.callbacks", "ld_imm64 of the address of function {symbol} (a callback)"),
    Rule("arena", "elf.arena_globals", "ld_imm64 of the arena variable {symbol}"),
    Rule("bpf2bpf_call", "verifier.bpf2bpf_calls", "call of the BPF function {symbol}"),
    Rule("kfunc_call", "kfunc.call", "call of the kfunc {symbol}"),
    Rule("kfunc_weak", "kfunc.weak", "call of the weak kfunc {symbol}"),
)}

# Needs of a whole program: the entry function and every subprogram it calls.
PROGRAM_RULES = {r.name: r for r in (
    Rule("tail_call_in_subprog", "verifier.tail_call_in_subprog", "bpf_tail_call in a program with BPF subprograms"),
    Rule("ld_abs_in_subprog", "verifier.ld_abs_in_subprog", "LD_ABS/LD_IND in a program with BPF subprograms"),
    Rule("large_program", "verifier.large_programs", "{count} instructions, over the old limit of 4096"),
)}

# Needs of the object: sections, maps and the kinds and names in its BTF.
SECTION_RULES = {r.name: r for r in (
    Rule("struct_ops", "elf.struct_ops", "section {section}: struct_ops maps"),
    Rule("struct_ops_link", "elf.struct_ops_link", "section {section}: struct_ops maps attached through a link"),
    Rule("optional_struct_ops", "elf.optional_struct_ops", "section {section}: struct_ops maps not created by default"),
    Rule("arena_section", "elf.arena_globals", "section .addr_space.1: arena global variables"),
    Rule("legacy_maps", "elf.legacy_maps", "section maps: legacy struct bpf_map_def maps (libbpf 1.0 refuses them)"),
    Rule("core_relocations", "core.relocations", ".BTF.ext has {count} CO-RE relocations"),
    Rule("mmapable_map", "maps.mmapable", "map {symbol} asks for BPF_F_MMAPABLE"),
)}
# Rules whose need is the kernel's whatever the feature's libbpf column says for other uses: libbpf drops
# BPF_F_MMAPABLE only from its own global-data maps, never from a map the object defines.
KERNEL_ONLY_RULES = frozenset({"mmapable_map"})

# BTF kind -> (rule, feature); an ENUM with kind_flag set (signed) counts as ENUM64.
BTF_KIND_RULES = {
    btf.KIND_FUNC: ("btf_func", "btf.func"),
    btf.KIND_FUNC_PROTO: ("btf_func", "btf.func"),
    btf.KIND_VAR: ("btf_var_datasec", "btf.datasec_var"),
    btf.KIND_DATASEC: ("btf_var_datasec", "btf.datasec_var"),
    btf.KIND_FLOAT: ("btf_float", "btf.float"),
    btf.KIND_DECL_TAG: ("btf_decl_tag", "btf.decl_tag"),
    btf.KIND_TYPE_TAG: ("btf_type_tag", "btf.type_tag"),
    btf.KIND_ENUM64: ("btf_enum64", "btf.enum64"),
}
BTF_SIGNED_ENUM_RULE = ("btf_signed_enum", "btf.enum64")
BTF_GLOBAL_FUNC_RULE = ("global_function", "verifier.global_functions")
# Names in the object's BTF that show a verifier feature: type tags, declaration tag prefixes, struct names.
BTF_TYPE_TAGS = {"kptr_ref": "verifier.kptr_ref", "kptr": "verifier.kptr_unref", "kptr_untrusted": "verifier.kptr_unref",
                 "percpu_kptr": "verifier.percpu_kptr"}
BTF_DECL_TAG_PREFIXES = {"arg:": "verifier.global_func_arg_tags", "contains:": "verifier.graph_collections"}
BTF_STRUCTS = {"bpf_spin_lock": "verifier.spin_lock", "bpf_timer": "verifier.timer", "bpf_wq": "verifier.workqueue",
               "bpf_dynptr": "verifier.dynptr", "bpf_list_head": "verifier.graph_collections",
               "bpf_rb_root": "verifier.graph_collections"}
