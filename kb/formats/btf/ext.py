"""The ``.BTF.ext`` section of a BPF object: the source line of each instruction, and its CO-RE relocations.

Read lazily, because a large object (tracee's: 157 program sections, 157,000 line records) needs the line of a
few thousand instructions at most: the header and the block of each section are found once, a section's
instruction offsets are unpacked in one call when that section is first asked about, and only the record a
lookup lands on is turned into text.  CO-RE relocation records (``struct bpf_core_relo``) are decoded per
section on demand.  Strings live in the object's ``.BTF`` string section.
"""

from __future__ import annotations

import bisect
import struct
import sys
from array import array
from dataclasses import dataclass

from kb.formats.btf import enums, structs
from kb.formats.btf.reader import BTFError


@dataclass(frozen=True)
class Line:
    file: str
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class CoreRelocation:
    """One ``struct bpf_core_relo``: what libbpf resolves against the target kernel's BTF before loading."""

    section: str
    insn_offset: int  # byte offset of the relocated instruction in its section
    type_id: int  # the local (object's own BTF) type the access starts from
    access: str  # the access string: "0:1:2" (field indices), or an enumerator index for enum relocations
    kind: int  # enums.CORE_* (enum bpf_core_relo_kind)

    @property
    def kind_name(self) -> str:
        return enums.CORE_KIND_NAMES.get(self.kind, f"kind {self.kind}")


class BTFExt:
    """The blocks of one object's ``.BTF.ext``: line info and CO-RE relocations, per ELF section."""

    def __init__(self, data, btf):
        self.btf = btf
        self.order = order = btf.byte_order
        header_size = structs.size(structs.EXT_HEADER)
        if len(data) < header_size:
            raise BTFError(f".BTF.ext: {len(data)} bytes, too short for its header")
        magic, version, _flags, hdr_len, _fi_off, _fi_len, li_off, li_len = structs.unpack_from(
            order, structs.EXT_HEADER, data, 0)
        if magic != enums.BTF_MAGIC:
            raise BTFError(f".BTF.ext: bad magic 0x{magic:04x} at byte 0")
        if version != 1:
            raise BTFError(f".BTF.ext: version {version} at byte 2 (only 1 is defined)")
        self._strings: dict[int, str] = {}
        self.blocks: dict[str, tuple[int, int]] = {}  # section -> (first line record's byte, count)
        self.record_size = 0
        self.data = self._info(data, hdr_len, li_off, li_len, "line")
        if self.data:
            self.record_size = self._walk(self.data, "line", lambda name, start, count: self.blocks.setdefault(
                name, (start, count)))
            if self.record_size < structs.size(structs.LINE_INFO):
                raise BTFError(f".BTF.ext: line info record size {self.record_size} is too small")
        # struct btf_ext_header grew core_relo_off and core_relo_len after the first 24 bytes.
        self.core_blocks: dict[str, list[tuple[int, int]]] = {}  # section -> [(first record's byte, count)]
        self.core_data = b""
        self.core_record_size = 0
        if hdr_len >= header_size + structs.size(structs.EXT_CORE) and len(data) >= header_size + 8:
            core_off, core_len = struct.unpack_from(order + structs.EXT_CORE, data, header_size)
            self.core_data = self._info(data, hdr_len, core_off, core_len, "CO-RE")
            if self.core_data:
                self.core_record_size = self._walk(self.core_data, "CO-RE", lambda name, start, count: (
                    self.core_blocks.setdefault(name, []).append((start, count))))
                if self.core_record_size < structs.size(structs.CORE_RELO):
                    raise BTFError(f".BTF.ext: CO-RE record size {self.core_record_size} is too small")

    @property
    def core_relocation_count(self) -> int:
        return sum(count for blocks in self.core_blocks.values() for _start, count in blocks)

    @staticmethod
    def _info(data, hdr_len: int, offset: int, length: int, what: str) -> bytes:
        if not length:
            return b""
        if hdr_len + offset + length > len(data):
            raise BTFError(f".BTF.ext: {what} info at byte {hdr_len + offset}, {length} bytes, runs past the section")
        return bytes(data[hdr_len + offset : hdr_len + offset + length])

    def _walk(self, data, what: str, block) -> int:
        """Call ``block(section, first record's byte, count)`` for each block of an info section."""
        end = len(data)
        if end < 4:
            raise BTFError(f".BTF.ext: {what} info of {end} bytes")
        (record_size,) = struct.unpack_from(self.order + "I", data, 0)
        if record_size == 0:
            raise BTFError(f".BTF.ext: {what} info record size 0")
        offset = 4
        sec_size = structs.size(structs.EXT_INFO_SEC)
        while offset < end:
            if offset + sec_size > end:
                raise BTFError(f".BTF.ext: truncated {what} info block at byte {offset}")
            name_off, count = structs.unpack_from(self.order, structs.EXT_INFO_SEC, data, offset)
            section = self.string(name_off)
            offset += sec_size
            if offset + count * record_size > end:
                raise BTFError(f".BTF.ext: {count} {what} records of section {section} run past the info")
            block(section, offset, count)
            offset += count * record_size
        return record_size

    def string(self, offset: int) -> str:
        found = self._strings.get(offset)
        if found is None:
            strings = self.btf.strings
            if offset >= len(strings):
                raise BTFError(f".BTF.ext: string offset {offset} past the .BTF strings")
            end = strings.find(b"\0", offset)
            found = self._strings[offset] = strings[offset : end if end >= 0 else len(strings)].decode(
                "utf-8", errors="replace")
        return found

    def core_relocations(self, section: str) -> list[CoreRelocation]:
        """The CO-RE relocations of the program section *section*, in record order."""
        found = []
        for start, count in self.core_blocks.get(section, ()):
            for n in range(count):
                insn_off, type_id, access_off, kind = structs.unpack_from(
                    self.order, structs.CORE_RELO, self.core_data, start + n * self.core_record_size)
                found.append(CoreRelocation(section, insn_off, type_id, self.string(access_off), kind))
        return found

    def _columns(self, section: str) -> tuple[array, array, array, array]:
        """Instruction offsets (sorted), file, line-text and line/column of the section's records."""
        start, count = self.blocks[section]
        size = self.record_size
        if size % 4 == 0:
            words = array("I", self.data[start : start + count * size])
            if (self.order == "<") != (sys.byteorder == "little"):
                words.byteswap()
            stride = size // 4
            columns = [words[n::stride] for n in range(4)]
        else:
            rows = [struct.unpack_from(self.order + structs.LINE_INFO, self.data, start + n * size)
                    for n in range(count)]
            columns = [array("I", [r[n] for r in rows]) for n in range(4)]
        offsets = columns[0]
        if any(map(int.__gt__, offsets, offsets[1:])):
            order = sorted(range(len(offsets)), key=offsets.__getitem__)
            columns = [array("I", [column[n] for n in order]) for column in columns]
        return tuple(columns)

    def resolver(self, section: str, make=Line) -> _Resolver | None:
        """Source lines of byte offsets in *section*, each built by ``make(file, line, column, text)`` once per
        line record; None when the object has no line info for the section."""
        if section not in self.blocks:
            return None
        return _Resolver(self._columns(section), self.string, make)


