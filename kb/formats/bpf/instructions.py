"""Decode BPF instructions, and scan a code section for the few that matter without decoding the rest.

:func:`decode` yields every instruction (for tests and small inputs).  :func:`scan_code` is what the object
reader uses: it takes the opcode bytes of a window of the section in one strided slice and finds calls,
instructions that show a need (:data:`enums.INSN_RULES`) and backward jumps with ``bytes.translate``,
``find`` and big-integer masks, so that only those instructions are unpacked.  Windows bound the memory a
section of any size takes.  A function with a backward jump gets its control-flow graph built, to tell a
loop from a block the compiler merely placed late.
"""

from __future__ import annotations

import bisect
import heapq
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from kb.formats.bpf import enums, structs


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


def decode(code: bytes, byte_order: str = "<") -> Iterator[Instruction]:
    """Every instruction of a program section; the second half of an ld_imm64 is skipped, not decoded."""
    if len(code) % enums.INSN_SIZE:
        raise DecodeError(f"{len(code)} bytes is not a whole number of 8-byte instructions")
    insn = structs.insn_struct(byte_order)
    count = len(code) // enums.INSN_SIZE
    index = 0
    while index < count:
        op, regs, off, imm = insn.unpack_from(code, index * enums.INSN_SIZE)
        dst, src = registers(regs, byte_order)
        yield Instruction(index, op, dst, src, off, imm)
        if op == enums.CODE_LD_IMM64:
            if index + 1 >= count:
                raise DecodeError(f"ld_imm64 at byte {index * enums.INSN_SIZE} has no second half")
            index += 2
        else:
            index += 1


def check_length(size: int, last_opcode: int | None) -> None:
    """A code section is whole instructions and does not end in the first half of an ld_imm64 (the second half
    of one has opcode 0, so an ld_imm64 opcode in the last slot starts one)."""
    if size % enums.INSN_SIZE:
        raise DecodeError(f"{size} bytes is not a whole number of 8-byte instructions")
    if last_opcode == enums.CODE_LD_IMM64:
        raise DecodeError(f"ld_imm64 at byte {size - enums.INSN_SIZE} has no second half")


def registers(regs: int, byte_order: str) -> tuple[int, int]:
    """(dst_reg, src_reg) of the register byte: the nibble order follows the byte order."""
    return (regs & 0x0F, regs >> 4) if byte_order == "<" else (regs >> 4, regs & 0x0F)


def _table(codes, value: int = 1) -> bytes:
    return bytes(value if n in codes else 0 for n in range(256))


_OPCODE_RULES = [r for r in enums.INSN_RULES if r.field is None]
_FIELD_RULES = [r for r in enums.INSN_RULES if r.field is not None]
# Opcode -> number of its opcode-only rule (1-based), in one translate table; the rules' opcodes are disjoint.
_OPCODE_TABLE = bytes(next((n + 1 for n, r in enumerate(_OPCODE_RULES) if op in r.opcodes), 0) for op in range(256))
_FIELD_BY_OPCODE: dict[int, list] = {}
for _rule in _FIELD_RULES:
    for _op in _rule.opcodes:
        _FIELD_BY_OPCODE.setdefault(_op, []).append(_rule)
# Field rules on off that never accept 0 are looked at only where off is not 0 (0xbf is mov: most code).
_OFF_ONLY = {op for op, rules in _FIELD_BY_OPCODE.items()
             if all(r.field == "off" and 0 not in r.values for r in rules)}
_FIELD_TABLE = bytes(0 if op not in _FIELD_BY_OPCODE else 1 if op in _OFF_ONLY else 2 for op in range(256))
_FIRST_GROUP = _table({1})
_NONZERO = bytes([0] + [1] * 255)
_NEGATIVE = bytes([0] * 128 + [1] * 128)  # the high byte of a negative off
_OFF_JUMP_TABLE = _table(enums.OFF_JUMPS)
_CALL = re.compile(re.escape(bytes([enums.CODE_CALL])))
_MARKED = re.compile(rb"[^\x00]")
_CFG_CODES = enums.OFF_JUMPS | {enums.CODE_GOTOL, enums.CODE_EXIT}
_CFG = re.compile(b"[" + b"".join(re.escape(bytes([c])) for c in sorted(_CFG_CODES)) + b"]")
_GOTOL = bytes([_OPCODE_TABLE[enums.CODE_GOTOL]])

WINDOW = 1 << 19  # instruction slots per window: 4 MiB of code
CFG_LIMIT = 1 << 18  # jumps of one function beyond which a backward jump is taken for a loop without the graph
BACKWARD_LIMIT = 1 << 12  # backward jumps of one function kept for the loop check
SWEEPS = 16  # backward jumps tried as natural loops before the whole graph is walked


