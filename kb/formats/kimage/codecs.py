"""The kernel's payload compressors, each streamed into one growing buffer, never past a limit.

gzip, xz, lzma and bzip2 come with Python; zstd needs the ``zstandard`` package and lz4 the ``lz4``
package, imported only when such a payload is met.  lz4 is the *legacy* frame the kernel writes
(``lz4 -l``): a magic, then blocks of at most 8 MiB each behind a little-endian size; the standard lz4
frame is a different format.  Every compressed kernel payload ends with its decompressed size (4 bytes,
scripts/Makefile.lib's size_append), which the stream decoders leave unread.

A decompression bomb (a few hundred KB of zstd can say 8 GiB of zeros) is refused: no decoder call returns
more than a step of output, the output stops at a limit no kernel reaches (enums.MAX_SIZE), sizes a
stream declares (a zstd frame's blocks, an lzma header) are checked before decoding, and the decoders' own
memory is capped (the zstd window, the lzma dictionary).  A bomb costs time proportional to the limit.

Errors are :class:`FormatError` naming the codec and the byte of the compressed stream where it broke.
"""

from __future__ import annotations

import bz2
import importlib
import lzma
import struct
import zlib

from kb.formats.kimage import enums, structs
from kb.formats.kimage.errors import FormatError, one_line

# Compressed bytes fed to a decoder at a time, and decompressed bytes asked of it at a time.
_INPUT_STEP = 1 << 20
_OUTPUT_STEP = 16 << 20


def codec_of(data) -> str | None:
    """The codec whose magic *data* starts with, or None."""
    head = bytes(data[:16])
    for codec, magic in enums.CODEC_MAGICS.items():
        if head.startswith(magic):
            if codec == "bzip2" and not (len(head) > 3 and 0x31 <= head[3] <= 0x39):
                continue  # "BZh" and a block size digit
            return codec
    return None


def decompress(codec: str, data, limit: int = enums.MAX_SIZE) -> bytearray:
    """Decompress the whole stream at the start of *data* (a bytes-like object; trailing bytes are ignored)."""
    if codec in enums.UNSUPPORTED_CODECS:
        raise FormatError(f"{codec}-compressed: kbgen does not read {codec} (the kernel's other codecs it does)")
    if codec == "lz4":
        return _lz4_legacy(_package("lz4", "lz4.block"), memoryview(data), limit)
    if codec == "zstd":
        return _zstd(_package("zstd", "zstandard"), memoryview(data), limit)
    factory = {
        "gzip": lambda: zlib.decompressobj(wbits=31),
        "xz": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_XZ, memlimit=enums.LZMA_MEMLIMIT),
        "lzma": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE, memlimit=enums.LZMA_MEMLIMIT),
        "bzip2": bz2.BZ2Decompressor,
    }.get(codec)
    if factory is None:
        raise FormatError(f"unknown codec {codec!r}")
    if codec == "lzma":
        _check_lzma_size(memoryview(data), limit)
    return _stream(codec, factory(), memoryview(data), limit)


