"""A parser of the BPF Type Format: the ``.BTF`` section of BPF objects and a kernel's /sys/kernel/btf/vmlinux.

Decoding only; what a type means to kbgen (a map's type, a kfunc's name) is asked of the parsed
:class:`BTF` by the code that needs it.  Every error names the byte offset it was found at.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from collectors.btf import enums, structs


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


def _string(strings: bytes, offset: int, where: int) -> str:
    if offset >= len(strings) and offset != 0:
        raise BTFError(f"string offset {offset} past the string section (type at byte {where})")
    end = strings.find(b"\0", offset)
    if end < 0:
        raise BTFError(f"unterminated string at string offset {offset}")
    return strings[offset:end].decode("utf-8", errors="replace")


def parse_btf(data: bytes) -> BTF:
    """Parse raw BTF (header, type section, string section)."""
    if len(data) < structs.size(structs.HEADER):
        raise BTFError(f"{len(data)} bytes: too short for a BTF header")
    magic_le = struct.unpack_from("<H", data, 0)[0]
    if magic_le == enums.BTF_MAGIC:
        order = "<"
    elif struct.unpack_from(">H", data, 0)[0] == enums.BTF_MAGIC:
        order = ">"
    else:
        raise BTFError(f"bad magic 0x{magic_le:04x} at byte 0 (expected 0xeb9f)")
    _magic, version, flags, hdr_len, type_off, type_len, str_off, str_len = structs.unpack_from(
        order, structs.HEADER, data, 0
    )
    if version != 1:
        raise BTFError(f"BTF version {version} at byte 2 (only 1 is defined)")
    types_start, strings_start = hdr_len + type_off, hdr_len + str_off
    for label, start, length in (("type", types_start, type_len), ("string", strings_start, str_len)):
        if start + length > len(data):
            raise BTFError(
                f"{label} section at byte {start}, {length} bytes, runs past the end of the data ({len(data)} bytes)"
            )
    strings = data[strings_start : strings_start + str_len]
    types = [BTFType(0, enums.KIND_UNKN, "", 0, False, 0)]
    offset, end = types_start, types_start + type_len
    type_size = structs.size(structs.TYPE)
    while offset < end:
        where = offset
        if offset + type_size > end:
            raise BTFError(f"truncated type at byte {offset}")
        name_off, info, size_or_type = structs.unpack_from(order, structs.TYPE, data, offset)
        offset += type_size
        kind, vlen, kind_flag = (info >> 24) & 0x1F, info & 0xFFFF, bool(info >> 31)
        t = BTFType(len(types), kind, _string(strings, name_off, where), vlen, kind_flag, size_or_type)
        offset = _read_kind_data(t, order, data, offset, end, strings, where)
        types.append(t)
    return BTF(order, version, flags, types, strings)


def _records(order, fmt, data, offset, end, count, where):
    step = structs.size(fmt)
    if offset + step * count > end:
        raise BTFError(f"type at byte {where}: {count} records run past the type section")
    return [structs.unpack_from(order, fmt, data, offset + i * step) for i in range(count)], offset + step * count


def _read_kind_data(t: BTFType, order, data, offset, end, strings, where) -> int:
    k = t.kind
    if k == enums.KIND_INT:
        (t.extra,), offset = _records(order, structs.INT_DATA, data, offset, end, 1, where)
    elif k == enums.KIND_ARRAY:
        (t.extra,), offset = _records(order, structs.ARRAY_DATA, data, offset, end, 1, where)
    elif k in (enums.KIND_STRUCT, enums.KIND_UNION):
        rows, offset = _records(order, structs.MEMBER, data, offset, end, t.vlen, where)
        t.members = [(_string(strings, n, where), ty, off) for n, ty, off in rows]
    elif k == enums.KIND_ENUM:
        rows, offset = _records(order, structs.ENUM_VALUE, data, offset, end, t.vlen, where)
        t.members = [(_string(strings, n, where), val, None) for n, val in rows]
    elif k == enums.KIND_ENUM64:
        rows, offset = _records(order, structs.ENUM64_VALUE, data, offset, end, t.vlen, where)
        t.members = [(_string(strings, n, where), (hi << 32) | (lo & 0xFFFFFFFF), None) for n, lo, hi in rows]
    elif k == enums.KIND_FUNC_PROTO:
        rows, offset = _records(order, structs.PARAM, data, offset, end, t.vlen, where)
        t.members = [(_string(strings, n, where), ty, None) for n, ty in rows]
    elif k == enums.KIND_VAR:
        (t.extra,), offset = _records(order, structs.VAR_DATA, data, offset, end, 1, where)
    elif k == enums.KIND_DATASEC:
        rows, offset = _records(order, structs.VAR_SECINFO, data, offset, end, t.vlen, where)
        t.members = [(None, ty, off, sz) for ty, off, sz in rows]
    elif k == enums.KIND_DECL_TAG:
        (t.extra,), offset = _records(order, structs.DECL_TAG_DATA, data, offset, end, 1, where)
    elif k not in enums.KIND_NAMES:
        raise BTFError(f"unknown BTF kind {k} at byte {where}")
    return offset