@dataclass
class CodeScan:
    """What :func:`scan_code` found in one section; slots are instruction numbers in the section."""

    slots: int
    calls: list[tuple[int, int, int]] = field(default_factory=list)  # (slot, src_reg, imm)
    hits: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # (function, rule) -> [first slot, count]

    def hit(self, function: int, rule: str, slot: int, count: int = 1) -> None:
        found = self.hits.get((function, rule))
        if found is None:
            self.hits[(function, rule)] = [slot, count]
        else:
            found[1] += count


def _positions(mask: int, length: int) -> list[int]:
    if not mask:
        return []
    return [m.start() for m in _MARKED.finditer(mask.to_bytes(length, "big"))]


def scan_code(buf, offset: int, size: int, order: str, starts: list[int]) -> CodeScan:
    """Scan the code at *offset* (*size* bytes) of *buf*; function *n* starts at slot ``starts[n]`` (sorted)
    and runs to the next start.  Instructions before the first function count as function -1."""
    scanner = _Scanner(buf, offset, size // enums.INSN_SIZE, order, starts)
    for w0 in range(0, scanner.found.slots, WINDOW):
        scanner.window(w0, min(scanner.found.slots, w0 + WINDOW))
    bounds = [*starts, scanner.found.slots]
    for function, jumps in sorted(scanner.backward.items()):
        start = starts[function] if function >= 0 else 0
        loop = _loop(buf, offset, order, start, bounds[function + 1], jumps)
        if loop is not None:
            scanner.found.hit(function, enums.LOOP_RULE.name, loop)
    return scanner.found


class _Scanner:
    def __init__(self, buf, offset: int, slots: int, order: str, starts: list[int]):
        self.buf, self.offset, self.order, self.starts = buf, offset, order, starts
        self.insn = structs.insn_struct(order)
        self.found = CodeScan(slots)
        self.backward: dict[int, list[tuple[int, int]]] = {}  # function -> its backward jumps (slot, target)
        self.base = self.w0 = 0

    def function_of(self, position: int) -> int:
        return bisect.bisect_right(self.starts, self.w0 + position) - 1

    def unpack(self, position: int) -> tuple[int, int, int, int]:
        """(code, src_reg, off, imm) of the instruction at *position* of the window."""
        code, regs, off, imm = self.insn.unpack_from(self.buf, self.base + position * enums.INSN_SIZE)
        return code, registers(regs, self.order)[1], off, imm

    def spans(self, w0: int, w1: int) -> list[tuple[int, int, int]]:
        """(function, first slot, end slot) of every function in the window, window-relative."""
        starts = self.starts
        bounds = [*starts, self.found.slots]
        spans = []
        if not starts or starts[0] > w0:
            spans.append((-1, 0, (min(starts[0], w1) if starts else w1) - w0))
        for n in range(max(0, bisect.bisect_right(starts, w0) - 1), len(starts)):
            if starts[n] >= w1:
                break
            a, b = max(starts[n], w0), min(bounds[n + 1], w1)
            if a < b:
                spans.append((n, a - w0, b - w0))
        return spans

    def window(self, w0: int, w1: int) -> None:
        buf, found = self.buf, self.found
        self.w0, self.base = w0, self.offset + w0 * enums.INSN_SIZE
        end = self.offset + w1 * enums.INSN_SIZE
        ops = bytes(buf[self.base:end:enums.INSN_SIZE])
        length = len(ops)

        marks = ops.translate(_OPCODE_TABLE)
        spans = None
        for rule_number in set(marks.translate(None, b"\0")):
            mark = bytes([rule_number])
            name = _OPCODE_RULES[rule_number - 1].name
            for function, a, b in spans or (spans := self.spans(w0, w1)):
                at = marks.find(mark, a, b)
                if at >= 0:
                    found.hit(function, name, w0 + at, marks.count(mark, a, b))

        low = bytes(buf[self.base + 2:end:enums.INSN_SIZE])  # off's two bytes, in the file's byte order
        high = bytes(buf[self.base + 3:end:enums.INSN_SIZE])
        if self.order == ">":
            low, high = high, low
        field_marks = ops.translate(_FIELD_TABLE)
        candidates = [m.start() for m in re.finditer(b"\x02", field_marks)]
        first_group = int.from_bytes(field_marks.translate(_FIRST_GROUP), "big")
        if first_group:
            nonzero_off = int.from_bytes(low.translate(_NONZERO), "big") | int.from_bytes(
                high.translate(_NONZERO), "big")
            candidates += _positions(first_group & nonzero_off, length)
        for position in sorted(candidates):
            code, src, off, imm = self.unpack(position)
            values = {"src": src, "off": off, "imm": imm}
            for rule in _FIELD_BY_OPCODE[code]:
                if values[rule.field] in rule.values:
                    found.hit(self.function_of(position), rule.name, w0 + position)

        positions = [m.start() for m in _CALL.finditer(ops)]
        if positions:
            unpack_from, base = self.insn.unpack_from, self.base
            raw = [unpack_from(buf, base + p * enums.INSN_SIZE) for p in positions]
            if self.order == "<":
                found.calls += [(w0 + p, r[1] >> 4, r[3]) for p, r in zip(positions, raw)]
            else:
                found.calls += [(w0 + p, r[1] & 0x0F, r[3]) for p, r in zip(positions, raw)]

        negative = int.from_bytes(ops.translate(_OFF_JUMP_TABLE), "big") & int.from_bytes(
            high.translate(_NEGATIVE), "big")
        for position in _positions(negative, length):
            self.jump_back(position, self.unpack(position)[2])
        for match in re.finditer(re.escape(_GOTOL), marks):
            imm = self.unpack(match.start())[3]
            if imm < 0:
                self.jump_back(match.start(), imm)

    def jump_back(self, position: int, offset: int) -> None:
        jumps = self.backward.setdefault(self.function_of(position), [])
        if len(jumps) < BACKWARD_LIMIT:
            slot = self.w0 + position
            jumps.append((slot, slot + 1 + offset))


def _loop(buf, offset: int, order: str, start: int, stop: int, jumps: list[tuple[int, int]]) -> int | None:
    """The slot of a jump that closes a cycle in the function's control flow, or None: the verifier's check_cfg()
    rejects a back-edge, not a backward jump (the compiler may place a block after the code it returns to)."""
    jumps = [(slot, target) for slot, target in jumps if start <= target <= slot]
    if not jumps:
        return None
    # Every cycle lies between the lowest target of a backward jump and the last backward jump: its lowest
    # instruction is entered by a backward jump, its highest leaves by one.
    flow = _Flow(buf, offset, order, min(t for _s, t in jumps), max(s for s, _t in jumps) + 1)
    # Most loops are natural: the target reaches the jump by the code between them.  Smallest first.
    for slot, target in sorted(jumps, key=lambda jump: jump[0] - jump[1])[:SWEEPS]:
        if flow.reaches(target, slot):
            return slot
    return flow.cycle(jumps[0][0])


class _Flow:
    """The jumps and exits of a region of a function, decoded when first looked at."""

    def __init__(self, buf, offset: int, order: str, low: int, high: int):
        self.buf, self.offset, self.low, self.high = buf, offset, low, high
        self.insn = structs.insn_struct(order)
        ops = bytes(buf[offset + low * enums.INSN_SIZE : offset + high * enums.INSN_SIZE : enums.INSN_SIZE])
        self.positions = [low + m.start() for m in _CFG.finditer(ops)]
        self.decoded: dict[int, tuple[int | None, bool]] = {}

    def end(self, slot: int) -> tuple[int | None, bool]:
        """(target or None for exit, whether it also falls through) of the jump or exit at *slot*."""
        found = self.decoded.get(slot)
        if found is None:
            code, _regs, off, imm = self.insn.unpack_from(self.buf, self.offset + slot * enums.INSN_SIZE)
            if code == enums.CODE_EXIT:
                found = (None, False)
            else:
                found = (slot + 1 + (imm if code == enums.CODE_GOTOL else off), code not in enums.UNCONDITIONAL_JUMPS)
            self.decoded[slot] = found
        return found

    def reaches(self, source: int, goal: int) -> bool:
        """Whether *goal* is reached from *source* by jumps forward within [source, goal] (enough for a loop)."""
        positions = self.positions
        pending: list[int] = []  # forward targets not yet passed
        flowing = True
        at = bisect.bisect_left(positions, source)
        while at < len(positions) and positions[at] < goal:
            slot = positions[at]
            while pending and pending[0] <= slot:
                heapq.heappop(pending)
                flowing = True
            if flowing:
                target, flowing = self.end(slot)
                if target == goal:
                    return True
                if target is not None and slot < target < goal:
                    heapq.heappush(pending, target)
            at += 1
        return flowing or bool(pending)

    def cycle(self, fallback: int) -> int | None:
        """A depth-first walk from every jump: the jump of a back-edge, or None.  The nodes are the region's jumps
        and exits, each standing for the block it ends: a block is entered at a jump's target or after a jump,
        and runs to the next jump or exit."""
        positions, high = self.positions, self.high
        count = len(positions)
        if count > CFG_LIMIT:
            return fallback
        bisect_left = bisect.bisect_left

        def following(node: int) -> list[int]:
            target, falls = self.end(positions[node])
            found = []
            if target is not None and self.low <= target < high:
                at = bisect_left(positions, target)
                if at < count:
                    found.append(at)
            if falls and node + 1 < count:
                found.append(node + 1)
            return found

        state = bytearray(count)  # 1: on the walk's path, 2: done
        for root in range(count):
            if state[root]:
                continue
            state[root] = 1
            stack = [(root, iter(following(root)))]
            while stack:
                node, successors = stack[-1]
                for successor in successors:
                    seen = state[successor]
                    if seen == 1:
                        return positions[node]
                    if not seen:
                        state[successor] = 1
                        stack.append((successor, iter(following(successor))))
                        break
                else:
                    state[node] = 2
                    stack.pop()
        return None
