"""The ``.BTF.ext`` section of a BPF object: which source line each instruction came from.

Only line information is read (func_info and CO-RE relocations are not needed to locate a finding).
Its strings live in the object's ``.BTF`` string section.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass

from kb.formats.btf import enums, structs
from kb.formats.btf.reader import BTF, BTFError


@dataclass(frozen=True)
class LineInfo:
    insn_offset: int  # byte offset of the first instruction of the line, in its section
    file: str
    line: int
    column: int
    source: str  # the source line's text, as the compiler recorded it


class LineTable:
    """Source lines per section, for looking up the line an instruction offset belongs to."""

    def __init__(self, by_section: dict[str, list[LineInfo]]):
        # Line 0 marks compiler-made code; the instruction belongs to the real line before it.
        self.by_section = {
            name: sorted((r for r in rows if r.line), key=lambda r: r.insn_offset) for name, rows in by_section.items()
        }
        self._offsets = {name: [r.insn_offset for r in rows] for name, rows in self.by_section.items()}

    def lookup(self, section: str, offset: int) -> LineInfo | None:
        rows = self.by_section.get(section)
        if not rows:
            return None
        at = bisect.bisect_right(self._offsets[section], offset) - 1
        return rows[at] if at >= 0 else None


def _string(btf: BTF, offset: int, where: int) -> str:
    strings = btf.strings
    if offset >= len(strings):
        raise BTFError(f".BTF.ext: string offset {offset} past the .BTF strings (record at byte {where})")
    end = strings.find(b"\0", offset)
    return strings[offset : end if end >= 0 else len(strings)].decode("utf-8", errors="replace")


def parse_line_info(data: bytes, btf: BTF) -> LineTable:
    order = btf.byte_order
    header_size = structs.size(structs.EXT_HEADER)
    if len(data) < header_size:
        raise BTFError(f".BTF.ext: {len(data)} bytes, too short for its header")
    magic, version, _flags, hdr_len, _fi_off, _fi_len, li_off, li_len = structs.unpack_from(
        order, structs.EXT_HEADER, data, 0
    )
    if magic != enums.BTF_MAGIC:
        raise BTFError(f".BTF.ext: bad magic 0x{magic:04x} at byte 0")
    if version != 1:
        raise BTFError(f".BTF.ext: version {version} at byte 2 (only 1 is defined)")
    start, end = hdr_len + li_off, hdr_len + li_off + li_len
    if end > len(data):
        raise BTFError(f".BTF.ext: line info at byte {start}, {li_len} bytes, runs past the section")
    if li_len == 0:
        return LineTable({})
    (record_size,) = struct.unpack_from(order + "I", data, start)
    if record_size < structs.size(structs.LINE_INFO):
        raise BTFError(f".BTF.ext: line info record size {record_size} at byte {start} is too small")
    by_section: dict[str, list[LineInfo]] = {}
    offset = start + 4
    sec_size = structs.size(structs.EXT_INFO_SEC)
    while offset < end:
        if offset + sec_size > end:
            raise BTFError(f".BTF.ext: truncated line info block at byte {offset}")
        name_off, count = structs.unpack_from(order, structs.EXT_INFO_SEC, data, offset)
        section = _string(btf, name_off, offset)
        offset += sec_size
        if offset + count * record_size > end:
            raise BTFError(f".BTF.ext: {count} line records of section {section} run past the line info")
        rows = by_section.setdefault(section, [])
        for _ in range(count):
            insn_off, file_off, line_off, line_col = structs.unpack_from(order, structs.LINE_INFO, data, offset)
            rows.append(LineInfo(insn_off, _string(btf, file_off, offset), line_col >> 10, line_col & 0x3FF,
                                 _string(btf, line_off, offset).strip()))
            offset += record_size
    return LineTable(by_section)
