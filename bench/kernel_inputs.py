"""Kernel images for the benches, made as a kernel's build makes them: a payload in each codec the kernel compresses
with, followed by its decompressed size, inside the boot setup of a real x86 bzImage.

The bzImage's setup is taken from a real kernel (--kernel FILE, else /boot/vmlinuz-$(uname -r) or another
/boot/vmlinuz-*) and only its payload is replaced: payload_length (boot protocol 2.08+, at 0x24C) is set to the new
payload's, the code before and after it is kept.  Layouts: Documentation/arch/x86/boot.rst, scripts/Makefile.lib
(size_append), scripts/xz_wrap.sh, lib/decompress_unlz4.c.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import lzma
import os
import struct
import sys

CODECS = ("gzip", "xz", "lzma", "bzip2", "lz4", "zstd")
LZ4_LEGACY_MAGIC = struct.pack("<I", 0x184C2102)
LZ4_LEGACY_CHUNK = 8 << 20  # what the kernel's lz4 -l writes per block, and what its decompressor expects at most

SETUP_SECTS, HDRS_MAGIC, PAYLOAD_OFFSET = 0x1F1, 0x202, 0x248  # offsets in the x86 setup header
SECTOR = 512


def lz4_legacy(data: bytes) -> bytes:
    """The legacy lz4 frame (``lz4 -l``): the magic, then each 8 MiB chunk as its LE length and an lz4 block."""
    import lz4.block

    out = bytearray(LZ4_LEGACY_MAGIC)
    for start in range(0, len(data), LZ4_LEGACY_CHUNK):
        block = lz4.block.compress(data[start : start + LZ4_LEGACY_CHUNK], mode="high_compression", store_size=False)
        out += struct.pack("<I", len(block)) + block
    return bytes(out)


def _zstd(data: bytes) -> bytes:
    import zstandard

    return zstandard.ZstdCompressor(level=19, write_content_size=False).compress(data)


_COMPRESSORS = {
    "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0),
    # xz_wrap.sh: the x86 branch filter, then LZMA2, CRC32 (the kernel's xz decoder knows no other check)
    "xz": lambda data: lzma.compress(data, lzma.FORMAT_XZ, lzma.CHECK_CRC32,
                                     filters=[{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 6}]),
    "lzma": lambda data: lzma.compress(data, lzma.FORMAT_ALONE),
    "bzip2": bz2.compress,
    "lz4": lz4_legacy,
    "zstd": _zstd,
}


def compress(codec: str, data: bytes) -> bytes:
    """*data* compressed as the kernel's build compresses a payload (without the size after it)."""
    return _COMPRESSORS[codec](data)


def with_size(payload: bytes, size: int) -> bytes:
    """*payload* and the 4-byte LE decompressed size the build appends (size_append), which the boot code trusts."""
    return payload + struct.pack("<I", size & 0xFFFFFFFF)


def is_bzimage(head: bytes) -> bool:
    return head[HDRS_MAGIC : HDRS_MAGIC + 4] == b"HdrS" and head[0x1FE:0x200] == b"\x55\xaa"


def find_bzimage(path: str | None = None) -> str | None:
    """*path* when given (exits when it is no bzImage), else the running kernel's /boot image or another in /boot."""
    candidates = [path] if path else [f"/boot/vmlinuz-{os.uname().release}", *sorted(glob.glob("/boot/vmlinuz-*"))]
    for candidate in candidates:
        try:
            with open(candidate, "rb") as handle:
                if is_bzimage(handle.read(SECTOR * 2)):
                    return candidate
        except OSError:
            continue
    if path:
        sys.exit(f"{path}: not an x86 bzImage (no 'HdrS' at 0x{HDRS_MAGIC:x})")
    return None


class BzImage:
    """A real bzImage cut around its payload, to carry another."""

    def __init__(self, path: str):
        with open(path, "rb") as handle:
            data = handle.read()
        kernel_start = ((data[SETUP_SECTS] or 4) + 1) * SECTOR
        offset, length = struct.unpack_from("<II", data, PAYLOAD_OFFSET)
        self.path = path
        self._before = data[: kernel_start + offset]
        self._after = data[kernel_start + offset + length :]

    def carrying(self, payload: bytes) -> bytes:
        before = bytearray(self._before)
        struct.pack_into("<I", before, PAYLOAD_OFFSET + 4, len(payload))
        return bytes(before) + payload + self._after
