"""Malformed inputs to the object reader: one clear error naming the file and what is wrong, never a traceback."""

import struct
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.cli import cli
from kb.formats.bpf.elfobject import ObjectError, parse_object
from kb.formats.bpf.instructions import DecodeError, decode

BPF = Path(__file__).parent / "bpf"
PERCPU = (BPF / "percpu.bpf.o").read_bytes()


def scan(path):
    return CliRunner().invoke(cli, ["scan", str(path)], catch_exceptions=False)


def test_not_elf(user_db, tmp_path):
    path = tmp_path / "prog.o"
    path.write_text("int main(void) { return 0; }\n")
    result = scan(path)
    assert result.exit_code == 2
    assert result.stderr == f"Error: {path}: not an ELF file (no ELF magic at offset 0)\n"


@pytest.mark.parametrize("length", [4, 20, 63, 200, len(PERCPU) // 2, len(PERCPU) - 1])
def test_truncated(user_db, tmp_path, length):
    path = tmp_path / "cut.o"
    path.write_bytes(PERCPU[:length])
    result = scan(path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {path}: ")
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.stderr


def _section_header_offset(data, index):
    e_shoff = struct.unpack_from("<Q", data, 0x28)[0]
    e_shentsize = struct.unpack_from("<H", data, 0x3A)[0]
    return e_shoff + index * e_shentsize


def _section_index(data, name):
    import io

    from elftools.elf.elffile import ELFFile

    elf = ELFFile(io.BytesIO(data))
    return [s.name for s in elf.iter_sections()].index(name)


@pytest.mark.parametrize("section", ["kprobe/do_nanosleep", ".BTF", ".maps"])
def test_section_size_lying_about_its_length(user_db, tmp_path, section):
    data = bytearray(PERCPU)
    index = _section_index(bytes(data), section)
    header = _section_header_offset(data, index)
    struct.pack_into("<Q", data, header + 0x20, 1 << 20)  # sh_size: a megabyte in a 5 KB file
    path = tmp_path / "lying.o"
    path.write_bytes(bytes(data))
    result = scan(path)
    assert result.exit_code == 2
    assert f"section {index} ({section}) claims 1048576 bytes at offset" in result.stderr
    assert "past the end of the file" in result.stderr


def test_code_section_not_a_whole_number_of_instructions(user_db, tmp_path):
    data = bytearray(PERCPU)
    header = _section_header_offset(data, _section_index(bytes(data), "kprobe/do_nanosleep"))
    size = struct.unpack_from("<Q", data, header + 0x20)[0]
    struct.pack_into("<Q", data, header + 0x20, size - 3)
    path = tmp_path / "odd.o"
    path.write_bytes(bytes(data))
    result = scan(path)
    assert result.exit_code == 2
    assert "kprobe/do_nanosleep" in result.stderr and "not a whole number of 8-byte instructions" in result.stderr


def test_broken_btf(user_db, tmp_path):
    data = bytearray(PERCPU)
    header = _section_header_offset(data, _section_index(bytes(data), ".BTF"))
    offset = struct.unpack_from("<Q", data, header + 0x18)[0]
    data[offset:offset + 2] = b"\x00\x00"  # the BTF magic
    path = tmp_path / "btf.o"
    path.write_bytes(bytes(data))
    result = scan(path)
    assert result.exit_code == 2
    assert "bad magic 0x0000 at byte 0" in result.stderr


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_decoder_fuzz(code):
    try:
        for insn in decode(code):
            assert 0 <= insn.src_reg < 16 and 0 <= insn.dst_reg < 16
            assert insn.offset < len(code)
    except DecodeError as err:
        assert "instruction" in str(err) or "ld_imm64" in str(err)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(PERCPU) - 1), st.integers(0, 255)), min_size=1, max_size=8),
       st.integers(64, len(PERCPU)))
def test_object_reader_fuzz(mutations, length):
    """Any corruption of a real object either still reads or gives ObjectError, never anything else."""
    data = bytearray(PERCPU)
    for offset, value in mutations:
        data[offset] = value
    try:
        parse_object(bytes(data[:length]), "fuzzed.o")
    except ObjectError as err:
        assert str(err).startswith("fuzzed.o: ")


GUARDED = (BPF / "guards.bpf.o").read_bytes()
CORE = (BPF / "core.bpf.o").read_bytes()


def test_a_co_re_relocation_outside_its_section(user_db, tmp_path):
    from kb.formats.bpf.elffile import ELFFile
    from kb.formats.bpf.elfobject import read_object

    obj = read_object(str(BPF / "core.bpf.o"))
    elf = ELFFile(CORE, "core.bpf.o")
    ext = elf.by_name[".BTF.ext"]
    # The first record's insn_off: the one the object reader saw at byte 16 (slot 2) of the program's section.
    record = CORE.find(struct.pack("<II", 16, obj.core[0].relocation.type_id), ext.offset)
    assert record > ext.offset
    data = bytearray(CORE)
    data[record : record + 4] = struct.pack("<I", 1 << 20)
    path = tmp_path / "core.o"
    path.write_bytes(bytes(data))
    result = scan(path)
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {path}: CO-RE relocation at byte {1 << 20} lies outside section "
                             "tp/sched/sched_switch\n")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([GUARDED, CORE]), st.lists(st.tuples(st.integers(64, 4096), st.integers(0, 255)), min_size=1,
                                                   max_size=8))
def test_guard_analysis_fuzz(data, mutations):
    """Corrupt jumps, kconfig loads and CO-RE records in objects with guards: read, or ObjectError."""
    data = bytearray(data)
    for offset, value in mutations:
        data[offset % len(data)] = value
    try:
        parse_object(bytes(data), "fuzzed.o")
    except ObjectError as err:
        assert str(err).startswith("fuzzed.o: ")
