"""A parser of the BPF Type Format: the ``.BTF`` section of BPF objects and a kernel's /sys/kernel/btf/vmlinux.

Decoding only; what a type means to kbgen (a map's type, a kfunc's name) is asked of the parsed
:class:`BTF` by the code that needs it.  Every error names the byte offset it was found at.

Parsing walks the type section once, as 32-bit words: it records where each type starts, checks that every
type has a known kind and fits the section and that every name points at a terminated string, and notes the
ids of the few kinds looked up by kind (enums, declaration tags, data sections).  A type becomes a
:class:`BTFType` only when asked for: a kernel's BTF has some 10^5 types and a probe reads a few hundred.
"""

from __future__ import annotations

import functools
import gc
import struct
import sys
from array import array
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


def _void() -> BTFType:
    return BTFType(0, enums.KIND_UNKN, "", 0, False, 0)


# Kinds whose ids the parse notes, for lookups by kind without a walk over every type.
NOTED_KINDS = (enums.KIND_ENUM, enums.KIND_ENUM64, enums.KIND_DECL_TAG, enums.KIND_DATASEC)


class BTF:
    """Parsed BTF: checked whole when parsed, each type decoded when first asked for (then kept).

    Split BTF (a module's, against its kernel's vmlinux: *base*) numbers its own types after the base's and
    its own strings after the base's string section; ids and string offsets below those are the base's.
    """

    def __init__(self, data, header: BTFHeader, layout: _Layout, base: BTF | None = None):
        self.byte_order = header.byte_order
        self.version = header.version
        self.flags = header.flags
        self.base = base
        self.first_id = len(base) if base is not None else 1  # the id of this BTF's first own type
        self._data = data
        self._header = header
        self._layout = layout
        self._decoded: dict[int, BTFType] = {} if base is not None else {0: _void()}
        self._names = _StringTable(data, header.strings_start, header.str_len, base)
        self._all: list[BTFType] | None = None

    def __len__(self) -> int:
        """The number of type ids, void's and the base's included."""
        return self.first_id + len(self._layout.offsets)

    @property
    def types(self) -> list[BTFType]:
        """Every type, types[0] the void type: all decoded at once, for callers that look at them all."""
        if self._all is None:
            if self.base is not None:
                self._all = [self.type(i) for i in range(len(self))]
            else:
                self._all = _decode_all(self._data, self._header)
                self._decoded = dict(enumerate(self._all))
        return self._all

    @functools.cached_property
    def strings(self) -> bytes:
        """The string section."""
        start = self._header.strings_start
        return bytes(self._data[start : start + self._header.str_len])

    def type(self, type_id: int) -> BTFType:
        found = self._decoded.get(type_id)
        if found is None:
            if not 0 <= type_id < len(self):
                raise BTFError(f"type id {type_id} out of range (0..{len(self) - 1})")
            if type_id < self.first_id:
                return self.base.type(type_id)
            found = self._decoded[type_id] = _decode(self._data, self._header,
                                                     self._layout.offsets[type_id - self.first_id], type_id,
                                                     self._names.__getitem__)
        return found

    def info(self, type_id: int) -> tuple[int, int, bool]:
        """(kind, vlen, kind_flag) of a type, without decoding it."""
        if not self.first_id <= type_id < len(self):
            t = self.type(type_id)
            return t.kind, t.vlen, t.kind_flag
        info = self._layout.words[self._layout.offsets[type_id - self.first_id] + 1]
        return (info >> 24) & 0x1F, info & 0xFFFF, info >= 0x80000000

    def type_name(self, type_id: int) -> str:
        """A type's name, without decoding the rest of it."""
        if not self.first_id <= type_id < len(self):
            return self.type(type_id).name
        return self._names[self._layout.words[self._layout.offsets[type_id - self.first_id]]]

    def ids(self, kind: int) -> list[int]:
        """The ids of every type of *kind* in this BTF (a split BTF's own, not its base's), in id order."""
        noted = self._layout.noted.get(kind)
        if noted is not None:
            return list(noted)
        return [i for i in self._own_ids() if self.info(i)[0] == kind]

    def _own_ids(self) -> range:
        return range(self.first_id if self.base is not None else 0, len(self))

    def resolve(self, type_id: int) -> BTFType:
        """The type behind typedefs and qualifiers."""
        seen = 0
        t = self.type(type_id)
        while t.kind in enums.TRANSPARENT_KINDS:
            seen += 1
            if seen > len(self):
                raise BTFError(f"type id {type_id}: reference loop")
            t = self.type(t.type)
        return t

    def by_name(self, name: str, kind: int | None = None) -> list[BTFType]:
        ids = self.ids(kind) if kind is not None else self._own_ids()
        return [self.type(i) for i in ids if self.type_name(i) == name]

    def datasec(self, name: str) -> BTFType | None:
        found = self.by_name(name, enums.KIND_DATASEC)
        return found[0] if found else None


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


