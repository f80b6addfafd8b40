"""The binary structures the live probe hands to bpf(), declared in one place.

``union bpf_attr`` is one union of per-command structs; the probe declares the three it uses, each with
every field up to the newest kernel's (6.18), and passes bpf() the size up to the end of the last field,
as libbpf does.  A kernel that knows fewer fields accepts a longer attr as long as the bytes it does not
know are zero, which they are: the probe never sets a field a kernel older than the program or map type
it probes would not know.

Every 64-bit field sits at a multiple of 8 by the order of the fields alone, so the layout is the same on
32-bit ABIs where a 64-bit integer aligns to 4 (i386): tests check that, and check the offsets against
the C header and against the running kernel's BTF.
"""

from __future__ import annotations

import ctypes
import struct
import sys

from collectors.live import enums
from kb.formats.btf import enums as btf_kinds

u8, u32, s32, u64 = ctypes.c_uint8, ctypes.c_uint32, ctypes.c_int32, ctypes.c_uint64


class _AttachTarget(ctypes.Union):
    _fields_ = [("attach_prog_fd", u32), ("attach_btf_obj_fd", u32)]


class ProgLoadAttr(ctypes.Structure):
    """``union bpf_attr`` as BPF_PROG_LOAD reads it."""

    _anonymous_ = ("_target",)
    _fields_ = [
        ("prog_type", u32),
        ("insn_cnt", u32),
        ("insns", u64),  # pointer to struct bpf_insn[insn_cnt]
        ("license", u64),  # pointer to a NUL-terminated string
        ("log_level", u32),
        ("log_size", u32),
        ("log_buf", u64),
        ("kern_version", u32),
        ("prog_flags", u32),
        ("prog_name", ctypes.c_char * enums.BPF_OBJ_NAME_LEN),
        ("prog_ifindex", u32),
        ("expected_attach_type", u32),
        ("prog_btf_fd", u32),
        ("func_info_rec_size", u32),
        ("func_info", u64),
        ("func_info_cnt", u32),
        ("line_info_rec_size", u32),
        ("line_info", u64),
        ("line_info_cnt", u32),
        ("attach_btf_id", u32),
        ("_target", _AttachTarget),
        ("core_relo_cnt", u32),
        ("fd_array", u64),
        ("core_relos", u64),
        ("core_relo_rec_size", u32),
        ("log_true_size", u32),
        ("prog_token_fd", s32),
        ("fd_array_cnt", u32),
        ("signature", u64),
        ("signature_size", u32),
        ("keyring_id", s32),
    ]


class MapCreateAttr(ctypes.Structure):
    """``union bpf_attr`` as BPF_MAP_CREATE reads it."""

    _fields_ = [
        ("map_type", u32),
        ("key_size", u32),
        ("value_size", u32),
        ("max_entries", u32),
        ("map_flags", u32),
        ("inner_map_fd", u32),
        ("numa_node", u32),
        ("map_name", ctypes.c_char * enums.BPF_OBJ_NAME_LEN),
        ("map_ifindex", u32),
        ("btf_fd", u32),
        ("btf_key_type_id", u32),
        ("btf_value_type_id", u32),
        ("btf_vmlinux_value_type_id", u32),
        ("map_extra", u64),
        ("value_type_btf_obj_fd", s32),
        ("map_token_fd", s32),
        ("excl_prog_hash", u64),
        ("excl_prog_hash_size", u32),
    ]


class BtfLoadAttr(ctypes.Structure):
    """``union bpf_attr`` as BPF_BTF_LOAD reads it."""

    _fields_ = [
        ("btf", u64),
        ("btf_log_buf", u64),
        ("btf_size", u32),
        ("btf_log_size", u32),
        ("btf_log_level", u32),
        ("btf_log_true_size", u32),
        ("btf_flags", u32),
        ("btf_token_fd", s32),
    ]


class CgroupStorageKey(ctypes.Structure):
    """``struct bpf_cgroup_storage_key``: the key of (per-cpu) cgroup storage maps."""

    _fields_ = [("cgroup_inode_id", u64), ("attach_type", u32)]


class InsnArrayValue(ctypes.Structure):
    """``struct bpf_insn_array_value``: the value of BPF_MAP_TYPE_INSN_ARRAY maps."""

    _fields_ = [("orig_off", u32), ("xlated_off", u32), ("jitted_off", u32), ("_reserved", u32)]


def attr_size(cls: type[ctypes.Structure]) -> int:
    """Bytes up to the end of the last field, the size libbpf passes bpf() (no tail padding)."""
    name = cls._fields_[-1][0]
    field = getattr(cls, name)
    return field.offset + field.size


# struct bpf_insn: code, dst_reg:4 + src_reg:4, off, imm.  The C bit-fields fill a byte from its low bits
# on little-endian machines and from its high bits on big-endian ones.
INSN = struct.Struct("=BBhi")


def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    regs = (dst | src << 4) if sys.byteorder == "little" else (dst << 4 | src)
    if imm >= 1 << 31:
        imm -= 1 << 32  # helper ids and other u32 immediates go in as the same 32 bits
    return INSN.pack(code, regs, off, imm)


def mov64_imm(dst: int, imm: int) -> bytes:
    return insn(enums.OP_MOV64_IMM, dst=dst, imm=imm)


def call_helper(helper_id: int) -> bytes:
    return insn(enums.OP_CALL, imm=helper_id)


def exit_insn() -> bytes:
    return insn(enums.OP_EXIT)


# BTF in the machine's byte order: struct btf_header (without the optional trailing fields newer kernels
# may define), struct btf_type, the INT encoding word and struct btf_member.
BTF_HEADER = struct.Struct("=HBBIIIII")
BTF_TYPE = struct.Struct("=III")
BTF_WORD = struct.Struct("=I")
BTF_MEMBER = struct.Struct("=III")


def btf_int(name_off: int, size: int, bits: int, encoding: int = 0) -> bytes:
    info = btf_kinds.KIND_INT << 24
    return BTF_TYPE.pack(name_off, info, size) + BTF_WORD.pack(encoding << 24 | bits)


def btf_struct(name_off: int, size: int, members: list[tuple[int, int, int]]) -> bytes:
    """A struct; members are ``(name_off, type_id, bit_offset)``."""
    info = btf_kinds.KIND_STRUCT << 24 | len(members)
    return BTF_TYPE.pack(name_off, info, size) + b"".join(BTF_MEMBER.pack(*m) for m in members)


def btf_blob(types: bytes, strings: bytes) -> bytes:
    """Raw BTF as BPF_BTF_LOAD takes it: header, then the type section, then the string section."""
    header = BTF_HEADER.pack(
        enums.BTF_MAGIC, enums.BTF_VERSION, 0, BTF_HEADER.size, 0, len(types), len(types), len(strings)
    )
    return header + types + strings
