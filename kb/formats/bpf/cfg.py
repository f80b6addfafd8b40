"""The control-flow graph of one BPF function: its basic blocks and the edges between them.

Found from the opcodes alone, as the verifier's ``check_cfg`` sees them (instructions are decoded per block, when
asked for): a block starts at the function's first instruction, at every jump target and after every jump or
exit; a conditional jump has two successors (taken first, then the fall-through), ``goto`` one, ``exit`` none.  A
call returns to the next instruction.  Jumps that leave the function (malformed code) end their block with no
successor."""

from __future__ import annotations

import itertools
import re
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


class Block:
    """Slots [start, end) of a function: a basic block, its instructions decoded when first asked for."""

    __slots__ = ("_insns", "code", "end", "start", "successors")

    def __init__(self, code: Code, start: int, end: int):
        self.code = code
        self.start = start  # first slot (in the section)
        self.end = end  # the slot after its last instruction
        self.successors: list[tuple[int, str]] = []  # (block start, "taken"|"fall"|"goto")
        self._insns: list[Insn] | None = None

    @property
    def insns(self) -> list[Insn]:
        if self._insns is None:
            self._insns = self.code.decode(self.start, self.end)
        return self._insns


# Opcodes that end a block: jumps that take their offset from off (both classes, goto, may_goto), gotol, exit.
_ENDS = re.compile(b"[" + b"".join(re.escape(bytes([c])) for c in sorted(
    enums.OFF_JUMPS | {enums.CODE_GOTOL, enums.CODE_EXIT})) + b"]")
_FALLS = CONDITIONAL | {enums.CODE_MAY_GOTO}


class Code:
    """The code of one function: slots [start, start + slots) of a section whose bytes begin at *base*."""

    def __init__(self, data, base: int, order: str, start: int, slots: int):
        self.data, self.base, self.order, self.start, self.slots = data, base, order, start, slots
        self.insn = structs.insn_struct(order)

    def decode(self, first: int, stop: int) -> list[Insn]:
        """The instructions of section slots [first, stop); an ld_imm64 takes its second half from past stop."""
        offset = self.base + first * enums.INSN_SIZE
        limit = self.start + self.slots
        raw = list(self.insn.iter_unpack(self.data[offset : offset + (min(stop + 1, limit) - first) *
                                                   enums.INSN_SIZE]))
        low_dst = self.order == "<"
        found = []
        at, end = 0, stop - first
        while at < end:
            code, regs, off, imm = raw[at]
            dst, src = (regs & 0x0F, regs >> 4) if low_dst else (regs >> 4, regs & 0x0F)
            if code == enums.CODE_LD_IMM64 and at + 1 < len(raw):
                imm = (imm & 0xFFFFFFFF) | (raw[at + 1][3] << 32)
                found.append(Insn(first + at, code, dst, src, off, imm))
                at += 2
                continue
            found.append(Insn(first + at, code, dst, src, off, imm))
            at += 1
        return found

    def blocks(self) -> dict[int, Block]:
        """The basic blocks, by first slot, in slot order: found from the opcodes alone, without decoding the code
        between jumps."""
        base, slots, start = self.base + self.start * enums.INSN_SIZE, self.slots, self.start
        ops = bytes(self.data[base : base + slots * enums.INSN_SIZE : enums.INSN_SIZE])
        ends: dict[int, tuple[int, int | None]] = {}  # slot (function-relative) -> (opcode, target)
        leaders = {0}
        for match in _ENDS.finditer(ops):
            at = match.start()
            code, _regs, off, imm = self.insn.unpack_from(self.data, base + at * enums.INSN_SIZE)
            target = None if code == enums.CODE_EXIT else at + 1 + (imm if code == enums.CODE_GOTOL else off)
            ends[at] = (code, target)
            leaders.add(at + 1)
            if target is not None and 0 <= target < slots:
                leaders.add(target)
        bounds = sorted(n for n in leaders if n < slots) + [slots]
        found = {start + a: Block(self, start + a, start + b) for a, b in itertools.pairwise(bounds)}
        for block in found.values():
            last = block.end - 1 - start
            code, target = ends.get(last, (None, None))
            if code == enums.CODE_EXIT:
                continue
            if code is None:
                if block.end - start < slots:
                    block.successors.append((block.end, "fall"))
                continue
            if target is not None and start + target in found:
                block.successors.append((start + target, "taken" if code in CONDITIONAL else "goto"))
            if code in _FALLS and block.end - start < slots:
                block.successors.append((block.end, "fall"))
        return found
