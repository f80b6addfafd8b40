"""The vmlinux inside a kernel image: its ``.BTF`` section, its ``linux_banner``; BTF inside a raw Image.

The ELF is read with pyelftools from a stream, lazily: only the section headers, the ``.BTF`` section and
(for the release string) ``.rodata``, a chunk at a time, are read; a vmlinux on disk is hundreds of MB.
A decompressed vmlinux is read in place through :class:`BufferStream` (``io.BytesIO`` would copy it).
"""

from __future__ import annotations

import heapq
import io
import re
import struct
from dataclasses import dataclass

from kb.formats.btf.reader import BTFError, read_header
from kb.formats.kimage import enums
from kb.formats.kimage.errors import FormatError, one_line

# "Linux version 6.1.0-13-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 ...) #1 SMP ... (2023-09-29)"
_BANNER = re.compile(re.escape(enums.BANNER_PREFIX) + rb"(\d[^\s\x00]*)([^\x00\n]*)")
_BANNER_CHUNK = 8 << 20
_BANNER_OVERLAP = 1024


class BufferStream(io.RawIOBase):
    """A read-only, seekable file over a buffer (bytes, bytearray, memoryview), without copying it."""

    def __init__(self, buffer):
        super().__init__()
        self._view = memoryview(buffer).cast("B")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, target) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1) -> bytes:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._pos + size)
        data = self._view[self._pos : end].tobytes() if end > self._pos else b""
        self._pos = max(self._pos, end)
        return data

    def close(self) -> None:
        self._view.release()
        super().close()


@dataclass(frozen=True)
class ElfBTF:
    btf: bytes
    offset: int  # of the .BTF section in the ELF
    machine: str  # e_machine, as pyelftools names it: "EM_X86_64"
    banner: re.Match | None  # the linux_banner in .rodata


def read_elf_btf(stream, size: int, search_all: bool = False) -> ElfBTF:
    """The ``.BTF`` section of the ELF vmlinux in *stream* (*size* bytes), and its banner.

    *search_all*: look for the banner in the whole stream when it has no ``.rodata`` (cheap in memory).
    """
    from elftools.common.exceptions import ELFError, ELFParseError
    from elftools.elf.elffile import ELFFile

    try:
        elf = ELFFile(stream)
        machine = str(elf["e_machine"])
        if elf["e_type"] == "ET_REL":
            raise FormatError(f"ELF is a relocatable object (ET_REL, {machine}: a kernel module or a BPF object), "
                              f"not a vmlinux")
        shoff, shnum, shentsize = elf["e_shoff"], elf["e_shnum"], elf["e_shentsize"]
        if shoff + shnum * shentsize > size:
            raise FormatError(f"ELF section header table at 0x{shoff:x} ({shnum} x {shentsize} bytes) runs past the "
                              f"end of the file (0x{size:x} bytes)")
        section = elf.get_section_by_name(enums.BTF_SECTION)
        if section is None:
            raise FormatError(f"ELF ({machine}, {shnum} sections) has no {enums.BTF_SECTION} section "
                              f"(a kernel built without CONFIG_DEBUG_INFO_BTF?)")
        offset, length = section["sh_offset"], section["sh_size"]
        if section["sh_type"] == "SHT_NOBITS":
            raise FormatError(f"ELF section {enums.BTF_SECTION} has no bytes in the file (SHT_NOBITS)")
        if length > enums.MAX_SIZE:
            raise FormatError(f"ELF section {enums.BTF_SECTION} says 0x{length:x} bytes, more than the "
                              f"{enums.MAX_SIZE >> 20} MiB of any kernel's BTF")
        if offset + length > size:
            raise FormatError(f"ELF section {enums.BTF_SECTION} at 0x{offset:x} (0x{length:x} bytes) runs past the end "
                              f"of the file (0x{size:x} bytes)")
        btf = section.data()
        rodata = elf.get_section_by_name(enums.RODATA_SECTION)
        if rodata is not None and rodata["sh_type"] != "SHT_NOBITS":
            start = rodata["sh_offset"]
            banner = find_banner(stream, start, min(rodata["sh_size"], max(0, size - start)))
        else:
            banner = find_banner(stream, 0, size) if search_all else None
    except FormatError:
        raise
    except (ELFError, ELFParseError, struct.error, ValueError, KeyError, IndexError, UnicodeDecodeError) as err:
        raise FormatError(f"not a readable ELF file: {one_line(err)}") from None
    return ElfBTF(btf, offset, machine, banner)


def find_banner(stream, start: int, length: int) -> re.Match | None:
    """The first ``Linux version X ...`` in *length* bytes of *stream* from *start*, read a chunk at a time."""
    at, end = start, start + length
    while at < end:
        stream.seek(at)
        chunk = stream.read(min(_BANNER_CHUNK, end - at))
        if not chunk:
            break
        found = _BANNER.search(chunk)
        if found:
            return found
        if at + len(chunk) >= end:
            break
        at += len(chunk) - _BANNER_OVERLAP
    return None


def banner_version(banner: re.Match | None) -> tuple[str | None, str | None]:
    """(release, the banner's text after "Linux version ") of a banner match."""
    if banner is None:
        return None, None
    release = banner.group(1).decode("ascii", errors="replace")
    text = (banner.group(1) + banner.group(2)).decode("ascii", errors="replace")
    return release, " ".join(text.split())


def find_btf_blob(buffer) -> tuple[int, bytes]:
    """The first well-formed BTF blob inside a raw (not ELF) kernel Image: (offset, the blob).

    pahole's BTF starts with the magic, version 1, flags 0 and a 24-byte header, its type section right after
    the header and its string section after that, starting with the empty string.
    """
    view = memoryview(buffer).cast("B")
    # In file order, lazily: an image can hold the 8 bytes any number of times, each a false start.
    starts = heapq.merge(*(map(re.Match.start, re.finditer(re.escape(start), view))
                           for start in enums.BTF_START.values()))
    for tried, at in enumerate(starts):
        if tried == enums.MAX_BTF_CANDIDATES:
            raise FormatError(f"raw image holds no BTF in its first {tried} BTF magics (the last at 0x{at:x})")
        try:
            header = read_header(view[at:])
        except BTFError:
            continue
        strings = at + header.strings_start
        if header.type_off == 0 and header.str_off >= header.type_len and header.str_len and \
                view[strings] == 0 and view[strings + header.str_len - 1] == 0:
            return at, view[at : at + header.size].tobytes()
    raise FormatError("raw image holds no BTF (no well-formed BTF header in it)")
