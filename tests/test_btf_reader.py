"""The BTF reader on real data: a running kernel's BTF and the .BTF of clang-built objects."""

import io
import os
import struct
from pathlib import Path

import pytest

from kb.formats.btf import enums
from kb.formats.btf.reader import BTFError, parse_btf

VMLINUX = "/sys/kernel/btf/vmlinux"
BPF = Path(__file__).parent / "bpf"


def object_btf(name):
    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO((BPF / name).read_bytes()))
    return elf.get_section_by_name(".BTF").data()


@pytest.fixture(scope="module")
def vmlinux():
    if not os.path.exists(VMLINUX):
        pytest.skip(f"{VMLINUX} not present on this machine")
    with open(VMLINUX, "rb") as handle:
        return parse_btf(handle.read())


def test_kernel_btf_parses_completely(vmlinux):
    assert len(vmlinux) > 10000
    kinds = {t.kind for t in vmlinux.types[1:]}
    assert {enums.KIND_INT, enums.KIND_PTR, enums.KIND_STRUCT, enums.KIND_FUNC, enums.KIND_FUNC_PROTO} <= kinds
    task = vmlinux.by_name("task_struct", enums.KIND_STRUCT)[0]
    assert "pid" in {m[0] for m in task.members}
    func_ids = vmlinux.by_name("bpf_func_id", enums.KIND_ENUM)[0]
    values = {name: value for name, value, _ in func_ids.members}
    assert values["BPF_FUNC_map_lookup_elem"] == 1
    # The running kernel's helper enum agrees with the header on every id both have.
    header = Path("/usr/include/linux/bpf.h")
    if header.exists():
        from kb.formats.header import parse_header

        for helper in parse_header(header.read_text()).helpers:
            if f"BPF_FUNC_{helper.name}" in values:
                assert values[f"BPF_FUNC_{helper.name}"] == helper.value


def test_every_type_reference_points_inside_the_table(vmlinux):
    for t in vmlinux.types[1:]:
        if t.kind in enums.REFERENCE_KINDS:
            assert 0 <= t.type < len(vmlinux), t


def test_object_btf_map_definition():
    btf = parse_btf(object_btf("percpu.bpf.o"))
    datasec = btf.datasec(".maps")
    (var_id, _offset, _size) = next(m[1:] for m in datasec.members)
    var = btf.type(var_id)
    assert var.kind == enums.KIND_VAR and var.name == "counts"
    definition = btf.resolve(var.type)
    member_type = {name: ty for name, ty, _ in definition.members}["type"]
    array = btf.resolve(btf.resolve(member_type).type)
    assert array.kind == enums.KIND_ARRAY and array.extra[2] == 6  # BPF_MAP_TYPE_PERCPU_ARRAY


def test_object_btf_names_the_kfunc_externs():
    btf = parse_btf(object_btf("kfunc.bpf.o"))
    funcs = {t.name: enums.FUNC_LINKAGE[t.vlen] for t in btf.types if t.kind == enums.KIND_FUNC}
    assert funcs["bpf_cpumask_create"] == "extern"
    assert funcs["make_mask"] == "global"


@pytest.mark.parametrize("mangle, message", [
    (lambda d: d[:10], "too short for a BTF header"),
    (lambda d: b"\x00\x00" + d[2:], "bad magic"),
    (lambda d: d[:2] + b"\x02" + d[3:], "BTF version 2"),
    (lambda d: d[:-40], "runs past the end of the data"),
])
def test_malformed_btf(mangle, message):
    with pytest.raises(BTFError, match=message):
        parse_btf(mangle(object_btf("percpu.bpf.o")))


def test_unknown_kind_names_its_offset():
    data = bytearray(object_btf("percpu.bpf.o"))
    hdr_len, type_off = struct.unpack_from("<II", data, 4)[0], struct.unpack_from("<I", data, 8)[0]
    start = hdr_len + type_off
    info = struct.unpack_from("<I", data, start + 4)[0]
    struct.pack_into("<I", data, start + 4, (info & ~(0x1F << 24)) | (31 << 24))
    with pytest.raises(BTFError, match=f"unknown BTF kind 31 at byte {start}"):
        parse_btf(bytes(data))


def test_a_last_type_whose_members_run_past_the_section_is_one_error():
    """A struct at the end of the type section whose member records are cut off (found by bench/fuzz_parsers.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from btfbuild import BTFBuilder

    b = BTFBuilder()
    int_ = b.int("int", 4, 1)
    b.struct("pair", 8, [("a", int_, 0), ("b", int_, 32)])
    data = bytearray(b.build())
    type_len = struct.unpack_from("<I", data, 12)[0]
    struct.pack_into("<I", data, 12, type_len - 24)  # the section ends right after the struct's btf_type
    with pytest.raises(BTFError):
        parse_btf(bytes(data))
