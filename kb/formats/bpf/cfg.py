"""The control-flow graph of one BPF function: its basic blocks and the edges between them.

Built from the decoded instructions of the function's slots, as the verifier's ``check_cfg`` sees them: a block
starts at the function's first instruction, at every jump target and after every jump or exit; a conditional jump
has two successors (taken first, then the fall-through), ``goto`` one, ``exit`` none.  A call returns to the next
instruction.  Jumps that leave the function (malformed code) end their block with no successor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kb.formats.bpf import enums, structs
from kb.formats.bpf.instructions import registers

CLASS_MASK = 0x07
OP_MASK = 0xF0
SOURCE_X = 0x08


@dataclass(frozen=True, slots=True)
class Insn:
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
        return self.klass in (enums.CLASS_JMP, enums.CLASS_JMP32) and (self.code & OP_MASK) in enums.COND_OPS

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
    unpack = structs.insn_struct(order).unpack_from
    found = []
    slot, end = start, start + slots
    while slot < end:
        code, regs, off, imm = unpack(data, base + slot * enums.INSN_SIZE)
        dst, src = registers(regs, order)
        if code == enums.CODE_LD_IMM64 and slot + 1 < end:
            high = unpack(data, base + (slot + 1) * enums.INSN_SIZE)[3]
            imm = (imm & 0xFFFFFFFF) | (high << 32)
        found.append(Insn(slot, code, dst, src, off, imm))
        slot += 2 if code == enums.CODE_LD_IMM64 else 1
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
