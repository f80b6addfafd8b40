"""Guards: the conditions a BPF function tests about the kernel it runs on, and where in the function each holds.

A program adapts to its kernel by testing values libbpf fills in at load time, and the verifier drops the branch
the value rules out (``opt_remove_dead_code``, ``sanitize_dead_code``):

* a ``.kconfig`` extern (``LINUX_KERNEL_VERSION``, ``CONFIG_*``), loaded through the pointer an ld_imm64 gives;
* a CO-RE existence relocation (``bpf_core_field_exists``, ``bpf_core_type_exists``, ``bpf_core_type_matches``,
  ``bpf_core_enum_value_exists``): the immediate of a mov or ld_imm64 libbpf sets to 1 or 0;
* the address of a weak ``__ksym`` (``bpf_ksym_exists``): an ld_imm64 libbpf leaves 0 where the kernel lacks it.

:func:`analyse` follows those values through registers and stack slots of one function (a forward data-flow over
its control-flow graph, :mod:`kb.formats.bpf.cfg`), turns each conditional jump on one of them into a
:class:`Literal` on the edges it leaves by, and computes for every block the condition under which it runs: a
disjunction of conjunctions of literals (:data:`TRUE` where no guard decides, :data:`FALSE` where contradicting
guards make it dead).  Conditions are kept small (at most :data:`MAX_TERMS` conjunctions of :data:`MAX_LITERALS`
literals); past that, a block is taken to run unconditionally, which is never wrong about a need (it only misses a
guard).
"""

from __future__ import annotations

import bisect
import heapq
from typing import NamedTuple

from kb.formats.bpf import cfg, enums

MAX_TERMS = 8
MAX_LITERALS = 8
MAX_SLOTS = 1 << 16  # functions longer than this are not analysed (every block unconditional)
MAX_PASSES = 64  # sweeps over the blocks before a condition that keeps changing is widened to TRUE

KCONFIG = "kconfig"
KSYM = "ksym"
CORE = "core"


class Atom(NamedTuple):
    """A value libbpf fills in at load time that code can test."""

    kind: str  # kconfig, ksym, core
    key: tuple  # kconfig: (name,); ksym: (name,); core: (section, instruction offset)
    text: str  # what it is, in words: "LINUX_KERNEL_VERSION", "kfunc bpf_task_acquire", "field task_struct.__state"
    boolean: bool  # 1 or 0 (exists or not), rather than a number


class Literal(NamedTuple):
    atom: Atom
    op: str  # "==", "!=", "<", ">="
    value: int

    def negate(self) -> Literal:
        if self.atom.boolean and self.op == "==" and self.value in (0, 1):
            return Literal(self.atom, "==", 1 - self.value)
        return Literal(self.atom, _NEGATION[self.op], self.value)

    def holds(self, value: int) -> bool:
        op = self.op
        return (value == self.value if op == "==" else value != self.value if op == "!=" else
                value < self.value if op == "<" else value >= self.value)

    @property
    def text(self) -> str:
        atom = self.atom
        if atom.boolean:
            return f"the kernel {'has' if self.holds(1) else 'lacks'} {atom.text}"
        value = _kernel_version(self.value) if atom.key == ("LINUX_KERNEL_VERSION",) else str(self.value)
        return f"{atom.text} {'≥' if self.op == '>=' else self.op} {value}"


_NEGATION = {"==": "!=", "!=": "==", "<": ">=", ">=": "<"}

Term = frozenset  # a conjunction of literals
Condition = frozenset  # a disjunction of terms
TRUE: Condition = frozenset({frozenset()})
FALSE: Condition = frozenset()


def _kernel_version(value: int) -> str:
    major, minor, patch = value >> 16, (value >> 8) & 0xFF, value & 0xFF
    return f"{major}.{minor}" + (f".{patch}" if patch else "")


def _consistent(term) -> bool:
    """Whether some value of each atom satisfies all of the term's literals on it."""
    by_atom: dict[Atom, list[Literal]] = {}
    for literal in term:
        by_atom.setdefault(literal.atom, []).append(literal)
    for atom, literals in by_atom.items():
        if atom.boolean:
            if not any(all(lit.holds(v) for lit in literals) for v in (0, 1)):
                return False
            continue
        low, high, equal, unequal = -(1 << 63), 1 << 64, None, set()
        for lit in literals:
            if lit.op == ">=":
                low = max(low, lit.value)
            elif lit.op == "<":
                high = min(high, lit.value)
            elif lit.op == "==":
                if equal is not None and equal != lit.value:
                    return False
                equal = lit.value
            else:
                unequal.add(lit.value)
        if equal is not None:
            if not low <= equal < high or equal in unequal:
                return False
        elif high - low <= len(unequal) and all(low <= v < high for v in unequal) or low >= high:
            return False
    return True


