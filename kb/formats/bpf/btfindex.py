"""The ``.BTF`` of a BPF object, indexed rather than parsed: what a scan asks of it is a few types.

One walk over the type section records where each type starts and its info word, and notes the types a scan
looks at (functions, variables, data sections, tags, structs by name); a type is decoded into a
:class:`collectors.btf.reader.BTFType` only when asked for, and a name only when read.  The header is checked by
:func:`collectors.btf.reader.read_header`, the records are those of :mod:`collectors.btf.structs`.
"""

from __future__ import annotations

import struct
from array import array

from kb.formats.btf import enums, structs
from kb.formats.btf.reader import BTF, BTFError, BTFType, read_header

_TYPE = structs.size(structs.TYPE)
# kind -> (bytes after the btf_type, bytes per vlen member)
_SIZES = {kind: (0 if per_member else structs.size(fmt), structs.size(fmt) if per_member else 0)
          for kind, (fmt, per_member) in structs.KIND_DATA.items()}
_NOTED = frozenset({enums.KIND_FUNC, enums.KIND_VAR, enums.KIND_DATASEC, enums.KIND_TYPE_TAG, enums.KIND_DECL_TAG,
                    enums.KIND_STRUCT, enums.KIND_ENUM, enums.KIND_ENUM64})


class TypeIndex:
    def __init__(self, data):
        header = read_header(data)
        self.byte_order = order = header.byte_order
        self.types_data = bytes(data[header.types_start : header.types_start + header.type_len])
        self.strings = bytes(data[header.strings_start : header.strings_start + header.str_len])
        self.offsets = array("I", [0])  # type id -> byte offset of its btf_type (id 0, void, has none)
        self.infos = array("I", [0])
        self.noted: dict[int, list[int]] = {kind: [] for kind in _NOTED}  # kind -> ids of that kind
        self.kinds: set[int] = set()
        self._names: dict[int, str] = {}
        self._decoded: dict[int, BTFType] = {}
        self._walk(struct.Struct(order + "xxxxIxxxx").unpack_from)

    def _walk(self, info_of) -> None:
        data, end = self.types_data, len(self.types_data)
        offsets, infos, noted, sizes = self.offsets, self.infos, self.noted, _SIZES
        offset = 0
        kinds = set()
        while offset < end:
            if offset + _TYPE > end:
                raise BTFError(f"truncated type at byte {offset} of the type section")
            (info,) = info_of(data, offset)
            kind = (info >> 24) & 0x1F
            if kind not in enums.KIND_NAMES:
                raise BTFError(f"unknown BTF kind {kind} at byte {offset} of the type section")
            if kind not in kinds:
                kinds.add(kind)
            if kind in noted:
                noted[kind].append(len(offsets))
            offsets.append(offset)
            infos.append(info)
            fixed, member = sizes.get(kind, (0, 0))
            offset += _TYPE + fixed + member * (info & 0xFFFF)
        if offset > end:
            raise BTFError(f"the last type runs {offset - end} bytes past the type section")
        self.kinds = kinds

    def __len__(self) -> int:
        return len(self.offsets)

    def name(self, offset: int) -> str:
        found = self._names.get(offset)
        if found is None:
            strings = self.strings
            if offset >= len(strings) and offset:
                raise BTFError(f"string offset {offset} past the string section")
            end = strings.find(b"\0", offset)
            found = self._names[offset] = strings[offset : end if end >= 0 else len(strings)].decode(
                "utf-8", errors="replace")
        return found

    def type(self, type_id: int) -> BTFType:
        found = self._decoded.get(type_id)
        if found is not None:
            return found
        if type_id == 0:
            return BTFType(0, enums.KIND_UNKN, "", 0, False, 0)
        if not 0 < type_id < len(self.offsets):
            raise BTFError(f"type id {type_id} out of range (0..{len(self.offsets) - 1})")
        offset = self.offsets[type_id]
        name_off, info, size_or_type = struct.unpack_from(self.byte_order + structs.TYPE, self.types_data, offset)
        kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
        members: list[tuple] = []
        extra: tuple = ()
        if kind in structs.KIND_DATA:
            fmt, per_member = structs.KIND_DATA[kind]
            count = vlen if per_member else 1
            flat = struct.unpack_from(self.byte_order + fmt * count, self.types_data, offset + _TYPE) if count else ()
            if not per_member:
                extra = flat
            elif kind in (enums.KIND_STRUCT, enums.KIND_UNION):
                members = [(self.name(n), t, o) for n, t, o in zip(flat[0::3], flat[1::3], flat[2::3])]
            elif kind == enums.KIND_DATASEC:
                members = [(None, t, o, s) for t, o, s in zip(flat[0::3], flat[1::3], flat[2::3])]
            elif kind == enums.KIND_ENUM64:
                members = [(self.name(n), (hi << 32) | (lo & 0xFFFFFFFF), None)
                           for n, lo, hi in zip(flat[0::3], flat[1::3], flat[2::3])]
            else:  # ENUM, FUNC_PROTO: (name, value or type)
                members = [(self.name(n), value, None) for n, value in zip(flat[0::2], flat[1::2])]
        found = self._decoded[type_id] = BTFType(type_id, kind, self.name(name_off), vlen, info >= 0x80000000,
                                                 size_or_type, members, extra)
        return found

    def info(self, type_id: int) -> tuple[int, int, bool]:
        """(kind, vlen, kind_flag) of a type, without decoding it."""
        info = self.infos[type_id]
        return (info >> 24) & 0x1F, info & 0xFFFF, info >= 0x80000000

    def type_name(self, type_id: int) -> str:
        if type_id == 0:
            return ""
        (name_off,) = struct.unpack_from(self.byte_order + "I", self.types_data, self.offsets[type_id])
        return self.name(name_off)

    @property
    def types(self) -> array:
        """One entry per type id (its offset): what :meth:`resolve` counts to tell a reference loop."""
        return self.offsets

    # The type behind typedefs and qualifiers: the parsed BTF's rule, on the indexed types.
    resolve = BTF.resolve

    def datasecs(self) -> dict[str, BTFType]:
        found = {}
        for type_id in self.noted[enums.KIND_DATASEC]:
            datasec = self.type(type_id)
            found.setdefault(datasec.name, datasec)
        return found
