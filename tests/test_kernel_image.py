"""Kernel images: every container and codec the BTF can come in, and every way such a file can be broken."""

import gzip
import io
import lzma
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tracemalloc

import pytest
from btfbuild import (
    BANNER,
    CODECS,
    HEADER_VERSION,
    SHT_NOBITS,
    compress,
    kernel_btf,
    lz4_legacy,
    make_bzimage,
    make_elf,
    make_vmlinux,
    size_append,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kb.formats.btf.kernel import build_items
from kb.formats.kimage import KernelBTF, KernelImageError, codecs, read_kernel_btf, structs
from kb.formats.kimage.errors import FormatError
from kb.vocab.errors import KbgenError

BTF = kernel_btf()
VMLINUX = make_vmlinux(BTF)
RELEASE = "6.1.0-test-amd64"
SYS_BTF = "/sys/kernel/btf/vmlinux"


def package(codec):
    module = {"lz4": "lz4.block", "zstd": "zstandard"}.get(codec)
    if module:
        pytest.importorskip(module)


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def bzimage(codec, vmlinux=VMLINUX, **options):
    return make_bzimage(compress(codec, vmlinux) + size_append(vmlinux), **options)


def broken(path, *fragments):
    """read_kernel_btf(path) fails with one line that names the file and says each fragment."""
    with pytest.raises(KernelImageError) as caught:
        read_kernel_btf(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


# Containers.

@pytest.mark.parametrize("order", ["<", ">"])
def test_raw_btf(tmp_path, order):
    data = kernel_btf(byte_order=order)
    found = read_kernel_btf(write(tmp_path, "vmlinux.btf", data + b"\0" * 7))  # trailing bytes are not BTF
    assert found.container == "btf" and found.codec is None
    assert found.btf == data and found.byte_order == order and found.btf_offset == 0
    assert found.version is None and found.version_source is None
    assert build_items(found.parse()).helpers.values["map_lookup_percpu_elem"] == 195


@pytest.mark.parametrize("order, machine, name", [("<", 62, "EM_X86_64"), (">", 22, "EM_S390")])
def test_elf_vmlinux(tmp_path, order, machine, name):
    btf = kernel_btf(byte_order=order)
    found = read_kernel_btf(str(write(tmp_path, "vmlinux", make_vmlinux(btf, order, machine=machine))))
    assert found.container == "elf" and found.machine == name and found.btf == btf and found.byte_order == order
    assert found.version == RELEASE and found.version_source == "linux_banner"
    assert found.version_text == BANNER.removeprefix("Linux version ").strip()
    assert make_vmlinux(btf, order, machine=machine)[found.btf_offset:].startswith(btf)


def test_elf_without_banner_has_no_version(tmp_path):
    found = read_kernel_btf(write(tmp_path, "vmlinux", make_vmlinux(BTF, banner=None)))
    assert found.version is None and found.version_text is None and found.btf == BTF


def test_elf_is_read_lazily(tmp_path):
    """A vmlinux of 300 MB (sparse) is read without reading its sections that are not needed."""
    elf = bytearray(make_vmlinux(BTF))
    path = tmp_path / "vmlinux"
    with open(path, "wb") as handle:
        handle.write(elf)
        handle.truncate(300 << 20)
    tracemalloc.start()
    try:
        found = read_kernel_btf(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found.btf == BTF and peak < 20 << 20, peak


@pytest.mark.parametrize("codec", CODECS)
def test_bzimage_with_every_codec(tmp_path, codec):
    package(codec)
    found = read_kernel_btf(write(tmp_path, f"vmlinuz-{codec}", bzimage(codec)))
    assert isinstance(found, KernelBTF)
    assert found.container == f"bzimage+{codec}" and found.codec == codec
    assert found.decompressed_size == len(VMLINUX)
    assert found.btf == BTF and found.btf_offset == VMLINUX.index(BTF)
    assert found.version == RELEASE and found.version_text == HEADER_VERSION
    assert found.version_source == "boot header" and found.boot_protocol == "2.15"
    assert found.machine == "EM_X86_64"
    items = build_items(found.parse())
    assert items.kfuncs_tagged and "bpf_task_acquire" in items.kfuncs


def test_bzimage_without_a_version_pointer_falls_back_to_the_banner(tmp_path):
    found = read_kernel_btf(write(tmp_path, "vmlinuz", bzimage("gzip", version=None, protocol=0x020C)))
    assert found.version == RELEASE and found.version_source == "linux_banner"
    assert found.boot_protocol == "2.12"


def test_bzimage_setup_sects_zero_means_four(tmp_path):
    image = bytearray(bzimage("gzip", setup_sects=4))
    image[0x1F1] = 0
    assert read_kernel_btf(write(tmp_path, "vmlinuz", bytes(image))).btf == BTF


@pytest.mark.parametrize("codec", CODECS)
def test_compressed_vmlinux(tmp_path, codec):
    package(codec)
    found = read_kernel_btf(write(tmp_path, "vmlinux.z", compress(codec, VMLINUX)))
    assert found.container == f"elf+{codec}" and found.btf == BTF and found.version == RELEASE
    assert found.decompressed_size == len(VMLINUX)


def test_compressed_raw_btf(tmp_path):
    found = read_kernel_btf(write(tmp_path, "vmlinux.btf.gz", gzip.compress(BTF)))
    assert found.container == "btf+gzip" and found.btf == BTF


def btf_tar(members, fmt="xz"):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=f"w:{fmt}") as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_btfhub_archive(tmp_path):
    found = read_kernel_btf(write(tmp_path, "x.btf.tar.xz", btf_tar([("./5.4.0-1009-aws.btf", BTF)])))
    assert found.container == "btf.tar.xz" and found.codec == "xz" and found.btf == BTF
    assert found.version == "5.4.0-1009-aws" and found.version_source == "archive member name"


def test_tar_gz_and_plain_tar(tmp_path):
    found = read_kernel_btf(write(tmp_path, "a", btf_tar([("README", b"hello"), ("k.btf", BTF)], "gz")))
    assert found.container == "btf.tar.gz" and found.btf == BTF
    assert found.version is None  # "k" is no kernel release: the archive states none
    assert read_kernel_btf(write(tmp_path, "b", btf_tar([("k.btf", BTF)], ""))).container == "btf.tar"


def arm64_image(btf=BTF, banner=BANNER):
    head = bytearray(64)
    head[0x38:0x3C] = b"ARM\x64"
    return bytes(head) + b"\x00\x11" * 500 + b"\0" * 4 + btf + b"\0" * 100 + banner.encode() + b"\0" * 64


def test_arm64_image_gz(tmp_path):
    image = arm64_image()
    found = read_kernel_btf(write(tmp_path, "Image.gz", gzip.compress(image)))
    assert found.container == "image+gzip" and found.machine == "arm64 Image"
    assert found.btf == BTF and found.btf_offset == image.index(BTF) and found.version == RELEASE


def test_arm64_image_uncompressed_big_endian_btf(tmp_path):
    btf = kernel_btf(byte_order=">")
    found = read_kernel_btf(write(tmp_path, "Image", arm64_image(btf)))
    assert found.container == "image" and found.btf == btf and found.byte_order == ">"


def zboot(payload, comp_type=b"gzip"):
    head = bytearray(0x200)
    head[0:4], head[4:8] = b"MZ\0\0", b"zimg"
    struct.pack_into("<II", head, 8, len(head), len(payload))
    head[0x18 : 0x18 + len(comp_type)] = comp_type
    return bytes(head) + payload + b"\0" * 32


def test_arm64_zboot(tmp_path):
    found = read_kernel_btf(write(tmp_path, "vmlinuz", zboot(gzip.compress(arm64_image()))))
    assert found.container == "zboot+gzip" and found.btf == BTF and found.version == RELEASE
    assert found.decompressed_size == len(arm64_image())


def test_lz4_legacy_blocks_concatenated_streams_and_the_size_trailer():
    pytest.importorskip("lz4.block")
    data = os.urandom(3000) + b"\0" * 5000 + os.urandom(1000)
    stream = lz4_legacy(data, chunk=2048)
    assert bytes(codecs.decompress("lz4", stream)) == data
    assert bytes(codecs.decompress("lz4", stream + size_append(data))) == data
    second = lz4_legacy(b"tail" * 100)
    assert bytes(codecs.decompress("lz4", stream + second)) == data + b"tail" * 100
    with pytest.raises(FormatError, match=r"lz4 block at byte 0x[0-9a-f]+ says 0x[0-9a-f]+ bytes, only"):
        codecs.decompress("lz4", stream + struct.pack("<I", 12345))  # a 4-byte tail that is not the size


def test_lz4_legacy_as_the_lz4_tool_writes_it(tmp_path):
    pytest.importorskip("lz4.block")
    tool = shutil.which("lz4")
    if tool is None:
        pytest.skip("no lz4 tool")
    data = VMLINUX * 3
    done = subprocess.run([tool, "-l", "-9", "-c"], input=data, capture_output=True, check=True)
    assert bytes(codecs.decompress("lz4", done.stdout + size_append(data))) == data


def test_zstd_frames_with_and_without_content_size_and_the_zstd_tool():
    zstandard = pytest.importorskip("zstandard")
    data = VMLINUX * 5
    for with_size in (True, False):
        frame = zstandard.ZstdCompressor(write_content_size=with_size).compress(data)
        assert bytes(codecs.decompress("zstd", frame + size_append(data))) == data
    tool = shutil.which("zstd")
    if tool:  # from a pipe, as the kernel's build runs it: no content size in the frame
        done = subprocess.run([tool, "-19", "-c"], input=data, capture_output=True, check=True)
        assert bytes(codecs.decompress("zstd", done.stdout)) == data


def test_real_running_kernel_btf():
    if not os.path.exists(SYS_BTF):
        pytest.skip(f"{SYS_BTF} not present")
    found = read_kernel_btf(SYS_BTF)
    assert found.container == "btf" and found.version is None
    items = build_items(found.parse())
    assert items.helpers.values["map_lookup_percpu_elem"] == 195
    assert items.prog_types.values["BPF_PROG_TYPE_XDP"] == 6


def test_setup_header_layout_matches_the_boot_protocol():
    at = {name: structs.SETUP_HEADER_OFFSET + structs.offset_of(structs.SETUP_HEADER, name)
          for name, _fmt in structs.SETUP_HEADER}
    assert (at["setup_sects"], at["boot_flag"], at["header"], at["version"], at["kernel_version"]) == \
        (0x1F1, 0x1FE, 0x202, 0x206, 0x20E)
    assert (at["payload_offset"], at["payload_length"], at["kernel_info_offset"]) == (0x248, 0x24C, 0x268)
    assert structs.SETUP_HEADER_OFFSET + structs.size(structs.SETUP_HEADER) == 0x26C


def test_one_decompressed_copy(tmp_path):
    """A 24 MB vmlinux in a bzImage: the reader's peak is about one decompressed copy, not two."""
    padding = os.urandom(4 << 20) + b"\0" * (20 << 20)
    vmlinux = make_elf([(".text", padding), (".rodata", BANNER.encode()), (".BTF", BTF)])
    path = write(tmp_path, "vmlinuz", bzimage("gzip", vmlinux))
    tracemalloc.start()
    try:
        found = read_kernel_btf(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found.btf == BTF
    assert peak < len(vmlinux) * 1.5 + os.path.getsize(path) + (8 << 20), (peak, len(vmlinux))


# Malformed files: one line naming the file and where it broke.

def test_error_class():
    assert issubclass(KernelImageError, KbgenError) and KernelImageError("x").exit_code == 2


def test_not_a_kernel(tmp_path):
    broken(write(tmp_path, "notes.txt", b"just some text, no kernel here\n" * 20), "not a kernel image",
           "expected raw BTF", "found 6a 75 73 74")
    broken(write(tmp_path, "empty", b""), "not a kernel image", "nothing (empty)")


def test_unreadable(tmp_path):
    broken(tmp_path / "missing", "cannot read it", "No such file")
    broken(tmp_path, "cannot read it")  # a directory


def test_bad_boot_flag(tmp_path):
    image = bytearray(bzimage("gzip"))
    struct.pack_into("<H", image, 0x1FE, 0x1234)
    broken(write(tmp_path, "vmlinuz", bytes(image)), "boot_flag 0x1234 at 0x1fe, expected 0xaa55")


def test_old_boot_protocol(tmp_path):
    broken(write(tmp_path, "vmlinuz", bzimage("gzip", protocol=0x0206)), "boot protocol 2.06 at 0x206",
           "needs 2.08")


def test_boot_header_cut_short(tmp_path):
    broken(write(tmp_path, "vmlinuz", bzimage("gzip")[:0x230]), "too short for an x86 boot header")


@pytest.mark.parametrize("offset, length, fragment", [
    (0x10000, None, "past the end of the file"),
    (None, 1 << 24, "past the end of the file"),
    (None, 0, "payload is empty"),
])
def test_payload_outside_the_file(tmp_path, offset, length, fragment):
    image = bytearray(bzimage("gzip"))
    if offset is not None:
        struct.pack_into("<I", image, 0x248, offset)
    if length is not None:
        struct.pack_into("<I", image, 0x24C, length)
    message = broken(write(tmp_path, "vmlinuz-x", bytes(image)), fragment)
    if length:
        assert f"(0x{length:x} bytes), past the end of the file (0x{len(image):x} bytes)" in message


def test_payload_without_a_codec(tmp_path):
    broken(write(tmp_path, "vmlinuz", make_bzimage(b"\x00\x01\x02\x03" * 64)), "starts with 00 01 02 03",
           "no known compression magic")


def test_lzo_payload(tmp_path):
    broken(write(tmp_path, "vmlinuz", make_bzimage(b"\x89LZO\x00\r\n\x1a\n" + b"\0" * 64)), "lzo-compressed",
           "does not read lzo")


@pytest.mark.parametrize("codec", CODECS)
def test_truncated_payload(tmp_path, codec):
    package(codec)
    payload = compress(codec, VMLINUX)
    cut = payload[: len(payload) // 2]
    message = broken(write(tmp_path, "vmlinuz", make_bzimage(cut)), "payload at 0x")
    assert "ends early" in message or "truncated" in message or "corrupt" in message, message


@pytest.mark.parametrize("codec", CODECS)
def test_corrupt_payload(tmp_path, codec):
    package(codec)
    payload = bytearray(compress(codec, VMLINUX))
    middle = len(payload) // 2
    payload[middle : middle + 64] = bytes(64 * [0xA5])
    broken(write(tmp_path, "vmlinuz", make_bzimage(bytes(payload))), "payload at 0x")


def test_payload_that_is_not_elf(tmp_path):
    broken(write(tmp_path, "vmlinuz", bzimage("gzip", BTF)), "not an ELF vmlinux", "9f eb 01 00")


def test_elf_without_btf(tmp_path):
    elf = make_elf([(".text", b"\x90" * 16), (".rodata", BANNER.encode())])
    broken(write(tmp_path, "vmlinux", elf), "has no .BTF section", "CONFIG_DEBUG_INFO_BTF")
    broken(write(tmp_path, "vmlinuz", bzimage("xz", elf)), "xz-decompressed vmlinux", "has no .BTF section")


def _section_header(elf, name):
    from elftools.elf.elffile import ELFFile

    parsed = ELFFile(io.BytesIO(elf))
    index = next(i for i, s in enumerate(parsed.iter_sections()) if s.name == name)
    return parsed["e_shoff"] + index * parsed["e_shentsize"]


def test_elf_btf_section_past_the_end(tmp_path):
    elf = bytearray(VMLINUX)
    struct.pack_into("<Q", elf, _section_header(elf, ".BTF") + 24, 1 << 30)  # sh_offset
    broken(write(tmp_path, "vmlinux", bytes(elf)), "section .BTF at 0x40000000", "runs past the end of the file")


def test_elf_btf_nobits(tmp_path):
    elf = bytearray(VMLINUX)
    struct.pack_into("<I", elf, _section_header(elf, ".BTF") + 4, SHT_NOBITS)
    broken(write(tmp_path, "vmlinux", bytes(elf)), "SHT_NOBITS")


def test_elf_cut_short(tmp_path):
    broken(write(tmp_path, "vmlinux", VMLINUX[:-100]), "section header table at 0x", "runs past the end")
    broken(write(tmp_path, "vmlinux2", VMLINUX[:40]))


def test_relocatable_elf_is_no_vmlinux(tmp_path):
    broken(write(tmp_path, "mod.ko", make_vmlinux(BTF, e_type=1)), "relocatable object", "not a vmlinux")


@pytest.mark.parametrize("where", ["raw", "elf", "bzimage"])
def test_btf_offsets_past_its_end(tmp_path, where):
    bad = bytearray(BTF)
    struct.pack_into("<I", bad, 20, len(BTF))  # str_len
    bad = bytes(bad)
    data = {"raw": bad, "elf": make_vmlinux(bad), "bzimage": bzimage("gzip", make_vmlinux(bad))}[where]
    message = broken(write(tmp_path, "k", data), "string section at byte", "runs past the end of the data")
    if where == "bzimage":
        assert "of the gzip-decompressed data" in message


def test_btf_of_another_version(tmp_path):
    bad = BTF[:2] + b"\x07" + BTF[3:]
    broken(write(tmp_path, "k", make_vmlinux(bad)), f"BTF at 0x{VMLINUX.index(BTF):x}", "BTF version 7")


def test_btf_that_does_not_parse_is_reported_by_parse(tmp_path):
    data = bytearray(BTF)
    struct.pack_into("<I", data, 24 + 4, 30 << 24)  # the first type's kind: 30
    found = read_kernel_btf(write(tmp_path, "vmlinux.btf", bytes(data)))
    with pytest.raises(KernelImageError, match=r"vmlinux.btf: BTF at 0x0: unknown BTF kind 30 at byte 24"):
        found.parse()


def test_tar_without_btf_or_with_two(tmp_path):
    broken(write(tmp_path, "a.btf.tar.xz", btf_tar([("README", b"no btf")])), "btf.tar.xz: holds 0 raw BTF files",
           "members: README")
    broken(write(tmp_path, "b.btf.tar.xz", btf_tar([("a.btf", BTF), ("b.btf", BTF)])), "holds 2 raw BTF files")


def test_compressed_thing_that_is_no_kernel(tmp_path):
    broken(write(tmp_path, "x.xz", lzma.compress(b"hello world" * 100)), "xz-compressed", "is no kernel")


def test_raw_image_without_btf(tmp_path):
    broken(write(tmp_path, "Image.gz", gzip.compress(arm64_image(btf=b""))), "arm64 Image", "holds no BTF")


def test_zboot_payload_past_the_end(tmp_path):
    image = bytearray(zboot(gzip.compress(arm64_image())))
    struct.pack_into("<I", image, 12, 1 << 24)
    broken(write(tmp_path, "vmlinuz", bytes(image)), "zboot header says payload at 0x200", "past the end")


@pytest.mark.parametrize("codec, module", [("zstd", "zstandard"), ("lz4", "lz4.block")])
def test_missing_codec_package(tmp_path, monkeypatch, codec, module):
    package(codec)
    image = bzimage(codec)
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    pip_name = {"zstd": "zstandard", "lz4": "lz4"}[codec]
    broken(write(tmp_path, "vmlinuz", image), f"{codec}-compressed", f"needs the {pip_name} package",
           f"pip install {pip_name}")


def test_decompression_bomb_is_refused():
    with pytest.raises(FormatError, match="decompresses to more than 1 MiB"):
        codecs.decompress("gzip", gzip.compress(b"\0" * (4 << 20)), limit=1 << 20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_damage_gives_a_clear_error_or_a_kernel(tmp_path, data):
    """Cut or flip bytes anywhere in a bzImage, an ELF or raw BTF: a KernelImageError or a result, nothing else."""
    original = data.draw(st.sampled_from([BTF, VMLINUX, BZIMAGE_GZIP]))
    # Anywhere in the file, or within the BTF (where damage reaches the BTF parser and the prototype renderer).
    start, end = data.draw(st.sampled_from([(0, len(original)), (original.find(BTF), original.find(BTF) + len(BTF))]))
    if start < 0:
        start, end = 0, len(original)
    damaged = bytearray(original)
    if data.draw(st.booleans()):
        damaged = damaged[: data.draw(st.integers(start, end))]
    for _ in range(data.draw(st.integers(0, 6))):
        if len(damaged) > start:
            at = data.draw(st.integers(start, min(end, len(damaged)) - 1))
            damaged[at] = data.draw(st.integers(0, 255))
    path = write(tmp_path, "damaged", bytes(damaged))
    try:
        found = read_kernel_btf(path)
    except KernelImageError as err:
        assert "\n" not in str(err) and str(err).startswith(f"{path}: ")
        return
    try:
        found.items()
    except KernelImageError as err:
        assert "\n" not in str(err) and str(err).startswith(f"{path}: ")


BZIMAGE_GZIP = bzimage("gzip")
