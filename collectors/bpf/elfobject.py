"""Read a BPF ELF object (as clang -target bpf and libbpf produce it): its programs, calls and maps.

pyelftools reads the ELF; sections are checked against the file size before anything is read from
them, so a section header that lies about its length is reported, not followed.
"""

from __future__ import annotations

import io
import os
import struct
from dataclasses import dataclass, field

from collectors.bpf import enums, structs
from collectors.bpf.instructions import DecodeError, decode
from collectors.btf.enums import KIND_ARRAY, KIND_PTR, KIND_STRUCT, KIND_VAR
from collectors.btf.ext import LineTable, parse_line_info
from collectors.btf.reader import BTF, BTFError, parse_btf
from kb.vocab.errors import KbgenError


class ObjectError(KbgenError, ValueError):
    """A file that is not a readable BPF object; the message names the file and the offset or section."""


@dataclass(frozen=True)
class SourceLine:
    file: str  # as recorded by the compiler, resolved against the object's directory when that file exists
    line: int
    column: int
    text: str


@dataclass(frozen=True)
class Call:
    kind: str  # "helper" or "kfunc"
    target: int | str  # helper id; kfunc name
    section: str
    program: str | None  # the function symbol the instruction belongs to
    index: int  # instruction slot in the section
    offset: int  # byte offset in the section
    file_offset: int  # byte offset in the file
    source: SourceLine | None = None  # from the object's .BTF.ext line info (clang -g)


@dataclass(frozen=True)
class MapDefinition:
    name: str
    map_type: int
    section: str
    file_offset: int


@dataclass
class BPFObject:
    path: str
    byte_order: str
    programs: list[tuple[str, str, int]] = field(default_factory=list)  # (section, symbol, offset)
    calls: list[Call] = field(default_factory=list)
    maps: list[MapDefinition] = field(default_factory=list)


def read_object(path: str) -> BPFObject:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ObjectError(f"{path}: {err.strerror}") from None
    return parse_object(data, path)


def parse_object(data: bytes, path: str = "<bytes>") -> BPFObject:
    from elftools.common.exceptions import ELFError, ELFParseError
    from elftools.elf.elffile import ELFFile

    if data[:4] != b"\x7fELF":
        raise ObjectError(f"{path}: not an ELF file (no ELF magic at offset 0)")
    try:
        elf = ELFFile(io.BytesIO(data))
        machine = elf["e_machine"]
        if machine not in ("EM_BPF", enums.EM_BPF):
            raise ObjectError(f"{path}: ELF for {machine}, not a BPF object (EM_BPF)")
        return _Reader(elf, data, path).read()
    except ObjectError:
        raise
    except (ELFError, ELFParseError, struct.error, DecodeError, BTFError) as err:
        raise ObjectError(f"{path}: malformed BPF object ({err})") from None
    except (ValueError, IndexError, KeyError, UnicodeDecodeError, AssertionError, OverflowError) as err:
        # pyelftools raises these on headers whose fields point nowhere sensible.
        raise ObjectError(f"{path}: malformed ELF ({type(err).__name__}: {err})") from None


