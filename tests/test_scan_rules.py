"""The instruction rules (collectors.bpf.enums.INSN_RULES) on hand-assembled code, in both byte orders: the
encodings clang 14 cannot emit (gotol, may_goto, load-acquire, addr_space_cast), the field that tells an
encoding from its baseline twin, and loops told from blocks the compiler merely placed late."""

import struct

import pytest

from kb.formats.bpf import enums
from kb.formats.bpf.instructions import scan_code

EXIT = (0x95,)
MOV_R0_0 = (0xB7,)  # r0 = 0


def assemble(order, *instructions):
    code = b""
    for code_, *rest in instructions:
        dst, src, off, imm = (list(rest) + [0, 0, 0, 0])[:4]
        regs = (src << 4 | dst) if order == "<" else (dst << 4 | src)
        code += struct.pack(order + "BBhi", code_, regs, off, imm)
    return code


def hits(order, *instructions, starts=(0,)):
    code = assemble(order, *instructions)
    found = scan_code(code, 0, len(code), order, list(starts))
    return {rule: tuple(where) for (_function, rule), where in found.hits.items()}


ORDERS = pytest.mark.parametrize("order", ["<", ">"])


@ORDERS
@pytest.mark.parametrize("instruction, rule", [
    ((0x06, 0, 0, 0, 1), "gotol"),  # gotol +1
    ((0xE5, 0, 0, 1, 0), "may_goto"),  # may_goto +1
    ((0xDB, 1, 2, 0, 0x100), "load_acquire_store_release"),  # r2 = load_acquire((u64 *)(r1 + 0))
    ((0xD3, 1, 2, 0, 0x110), "load_acquire_store_release"),  # store_release((u8 *)(r1 + 0), w2)
    ((0xBF, 1, 2, 1, 1), "addr_space_cast"),  # r1 = addr_space_cast(r2, 0, 1)
    ((0xBF, 1, 2, 16, 0), "movsx"),  # r1 = (s16)r2
    ((0x3F, 1, 2, 1, 0), "sdiv_smod"),  # r1 s/= r2
    ((0x9C, 1, 2, 1, 0), "sdiv_smod"),  # w1 s%= w2
    ((0xD7, 1, 0, 0, 64), "bswap"),
    ((0x91, 1, 2, 0, 0), "ldsx"),
    ((0xCC, 1, 2, 0, 0), "alu32_arsh"),
    ((0x16, 1, 0, 1, 5), "jmp32"),  # if w1 == 5 goto +1
    ((0xAD, 1, 2, 1, 0), "jmp_ext"),  # if r1 < r2 goto +1
    ((0x30, 0, 0, 0, 12), "ld_abs"),
    ((0xDB, 1, 2, 0, 0x01), "atomic_fetch_add"),
    ((0xC3, 1, 2, 0, 0xA1), "atomic_bitwise"),  # atomic_fetch_xor, 32 bits
    ((0xDB, 1, 2, 0, 0xF1), "atomic_xchg_cmpxchg"),
    ((0xDB, 1, 2, 0, 0x00), "atomic_add"),
])
def test_each_rule_fires_on_its_encoding(order, instruction, rule):
    assert hits(order, MOV_R0_0, instruction, MOV_R0_0, EXIT) == {rule: (1, 1)}


@ORDERS
@pytest.mark.parametrize("instruction", [
    (0xBF, 1, 2, 0, 0),  # r1 = r2: the move movsx and addr_space_cast extend
    (0x3F, 1, 2, 0, 0),  # r1 /= r2: unsigned, the baseline twin of sdiv
    (0xE5, 0, 1, 1, 0),  # JCOND with src_reg 1: not may_goto
    (0xDB, 1, 2, 0, 0x42),  # an atomic operation no kernel defines
    (0x05, 0, 0, 1, 0),  # goto +1 (BPF_JMP, off): baseline
    (0xDC, 1, 0, 0, 64),  # be64: baseline byte swap
])
def test_baseline_twins_fire_nothing(order, instruction):
    assert hits(order, MOV_R0_0, instruction, MOV_R0_0, EXIT) == {}