def _simplify(terms: set) -> Condition:
    terms = {t for t in terms if _consistent(t)}
    changed = True
    while changed:
        changed = False
        # Absorption: a term implied by a smaller one adds nothing.
        for term in sorted(terms, key=len):
            if term in terms and any(other < term for other in terms):
                terms.discard(term)
                changed = True
        # Resolution: (c and x) or (c and not x) is c.
        for term in list(terms):
            for literal in term:
                twin = (term - {literal}) | {literal.negate()}
                if twin in terms and term in terms:
                    terms -= {term, twin}
                    terms.add(term - {literal})
                    changed = True
                    break
    if len(terms) > MAX_TERMS or any(len(t) > MAX_LITERALS for t in terms):
        return TRUE
    return frozenset(terms)


def both(a: Condition, b: Condition) -> Condition:
    """a and b."""
    if a == TRUE or not b:
        return b
    if b == TRUE or not a:
        return a
    return _simplify({x | y for x in a for y in b})


def either(a: Condition, b: Condition) -> Condition:
    """a or b."""
    if a == TRUE or b == TRUE:
        return TRUE
    if a == b or not b:
        return a
    if not a:
        return b
    return _simplify(set(a) | set(b))


def literal(lit: Literal) -> Condition:
    return frozenset({frozenset({lit})})


def evaluate(condition: Condition, value_of) -> bool | None:
    """Whether *condition* holds where ``value_of(atom)`` gives each atom's value (None: not known)."""
    unknown = False
    for term in condition:
        result = True
        for lit in term:
            value = value_of(lit.atom)
            if value is None:
                result = None
            elif not lit.holds(value):
                result = False
                break
        if result is True:
            return True
        if result is None:
            unknown = True
    return None if unknown else False


def describe(condition: Condition) -> str:
    if condition == TRUE:
        return "always"
    if condition == FALSE:
        return "never"
    terms = sorted(" and ".join(sorted(lit.text for lit in term)) for term in condition)
    return " or ".join(f"({t})" if len(condition) > 1 and " and " in t else t for t in terms)


def atoms(condition: Condition) -> set[Atom]:
    return {lit.atom for term in condition for lit in term}


# -- the data-flow --------------------------------------------------------------------------------------------

# Register and stack values: None (not known), ("c", n) a constant, ("a", atom) an atom's value, ("p", atom) the
# address of a kconfig extern (its value is what a load through it gives).
_CMP = {0x10: "==", 0x50: "!=", 0x20: ">", 0x30: ">=", 0xA0: "<", 0xB0: "<=",
        0x60: ">", 0x70: ">=", 0xC0: "<", 0xD0: "<="}
_SWAP = {"==": "==", "!=": "!=", ">": "<", ">=": "<=", "<": ">", "<=": ">="}
_MEM = 0x60
_JSET = 0x40


def _normal(atom: Atom, op: str, value: int) -> Literal | None:
    """The literal ``atom op value`` with op one of ==, !=, <, >=; None where it says nothing (or is not
    understood)."""
    if op == ">":
        op, value = ">=", value + 1
    elif op == "<=":
        op, value = "<", value + 1
    lit = Literal(atom, op, value)
    if atom.boolean:
        true = [v for v in (0, 1) if lit.holds(v)]
        if len(true) != 1:
            return None
        return Literal(atom, "==", true[0])
    return lit


def _jump_literal(insn: cfg.Insn, regs) -> Literal | None:
    """The literal that holds on the taken edge of a conditional jump on an atom."""
    op = insn.code & cfg.OP_MASK
    left = regs[insn.dst]
    right = regs[insn.src] if insn.code & cfg.SOURCE_X else ("c", insn.imm)
    if op == _JSET:
        if left and left[0] == "a" and left[1].boolean and right and right[0] == "c" and right[1] & 1:
            return Literal(left[1], "==", 1)
        return None
    if op not in _CMP or not left or not right:
        return None
    if left[0] == "a" and right[0] == "c":
        return _normal(left[1], _CMP[op], right[1])
    if left[0] == "c" and right[0] == "a":
        return _normal(right[1], _SWAP[_CMP[op]], left[1])
    return None


def _alu(insn: cfg.Insn, regs: list, atom: Atom | None):
    """The value an ALU instruction leaves in its destination."""
    code, dst = insn.code, insn.dst
    op = code & cfg.OP_MASK
    register = bool(code & cfg.SOURCE_X)
    if op == 0xB0 and not register:  # mov imm: a CO-RE relocation may set it
        return ("a", atom) if atom is not None else ("c", insn.imm)
    if op == 0xB0 and insn.off == 0:  # mov reg
        return regs[insn.src]
    value = regs[dst]
    if op in (0x60, 0x70, 0xC0) and not register and insn.imm == 32 and value and value[0] == "a":
        return value  # the <<= 32, >>= 32 pair that widens a 32-bit value keeps a small value as it is
    if op == 0x00 and not register and value and value[0] == "c":
        return ("c", value[1] + insn.imm)
    return None