class _Reader:
    def __init__(self, elf, data: bytes, path: str):
        self.elf = elf
        self.data = data
        self.path = path
        self.order = "<" if elf.little_endian else ">"
        self.sections = list(elf.iter_sections())
        # pyelftools re-reads section headers on every look-up by name; index them once.
        self.by_name = {}
        for index, section in enumerate(self.sections):
            self.by_name.setdefault(section.name, section)
        for index, section in enumerate(self.sections):
            if section["sh_type"] != "SHT_NOBITS" and section["sh_offset"] + section["sh_size"] > len(data):
                raise ObjectError(
                    f"{path}: section {index} ({section.name or 'unnamed'}) claims {section['sh_size']} bytes at "
                    f"offset {section['sh_offset']}, past the end of the file ({len(data)} bytes)"
                )
        symtab = self.by_name.get(".symtab")
        if symtab is not None and symtab["sh_type"] != "SHT_SYMTAB":
            raise ObjectError(f"{path}: section .symtab is not a symbol table ({symtab['sh_type']})")
        self.symbols = list(symtab.iter_symbols()) if symtab is not None else []

    def read(self) -> BPFObject:
        obj = BPFObject(self.path, self.order)
        btf_section = self.by_name.get(".BTF")
        btf = parse_btf(btf_section.data()) if btf_section is not None else None
        ext_section = self.by_name.get(".BTF.ext")
        self.lines = parse_line_info(ext_section.data(), btf) if btf and ext_section is not None else LineTable({})
        for index, section in enumerate(self.sections):
            if (
                section["sh_type"] == "SHT_PROGBITS"
                and section["sh_flags"] & enums.SHF_EXECINSTR
                and section["sh_size"] > 0
            ):
                self._read_program_section(obj, index, section)
        obj.maps = (self._btf_maps(btf) if btf else []) + self._legacy_maps()
        return obj

    def _source(self, section: str, offset: int) -> SourceLine | None:
        found = self.lines.lookup(section, offset)
        if found is None:
            return None
        path = found.file
        if not os.path.isabs(path):
            beside = os.path.normpath(os.path.join(os.path.dirname(self.path), path))
            path = beside if os.path.exists(beside) else os.path.normpath(path)
        return SourceLine(path, found.line, found.column, found.source)

    def _functions(self, index: int) -> list[tuple[int, str]]:
        return sorted(
            (s["st_value"], s.name)
            for s in self.symbols
            if s["st_info"]["type"] == "STT_FUNC" and s["st_shndx"] == index
        )

    def _relocations(self, index: int) -> dict[int, object]:
        """Byte offset in section *index* -> the symbol its relocation names."""
        found = {}
        for section in self.sections:
            if section["sh_type"] in ("SHT_REL", "SHT_RELA") and section["sh_info"] == index:
                for rel in section.iter_relocations():
                    symbol_index = rel["r_info_sym"]
                    if symbol_index >= len(self.symbols):
                        raise ObjectError(
                            f"{self.path}: relocation at offset {rel['r_offset']} of {section.name} names symbol "
                            f"{symbol_index}, past the symbol table"
                        )
                    found[rel["r_offset"]] = self.symbols[symbol_index]
        return found

    def _read_program_section(self, obj: BPFObject, index: int, section) -> None:
        functions = self._functions(index)
        obj.programs.extend((section.name, name, value) for value, name in functions)
        relocations = self._relocations(index)
        code = self.data[section["sh_offset"] : section["sh_offset"] + section["sh_size"]]
        try:
            instructions = list(decode(code, self.order))
        except DecodeError as err:
            raise ObjectError(f"{self.path}: section {section.name}: {err}") from None
        for insn in instructions:
            if not insn.is_call:
                continue
            program = None
            for value, name in functions:
                if value <= insn.offset:
                    program = name
            symbol = relocations.get(insn.offset)
            if insn.src_reg == enums.CALL_HELPER:
                kind, target = "helper", insn.imm
            elif insn.src_reg == enums.PSEUDO_KFUNC_CALL:
                kind, target = "kfunc", symbol.name if symbol is not None else f"btf_id:{insn.imm}"
            elif insn.src_reg == enums.PSEUDO_CALL and symbol is not None and symbol["st_shndx"] == "SHN_UNDEF":
                # clang emits kfunc calls as pseudo calls relocated against the extern; libbpf rewrites them.
                kind, target = "kfunc", symbol.name
            else:
                continue  # a call of a BPF subprogram
            obj.calls.append(
                Call(kind, target, section.name, program, insn.index, insn.offset, section["sh_offset"] + insn.offset,
                     self._source(section.name, insn.offset))
            )

    def _btf_maps(self, btf: BTF) -> list[MapDefinition]:
        maps_section = self.by_name.get(enums.MAPS_SECTION)
        if maps_section is None:
            return []
        datasec = btf.datasec(enums.MAPS_SECTION)
        if datasec is None:
            return []
        found = []
        for _name, var_id, offset, _size in datasec.members:
            var = btf.type(var_id)
            if var.kind != KIND_VAR:
                continue
            definition = btf.resolve(var.type)
            if definition.kind != KIND_STRUCT:
                continue
            for member_name, member_type, _bits in definition.members:
                if member_name != "type":
                    continue
                # __uint(type, BPF_MAP_TYPE_HASH) is `int (*type)[BPF_MAP_TYPE_HASH]`: the array length is the value.
                pointer = btf.resolve(member_type)
                array = btf.resolve(pointer.type) if pointer.kind == KIND_PTR else None
                if array is not None and array.kind == KIND_ARRAY:
                    found.append(MapDefinition(var.name, array.extra[2], enums.MAPS_SECTION,
                                               maps_section["sh_offset"] + offset))
        return found

    def _legacy_maps(self) -> list[MapDefinition]:
        section = self.by_name.get(enums.LEGACY_MAPS_SECTION)
        if section is None or section["sh_type"] == "SHT_NOBITS":
            return []
        index = self.sections.index(section)
        data = section.data()
        found = []
        for symbol in self.symbols:
            if symbol["st_shndx"] != index or symbol["st_info"]["type"] not in ("STT_OBJECT", "STT_NOTYPE"):
                continue
            if not symbol.name:
                continue
            offset = symbol["st_value"]
            if offset + 4 > len(data):
                raise ObjectError(f"{self.path}: map {symbol.name} at offset {offset} lies outside section maps")
            # Only the first field, the map type: old loaders accepted map definitions of other lengths.
            (map_type,) = struct.unpack_from(self.order + structs.LEGACY_MAP_DEF[0], data, offset)
            found.append(MapDefinition(symbol.name, map_type, enums.LEGACY_MAPS_SECTION, section["sh_offset"] + offset))
        return found
