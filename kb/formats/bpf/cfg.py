"""The control-flow graph of one BPF function: its basic blocks and the edges between them.

Built from the decoded instructions of the function's slots, as the verifier's ``check_cfg`` sees them: a block
starts at the function's first instruction, at every jump target and after every jump or exit; a conditional jump
has two successors (taken first, then the fall-through), ``goto`` one, ``exit`` none.  A call returns to the next
instruction.  Jumps that leave the function (malformed code) end their block with no successor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from kb.formats.bpf import enums, structs

CLASS_MASK = 0x07
OP_MASK = 0xF0
SOURCE_X = 0x08


# Conditional jumps of both classes, by opcode (the operation and source bits with the class).
CONDITIONAL = frozenset(klass | op | source for klass in (enums.CLASS_JMP, enums.CLASS_JMP32)
                        for op in enums.COND_OPS for source in (0, SOURCE_X))


class Insn(NamedTuple):
    slot: int  # in the section
    code: int
    dst: int
    src: int
    off: int
    imm: int  # for ld_imm64: the 64-bit immediate of both halves

    @property
    def klass(self) -> int:
        return self.code & CLASS_MASK

    @property
    def conditional(self) -> bool:
        return self.code in CONDITIONAL

    @property
    def width(self) -> int:
        return 2 if self.code == enums.CODE_LD_IMM64 else 1


@dataclass(slots=True)
class Block:
    start: int  # first slot (in the section)
    insns: list[Insn] = field(default_factory=list)
    successors: list[tuple[int, str]] = field(default_factory=list)  # (block start, "taken"|"fall"|"goto")

    @property
    def end(self) -> int:
        """The slot after the block's last instruction."""
        last = self.insns[-1]
        return last.slot + last.width


def decode_function(data, base: int, order: str, start: int, slots: int) -> list[Insn]:
    """The instructions of slots [start, start + slots) of the section whose bytes begin at *base* in *data*."""
    first = base + start * enums.INSN_SIZE
    raw = list(structs.insn_struct(order).iter_unpack(data[first : first + slots * enums.INSN_SIZE]))
    low_dst = order == "<"
    found = []
    at, end = 0, len(raw)
    while at < end:
        code, regs, off, imm = raw[at]
        dst, src = (regs & 0x0F, regs >> 4) if low_dst else (regs >> 4, regs & 0x0F)
        if code == enums.CODE_LD_IMM64 and at + 1 < end:
            imm = (imm & 0xFFFFFFFF) | (raw[at + 1][3] << 32)
            found.append(Insn(start + at, code, dst, src, off, imm))
            at += 2
            continue
        found.append(Insn(start + at, code, dst, src, off, imm))
        at += 1
    return found


def _target(insn: Insn) -> int | None:
    """The slot a jump goes to; None for what is not a jump (calls and exit included)."""
    code = insn.code
    if code == enums.CODE_GOTOL:
        return insn.slot + 1 + insn.imm
    if code == enums.CODE_JA or code == enums.CODE_MAY_GOTO or insn.conditional:
        return insn.slot + 1 + insn.off
    return None


def blocks(insns: list[Insn]) -> dict[int, Block]:
    """The basic blocks of a function, by first slot, in slot order."""
    if not insns:
        return {}
    first, end = insns[0].slot, insns[-1].slot + insns[-1].width
    slots = {insn.slot for insn in insns}
    leaders = {first}
    for insn in insns:
        target = _target(insn)
        if target is not None or insn.code == enums.CODE_EXIT:
            leaders.add(insn.slot + insn.width)
            if target is not None and target in slots:
                leaders.add(target)
    found: dict[int, Block] = {}
    block = None
    for insn in insns:
        if insn.slot in leaders:
            block = found[insn.slot] = Block(insn.slot)
        block.insns.append(insn)
    for block in found.values():
        last = block.insns[-1]
        after = block.end
        target = _target(last)
        if last.code == enums.CODE_EXIT:
            continue
        if target is not None:
            if target in found:
                block.successors.append((target, "taken" if last.conditional else "goto"))
            if (last.conditional or last.code == enums.CODE_MAY_GOTO) and after < end:
                block.successors.append((after, "fall"))
        elif after < end:
            block.successors.append((after, "fall"))
    return found