def _step(insn: cfg.Insn, regs: list, stack: dict, atoms_at: dict) -> None:
    """The effect of one instruction on the tracked values."""
    code, klass, dst = insn.code, insn.klass, insn.dst
    atom = atoms_at.get(insn.slot)
    if code == enums.CODE_LD_IMM64:
        regs[dst] = None if atom is None else ("p", atom) if atom.kind == KCONFIG else ("a", atom)
    elif klass in (enums.CLASS_ALU, enums.CLASS_ALU64) and dst < 10:
        regs[dst] = _alu(insn, regs, atom)
    elif klass == enums.CLASS_LDX and dst < 10:
        if (code & 0xE0) != _MEM:
            regs[dst] = None
        elif insn.src == 10:
            regs[dst] = stack.get(insn.off)
        else:
            base = regs[insn.src]
            regs[dst] = ("a", base[1]) if base and base[0] == "p" else None
    elif klass == enums.CLASS_STX and dst == 10 and (code & 0xE0) == _MEM:
        stack[insn.off] = regs[insn.src]
    elif klass == enums.CLASS_ST and dst == 10:
        stack[insn.off] = ("c", insn.imm)
    elif klass in (enums.CLASS_STX, enums.CLASS_ST) and dst == 10:
        stack.pop(insn.off, None)
    elif code == enums.CODE_CALL:
        for n in range(6):
            regs[n] = None
    elif klass == enums.CLASS_LD and dst < 10:  # LD_ABS/IND set r0
        regs[0] = None


def _merge(a, b):
    if a is None:
        return b
    regs = tuple(x if x == y else None for x, y in zip(a[0], b[0]))
    stack = {k: v for k, v in a[1].items() if b[1].get(k) == v}
    return regs, stack


def _region(graph: dict[int, cfg.Block], atoms_at: dict) -> tuple[set[int], set[int]]:
    """(the blocks an atom can reach, those of them also entered from elsewhere or first): values are tracked
    there only; from anywhere else a register or stack slot holds no atom, so a way in from there is unknown."""
    starts = sorted(graph)
    seeds = {starts[max(0, bisect.bisect_right(starts, slot) - 1)] for slot in atoms_at}
    region, todo = set(seeds), list(seeds)
    while todo:
        for successor, _how in graph[todo.pop()].successors:
            if successor not in region:
                region.add(successor)
                todo.append(successor)
    entered = {starts[0]} & region
    for start, block in graph.items():
        if start not in region:
            entered.update(s for s, _how in block.successors if s in region)
    return region, entered


def _values(graph: dict[int, cfg.Block], atoms_at: dict) -> dict[int, Literal] | None:
    """The literal each conditional jump on an atom makes true when taken; None when the values never settle."""
    region, entered = _region(graph, atoms_at)
    unknown = ((None,) * 11, {})
    state: dict[int, tuple] = dict.fromkeys(entered, unknown)
    todo = sorted(entered)
    queued = set(todo)
    literals: dict[int, Literal] = {}
    passes, limit = 0, MAX_PASSES * len(region)
    while todo:
        passes += 1
        if passes > limit:
            return None
        start = heapq.heappop(todo)
        regs, stack = state[start]
        regs, stack = list(regs), dict(stack)
        block = graph[start]
        for insn in block.insns[:-1]:
            _step(insn, regs, stack, atoms_at)
        last = block.insns[-1]
        if last.conditional:
            taken = _jump_literal(last, regs)
            if taken is None:
                literals.pop(start, None)
            else:
                literals[start] = taken
        _step(last, regs, stack, atoms_at)
        out = (tuple(regs), stack)
        queued.discard(start)
        for successor, _how in block.successors:
            before = state.get(successor)
            merged = _merge(before, out)
            if merged != before:
                state[successor] = merged
                if successor not in queued:
                    queued.add(successor)
                    heapq.heappush(todo, successor)
    return literals


def analyse(code: cfg.Code, atoms_at: dict[int, Atom]) -> list[tuple[int, int, Condition]]:
    """(first slot, end slot, condition) of every block of the function whose condition is not TRUE."""
    if not code.slots or not atoms_at or code.slots > MAX_SLOTS:
        return []
    graph = code.blocks()
    literals = _values(graph, atoms_at)
    if not literals:
        return []
    order = list(graph)
    edges: dict[int, list[tuple[int, Condition | None]]] = {}
    for start, block in graph.items():
        taken = literals.get(start)
        edges[start] = [(successor, None if taken is None else literal(taken if how == "taken" else taken.negate()))
                        for successor, how in block.successors]
    # Sweeps in slot order: a forward edge's condition is used in the same sweep, a back edge's (a loop) in the next.
    back: dict[int, Condition] = {}
    conditions: dict[int, Condition] = {}
    changed, passes = True, 0
    while changed and passes < MAX_PASSES:
        passes += 1
        incoming: dict[int, Condition] = {order[0]: TRUE}
        new_back: dict[int, Condition] = {}
        for start in order:
            here = either(incoming.get(start, FALSE), back.get(start, FALSE))
            incoming[start] = here
            if here == FALSE:
                continue
            for successor, guard in edges.get(start, ()):
                reached = here if guard is None else both(here, guard)
                into = new_back if successor <= start else incoming
                into[successor] = either(into.get(successor, FALSE), reached)
        changed = incoming != conditions or new_back != back
        conditions, back = incoming, new_back
    if changed:
        return []
    return [(start, graph[start].end, conditions.get(start, FALSE)) for start in order
            if conditions.get(start, FALSE) != TRUE]
