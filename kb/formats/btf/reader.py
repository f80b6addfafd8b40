"""A parser of the BPF Type Format: the ``.BTF`` section of BPF objects and a kernel's /sys/kernel/btf/vmlinux.

Decoding only; what a type means to kbgen (a map's type, a kfunc's name) is asked of the parsed
:class:`BTF` by the code that needs it.  Every error names the byte offset it was found at.
"""

from __future__ import annotations

import functools
import gc
import struct
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from typing import NamedTuple

from kb.formats.btf import enums, structs


class BTFError(ValueError):
    pass


@dataclass
class BTFType:
    id: int
    kind: int
    name: str
    vlen: int
    kind_flag: bool
    size_or_type: int
    # Kind-specific data: members/params/values as (name, type or value, offset) tuples, array info, ...
    members: list[tuple] = field(default_factory=list)
    extra: tuple = ()

    @property
    def kind_name(self) -> str:
        return enums.KIND_NAMES.get(self.kind, f"kind {self.kind}")

    @property
    def type(self) -> int:
        return self.size_or_type


@dataclass
class BTF:
    byte_order: str
    version: int
    flags: int
    types: list[BTFType]  # types[0] is the void type
    strings: bytes
    base: BTF | None = None  # split BTF (a module's) refers to its base's ids

    def __len__(self) -> int:
        return len(self.types)

    def type(self, type_id: int) -> BTFType:
        if not 0 <= type_id < len(self.types):
            raise BTFError(f"type id {type_id} out of range (0..{len(self.types) - 1})")
        return self.types[type_id]

    def resolve(self, type_id: int) -> BTFType:
        """The type behind typedefs and qualifiers."""
        seen = 0
        t = self.type(type_id)
        while t.kind in enums.TRANSPARENT_KINDS:
            seen += 1
            if seen > len(self.types):
                raise BTFError(f"type id {type_id}: reference loop")
            t = self.type(t.type)
        return t

    def by_name(self, name: str, kind: int | None = None) -> list[BTFType]:
        return [t for t in self.types if t.name == name and (kind is None or t.kind == kind)]

    def datasec(self, name: str) -> BTFType | None:
        found = self.by_name(name, enums.KIND_DATASEC)
        return found[0] if found else None


class BTFHeader(NamedTuple):
    """struct btf_header, with where its two sections lie in the data."""

    byte_order: str  # "<" or ">", from the magic
    version: int
    flags: int
    hdr_len: int
    type_off: int
    type_len: int
    str_off: int
    str_len: int

    @property
    def types_start(self) -> int:
        return self.hdr_len + self.type_off

    @property
    def strings_start(self) -> int:
        return self.hdr_len + self.str_off

    @property
    def size(self) -> int:
        """Bytes from the header's start to the end of its last section: the length of the BTF blob."""
        return max(self.hdr_len, self.types_start + self.type_len, self.strings_start + self.str_len)


def read_header(data) -> BTFHeader:
    """Check and decode the header of raw BTF: magic (either byte order), version, both sections inside *data*."""
    if len(data) < structs.size(structs.HEADER):
        raise BTFError(f"{len(data)} bytes: too short for a BTF header")
    magic_le = struct.unpack_from("<H", data, 0)[0]
    if magic_le == enums.BTF_MAGIC:
        order = "<"
    elif struct.unpack_from(">H", data, 0)[0] == enums.BTF_MAGIC:
        order = ">"
    else:
        raise BTFError(f"bad magic 0x{magic_le:04x} at byte 0 (expected 0xeb9f)")
    header = BTFHeader(order, *structs.unpack_from(order, structs.HEADER, data, 0)[1:])
    if header.version != enums.BTF_VERSION:
        raise BTFError(f"BTF version {header.version} at byte 2 (only 1 is defined)")
    for label, start, length in (("type", header.types_start, header.type_len),
                                 ("string", header.strings_start, header.str_len)):
        if start + length > len(data):
            raise BTFError(
                f"{label} section at byte {start}, {length} bytes, runs past the end of the data ({len(data)} bytes)"
            )
    return header


def _string(strings: bytes, offset: int, where: int) -> str:
    if offset >= len(strings) and offset != 0:
        raise BTFError(f"string offset {offset} past the string section (type at byte {where})")
    end = strings.find(b"\0", offset)
    if end < 0:
        raise BTFError(f"unterminated string at string offset {offset}")
    return strings[offset:end].decode("utf-8", errors="replace")


