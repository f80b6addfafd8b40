"""Each need `kbgen scan` judges, on a small object built for it (tests/bpf/*.bpf.c, `make -C tests/bpf`):
the finding's kind, the rule and reason that say why, its source line, and what it does to the minimum."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.formats.bpf.enums import INSN_RULES, LOOP_RULE

BPF = Path(__file__).parent / "bpf"


def scan(name, *args):
    result = CliRunner().invoke(cli, ["scan", str(BPF / f"{name}.bpf.o"), "--format", "json", *args],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    (obj,) = json.loads(result.stdout)["objects"]
    return result.exit_code, obj


def found(obj, kind, value):
    matches = [f for f in obj["findings"] if f["kind"] == kind and f["id"] == value]
    assert matches, f"no {kind} {value} in {[(f['kind'], f['id']) for f in obj['findings']]}"
    return matches[0]


def line(finding):
    return finding["source"]["line"] if finding["source"] else None


def setters(obj):
    return sorted((s["kind"], s["id"]) for s in obj["min_kernel_set_by"])


def test_lsm_program(user_db):
    status, obj = scan("lsm", "--kernel", "5.4")
    assert status == 1
    prog = found(obj, "prog_type", 29)
    assert (prog["name"], prog["first_release"], prog["status"], prog["rule"]) == (
        "BPF_PROG_TYPE_LSM", "5.7", "too_new", "section lsm+")
    assert prog["reason"] == 'SEC("lsm/file_open"): libbpf loads it as BPF_PROG_TYPE_LSM'
    assert (prog["program"], line(prog), prog["libbpf"]) == ("check_open", 8, "0.0.8")
    attach = found(obj, "attach_type", 27)
    assert (attach["name"], attach["need"], attach["requires"]) == ("BPF_LSM_MAC", "required", "5.7")
    sleepable = found(obj, "feature", "verifier.sleepable")
    assert (sleepable["rule"], sleepable["program"], sleepable["requires"], line(sleepable)) == (
        "section flag SEC_SLEEPABLE", "after_exec", "5.10", 14)
    assert (obj["min_kernel"], setters(obj), obj["min_libbpf"]) == ("5.10", [("feature", "verifier.sleepable")],
                                                                     "0.2")
    programs = {p["name"]: (p["prog_type"], p["attach_type"], p["libbpf"], p["min_kernel"]) for p in obj["programs"]}
    assert programs == {"check_open": ("BPF_PROG_TYPE_LSM", "BPF_LSM_MAC", "0.0.8", "5.7"),
                        "after_exec": ("BPF_PROG_TYPE_LSM", "BPF_LSM_MAC", "0.2", "5.10")}
    assert scan("lsm", "--kernel", "5.10")[0] == 0


def test_fentry_program(user_db):
    status, obj = scan("fentry", "--kernel", "5.4")
    assert status == 1
    prog, attach = found(obj, "prog_type", 26), found(obj, "attach_type", 24)
    assert (prog["name"], prog["first_release"], line(prog)) == ("BPF_PROG_TYPE_TRACING", "5.5", 8)
    assert (attach["name"], attach["status"], attach["reason"]) == (
        "BPF_TRACE_FENTRY", "too_new", 'SEC("fentry/do_unlinkat"): expected attach type BPF_TRACE_FENTRY')
    assert obj["min_kernel"] == "5.5" and setters(obj) == [("attach_type", 24), ("prog_type", 26)]


def test_a_kprobe_only_object_has_a_minimum(user_db):
    _status, obj = scan("percpu")
    prog = found(obj, "prog_type", 2)
    assert (prog["name"], prog["requires"]) == ("BPF_PROG_TYPE_KPROBE", "4.1")


def test_a_bss_variable_is_global_data(user_db):
    status, obj = scan("globals", "--kernel", "5.1")
    assert status == 1
    data = found(obj, "feature", "verifier.global_data")
    assert (data["rule"], data["reason"], data["status"], data["requires"]) == (
        "global_data", "ld_imm64 of a global variable in .bss", "too_new", "5.2")
    assert (data["program"], data["insn"], line(data)) == ("count_opens", 0, 10)
    assert data["source"]["text"] == "opens += 1;"
    bss = found(obj, "map_type", 2)
    assert (bss["map"], bss["rule"], bss["section"]) == (".bss", "global_data", ".bss")
    assert obj["min_kernel"] == "5.2"


@pytest.mark.parametrize("name, below, first, expected", [
    ("loop", "5.2", "5.3", {"verifier.bounded_loops": ("back_edge", 11, 11, 1)}),
    ("jmp32", "5.0", "5.1", {"isa.jmp32_v3": ("jmp32", 2, 8, 1)}),
    ("atomics", "5.11", "5.12", {"isa.atomic_fetch_add": ("atomic_fetch_add", 3, 10, 1),
                                 "isa.atomic_xchg_cmpxchg": ("atomic_xchg_cmpxchg", 6, 11, 2),  # and cmpxchg, line 13
                                 "isa.atomic_bitwise": ("atomic_bitwise", 12, 14, 1)}),
    ("isa4", "6.5", "6.6", {"isa.sdiv_smod": ("sdiv_smod", 7, 16, 1), "isa.movsx": ("movsx", 14, 12, 1),
                            "isa.bswap": ("bswap", 16, 16, 1), "isa.ldsx": ("ldsx", 20, 16, 1)}),
])
def test_instruction_features(user_db, name, below, first, expected):
    """(rule, instruction, source line, how many in the function) of each feature the code shows."""
    status, obj = scan(name, "--kernel", below)
    assert status == 1
    for feature, (rule, insn, source_line, count) in expected.items():
        finding = found(obj, "feature", feature)
        assert (finding["rule"], finding["insn"], line(finding), finding["count"]) == (
            rule, insn, source_line, count), feature
        assert (finding["status"], finding["requires"], finding["first_release"]) == ("too_new", first, first)
        assert finding["reason"] == next(r.text for r in INSN_RULES + (LOOP_RULE,) if r.name == rule)
    assert obj["min_kernel"] == first and setters(obj) == [("feature", f) for f in sorted(expected)]
    assert scan(name, "--kernel", first)[0] == 0


def test_probe_read_kernel_is_handled_by_libbpf(user_db):
    status, obj = scan("probe_read", "--kernel", "5.4")
    assert status == 0
    call = found(obj, "helper", 113)
    assert (call["name"], call["first_release"], call["status"], call["need"]) == (
        "probe_read_kernel", "5.5", "handled", "sanitized")
    assert (call["libbpf"], call["requires"], call["rule"], line(call)) == (
        "0.2", "4.1", "helper.probe_read_kernel_fallback", 10)
    assert "rewrite it to helper 4 (probe_read)" in call["reason"]
    # It no longer raises the minimum: the kprobe program type and libbpf's replacement (4.1) set it.
    assert obj["min_kernel"] == "4.1" and obj["min_libbpf"] == "0.2"
    assert scan("probe_read", "--kernel", "4.0")[0] == 1


def test_weak_kfunc_is_optional(user_db):
    status, obj = scan("weak_kfunc", "--kernel", "6.1")
    assert status == 0  # tp_btf is there; the kfunc is not, and the program's bpf_ksym_exists() keeps it from it
    call = found(obj, "kfunc", "bpf_task_acquire")
    assert (call["status"], call["need"], call["requires"], call["first_release"], line(call)) == (
        "adapts", "optional", None, "6.2", 15)
    assert call["guard"] == "the kernel has kfunc bpf_task_acquire"
    assert "weak" in call["reason"]
    check = found(obj, "feature", "kfunc.exists_check")
    assert (check["rule"], check["status"], check["symbol"], line(check)) == (
        "kfunc_address", "optional", "bpf_task_acquire", 14)
    assert obj["min_kernel"] == "5.5"
    status, on_6_2 = scan("weak_kfunc", "--kernel", "6.2")
    assert found(on_6_2, "kfunc", "bpf_task_acquire")["status"] == "ok"
    # There the kfunc exists, so bpf_ksym_exists() loads its address, which kernels before 6.4 refuse.
    assert status == 1
    assert (found(on_6_2, "feature", "kfunc.exists_check")["status"], on_6_2["min_kernel"]) == ("too_new", "6.4")
    assert scan("weak_kfunc", "--kernel", "6.4")[0] == 0


def test_extern_bpf_function_is_a_link_time_matter(user_db):
    status, obj = scan("ext_caller", "--kernel", "5.4")
    assert status == 0
    extern = found(obj, "extern", "shared_filter")
    assert (extern["status"], extern["need"], extern["rule"], extern["program"], line(extern)) == (
        "link", "link", "extern", "on_exec", 11)
    assert "resolved when the objects are linked" in extern["reason"]
    assert not [f for f in obj["findings"] if f["kind"] == "kfunc"]
    # The other object defines it as a global function; linked, the call is a BPF-to-BPF call.
    _status, callee = scan("ext_callee")
    assert found(callee, "feature", "verifier.global_functions")["symbol"] == "shared_filter"
    _status, linked = scan("linked")
    call = found(linked, "feature", "verifier.bpf2bpf_calls")
    assert (call["symbol"], call["program"], call["requires"]) == ("shared_filter", "on_exec", "4.16")
    assert not [f for f in linked["findings"] if f["kind"] == "extern"]


def test_struct_ops_map(user_db):
    status, obj = scan("struct_ops", "--kernel", "5.5")
    assert status == 1
    ops_map = found(obj, "map_type", 26)
    assert (ops_map["name"], ops_map["map"], ops_map["section"], ops_map["rule"], ops_map["status"]) == (
        "BPF_MAP_TYPE_STRUCT_OPS", "slow", ".struct_ops", "struct_ops", "too_new")
    feature = found(obj, "feature", "elf.struct_ops")
    assert (feature["rule"], feature["reason"], feature["requires"]) == (
        "struct_ops", "section .struct_ops: struct_ops maps", "5.6")
    programs = [(p["name"], p["prog_type"]) for p in obj["programs"]]
    assert programs == [("slow_init", "BPF_PROG_TYPE_STRUCT_OPS"), ("slow_ssthresh", "BPF_PROG_TYPE_STRUCT_OPS")]
    assert obj["min_kernel"] == "5.6"


def test_gpl_only_helper_in_a_non_gpl_object(user_db):
    status, obj = scan("nongpl")
    assert status == 1  # refused on every kernel, --kernel or not
    assert (obj["license"], obj["gpl_compatible"]) == ("BSD", False)
    refused = found(obj, "license", 35)
    assert (refused["status"], refused["need"], refused["rule"], refused["program"], line(refused)) == (
        "refused", "check", "gpl_only", "who", 8)
    assert refused["reason"].startswith('helper 35 (get_current_task) is GPL-only and the object has license "BSD"')


def test_helper_the_program_type_cannot_call(user_db):
    status, obj = scan("context", "--kernel", "6.1")
    assert status == 0  # the documented lists only warn: they miss pairs real kernels accept
    warning = found(obj, "context", 26)
    assert (warning["status"], warning["rule"], warning["program"], warning["insn"], line(warning)) == (
        "undocumented", "callable_from as documented", "misplaced", 4, 10)
    assert "skb_load_bytes is not callable from BPF_PROG_TYPE_KPROBE programs" in warning["reason"]


def test_section_names_libbpf_does_not_load(user_db):
    status, obj = scan("sections", "--kernel", "6.1")
    assert status == 1  # no libbpf loads hello/world: it has no program type
    unknown = found(obj, "section", "hello/world")
    assert (unknown["status"], unknown["rule"], unknown["program"], line(unknown)) == (
        "unknown", "libbpf_section", "unknown", 15)
    assert unknown["reason"] == 'no libbpf release loads SEC("hello/world") as a program'
    legacy = found(obj, "section", "socket/legacy")
    assert (legacy["status"], legacy["libbpf"], line(legacy)) == ("legacy", "0.8.3", 9)
    assert "libbpf 0.8.3 is the last release that loads" in legacy["reason"]
    programs = {p["name"]: (p["prog_type"], p["libbpf"]) for p in obj["programs"]}
    assert programs == {"old_style": ("BPF_PROG_TYPE_SOCKET_FILTER", None), "unknown": (None, None),
                        "on_demand": ("BPF_PROG_TYPE_XDP", "0.8.0")}  # SEC("?xdp"): not autoloaded, from 0.8.0
    assert obj["min_libbpf"] == "0.8.0"
    attach = found(obj, "attach_type", 37)
    assert (attach["name"], attach["need"], attach["requires"]) == ("BPF_XDP", "optional", None)


def test_inner_map_of_a_map_in_map(user_db):
    status, obj = scan("inner", "--kernel", "5.4")
    assert status == 1
    inner = found(obj, "map_type", 27)
    assert (inner["map"], inner["rule"], inner["status"], inner["reason"]) == (
        "rings.inner", "inner", "too_new", "inner map of a map-in-map")
    outer = found(obj, "map_type", 12)
    assert (outer["map"], outer["status"]) == ("rings", "ok")
    assert setters(obj) == [("map_type", 27)]
    mmapable = found(obj, "feature", "maps.mmapable")
    assert (mmapable["need"], mmapable["requires"], mmapable["status"], mmapable["rule"], mmapable["symbol"]) == (
        "required", "5.5", "too_new", "mmapable_map", "shared")
    (program,) = obj["programs"]
    assert program["min_kernel"] == "5.8"  # the program loads the outer map, and so the inner one


@pytest.mark.parametrize("name", ["lsm", "fentry", "globals", "loop", "jmp32", "atomics", "probe_read", "weak_kfunc",
                                  "ext_caller", "struct_ops", "nongpl", "context", "isa4", "linked",
                                  "sections", "inner"])
def test_every_finding_says_why(user_db, name):
    _status, obj = scan(name)
    for finding in obj["findings"]:
        assert finding["rule"] and finding["reason"], finding
        assert finding["need"] in ("required", "sanitized", "optional", "libbpf", "link", "check")
        if finding["insn"] is not None:
            assert finding["program"] and finding["source"]["file"].endswith(".bpf.c"), finding
