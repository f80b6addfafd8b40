"""CO-RE relocations resolved against a target's BTF as libbpf resolves them: an unresolvable one the code reaches
is an error naming the type, member and source line; one a guard keeps the code from is fine."""

import json
from pathlib import Path

from btfbuild import INT_SIGNED, BTFBuilder, make_vmlinux
from click.testing import CliRunner

from kb.cli import cli
from kb.formats.bpf.elfobject import read_object
from kb.formats.btf import core
from kb.formats.btf.reader import parse_btf

BPF = Path(__file__).parent / "bpf"
CORE = str(BPF / "core.bpf.o")


def task_btf(*members) -> bytes:
    """A target kernel whose struct task_struct has *members*: names of (name, bit offset, bytes)."""
    b = BTFBuilder()
    types = {4: b.int("unsigned int", 4), 8: b.int("long", 8, INT_SIGNED)}
    b.struct("task_struct", 64, [(name, types[size], offset) for name, offset, size in members])
    return b.build()


def scan(tmp_path, btf: bytes, *args, container=None):
    path = tmp_path / "target.btf"
    path.write_bytes(container(btf) if container else btf)
    result = CliRunner().invoke(cli, ["scan", CORE, "--format", "json", "--btf", str(path), *args],
                                catch_exceptions=False)
    assert result.exit_code in (0, 1), result.output
    (obj,) = json.loads(result.stdout)["objects"]
    return result.exit_code, obj


def core_findings(obj):
    return {f["id"]: f for f in obj["findings"] if f["kind"] == "core"}


def test_a_member_the_target_lacks_is_an_error_with_its_line(user_db, tmp_path):
    status, obj = scan(tmp_path, task_btf(("__state", 32, 4)), "--kernel", "6.1")
    assert status == 1
    pid = core_findings(obj)["struct task_struct.pid"]
    assert (pid["status"], pid["rule"], pid["source"]["line"], pid["program"]) == (
        "unresolved", "core_relocation", 26, "on_switch")
    assert "target.btf has 1 candidate(s), none with that member" in pid["reason"]
    assert obj["core"] == {"target": "target.btf", "relocations": 4, "resolved": 2, "unresolved": 2}
    text = CliRunner().invoke(cli, ["scan", CORE, "--btf", str(tmp_path / "target.btf")])
    assert text.exit_code == 1
    assert "core struct task_struct.pid" in text.stdout and "core.bpf.c:26" in text.stdout


def test_the_same_read_with_the_member_present_is_fine(user_db, tmp_path):
    status, obj = scan(tmp_path, task_btf(("pid", 0, 4), ("__state", 32, 4)), "--kernel", "6.1")
    assert status == 0
    # The ___old flavor's read has no match, but only where __state is missing: the guard keeps the code from it.
    old = core_findings(obj)["struct task_struct___old.state"]
    assert (old["status"], old["guard"], old["source"]["line"]) == (
        "adapts", "the kernel lacks struct task_struct.__state", 25)
    assert set(core_findings(obj)) == {"struct task_struct___old.state"}


def test_an_older_kernel_takes_the_old_flavor(user_db, tmp_path):
    status, obj = scan(tmp_path, task_btf(("pid", 0, 4), ("state", 64, 8)))
    assert status == 0
    state = core_findings(obj)["struct task_struct.__state"]
    assert (state["status"], state["guard"]) == ("adapts", "the kernel has struct task_struct.__state")


def test_any_probe_source_serves_as_the_target(user_db, tmp_path):
    status, obj = scan(tmp_path, task_btf(("__state", 32, 4)), container=make_vmlinux)
    assert status == 1 and "struct task_struct.pid" in core_findings(obj)


def relocations(btf: bytes):
    obj = read_object(CORE)
    target = core.Target(parse_btf(btf), "t")
    return {(c.local, c.relocation.kind_name): core.resolve(obj.btf, c.relocation, target) for c in obj.core}


def test_values_are_libbpf_s():
    found = relocations(task_btf(("pid", 96, 4), ("__state", 160, 4)))
    assert found[("struct task_struct.__state", "field_exists")].value == 1
    assert found[("struct task_struct.__state", "byte_off")].value == 20
    assert found[("struct task_struct.pid", "byte_off")].value == 12
    poisoned = found[("struct task_struct___old.state", "byte_off")]
    assert (poisoned.value, poisoned.poisoned, poisoned.candidates) == (None, True, 1)


def test_two_candidates_disagreeing_is_libbpf_s_ambiguity_error():
    b = BTFBuilder()
    number = b.int("int", 4, INT_SIGNED)
    b.struct("task_struct", 8, [("pid", number, 0)])
    b.struct("task_struct___v2", 8, [("pid", number, 32)])
    found = relocations(b.build())[("struct task_struct.pid", "byte_off")]
    assert found.error and "ambiguity" in found.error


def test_bitfields_shift_as_libbpf_computes():
    local = BTFBuilder()
    unsigned = local.int("unsigned int", 4)
    local.struct("flags", 4, [("a", unsigned, 0, 3), ("b", unsigned, 3, 5)])
    target = BTFBuilder()
    unsigned_target = target.int("unsigned int", 4)
    target.struct("flags___x", 8, [("pad", unsigned_target, 0), ("b", unsigned_target, 40, 5)])
    local_btf, target_btf = parse_btf(local.build()), core.Target(parse_btf(target.build()))
    values = {}
    for kind in (core.BYTE_OFF, core.BYTE_SZ, core.SIGNED, core.LSHIFT_U64, core.RSHIFT_U64):
        relocation = core.CoreRelocation(".text", 0, 2, "0:1", kind)
        values[kind] = core.resolve(local_btf, relocation, target_btf).value
    # b: bits 40..44 of the target struct; a 4-byte load at byte 4 holds it at bits 8..12.
    assert values == {core.BYTE_OFF: 4, core.BYTE_SZ: 4, core.SIGNED: 0, core.LSHIFT_U64: 64 - (8 + 5),
                      core.RSHIFT_U64: 64 - 5}


def test_a_btf_source_that_is_no_kernel_is_bad_input(user_db, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a kernel\n")
    result = CliRunner().invoke(cli, ["scan", CORE, "--btf", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: not a kernel image") and len(result.stderr.splitlines()) == 1