class _BadString(Exception):
    """A string offset the string section cannot answer; the parser re-raises it naming the type."""


class _StringTable(dict):
    """Every string of the string section by its offset, decoded once; offsets inside a string work too."""

    def __init__(self, strings: bytes):
        pieces = strings.split(b"\0")
        if strings.isascii():
            decoded = strings.decode("ascii").split("\0")
        else:
            decoded = [p.decode("utf-8", errors="replace") for p in pieces]
        offsets = accumulate((len(p) + 1 for p in pieces), initial=0)
        # The piece after the last NUL is not a string (unterminated, or empty).
        super().__init__(zip(offsets, decoded[:-1]))
        self.strings = strings

    def __missing__(self, offset: int) -> str:
        try:
            found = _string(self.strings, offset, -1)
        except BTFError as err:
            raise _BadString(offset) from err
        self[offset] = found
        return found


@functools.lru_cache(maxsize=4096)
def _records_struct(order: str, fmt: str, count: int) -> struct.Struct:
    """*count* records of *fmt* back to back, unpacked in one call into one flat tuple."""
    return struct.Struct(order + fmt * count)


def parse_btf(data: bytes) -> BTF:
    """Parse raw BTF (header, type section, string section)."""
    header = read_header(data)
    collecting = gc.isenabled()
    gc.disable()  # some 10^5 objects, none of them garbage: collections would only walk them (twice the time)
    try:
        return _parse(data, header)
    finally:
        if collecting:
            gc.enable()


def _parse(data, header: BTFHeader) -> BTF:
    order = header.byte_order
    strings = bytes(data[header.strings_start : header.strings_start + header.str_len])
    name_of = _StringTable(strings).__getitem__
    types = [BTFType(0, enums.KIND_UNKN, "", 0, False, 0)]
    append = types.append
    unpack_type = _records_struct(order, structs.TYPE, 1).unpack_from
    type_size = structs.size(structs.TYPE)
    offset = where = header.types_start
    end = offset + header.type_len
    no_data, kind_data = _NO_DATA_KINDS, structs.KIND_DATA
    try:
        while offset < end:
            where = offset
            if offset + type_size > end:
                raise BTFError(f"truncated type at byte {offset}")
            name_off, info, size_or_type = unpack_type(data, offset)
            offset += type_size
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            if kind in no_data:
                append(BTFType(len(types), kind, name_of(name_off), vlen, info >= 0x80000000, size_or_type, [], ()))
                continue
            if kind not in kind_data:
                raise BTFError(f"unknown BTF kind {kind} at byte {where}")
            fmt, per_member = kind_data[kind]
            count = vlen if per_member else 1
            step = structs.size(fmt)
            if offset + step * count > end:
                raise BTFError(f"type at byte {where}: {count} records run past the type section")
            flat = _records_struct(order, fmt, count).unpack_from(data, offset) if count else ()
            offset += step * count
            members: list[tuple] = []
            extra: tuple = ()
            if not per_member:
                extra = flat
            elif kind == enums.KIND_FUNC_PROTO or kind == enums.KIND_ENUM:
                members = list(zip(map(name_of, flat[0::2]), flat[1::2], repeat(None)))
            elif kind == enums.KIND_STRUCT or kind == enums.KIND_UNION:
                members = list(zip(map(name_of, flat[0::3]), flat[1::3], flat[2::3]))
            elif kind == enums.KIND_ENUM64:
                members = [(name_of(n), (hi << 32) | (lo & 0xFFFFFFFF), None)
                           for n, lo, hi in zip(flat[0::3], flat[1::3], flat[2::3])]
            else:  # DATASEC
                members = list(zip(repeat(None), flat[0::3], flat[1::3], flat[2::3]))
            append(BTFType(len(types), kind, name_of(name_off), vlen, info >= 0x80000000, size_or_type, members,
                           extra))
    except _BadString as bad:
        _string(strings, bad.args[0], where)  # raises the error, naming the type it was met in
        raise
    return BTF(order, header.version, header.flags, types, strings)


# Kinds whose btf_type is followed by nothing.
_NO_DATA_KINDS = frozenset(enums.KIND_NAMES) - set(structs.KIND_DATA)
