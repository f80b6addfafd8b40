"""What a program needs beyond its program type's release, from data/program_rules.tsv (facts with their source):
struct_ops types by kernel struct, sleepable uprobes, uprobes, sk_skb/verdict, sk_reuseport, test-only kfuncs."""

import struct

import pytest
from click.testing import CliRunner
from test_scan_needs import scan

from kb.formats.bpf import enums
from kb.formats.bpf.instructions import scan_code
from kb.store import program_rules
from kb.store.shipped import DataError


def test_a_sched_ext_scheduler_needs_6_12(user_db):
    status, obj = scan("sched_ext")
    assert (status, obj["min_kernel"]) == (0, "6.12")
    (ops,) = [f for f in obj["findings"] if f["kind"] == "struct_ops"]
    assert (ops["id"], ops["map"], ops["requires"], ops["rule"]) == (
        "sched_ext_ops", "minimal", "6.12", "program_rules struct_ops")
    assert "f0e1a0643a59" in ops["reason"]
    status, obj = scan("sched_ext", "--kernel", "6.6")
    assert status == 1
    assert [f["status"] for f in obj["findings"] if f["kind"] == "struct_ops"] == ["too_new"]
    assert scan("sched_ext", "--kernel", "6.12")[0] == 0


def test_the_target_btf_says_whether_the_kernel_registers_a_struct_ops_type(user_db, tmp_path):
    from btfbuild import BTFBuilder
    from test_scan_needs import BPF

    from kb.cli import cli

    b = BTFBuilder()
    b.struct("bpf_struct_ops_tcp_congestion_ops", 8, [])
    path = tmp_path / "no-scx.btf"
    path.write_bytes(b.build())
    result = CliRunner().invoke(cli, ["scan", str(BPF / "sched_ext.bpf.o"), str(BPF / "struct_ops.bpf.o"), "--kernel",
                                      "6.12", "--btf", str(path), "--summary"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].endswith("1 problem(s) on 6.12: struct_ops sched_ext_ops")
    assert "problem" not in result.stdout.splitlines()[1]


def test_tcp_congestion_ops_is_5_6(user_db):
    _status, obj = scan("struct_ops")
    (ops,) = [f for f in obj["findings"] if f["kind"] == "struct_ops"]
    assert (ops["id"], ops["requires"]) == ("tcp_congestion_ops", "5.6")


def test_each_program_section_gets_its_kernel(user_db):
    status, obj = scan("attach")
    programs = {p["section"]: p["min_kernel"] for p in obj["programs"]}
    assert programs == {"uprobe.s//bin/true:main": "6.0", "uprobe//bin/true:main": "4.3", "sk_skb/verdict": "5.13",
                        "sk_reuseport": "4.19"}
    status, obj = scan("attach", "--kernel", "5.13")
    assert status == 1
    failing = sorted((f["kind"], f["id"]) for f in obj["findings"] if f["status"] == "too_new")
    assert failing == [("program", "uprobe.s+")]
    reuse = [f for f in obj["findings"] if f["kind"] == "attach_type" and f["name"] == "BPF_SK_REUSEPORT_SELECT"]
    assert [(f["status"], f["need"]) for f in reuse] == [("optional", "optional")]


def test_test_only_kfuncs_are_known():
    rules = program_rules.load()
    assert rules.test_only_rule("bpf_kfunc_call_test_acquire").subject == "bpf_kfunc_call_test"
    assert rules.test_only_rule("bpf_fentry_test1") is not None
    assert rules.test_only_rule("bpf_task_acquire") is None


def test_every_rule_names_its_source():
    rules = program_rules.load()
    for fact in [*rules.struct_ops.values(), *rules.sections.values(), *rules.test_only]:
        assert fact.source


def test_a_rule_without_a_source_is_refused():
    with pytest.raises(DataError, match="no source"):
        program_rules.parse("rule\tsubject\trelease\tsource\tnote\nsection\tx+\t5.1\t\tnote\n", "rules.tsv")
    with pytest.raises(DataError, match="unknown rule"):
        program_rules.parse("rule\tsubject\trelease\tsource\tnote\nsections\tx+\t5.1\ts\tnote\n", "rules.tsv")


@pytest.mark.parametrize("op", [0xA0, 0xB0, 0xC0, 0xD0])
def test_jlt_jle_jslt_jsle_of_the_jmp32_class_are_jmp32(op):
    code = struct.pack("<BBhi", enums.CLASS_JMP32 | op, 1, 0, 5) + struct.pack("<BBhi", enums.CODE_EXIT, 0, 0, 0)
    found = scan_code(code, 0, len(code), "<", [0])
    assert {rule for _function, rule in found.hits} == {"jmp32"}
