"""A small ELF64 reader over a buffer (an mmap of the file, or bytes): section headers, symbols, relocations.

Only what a BPF object needs, read with :mod:`struct` from the buffer in place: nothing is copied whole, a
symbol is unpacked when it is asked for, and every offset is checked against the buffer before it is used,
so a header that lies is reported (:class:`ELFError`, naming the offset or section), never followed.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from kb.formats.bpf import enums, structs
from kb.vocab.errors import KbgenError


class ELFError(KbgenError, ValueError):
    """Raised inside the reader; the object reader turns it into an error naming the file."""


class NotELF(ELFError):
    """No ELF magic: not an object file at all."""


class NotBPF(ELFError):
    """An ELF object of another machine: a host object in a build directory."""


class Section(NamedTuple):
    index: int
    name: str
    type: int
    flags: int
    offset: int
    size: int
    link: int
    info: int
    entsize: int

    @property
    def type_name(self) -> str:
        return enums.SECTION_TYPES.get(self.type, f"type 0x{self.type:x}")

    @property
    def executable(self) -> bool:
        return self.type == enums.SHT_PROGBITS and bool(self.flags & enums.SHF_EXECINSTR) and self.size > 0


class Symbol(NamedTuple):
    index: int
    name: str
    info: int
    shndx: int
    value: int
    size: int

    @property
    def bind(self) -> int:
        return self.info >> 4

    @property
    def type(self) -> int:
        return self.info & 0xF

    @property
    def undefined(self) -> bool:
        return self.shndx == enums.SHN_UNDEF


class ELFFile:
    def __init__(self, buf, path: str = "<bytes>"):
        self.buf = buf
        self.path = path
        self.size = len(buf)
        if buf[:4] != enums.ELF_MAGIC:
            raise NotELF("not an ELF file (no ELF magic at offset 0)")
        if self.size < 16:
            raise ELFError(f"truncated ELF header ({self.size} bytes)")
        _magic, elf_class, data, _version = struct.unpack_from(structs.ELF_IDENT, buf, 0)
        if data not in (enums.ELFDATA2LSB, enums.ELFDATA2MSB):
            raise ELFError(f"unknown ELF data encoding {data} at offset 5")
        self.order = "<" if data == enums.ELFDATA2LSB else ">"
        if elf_class != enums.ELFCLASS64:
            if elf_class == 1 and self.size >= 20:  # ELF32: a host object, never a BPF one
                raise NotBPF(f"32-bit ELF for {self._machine_name(struct.unpack_from(self.order + 'H', buf, 18)[0])}"
                             ", not a BPF object (EM_BPF)")
            raise ELFError(f"ELF class {elf_class} at offset 4, not ELF64")
        header = structs.compiled(self.order, structs.ELF64_HEADER)
        if self.size < header.size:
            raise ELFError(f"truncated ELF header ({self.size} bytes, {header.size} needed)")
        (_type, machine, _version, _entry, _phoff, shoff, _flags, _ehsize, _phentsize, _phnum, shentsize, shnum,
         shstrndx) = header.unpack_from(buf, 0)
        self.machine = machine
        if machine != enums.EM_BPF:
            raise NotBPF(f"ELF for {self._machine_name(machine)}, not a BPF object (EM_BPF)")
        self.sections = self._read_sections(shoff, shentsize, shnum, shstrndx)
        self.by_name: dict[str, Section] = {}
        for section in self.sections:
            self.by_name.setdefault(section.name, section)
        self._symtab = self._find_symtab()
        self._symbols: dict[int, Symbol] = {}
        self._rel_sections: dict[int, list[Section]] = {}
        for section in self.sections:
            if section.type in (enums.SHT_REL, enums.SHT_RELA):
                self._rel_sections.setdefault(section.info, []).append(section)

    @staticmethod
    def _machine_name(machine: int) -> str:
        return enums.MACHINES.get(machine, f"machine {machine}")

    def _read_sections(self, shoff: int, shentsize: int, shnum: int, shstrndx: int) -> list[Section]:
        header = structs.compiled(self.order, structs.SECTION_HEADER)
        if shoff == 0:
            return []
        if shentsize != header.size:
            raise ELFError(f"section header size {shentsize} at offset 0x3a, not {header.size}")
        if shoff + header.size > self.size:
            raise ELFError(f"section headers at offset {shoff} lie past the end of the file ({self.size} bytes)")
        first = header.unpack_from(self.buf, shoff)
        if shnum == 0:
            shnum = first[5]  # extended numbering: the count is section 0's sh_size
        if shstrndx == enums.SHN_XINDEX:
            shstrndx = first[6]
        if shoff + shnum * header.size > self.size:
            raise ELFError(f"{shnum} section headers at offset {shoff} run past the end of the file "
                           f"({self.size} bytes)")
        raw = [header.unpack_from(self.buf, shoff + n * header.size) for n in range(shnum)]
        if not 0 <= shstrndx < shnum:
            raise ELFError(f"section name table index {shstrndx} out of range (0..{shnum - 1})")
        names = raw[shstrndx]
        if names[1] == enums.SHT_NOBITS or names[4] + names[5] > self.size:
            raise ELFError(f"section name table (section {shstrndx}) lies past the end of the file")
        sections = []
        for index, (name, sh_type, flags, _addr, offset, size, link, info, _align, entsize) in enumerate(raw):
            section = Section(index, self._string(names[4], names[5], name, f"section {index} name"), sh_type, flags,
                              offset, size, link, info, entsize)
            if sh_type != enums.SHT_NOBITS and sh_type != enums.SHT_NULL and offset + size > self.size:
                raise ELFError(
                    f"section {index} ({section.name or 'unnamed'}) claims {size} bytes at offset {offset}, past the "
                    f"end of the file ({self.size} bytes)"
                )
            sections.append(section)
        return sections

    def _string(self, table_offset: int, table_size: int, offset: int, what: str) -> str:
        if offset >= table_size:
            if offset == 0:
                return ""
            raise ELFError(f"{what}: string offset {offset} past its string table ({table_size} bytes)")
        start = table_offset + offset
        end = self.buf.find(b"\0", start, table_offset + table_size)
        if end < 0:
            raise ELFError(f"{what}: unterminated string at offset {start}")
        return bytes(self.buf[start:end]).decode("utf-8", errors="replace")

    def _find_symtab(self) -> Section | None:
        symtab = self.by_name.get(".symtab")
        if symtab is None:
            symtab = next((s for s in self.sections if s.type == enums.SHT_SYMTAB), None)
        if symtab is None:
            return None
        if symtab.type != enums.SHT_SYMTAB:
            raise ELFError(f"section .symtab is not a symbol table ({symtab.type_name})")
        if symtab.entsize != structs.size(structs.SYMBOL):
            raise ELFError(f"section .symtab has {symtab.entsize}-byte entries, not {structs.size(structs.SYMBOL)}")
        if not 0 < symtab.link < len(self.sections) or self.sections[symtab.link].type != enums.SHT_STRTAB:
            raise ELFError(f"section .symtab links to section {symtab.link}, not a string table")
        return symtab

    def data(self, section: Section) -> memoryview:
        """The section's bytes, in place (an empty view for SHT_NOBITS)."""
        if section.type == enums.SHT_NOBITS:
            return memoryview(b"")
        return memoryview(self.buf)[section.offset : section.offset + section.size]

    @property
    def symbol_count(self) -> int:
        return self._symtab.size // self._symtab.entsize if self._symtab else 0

    def symbol(self, index: int) -> Symbol:
        found = self._symbols.get(index)
        if found is None:
            if not 0 <= index < self.symbol_count:
                raise ELFError(f"symbol {index} past the symbol table ({self.symbol_count} symbols)")
            record = structs.compiled(self.order, structs.SYMBOL)
            name, info, _other, shndx, value, size = record.unpack_from(
                self.buf, self._symtab.offset + index * record.size)
            found = self._symbols[index] = Symbol(index, self._symbol_name(name), info, shndx, value, size)
        return found

    def _symbol_name(self, offset: int) -> str:
        strtab = self.sections[self._symtab.link]
        return self._string(strtab.offset, strtab.size, offset, "symbol name")

    def symbols(self, wanted) -> list[Symbol]:
        """Every symbol for which ``wanted(info, shndx)`` holds, in one pass over the table."""
        if self._symtab is None:
            return []
        record = structs.compiled(self.order, structs.SYMBOL)
        found = []
        view = memoryview(self.buf)[self._symtab.offset : self._symtab.offset + self.symbol_count * record.size]
        with view:
            for index, (name, info, _other, shndx, value, size) in enumerate(record.iter_unpack(view)):
                if wanted(info, shndx):
                    symbol = self._symbols.get(index)
                    if symbol is None:
                        symbol = self._symbols[index] = Symbol(index, self._symbol_name(name), info, shndx, value,
                                                               size)
                    found.append(symbol)
        return found

    def relocations(self, target: int) -> dict[int, tuple[int, int]]:
        """Byte offset in section *target* -> (symbol index, relocation type), from every SHT_REL(A) for it."""
        found: dict[int, tuple[int, int]] = {}
        for section in self._rel_sections.get(target, ()):
            fmt = structs.REL if section.type == enums.SHT_REL else structs.RELA
            record = structs.compiled(self.order, fmt)
            if section.entsize not in (0, record.size):
                raise ELFError(f"section {section.name} has {section.entsize}-byte entries, not {record.size}")
            count = section.size // record.size
            view = memoryview(self.buf)[section.offset : section.offset + count * record.size]
            with view:
                for entry in record.iter_unpack(view):
                    info = entry[1]
                    symbol = info >> 32
                    if symbol >= self.symbol_count:
                        raise ELFError(f"relocation at offset {entry[0]} of {section.name} names symbol {symbol}, "
                                       "past the symbol table")
                    found[entry[0]] = (symbol, info & 0xFFFFFFFF)
        return found