@ORDERS
def test_one_finding_a_function_counting_the_rest(order):
    fetch = (0xDB, 1, 2, 0, 0x01)
    code = assemble(order, fetch, MOV_R0_0, fetch, EXIT, fetch, fetch, EXIT)
    scanned = scan_code(code, 0, len(code), order, [0, 4]).hits
    assert scanned == {(0, "atomic_fetch_add"): [0, 2], (1, "atomic_fetch_add"): [4, 2]}


@ORDERS
def test_a_simple_loop(order):
    found = hits(order, MOV_R0_0, (0x07, 0, 0, 0, 1), (0xA5, 0, 0, -2, 10), EXIT)  # r0 += 1; if r0 < 10 goto -2
    assert found == {"jmp_ext": (2, 1), "back_edge": (2, 1)}


@ORDERS
def test_a_gotol_loop(order):
    found = hits(order, MOV_R0_0, (0x07, 0, 0, 0, 1), (0x06, 0, 0, 0, -2), EXIT)  # r0 += 1; gotol -2
    assert found == {"gotol": (2, 1), "back_edge": (2, 1)}


@ORDERS
def test_a_block_placed_late_is_not_a_loop(order):
    """A backward jump whose target never comes back to it: check_cfg() sees no back-edge."""
    found = hits(order,
                 MOV_R0_0,  # 0
                 (0x15, 1, 0, 2, 0),  # 1: if r1 == 0 goto +2 (to 4)
                 (0xB7, 0, 0, 0, 1),  # 2: r0 = 1
                 EXIT,  # 3
                 (0xB7, 0, 0, 0, 2),  # 4: r0 = 2, the block placed after the code it returns to
                 (0x05, 0, 0, -4, 0))  # 5: goto -4 (to 2)
    assert found == {}


@ORDERS
def test_a_loop_that_leaves_and_comes_back(order):
    """A cycle through two backward jumps, neither of which its target reaches by the code in between."""
    found = hits(order,
                 MOV_R0_0,  # 0
                 (0xB7, 1, 0, 0, 0),  # 1: r1 = 0
                 (0x07, 0, 0, 0, 1),  # 2: r0 += 1 (the loop's head)
                 (0x05, 0, 0, 2, 0),  # 3: goto +2 (to 6)
                 (0x25, 0, 0, 3, 10),  # 4: if r0 > 10 goto +3 (to 8: out)
                 (0x05, 0, 0, -4, 0),  # 5: goto -4 (to 2)
                 (0x07, 1, 0, 0, 1),  # 6: r1 += 1
                 (0x05, 0, 0, -4, 0),  # 7: goto -4 (to 4)
                 EXIT)  # 8
    assert found == {"back_edge": (5, 1)}


def test_rules_are_data_with_disjoint_opcodes():
    plain = [r for r in enums.INSN_RULES if r.field is None]
    seen = set()
    for rule in plain:
        assert not seen & rule.opcodes, rule.name
        seen |= rule.opcodes
    for rule in enums.INSN_RULES:
        assert rule.feature.split(".")[0] in ("isa", "verifier") and rule.text


@pytest.mark.parametrize("name, essential", [
    ("scx_bpf_dsq_insert___v2___compat", "scx_bpf_dsq_insert___v2"),  # only the last flavour goes
    ("scx_bpf_consume___old", "scx_bpf_consume"),
    ("bpf_task_acquire", "bpf_task_acquire"),
    ("x____y", "x____y"),  # four underscores: not a flavour separator
    ("a___", "a___"),
])
def test_kfunc_flavours_are_judged_by_the_name_libbpf_resolves(name, essential):
    from kb.scan.judge import essential_name

    assert essential_name(name) == essential
