"""Needs a program reaches only where its own guard holds (LINUX_KERNEL_VERSION, CO-RE existence checks,
bpf_ksym_exists) do not raise its minimum; on a target the guard is evaluated; the report says how it adapts."""

import json
from pathlib import Path

from btfbuild import BTFBuilder
from click.testing import CliRunner

from kb.cli import cli
from kb.formats.bpf import guards
from kb.formats.bpf.elfobject import read_object

BPF = Path(__file__).parent / "bpf"


def scan(names, *args):
    paths = [str(BPF / f"{name}.bpf.o") for name in names]
    result = CliRunner().invoke(cli, ["scan", *paths, "--format", "json", *args], catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)["objects"]


def found(obj, kind, value):
    matches = [f for f in obj["findings"] if f["kind"] == kind and f["id"] == value]
    assert matches, f"no {kind} {value} in {[(f['kind'], f['id']) for f in obj['findings']]}"
    return matches[0]


def conditions(name, function):
    obj = read_object(str(BPF / f"{name}.bpf.o"))
    index = next(n for n, f in enumerate(obj.functions) if f.name == function)
    return {(start, end): guards.describe(condition) for start, end, condition in obj.guards[index]}


def test_the_reader_finds_where_each_guard_holds():
    # if (LINUX_KERNEL_VERSION >= KERNEL_VERSION(5, 19, 0)): the compiler tests 332544 s> version.
    assert conditions("guards", "by_version") == {
        (9, 16): "LINUX_KERNEL_VERSION ≥ 5.19", (16, 17): "LINUX_KERNEL_VERSION ≥ 5.19",
        (17, 23): "LINUX_KERNEL_VERSION < 5.19"}
    assert conditions("guards", "by_enum") == {
        (5, 8): "the kernel lacks enum bpf_func_id::BPF_FUNC_loop",
        (8, 16): "the kernel has enum bpf_func_id::BPF_FUNC_loop"}
    assert conditions("core", "on_switch") == {
        (4, 13): "the kernel has struct task_struct.__state",
        (13, 21): "the kernel lacks struct task_struct.__state"}
    assert conditions("weak_kfunc", "hold") == {
        (3, 6): "the kernel has kfunc bpf_task_acquire", (6, 8): "the kernel has kfunc bpf_task_acquire"}


def test_if_else_on_one_guard_joins_to_always():
    atom = guards.Atom(guards.KSYM, ("f",), "kfunc f", True)
    yes = guards.literal(guards.Literal(atom, "==", 1))
    no = guards.literal(guards.Literal(atom, "==", 0))
    assert guards.either(yes, no) == guards.TRUE
    assert guards.both(yes, no) == guards.FALSE
    version = guards.Atom(guards.KCONFIG, ("LINUX_KERNEL_VERSION",), "LINUX_KERNEL_VERSION", False)
    at_least = guards.literal(guards.Literal(version, ">=", 0x51300))
    below = guards.literal(guards.Literal(version, "<", 0x50A00))
    assert guards.both(at_least, below) == guards.FALSE
    assert guards.evaluate(at_least, lambda a: 0x50F00) is False
    assert guards.evaluate(at_least, lambda a: None) is None


def test_a_version_guard_does_not_raise_the_minimum(user_db):
    status, (obj,) = scan(["guards"])
    assert status == 0
    assert obj["min_kernel"] == "5.2"  # .kconfig and global data, not helper 195 (5.19) nor bpf_loop (5.17)
    percpu = found(obj, "helper", 195)
    assert (percpu["need"], percpu["requires"], percpu["guard"], percpu["otherwise"], percpu["source"]["line"]) == (
        "guarded", None, "LINUX_KERNEL_VERSION ≥ 5.19", "map_lookup_elem", 27)
    loop = found(obj, "helper", 181)
    assert (loop["need"], loop["guard"]) == ("guarded", "the kernel has enum bpf_func_id::BPF_FUNC_loop")


def test_on_an_older_kernel_the_guarded_call_adapts(user_db):
    status, (obj,) = scan(["guards"], "--kernel", "5.15.0-91-generic")
    assert status == 0
    assert found(obj, "helper", 195)["status"] == "adapts"  # 5.15 < 5.19: the code does not reach it
    # Without the target's BTF, enum bpf_func_id's members are the knowledge base's helpers: no bpf_loop in 5.15.
    assert found(obj, "helper", 181)["status"] == "adapts"
    status, (obj,) = scan(["guards"], "--kernel", "6.1")
    assert status == 0
    assert (found(obj, "helper", 195)["status"], found(obj, "helper", 181)["status"]) == ("ok", "ok")


def test_libbpf_s_own_kconfig_values_are_guards(user_db):
    status, (obj,) = scan(["guards"])
    cookie = found(obj, "helper", 174)
    assert (status, cookie["need"], cookie["guard"]) == (0, "guarded", "LINUX_HAS_BPF_COOKIE != 0")
    # libbpf sets LINUX_HAS_BPF_COOKIE where the kernel has bpf_get_attach_cookie (5.15).
    assert found(scan(["guards"], "--kernel", "5.10")[1][0], "helper", 174)["status"] == "adapts"
    assert found(scan(["guards"], "--kernel", "5.15")[1][0], "helper", 174)["status"] == "ok"


def test_the_text_report_says_how_the_program_adapts(user_db):
    result = CliRunner().invoke(cli, ["scan", str(BPF / "guards.bpf.o"), "--kernel", "5.15"])
    assert result.exit_code == 0
    assert ("only where LINUX_KERNEL_VERSION ≥ 5.19; otherwise map_lookup_elem (adapts: missing on the target, "
            "and not reached there)") in result.stdout


def enum_btf(with_loop: bool) -> bytes:
    b = BTFBuilder()
    values = [("BPF_FUNC_unspec", 0), ("BPF_FUNC_map_lookup_elem", 1)] + ([("BPF_FUNC_loop", 181)] if with_loop
                                                                           else [])
    b.enum("bpf_func_id", values)
    return b.build()


def test_an_enum_guard_is_read_from_the_target_btf(user_db, tmp_path):
    for with_loop, expected in ((False, "adapts"), (True, "ok")):
        path = tmp_path / f"loop-{with_loop}.btf"
        path.write_bytes(enum_btf(with_loop))
        # 5.10 has no bpf_loop: the target's BTF, not the version, says whether the code reaches the call.
        status, (obj,) = scan(["guards"], "--kernel", "5.10", "--btf", str(path))
        loop = found(obj, "helper", 181)
        assert (status, loop["status"]) == ((0, expected) if not with_loop else (1, "too_new"))


def test_a_guard_no_target_can_tell_depends_on_it(user_db):
    status, (obj,) = scan(["weak_unknown"], "--kernel", "6.1")
    assert status == 0
    call = found(obj, "kfunc", "bpf_kbgen_made_up")
    assert (call["status"], call["guard"]) == ("depends", "the kernel has kfunc bpf_kbgen_made_up")
