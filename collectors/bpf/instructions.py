"""Decode BPF instructions and find the calls in them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from collectors.bpf import enums, structs


class DecodeError(ValueError):
    pass


@dataclass(frozen=True)
class Instruction:
    index: int  # slot number in the section (a 16-byte ld_imm64 takes two)
    code: int
    dst_reg: int
    src_reg: int
    off: int
    imm: int

    @property
    def offset(self) -> int:
        """Byte offset in its section."""
        return self.index * enums.INSN_SIZE

    @property
    def is_call(self) -> bool:
        return self.code == enums.CODE_CALL


def decode(code: bytes, byte_order: str = "<") -> Iterator[Instruction]:
    """Every instruction of a program section; the second half of an ld_imm64 is skipped, not decoded."""
    if len(code) % enums.INSN_SIZE:
        raise DecodeError(f"{len(code)} bytes is not a whole number of 8-byte instructions")
    insn = structs.insn_struct(byte_order)
    count = len(code) // enums.INSN_SIZE
    index = 0
    while index < count:
        op, regs, off, imm = insn.unpack_from(code, index * enums.INSN_SIZE)
        if byte_order == "<":
            dst, src = regs & 0x0F, regs >> 4
        else:
            dst, src = regs >> 4, regs & 0x0F
        yield Instruction(index, op, dst, src, off, imm)
        if op == enums.CODE_LD_IMM64:
            if index + 1 >= count:
                raise DecodeError(f"ld_imm64 at byte {index * enums.INSN_SIZE} has no second half")
            index += 2
        else:
            index += 1