def parse_btf(data, base: BTF | None = None) -> BTF:
    """Parse raw BTF (header, type section, string section); a :class:`BTFError` naming the byte if it is bad.

    *base*: the BTF that split BTF (a module's ``.BTF``, ``/sys/kernel/btf/<module>``) was written against.
    """
    if not isinstance(data, bytes):  # a copy of a mutable buffer: the parsed BTF must not change under it
        data = bytes(data)
    header = read_header(data)
    layout = _walk(data, header, base)
    if layout is None:  # something is wrong: the full decoder says what, and where
        _decode_all(data, header, base)
        raise BTFError(f"type section at byte {header.types_start}: malformed")
    return BTF(data, header, layout, base)


# The words (4 bytes) a type takes, past its btf_type, per kind: (fixed, per vlen member).  Every record of BTF
# is a whole number of words, so the type section is walked as words.
_WORD = 4
_TYPE_WORDS = structs.size(structs.TYPE) // _WORD
_DATA_WORDS = {kind: (0, structs.size(fmt) // _WORD) if per_member else (structs.size(fmt) // _WORD, 0)
               for kind, (fmt, per_member) in structs.KIND_DATA.items()}
# Kinds whose members start with a name (a string offset), by words per member; DATASEC's members have none.
_NAMED_MEMBERS = {kind: per for kind, (_fixed, per) in _DATA_WORDS.items() if per and kind != enums.KIND_DATASEC}


class _Layout(NamedTuple):
    words: object  # the type section as 32-bit words in the machine's order (memoryview or array)
    offsets: array  # word offset of each type's btf_type, from the first own type (id first_id) on
    noted: dict  # kind -> ids of that kind, for NOTED_KINDS


def _words(data, header: BTFHeader):
    start, length = header.types_start, header.type_len
    native = "<" if sys.byteorder == "little" else ">"
    if header.byte_order == native:
        return memoryview(data)[start : start + length].cast("I")
    words = array("I", data[start : start + length])
    words.byteswap()
    return words


def _walk(data, header: BTFHeader, base: BTF | None) -> _Layout | None:
    """Where each type starts and the ids of the noted kinds; None when any type is malformed (not said how)."""
    if header.type_len % _WORD or array("I").itemsize != _WORD:
        return None
    strings_end = data.rfind(b"\0", header.strings_start, header.strings_start + header.str_len) + 1
    names_below = strings_end - header.strings_start if strings_end else 0  # a name must start before the last NUL
    first_id = 1
    if base is not None:  # own strings come after the base's; a name below them is the base's
        names_below += base._header.str_len
        first_id = len(base)
    words = _words(data, header)
    offsets = array("I")
    noted: dict[int, list[int]] = {kind: [] for kind in NOTED_KINDS}
    append = offsets.append
    shapes: dict[int, tuple] = {}  # info word -> (words of the type, words per named member, noted ids or None)
    shape_of = shapes.get
    end = len(words)
    top = 0  # the highest string offset of a name
    w = 0
    try:
        while w < end:
            info = words[w + 1]
            shape = shape_of(info)
            if shape is None:
                shape = shapes[info] = _shape(info, noted)
                if shape is None:
                    return None
            step, per, ids = shape
            if w + step > end:
                return None  # a type running past the section: the full decoder says where
            if ids is not None:
                ids.append(first_id + len(offsets))
            append(w)
            if per:
                name = max(words[w + _TYPE_WORDS : w + step : per])
                if name > top:  # noqa: PLR1730 (max() here would be a call per type)
                    top = name
            w += step
    except IndexError:  # fewer than two words left: a truncated btf_type
        return None
    if offsets:
        top = max(top, max(map(words.__getitem__, offsets)))  # the types' own names
    if w != end or top >= names_below:
        return None
    return _Layout(words, offsets, noted)


def _shape(info: int, noted: dict) -> tuple | None:
    kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
    if kind not in enums.KIND_NAMES:
        return None
    fixed, per = _DATA_WORDS.get(kind, (0, 0))
    return _TYPE_WORDS + fixed + per * vlen, _NAMED_MEMBERS.get(kind, 0) if vlen else 0, noted.get(kind)


def _string(strings: bytes, offset: int, where: int) -> str:
    if offset >= len(strings) and offset != 0:
        raise BTFError(f"string offset {offset} past the string section (type at byte {where})")
    end = strings.find(b"\0", offset)
    if end < 0:
        raise BTFError(f"unterminated string at string offset {offset}")
    return strings[offset:end].decode("utf-8", errors="replace")


# Names decoded one by one before the whole string section is decoded at once (cheaper per name from there on).
_NAMES_ONE_BY_ONE = 4096


def _every_string(strings: bytes) -> dict[int, str]:
    """Every string of a string section by its offset; the piece after the last NUL is not a string."""
    pieces = strings.split(b"\0")
    if strings.isascii():
        decoded = strings.decode("ascii").split("\0")
    else:
        decoded = [p.decode("utf-8", errors="replace") for p in pieces]
    return dict(zip(accumulate((len(p) + 1 for p in pieces), initial=0), decoded[:-1]))


class _StringTable(dict):
    """Strings of the string section by offset, decoded when first asked for; offsets inside a string work too.

    Only for checked BTF: every offset asked for is one the parse found terminated inside the section.
    """

    def __init__(self, data, start: int, length: int, base: BTF | None = None):
        super().__init__()
        self.data, self.start, self.end = data, start, start + length
        self.base = base._names if base is not None else None  # split BTF: offsets below shift are the base's
        self.shift = base._header.str_len if base is not None else 0
        self.misses = 0

    def __missing__(self, offset: int) -> str:
        if offset < self.shift:
            return self.base[offset]
        self.misses += 1
        if self.misses == _NAMES_ONE_BY_ONE:  # many names wanted (a huge enum): decode them all, once
            every = _every_string(bytes(self.data[self.start : self.end]))
            self.update((self.shift + at, name) for at, name in every.items())
            if offset in self:
                return self[offset]
        at = self.start + offset - self.shift
        end = self.data.find(b"\0", at, self.end)
        if offset - self.shift >= self.end - self.start and offset != 0 or end < 0:
            raise BTFError(f"string offset {offset} past the string section")
        found = self[offset] = self.data[at:end].decode("utf-8", errors="replace")
        return found


class _BadString(Exception):
    """A string offset the string section cannot answer; the parser re-raises it naming the type."""


class _AllStrings(dict):
    """Every string of the string section by its offset, decoded at once; offsets inside a string work too."""

    def __init__(self, strings: bytes):
        super().__init__(_every_string(strings))
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


def _decode(data, header: BTFHeader, word: int, type_id: int, name_of) -> BTFType:
    """The type whose btf_type is *word* words into the (checked) type section."""
    order = header.byte_order
    offset = header.types_start + word * _WORD
    name_off, info, size_or_type = _records_struct(order, structs.TYPE, 1).unpack_from(data, offset)
    kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
    members, extra = _kind_data(data, order, offset + _TYPE_WORDS * _WORD, kind, vlen, name_of)
    return BTFType(type_id, kind, name_of(name_off), vlen, info >= 0x80000000, size_or_type, members, extra)


def _kind_data(data, order: str, offset: int, kind: int, vlen: int, name_of) -> tuple[list[tuple], tuple]:
    """(members, extra) of a type whose data starts at *offset*."""
    if kind not in structs.KIND_DATA:
        return [], ()
    fmt, per_member = structs.KIND_DATA[kind]
    count = vlen if per_member else 1
    flat = _records_struct(order, fmt, count).unpack_from(data, offset) if count else ()
    if not per_member:
        return [], flat
    if kind == enums.KIND_FUNC_PROTO or kind == enums.KIND_ENUM:
        return list(zip(map(name_of, flat[0::2]), flat[1::2], repeat(None))), ()
    if kind == enums.KIND_STRUCT or kind == enums.KIND_UNION:
        return list(zip(map(name_of, flat[0::3]), flat[1::3], flat[2::3])), ()
    if kind == enums.KIND_ENUM64:
        return [(name_of(n), (hi << 32) | (lo & 0xFFFFFFFF), None)
                for n, lo, hi in zip(flat[0::3], flat[1::3], flat[2::3])], ()
    return list(zip(repeat(None), flat[0::3], flat[1::3], flat[2::3])), ()  # DATASEC


def _decode_all(data, header: BTFHeader, base: BTF | None = None) -> list[BTFType]:
    """Every own type, decoded in one pass; the first malformed one raises, naming its byte."""
    collecting = gc.isenabled()
    gc.disable()  # some 10^5 objects, none of them garbage: collections would only walk them (twice the time)
    try:
        return _decode_types(data, header, base)
    finally:
        if collecting:
            gc.enable()


def _decode_types(data, header: BTFHeader, base: BTF | None) -> list[BTFType]:
    order = header.byte_order
    strings = bytes(data[header.strings_start : header.strings_start + header.str_len])
    name_of = _AllStrings(strings).__getitem__
    shift = 0
    if base is not None:  # split BTF: string offsets and ids below the own ones are the base's
        shift, own_name_of = base._header.str_len, name_of

        def name_of(offset: int) -> str:
            if offset >= shift:
                try:
                    return own_name_of(offset - shift)
                except _BadString:
                    raise _BadString(offset) from None
            try:
                return base._names[offset]
            except BTFError as err:
                raise _BadString(offset) from err

    types = [_void()] if base is None else []
    first_id = 0 if base is None else len(base)
    append = types.append
    unpack_type = _records_struct(order, structs.TYPE, 1).unpack_from
    type_size = structs.size(structs.TYPE)
    offset = where = header.types_start
    end = offset + header.type_len
    kind_data = structs.KIND_DATA
    try:
        while offset < end:
            where = offset
            if offset + type_size > end:
                raise BTFError(f"truncated type at byte {offset}")
            name_off, info, size_or_type = unpack_type(data, offset)
            offset += type_size
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            if kind not in enums.KIND_NAMES:
                raise BTFError(f"unknown BTF kind {kind} at byte {where}")
            if kind in kind_data:
                fmt, per_member = kind_data[kind]
                count = vlen if per_member else 1
                if offset + structs.size(fmt) * count > end:
                    raise BTFError(f"type at byte {where}: {count} records run past the type section")
                members, extra = _kind_data(data, order, offset, kind, vlen, name_of)
                offset += structs.size(fmt) * count
            else:
                members, extra = [], ()
            append(BTFType(first_id + len(types), kind, name_of(name_off), vlen, info >= 0x80000000, size_or_type,
                           members, extra))
    except _BadString as bad:
        if bad.args[0] < shift:
            raise BTFError(f"string offset {bad.args[0]}: not a string of the base (type at byte {where})") from None
        _string(strings, bad.args[0] - shift, where)  # raises the error, naming the type it was met in
        raise
    return types