def _package(codec: str, module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        package = enums.CODEC_PACKAGES[codec]
        raise FormatError(f"{codec}-compressed: reading it needs the {package} package (pip install {package})") \
            from None


def _stream(codec: str, decoder, data: memoryview, limit: int) -> bytearray:
    """Drive a zlib, lzma or bz2 decoder: all take max_length, and say eof at the stream's end."""
    out = bytearray()
    is_zlib = codec == "gzip"
    at = 0
    try:
        while at < len(data) and not decoder.eof:
            chunk = data[at : at + _INPUT_STEP]
            at += len(chunk)
            if is_zlib:
                out += decoder.decompress(chunk, _step(out, limit))
                while decoder.unconsumed_tail and not decoder.eof:
                    _check_limit(codec, out, limit)
                    out += decoder.decompress(decoder.unconsumed_tail, _step(out, limit))
            else:
                out += decoder.decompress(chunk, _step(out, limit))
                while not decoder.needs_input and not decoder.eof:
                    _check_limit(codec, out, limit)
                    out += decoder.decompress(b"", _step(out, limit))
            _check_limit(codec, out, limit)
    except FormatError:
        raise
    except lzma.LZMAError as err:
        if "memory usage limit" in str(err).lower():  # the dictionary the header asks for
            raise FormatError(f"{codec} stream needs more than {_mib(enums.LZMA_MEMLIMIT)} to decode (its "
                              f"dictionary): no kernel's does") from None
        raise FormatError(f"corrupt {codec} stream near byte 0x{at - len(chunk):x} of it: {one_line(err)}") from None
    except (zlib.error, OSError, EOFError, ValueError) as err:
        raise FormatError(f"corrupt {codec} stream near byte 0x{at - len(chunk):x} of it: {one_line(err)}") from None
    if not decoder.eof:
        raise FormatError(f"{codec} stream ends early: all 0x{len(data):x} bytes read and no end of stream "
                          f"(truncated?), 0x{len(out):x} bytes decompressed")
    return out


def _check_lzma_size(data: memoryview, limit: int) -> None:
    if len(data) >= structs.size(structs.LZMA_ALONE_HEADER):
        size = structs.unpack(structs.LZMA_ALONE_HEADER, data).size
        if size != enums.LZMA_SIZE_UNKNOWN and size > limit:
            raise FormatError(f"lzma header says it decompresses to 0x{size:x} bytes, more than {_mib(limit)}: "
                              f"not a kernel")


def _step(out: bytearray, limit: int) -> int:
    """The output to ask of a decoder: a step, but never more than one byte past the limit in all."""
    return min(_OUTPUT_STEP, limit + 1 - len(out))


def _check_limit(codec: str, out: bytearray, limit: int) -> None:
    if len(out) > limit:
        raise FormatError(f"{codec} stream decompresses to more than {_mib(limit)}: not a kernel")


def _mib(size: int) -> str:
    return f"{size >> 20} MiB" if size >= 1 << 20 else f"{size} bytes"


def _zstd(zstandard, data: memoryview, limit: int) -> bytearray:
    """zstd, one frame with or without a content size (the kernel's has none: zstd reads stdin), streamed."""
    end = _zstd_frame_end(zstandard, data, limit)
    decoder = zstandard.ZstdDecompressor(max_window_size=enums.ZSTD_MAX_WINDOW)
    out = bytearray()
    try:
        for piece in decoder.read_to_iter(data[:end], read_size=_INPUT_STEP,
                                             write_size=min(_OUTPUT_STEP, limit + 1)):
            out += piece
            _check_limit("zstd", out, limit)
    except zstandard.ZstdError as err:
        raise FormatError(f"corrupt zstd stream ({one_line(err)}), 0x{len(out):x} bytes decompressed") from None
    return out


def _zstd_frame_end(zstandard, data: memoryview, limit: int) -> int:
    """Where the frame at the start of *data* ends, from its block headers; refused when its blocks say more
    than *limit* bytes (each block's size, or at most 128 KiB for a compressed one) or it is cut short."""
    try:
        params = zstandard.get_frame_parameters(data[: enums.ZSTD_FRAME_HEADER_MAX])
        at = zstandard.frame_header_size(data[: enums.ZSTD_FRAME_HEADER_MAX])
    except zstandard.ZstdError as err:
        raise FormatError(f"corrupt zstd frame header: {one_line(err)}") from None
    if params.content_size != zstandard.CONTENTSIZE_UNKNOWN and params.content_size > limit:
        raise FormatError(f"zstd frame header says it decompresses to 0x{params.content_size:x} bytes, more than "
                          f"{_mib(limit)}: not a kernel")
    if params.window_size > enums.ZSTD_MAX_WINDOW:
        raise FormatError(f"zstd frame asks for a {_mib(params.window_size)} window, more than the "
                          f"{_mib(enums.ZSTD_MAX_WINDOW)} kbgen (and the zstd tool, unless told) decodes")
    bound = 0
    for _count in range(enums.ZSTD_MAX_BLOCKS):
        if len(data) - at < enums.ZSTD_BLOCK_HEADER:
            raise FormatError(f"zstd stream ends early: no block header at byte 0x{at:x} (truncated?)")
        header = int.from_bytes(data[at : at + enums.ZSTD_BLOCK_HEADER], "little")
        last, kind, size = header & 1, (header >> 1) & 3, header >> 3
        if kind == enums.ZSTD_BLOCK_RESERVED:
            raise FormatError(f"corrupt zstd block at byte 0x{at:x}: reserved block type")
        stored = 1 if kind == enums.ZSTD_BLOCK_RLE else size
        bound += enums.ZSTD_BLOCK_MAX if kind == enums.ZSTD_BLOCK_COMPRESSED else size
        if bound > limit:
            raise FormatError(f"zstd blocks up to byte 0x{at:x} decompress to more than {_mib(limit)}: not a kernel")
        at += enums.ZSTD_BLOCK_HEADER
        if stored > len(data) - at:
            raise FormatError(f"zstd block at byte 0x{at - enums.ZSTD_BLOCK_HEADER:x} says 0x{stored:x} bytes, only "
                              f"0x{len(data) - at:x} remain (truncated?)")
        at += stored
        if last:
            at += enums.ZSTD_CHECKSUM if params.has_checksum else 0
            if at > len(data):
                raise FormatError("zstd stream ends early: its checksum is cut short (truncated?)")
            return at
    raise FormatError(f"zstd frame of more than {enums.ZSTD_MAX_BLOCKS} blocks: not a kernel")


def _lz4_legacy(lz4_block, data: memoryview, limit: int) -> bytearray:
    """The legacy lz4 frame, block by block, as lib/decompress_unlz4.c reads it.

    The stream ends where its bytes do, or at a 4-byte size trailer equal to the bytes decompressed (what
    size_append leaves after a kernel payload); a magic between blocks starts a concatenated stream.
    """
    word = struct.Struct(structs.LZ4_LEGACY_WORD)
    if len(data) < word.size or word.unpack_from(data, 0)[0] != enums.LZ4_LEGACY_MAGIC:
        raise FormatError("not a legacy lz4 frame (no magic 0x184c2102 at byte 0)")
    out = bytearray()
    at = word.size
    while at < len(data):
        if len(data) - at < word.size:
            raise FormatError(f"lz4 block header at byte 0x{at:x} is cut short ({len(data) - at} bytes left)")
        (size,) = word.unpack_from(data, at)
        if size == enums.LZ4_LEGACY_MAGIC:
            at += word.size
            continue
        if len(data) - at == word.size and out and size == len(out):
            break  # the decompressed-size trailer
        if size > len(data) - at - word.size:
            raise FormatError(f"lz4 block at byte 0x{at:x} says 0x{size:x} bytes, only "
                              f"0x{len(data) - at - word.size:x} remain (truncated?)")
        block = data[at + word.size : at + word.size + size]
        try:
            out += lz4_block.decompress(block, uncompressed_size=enums.LZ4_LEGACY_CHUNK)
        except lz4_block.LZ4BlockError as err:
            raise FormatError(f"corrupt lz4 block at byte 0x{at:x}: {one_line(err)}") from None
        _check_limit("lz4", out, limit)
        at += word.size + size
    if not out:
        raise FormatError("lz4 frame holds no block")
    return out
