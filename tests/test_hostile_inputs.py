"""Hostile inputs: decompression bombs, huge declared sizes, numbers past the store's range, missing directories.
Each is refused with one line naming the file, exit 2, in bounded memory, with nothing written."""

import bz2
import gzip
import lzma
import os
import struct
import time
import tracemalloc

import pytest
from btfbuild import BTFBuilder, compress, kernel_btf, make_bzimage, make_elf
from click.testing import CliRunner
from hostile import lz4_legacy_bomb, sparse_tar, zstd_rle_bomb

from kb.cli import cli
from kb.formats.kimage import KernelImageError, codecs, enums, read_kernel_btf
from kb.formats.kimage.errors import FormatError

BTF = kernel_btf()


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def one_line(result, code=2):
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def refused(path, *fragments):
    with pytest.raises(KernelImageError) as caught:
        read_kernel_btf(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


def zeros(codec, size):
    """*size* zero bytes in *codec*, quickly (the lowest presets: what they decompress to is the point)."""
    if codec == "lz4":
        pytest.importorskip("lz4.block")
        return lz4_legacy_bomb(size)
    if codec == "zstd":
        pytest.importorskip("zstandard")
        return compress(codec, bytes(size))
    if codec in ("xz", "lzma"):
        return lzma.compress(bytes(size), format=lzma.FORMAT_XZ if codec == "xz" else lzma.FORMAT_ALONE, preset=0)
    return gzip.compress(bytes(size), 1) if codec == "gzip" else bz2.compress(bytes(size), 1)


# Decompression bombs.

@pytest.mark.parametrize("codec", ["gzip", "xz", "lzma", "bzip2", "lz4", "zstd"])
def test_a_bomb_in_every_codec_stops_at_the_limit_holding_no_more(codec):
    """64 MiB of zeros against a 4 MiB limit: refused, the decoder never holding more than a few times the limit
    (the output, one step of it being joined, an lz4 block), far from what the bomb would grow to."""
    data = zeros(codec, 64 << 20)
    limit = 4 << 20
    tracemalloc.start()
    try:
        with pytest.raises(FormatError, match=f"{codec}.* to more than 4 MiB: not a kernel"):
            codecs.decompress(codec, data, limit=limit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    block = enums.LZ4_LEGACY_CHUNK if codec == "lz4" else 0  # lz4 decodes a whole 8 MiB block at a time
    assert peak < 5 * limit + block, peak


def test_a_zstd_frame_declaring_8_gib_is_refused_before_decoding(tmp_path):
    frame = zstd_rle_bomb(1 << 20, declared=8 << 30)
    path = tmp_path / "vmlinux.zst"
    path.write_bytes(frame)
    started = time.perf_counter()
    refused(path, "zstd frame header says it decompresses to 0x200000000 bytes, more than 512 MiB")
    assert time.perf_counter() - started < 5


def test_zstd_rle_blocks_of_8_gib_in_256_kb_are_refused_from_their_headers(tmp_path):
    """The frame states no size (as the kernel's build writes it); its block headers add up past the limit."""
    pytest.importorskip("zstandard")
    path = tmp_path / "vmlinux.zst"
    path.write_bytes(zstd_rle_bomb(8 << 30))
    assert path.stat().st_size < 300_000
    tracemalloc.start()
    try:
        refused(path, "zstd blocks up to byte 0x", "decompress to more than 512 MiB: not a kernel")
        assert tracemalloc.get_traced_memory()[1] < 8 << 20
    finally:
        tracemalloc.stop()


def test_a_zstd_frame_cut_short_says_so():
    pytest.importorskip("zstandard")
    with pytest.raises(FormatError, match=r"zstd block at byte 0x[0-9a-f]+ says 0x1 bytes, only 0x0 remain"):
        codecs.decompress("zstd", zstd_rle_bomb(1 << 20)[:-1])


def test_lzma_header_declaring_a_huge_size_or_dictionary(tmp_path):
    body = lzma.compress(b"x" * 1000, format=lzma.FORMAT_ALONE)[13:]
    huge_size = bytes([0x5D]) + struct.pack("<IQ", 1 << 16, 1 << 40) + body
    with pytest.raises(FormatError, match="lzma header says it decompresses to 0x10000000000 bytes"):
        codecs.decompress("lzma", huge_size)
    huge_dictionary = bytes([0x5D]) + struct.pack("<IQ", 0xFFFFFFFF, (1 << 64) - 1) + body
    with pytest.raises(FormatError, match="lzma stream needs more than 256 MiB to decode"):
        codecs.decompress("lzma", huge_dictionary)


def test_a_bzimage_whose_size_trailer_says_too_much_is_not_decompressed(tmp_path):
    payload = gzip.compress(b"\0" * 4096) + struct.pack("<I", 0xF0000000)
    path = tmp_path / "vmlinuz"
    path.write_bytes(make_bzimage(payload))
    refused(path, "bzImage payload at 0x", "size trailer says it decompresses to 0xf0000000 bytes")


def test_a_file_larger_than_the_limit_is_not_read_whole(tmp_path):
    path = tmp_path / "huge.btf"
    with open(path, "wb") as handle:
        handle.write(BTF)
        handle.truncate(enums.MAX_SIZE + 1)  # sparse: no disk used
    refused(path, f"0x{enums.MAX_SIZE + 1:x} bytes, more than the 512 MiB of any kernel image read whole")


def test_an_elf_btf_section_larger_than_the_limit(tmp_path):
    elf = bytearray(make_elf([(".text", b"\x90" * 16), (".BTF", BTF)]))
    shoff, shentsize = struct.unpack_from("<Q", elf, 0x28)[0], struct.unpack_from("<H", elf, 0x3A)[0]
    shnum = struct.unpack_from("<H", elf, 0x3C)[0]
    for index in range(shnum):  # .BTF's section header: the one whose sh_size is the BTF's length
        entry = shoff + index * shentsize
        if struct.unpack_from("<Q", elf, entry + 0x20)[0] == len(BTF):
            struct.pack_into("<Q", elf, entry + 0x20, enums.MAX_SIZE + 1)
    path = tmp_path / "vmlinux"
    with open(path, "wb") as handle:
        handle.write(elf)
        handle.truncate(enums.MAX_SIZE + len(elf) + 4096)
    refused(path, f"ELF section .BTF says 0x{enums.MAX_SIZE + 1:x} bytes, more than the 512 MiB")


def test_a_raw_image_full_of_false_btf_magics_gives_up(tmp_path):
    image = bytearray(64)
    image[0x38:0x3C] = b"ARM\x64"
    image += (enums.BTF_START["<"] + b"\xff" * 16) * (enums.MAX_BTF_CANDIDATES + 10)
    path = tmp_path / "Image"
    path.write_bytes(bytes(image))
    refused(path, f"raw image holds no BTF in its first {enums.MAX_BTF_CANDIDATES} BTF magics")


# Archives.

def test_a_tar_member_saying_10_gib_is_refused_before_it_is_read(tmp_path):
    """An old-GNU sparse member: 512 bytes stored, a hole up to 10 GiB; reading it would make 10 GiB of zeros."""
    path = tmp_path / "5.4.0-1009-aws.btf.tar.xz"
    path.write_bytes(lzma.compress(sparse_tar("./5.4.0-1009-aws.btf", BTF[:512], 10 << 30)))
    tracemalloc.start()
    try:
        refused(path, "btf.tar.xz member ./5.4.0-1009-aws.btf: says 0x280000000 bytes, more than the 512 MiB")
        assert tracemalloc.get_traced_memory()[1] < 32 << 20
    finally:
        tracemalloc.stop()


def test_a_tar_of_thousands_of_members_is_no_btf_archive(tmp_path):
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for n in range(enums.MAX_TAR_MEMBERS + 1):
            archive.addfile(tarfile.TarInfo(f"empty{n}"))
    path = tmp_path / "many.tar.bz2"
    path.write_bytes(bz2.compress(buffer.getvalue()))
    refused(path, f"btf.tar.bz2: more than {enums.MAX_TAR_MEMBERS} members, not a BTF archive")


def test_a_member_name_that_is_no_release_does_not_blame_release(tmp_path):
    """No --release given: the message says the archive states no release, not that --release 'vmlinux' is bad."""
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
        info = tarfile.TarInfo("vmlinux.btf")
        info.size = len(BTF)
        archive.addfile(info, io.BytesIO(BTF))
    path = tmp_path / "x.btf.tar.xz"
    path.write_bytes(buffer.getvalue())
    assert read_kernel_btf(path).version is None
    line = one_line(run("probe", path, "--db", tmp_path / "kb.db"))
    assert "--release '" not in line and "states no kernel release" in line, line
    assert not (tmp_path / "kb.db").exists()


# The store.

def test_an_enum64_value_beyond_sqlite_integers_is_bad_input(tmp_path):
    b = BTFBuilder()
    b.int("int", 4, 1)
    b.enum("bpf_func_id", [("BPF_FUNC_unspec", 0), ("BPF_FUNC_map_lookup_elem", 1)])
    b.enum64("bpf_prog_type", [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_HUGE", (1 << 64) - 1)])
    path = tmp_path / "build.btf"
    path.write_bytes(b.build())
    db = tmp_path / "kb.db"
    line = one_line(run("probe", path, "--release", "6.1.0-1-amd64", "--db", db))
    assert f"{path}: prog_type BPF_PROG_TYPE_HUGE has value 18446744073709551615, beyond the 64-bit" in line
    assert os.listdir(tmp_path) == ["build.btf"]  # the database it would have created is not left behind


# One rule for output directories: the directory an output goes in must exist; only `tables -o DIR` is created.

def test_every_output_into_a_missing_directory_is_refused(tmp_path, user_db):
    missing = tmp_path / "missing"
    btf = tmp_path / "build.btf"
    btf.write_bytes(BTF)
    outputs = {
        "probe --db": ["probe", btf, "--release", "6.1.0-1-amd64", "--db", missing / "kb.db"],
        "scan -o": ["scan", "tests/bpf/percpu.bpf.o", "--format", "sarif", "-o", missing / "x.sarif"],
        "export -o": ["export", "-o", missing / "x.json"],
        "tables -o": ["tables", "-o", missing / "tables"],
    }
    for command, args in outputs.items():
        line = one_line(run(*args))
        assert f"{missing} does not exist (kbgen creates no directory but an output directory itself)" in line, \
            (command, line)
        assert not missing.exists(), command
    assert run("tables", "-o", tmp_path / "tables").exit_code == 0  # an output directory itself is made

