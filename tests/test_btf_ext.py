"""The one ``.BTF.ext`` reader: source lines of instructions and CO-RE relocation records, against the objects'
own sources and libbpf's reading of the same records (bpftool -d gen min_core_btf, in the comments)."""

import io
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from kb.formats.btf.ext import BTFExt
from kb.formats.btf.reader import BTFError, parse_btf

BPF = Path(__file__).parent / "bpf"


def sections(name):
    elf = ELFFile(io.BytesIO((BPF / name).read_bytes()))
    return parse_btf(elf.get_section_by_name(".BTF").data()), elf.get_section_by_name(".BTF.ext").data()


def test_every_line_record_names_its_source_line():
    btf, data = sections("multi.bpf.o")
    ext = BTFExt(data, btf)
    assert {"tracepoint/syscalls/sys_enter_openat", "socket", ".text"} <= set(ext.blocks)
    source = (BPF / "multi.bpf.c").read_text().splitlines()
    for section in ext.blocks:
        offsets = ext.resolver(section).offsets
        for line in ext.resolver(section).many(list(offsets)):
            assert line.file == "./multi.bpf.c"  # relative: the Makefile maps the build directory to "."
            assert line.text == source[line.line - 1].strip(), (section, line)
    assert ext.resolver("socket")(0).line == source.index("int sock(struct __sk_buff *skb)") + 1
    assert ext.resolver("no such section") is None


def test_core_relocations_are_read_as_libbpf_reads_them():
    btf, data = sections("core.bpf.o")
    ext = BTFExt(data, btf)
    relocations = ext.core_relocations("tp/sched/sched_switch")
    # libbpf: relo #0 <field_exists> [5] struct task_struct.__state (0:1), #1 <byte_off> same,
    # #2 <byte_off> struct task_struct___old.state (0:0), #3 <byte_off> struct task_struct.pid (0:0)
    assert [(r.kind_name, btf.type(r.type_id).name, r.access) for r in relocations] == [
        ("field_exists", "task_struct", "0:1"), ("byte_off", "task_struct", "0:1"),
        ("byte_off", "task_struct___old", "0:0"), ("byte_off", "task_struct", "0:0")]
    assert ext.core_relocation_count == 4
    assert [r.insn_offset % 8 for r in relocations] == [0, 0, 0, 0]
    assert ext.core_relocations(".text") == []


def test_an_object_without_core_relocations_has_none():
    btf, data = sections("multi.bpf.o")
    assert BTFExt(data, btf).core_relocation_count == 0


@pytest.mark.parametrize("mangle, message", [
    (lambda d: d[:6], "too short for its header"),
    (lambda d: b"\x00\x00" + d[2:], "bad magic"),
    (lambda d: d[:2] + b"\x02" + d[3:], "version 2"),
    (lambda d: d[:-12], "runs past the section|run past the|truncated"),
])
def test_a_damaged_section_is_one_error_naming_the_byte(mangle, message):
    btf, data = sections("core.bpf.o")
    with pytest.raises(BTFError, match=message):
        BTFExt(mangle(data), btf)