class _Resolver:
    def __init__(self, columns: tuple, string, make):
        self.offsets, self.files, self.texts, self.line_cols = columns
        self.string = string
        self.make = make
        self.made: dict[int, object] = {}

    def _record(self, at: int):
        line_cols = self.line_cols
        while at >= 0 and not line_cols[at] >> 10:
            at -= 1  # line 0: compiler-made code, part of the line before it
        if at < 0:
            return None
        found = self.made.get(at)
        if found is None:
            line_col = line_cols[at]
            found = self.made[at] = self.make(self.string(self.files[at]), line_col >> 10, line_col & 0x3FF,
                                              self.string(self.texts[at]).strip())
        return found

    def __call__(self, offset: int):
        return self._record(bisect.bisect_right(self.offsets, offset) - 1)

    def following(self, offset: int, window: int) -> object:
        """The line of the record at *offset*, else of the first record in the *window* bytes after it, else of the
        one before it.  For a CO-RE relocation: the compiler gives the line to the call or load the relocated
        instruction prepares, and leaves the instruction under whatever line came before."""
        at = bisect.bisect_left(self.offsets, offset)
        while at < len(self.offsets) and self.offsets[at] - offset <= window:
            if self.line_cols[at] >> 10:  # line 0: compiler-made code, no line of its own
                return self._record(at)
            at += 1
        return self(offset)

    def many(self, offsets: list[int]) -> list:
        """The source lines of many offsets at once (the common case: every call of a section)."""
        offsets_, record, made = self.offsets, self._record, self.made
        found = []
        for at in [bisect.bisect_right(offsets_, offset) - 1 for offset in offsets]:
            line = made.get(at)
            found.append(line if line is not None else record(at))
        return found
