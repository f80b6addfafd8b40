"""Hostile inputs built byte for byte: decompression bombs in the kernel's codecs and a tar whose member says
far more bytes than it stores.  Small to build, huge to decompress (bench/bench_bombs.py builds its own, larger ones).

The layouts come from the format specifications (RFC 8878 for zstd, GNU tar's old sparse header,
lib/decompress_unlz4.c), not from the code under test.
"""

from __future__ import annotations

import struct
import tarfile

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_RLE_BLOCK = 1
ZSTD_BLOCK_MAX = 128 << 10


def zstd_rle_bomb(size: int, declared: int | None = None) -> bytes:
    """A zstd frame of *size* zero bytes as RLE blocks (4 bytes per 128 KiB: 8 GiB in 256 KB), valid to the end.

    *declared*: the frame header also states a content size (else none, as the kernel's build writes it).
    """
    if declared is None:
        head = ZSTD_MAGIC + bytes([0x00, 7 << 3])  # no content size, not single segment; window 2**(10+7)
    else:
        head = ZSTD_MAGIC + bytes([0xC0, 7 << 3]) + struct.pack("<Q", declared)  # an 8-byte content size
    blocks, rest = divmod(size, ZSTD_BLOCK_MAX)
    sizes = [ZSTD_BLOCK_MAX] * blocks + ([rest] if rest else [])
    body = bytearray()
    for n, block in enumerate(sizes):
        last = n == len(sizes) - 1
        body += (int(last) | ZSTD_RLE_BLOCK << 1 | block << 3).to_bytes(3, "little") + b"\0"
    return head + bytes(body)


def lz4_legacy_bomb(size: int) -> bytes:
    """The legacy lz4 frame of *size* zero bytes: one 8 MiB zero block, compressed once and repeated."""
    import lz4.block

    chunk = 8 << 20
    block = lz4.block.compress(bytes(chunk), store_size=False)
    return struct.pack("<I", 0x184C2102) + (struct.pack("<I", len(block)) + block) * (size // chunk)


def sparse_tar(name: str, stored: bytes, size: int) -> bytes:
    """A tar of one old-GNU sparse member *name*: *stored* (<= 512 bytes) at offset 0, a hole up to *size* bytes."""
    header = bytearray(512)
    header[0 : len(name)] = name.encode()
    header[100:108] = b"0000644\0"
    header[108:116] = header[116:124] = b"0000000\0"
    header[124:136] = b"%011o\0" % 512  # what the archive stores
    header[136:148] = b"%011o\0" % 0
    header[156:157] = tarfile.GNUTYPE_SPARSE
    header[257:265] = tarfile.GNU_MAGIC
    header[386:398] = b"%011o\0" % 0  # sparse map: the stored bytes at offset 0...
    header[398:410] = b"%011o\0" % 512
    header[482] = 0  # ...and no extension of the map
    header[483:495] = _octal_or_binary(size)  # the member's real size
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    return bytes(header) + stored.ljust(512, b"\0") + b"\0" * 1024


def _octal_or_binary(value: int) -> bytes:
    """A 12-byte tar number: octal when it fits, else GNU's base-256 (a leading 0x80 byte)."""
    if value < 8**11:
        return b"%011o\0" % value
    return b"\x80" + value.to_bytes(11, "big")
