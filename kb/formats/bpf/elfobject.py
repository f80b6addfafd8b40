"""Read a BPF ELF object (as clang -target bpf and libbpf produce it): its functions, calls, maps, and every
instruction, relocation, section and BTF type that shows a need (:mod:`collectors.bpf.enums` rules).

The file is mapped, never read whole: headers, symbols and relocations are unpacked in place
(:mod:`collectors.bpf.elffile`), code is scanned by :func:`collectors.bpf.instructions.scan_code`, and source
lines are looked up only for what is reported.  Externs are classified as libbpf does
(``bpf_object__collect_externs``): the BTF VAR or FUNC of that name and the DATASEC holding it say whether it
is a ``__kconfig`` value, a ``__ksym`` (kernel variable or kfunc) or, in no such section, something another
object defines, resolved when objects are linked.
"""

from __future__ import annotations

import bisect
import mmap
import os
import stat
import struct
from dataclasses import dataclass, field

from kb.formats.bpf import cfg, enums, guards, structs
from kb.formats.bpf.btfindex import TypeIndex
from kb.formats.bpf.elffile import ELFError, ELFFile, NotBPF, NotELF, Section, Symbol
from kb.formats.bpf.instructions import DecodeError, check_length, scan_code
from kb.formats.btf import core
from kb.formats.btf.enums import (
    CORE_EXISTENCE_KINDS,
    KIND_ARRAY,
    KIND_DECL_TAG,
    KIND_ENUM,
    KIND_FUNC,
    KIND_NAMES,
    KIND_PTR,
    KIND_STRUCT,
    KIND_TYPE_TAG,
    KIND_VAR,
)
from kb.formats.btf.ext import BTFExt, CoreRelocation
from kb.formats.btf.reader import BTFError
from kb.vocab.errors import KbgenError

VAR_EXTERN = 2  # BTF VAR linkage BTF_VAR_GLOBAL_EXTERN
FUNC_GLOBAL = 1  # BTF FUNC linkage
FUNC_EXTERN = 2
MAP_TYPE_ARRAY = 2  # BPF_MAP_TYPE_ARRAY: libbpf's map for each global-data section
MAP_TYPE_STRUCT_OPS = 26  # BPF_MAP_TYPE_STRUCT_OPS
CORE_LINE_WINDOW = 8 * enums.INSN_SIZE  # how far after a CO-RE relocation its source line may be recorded


class ObjectError(KbgenError, ValueError):
    """A file that is not a readable BPF object; the message names the file and the offset or section."""


class NotBPFObject(ObjectError):
    """An ELF object of another machine (a host object beside the BPF ones in a build directory)."""


class NotELFObject(ObjectError):
    """A file that is not ELF at all (LLVM bitcode, text, zeros)."""


class NotRegularFile(ObjectError):
    """A FIFO, device or socket: never opened for reading, so nothing blocks on it."""


@dataclass(slots=True, eq=False)
class SourceLine:
    file: str  # as recorded by the compiler, resolved against the object's directory when that file exists
    line: int
    column: int
    text: str


@dataclass(slots=True, eq=False)
class Call:
    """A call of a helper or kfunc, or a use of an extern another object defines (kind ``extern``)."""

    kind: str  # "helper", "kfunc" or "extern"
    target: int | str  # helper id; kfunc or extern name
    section: str
    program: str | None  # the function symbol the instruction belongs to
    index: int  # instruction slot in the section
    offset: int  # byte offset in the section
    file_offset: int  # byte offset in the file
    source: SourceLine | None = None  # from the object's .BTF.ext line info (clang -g)
    function: int | None = None  # index in BPFObject.functions
    weak: bool = False  # an STB_WEAK extern: libbpf leaves it 0 where the kernel lacks it
    variable: bool = False  # an extern variable rather than a function (kind extern)


@dataclass(slots=True)
class Hit:
    """Something in the object that shows the need of a feature (kind ``feature`` of the knowledge base)."""

    rule: str  # the rule that fired (enums.INSN_RULES, REFERENCE_RULES, ...)
    feature: str  # the feature item's slug
    reason: str  # what was seen, in words
    section: str
    program: str | None = None
    index: int | None = None
    offset: int | None = None
    file_offset: int = 0
    source: SourceLine | None = None
    function: int | None = None
    count: int = 1  # how many times the rule fired in that function (the first is located)
    symbol: str | None = None
    weak: bool = False


@dataclass(slots=True, eq=False)
class MapDefinition:
    name: str
    map_type: int
    section: str
    file_offset: int
    origin: str = "btf"  # btf (.maps), legacy (maps), inner (map-in-map values), global_data, struct_ops
    flags: int | None = None
    value_type: str | None = None  # a struct_ops map's kernel struct: "sched_ext_ops", "tcp_congestion_ops"


@dataclass(slots=True, eq=False)
class CoreSite:
    """A CO-RE relocation and where it is: what libbpf resolves against the target's BTF."""

    relocation: CoreRelocation
    btf: TypeIndex  # the object's BTF, which the relocation's type ids refer to
    section: str
    program: str | None
    index: int  # instruction slot in the section
    file_offset: int
    source: SourceLine | None = None
    function: int | None = None
    described: str | None = None

    @property
    def local(self) -> str:
        """What it asks for, as C says it: "struct task_struct.__state" (worked out when first asked)."""
        if self.described is None:
            self.described = core.describe(self.btf, self.relocation)
        return self.described


@dataclass(slots=True)
class Function:
    name: str
    section: str
    start: int  # byte offset in the section
    slots: int  # instruction slots
    entry: bool  # a program (a function of a program section), not a subprogram of .text
    file_offset: int = 0  # of its first instruction
    source: SourceLine | None = None  # of its first instruction


@dataclass
class BPFObject:
    path: str
    byte_order: str
    programs: list[tuple[str, str, int]] = field(default_factory=list)  # (section, symbol, offset)
    functions: list[Function] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    maps: list[MapDefinition] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    callees: dict[int, set[int]] = field(default_factory=dict)  # function -> functions it calls or takes
    map_uses: dict[int, set[str]] = field(default_factory=dict)  # function -> maps it loads (ld_imm64)
    license: str | None = None  # the license section's string; None without one
    has_btf: bool = False
    btf: TypeIndex | None = None  # the object's own BTF (what CO-RE relocations are read over)
    core: list[CoreSite] = field(default_factory=list)
    # function -> [(first slot, end slot, condition)]: the blocks that run only where a guard holds (guards.analyse)
    guards: dict[int, list] = field(default_factory=dict)
    # function -> [(caller function, instruction slot)]: where it is called or its address taken
    call_sites: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def reach(self, function: int) -> set[int]:
        """The function and every function it calls, directly or not: what libbpf loads as one program."""
        seen = {function}
        todo = [function]
        while todo:
            for callee in self.callees.get(todo.pop(), ()):
                if callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
        return seen


def read_object(path: str) -> BPFObject:
    """Read the object at *path*: only a regular file, through mmap."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as err:
        raise ObjectError(f"{path}: {err.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFile(f"{path}: not a regular file")
        if info.st_size == 0:
            raise NotELFObject(f"{path}: not an ELF file (empty)")
        try:
            mapped = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError) as err:
            raise ObjectError(f"{path}: cannot map the file ({err})") from None
    finally:
        os.close(fd)
    try:
        return parse_object(mapped, path)
    finally:
        try:
            mapped.close()
        except BufferError:  # a view still held by an exception's frame: the mapping goes with it
            pass


def parse_object(data, path: str = "<bytes>") -> BPFObject:
    """Read a BPF object from *data* (bytes, or an mmap)."""
    try:
        elf = ELFFile(data, path)
        return _Reader(elf, data, path).read()
    except NotBPF as err:
        raise NotBPFObject(f"{path}: {err}") from None
    except NotELF as err:
        raise NotELFObject(f"{path}: {err}") from None
    except ELFError as err:
        raise ObjectError(f"{path}: {err}") from None
    except (struct.error, BTFError) as err:
        raise ObjectError(f"{path}: malformed BPF object ({err})") from None
    except (IndexError, KeyError, UnicodeDecodeError, OverflowError, ValueError) as err:
        if isinstance(err, ObjectError):
            raise
        raise ObjectError(f"{path}: malformed ELF ({type(err).__name__}: {err})") from None


@dataclass
class _Extern:
    name: str
    func: bool  # a FUNC (kfunc or BPF function) rather than a VAR
    datasec: str | None  # .ksyms, .kconfig, or None: another object defines it
    typeless: bool = False  # a __ksym VAR of type void


def _is_data_section(name: str) -> bool:
    return any(name == base or name.startswith(base + ".") for base in enums.GLOBAL_DATA_SECTIONS)


class _Reader:
    def __init__(self, elf: ELFFile, data, path: str):
        self.elf = elf
        self.data = data
        self.path = path
        self.obj = BPFObject(path, elf.order)
        self.btf: TypeIndex | None = None
        self.ext: BTFExt | None = None
        self.externs: dict[str, _Extern] = {}
        self.by_start: dict[tuple[int, int], int] = {}  # (section index, byte offset) -> function index
        self.starts: dict[int, list[int]] = {}  # section index -> sorted function starts (bytes)
        self._sources: dict[str, str] = {}
        self._located_hits: dict[tuple, int] = {}
        self._resolvers: dict[str, object] = {}
        self._atoms: dict[int, dict[int, guards.Atom]] = {}  # section index -> slot -> the value it loads

    def read(self) -> BPFObject:
        elf, obj = self.elf, self.obj
        btf_section = elf.by_name.get(".BTF")
        if btf_section is not None and btf_section.type != enums.SHT_NOBITS:
            with elf.data(btf_section) as view:
                self.btf = TypeIndex(view)
            obj.has_btf = True
            obj.btf = self.btf
            self._classify_externs()
        ext_section = elf.by_name.get(".BTF.ext")
        if self.btf is not None and ext_section is not None and ext_section.type != enums.SHT_NOBITS:
            with elf.data(ext_section) as view:
                self.ext = BTFExt(view, self.btf)
        executable = [s for s in elf.sections if s.executable]
        self._functions(executable)
        for section in executable:
            self._code(section)
            self._resolvers.pop(section.name, None)  # its lines are no longer needed
        self._maps()
        self._object_needs()
        self._program_needs()
        license_section = elf.by_name.get(enums.LICENSE_SECTION)
        if license_section is not None:
            # libbpf keeps the first 63 bytes (bpf_object__init_license), up to the first NUL.
            text = b"" if license_section.type == enums.SHT_NOBITS else bytes(
                self.data[license_section.offset : license_section.offset + min(license_section.size, 63)])
            obj.license = text.split(b"\0", 1)[0].decode("utf-8", "replace")
        return obj

    # -- functions and code ---------------------------------------------------------------------------------------

    def _functions(self, executable: list[Section]) -> None:
        indices = {s.index: s for s in executable}
        symbols = self.elf.symbols(lambda info, shndx: info & 0xF == enums.STT_FUNC and shndx in indices)
        by_section: dict[int, dict[int, Symbol]] = {}
        for symbol in symbols:
            by_section.setdefault(symbol.shndx, {}).setdefault(symbol.value, symbol)
        for section in executable:
            found = by_section.get(section.index, {})
            starts = sorted(s for s in found if s < section.size)
            self.starts[section.index] = starts
            entry = section.name != enums.TEXT_SECTION
            for n, start in enumerate(starts):
                end = starts[n + 1] if n + 1 < len(starts) else section.size
                self.by_start[(section.index, start)] = len(self.obj.functions)
                name = found[start].name
                self.obj.functions.append(Function(name, section.name, start, (end - start) // enums.INSN_SIZE,
                                                   entry, section.offset + start))
                self.obj.programs.append((section.name, name, start))

    def _function_at(self, section: int, offset: int) -> int | None:
        starts = self.starts.get(section)
        if not starts:
            return None
        at = bisect.bisect_right(starts, offset) - 1
        return self.by_start[(section, starts[at])] if at >= 0 else None

    def _resolver(self, section: str):
        resolve = self._resolvers.get(section, False)
        if resolve is False:
            resolve = self._resolvers[section] = self.ext.resolver(section, self._source_line) if self.ext \
                else None
        return resolve

    def _source(self, section: str, offset: int) -> SourceLine | None:
        resolve = self._resolver(section)
        return resolve(offset) if resolve is not None else None

    def _source_line(self, file: str, line: int, column: int, text: str) -> SourceLine:
        path = self._sources.get(file)
        if path is None:
            path = file
            if not os.path.isabs(path):
                beside = os.path.normpath(os.path.join(os.path.dirname(self.path), path))
                path = beside if os.path.exists(beside) else os.path.normpath(path)
            self._sources[file] = path
        return SourceLine(path, line, column, text)

    def _where(self, section: Section, offset: int) -> dict:
        function = self._function_at(section.index, offset)
        return {
            "section": section.name, "index": offset // enums.INSN_SIZE, "offset": offset,
            "file_offset": section.offset + offset, "source": self._source(section.name, offset),
            "function": function, "program": None if function is None else self.obj.functions[function].name,
        }

    def _hit(self, rule: enums.Rule, section: Section | None, offset: int | None, **fields) -> None:
        reason = rule.text.format(section=fields.get("symbol_section") or (section.name if section else ""),
                                  symbol=fields.get("symbol"), count=fields.get("count", 1))
        fields.pop("symbol_section", None)
        if section is not None and offset is not None and section.executable:
            fields = {**self._where(section, offset), **fields}
            key = (fields["function"], rule.name)
            if key in self._located_hits:  # one finding a function and rule, counting the others
                self.obj.hits[self._located_hits[key]].count += 1
                return
            self._located_hits[key] = len(self.obj.hits)
        elif section is not None:
            fields = {"section": section.name, "file_offset": section.offset + (offset or 0), **fields}
        self.obj.hits.append(Hit(rule.name, rule.feature, reason, **fields))

    def _code(self, section: Section) -> None:
        elf, obj = self.elf, self.obj
        try:
            check_length(section.size, self.data[section.offset + section.size - enums.INSN_SIZE]
                         if section.size >= enums.INSN_SIZE else None)
        except DecodeError as err:
            raise ObjectError(f"{self.path}: section {section.name}: {err}") from None
        starts = self.starts[section.index]
        scan = scan_code(self.data, section.offset, section.size, elf.order,
                         [s // enums.INSN_SIZE for s in starts])
        rules = {r.name: r for r in (*enums.INSN_RULES, enums.LOOP_RULE)}
        for (_function, name), (slot, count) in sorted(scan.hits.items(), key=lambda item: item[1][0]):
            rule = rules[name]
            self.obj.hits.append(Hit(name, rule.feature, rule.text, count=count,
                                     **self._where(section, slot * enums.INSN_SIZE)))
        relocations = elf.relocations(section.index)
        first = self.by_start[(section.index, starts[0])] if starts else 0
        for function in obj.functions[first : first + len(starts)]:
            function.source = self._source(section.name, function.start)
        self._helper_calls(section, first, [(slot, imm) for slot, src, imm in scan.calls if src == enums.CALL_HELPER])
        for slot, src, imm in scan.calls:
            if src == enums.CALL_HELPER:
                continue
            offset = slot * enums.INSN_SIZE
            relocation = relocations.get(offset)
            symbol = elf.symbol(relocation[0]) if relocation else None
            if src == enums.PSEUDO_KFUNC_CALL:
                target = symbol.name if symbol is not None else f"btf_id:{imm}"
                obj.calls.append(Call("kfunc", target, **self._where(section, offset)))
            elif src == enums.PSEUDO_CALL and symbol is not None and symbol.undefined:
                self._extern_call(section, offset, symbol)
            elif src == enums.PSEUDO_CALL:
                if symbol is not None:
                    target_section, target = symbol.shndx, symbol.value + (imm + 1) * enums.INSN_SIZE
                else:
                    target_section, target = section.index, offset + (imm + 1) * enums.INSN_SIZE
                self._edge(section, offset, target_section, target, "bpf2bpf_call")
        self._core_sites(section)
        for offset, (symbol_index, _type) in sorted(relocations.items()):
            if offset + 16 <= section.size and self.data[section.offset + offset] == enums.CODE_LD_IMM64:
                self._load(section, offset, elf.symbol(symbol_index))
        self._guards(section, first, starts)

    def _core_sites(self, section: Section) -> None:
        if self.ext is None or section.name not in self.ext.core_blocks:
            return
        atoms = self._atoms.setdefault(section.index, {})
        resolve = self._resolver(section.name)
        for relocation in self.ext.core_relocations(section.name):
            offset = relocation.insn_offset
            if offset % enums.INSN_SIZE or offset >= section.size:
                raise ObjectError(f"{self.path}: CO-RE relocation at byte {offset} lies outside section "
                                  f"{section.name}")
            function = self._function_at(section.index, offset)
            site = CoreSite(relocation, self.btf, section.name,
                            None if function is None else self.obj.functions[function].name,
                            offset // enums.INSN_SIZE, section.offset + offset,
                            resolve.following(offset, CORE_LINE_WINDOW) if resolve is not None else None, function)
            self.obj.core.append(site)
            if relocation.kind in CORE_EXISTENCE_KINDS:
                what = "a type matching " if relocation.kind == core.TYPE_MATCHES else ""
                atoms[offset // enums.INSN_SIZE] = guards.Atom(guards.CORE, (section.name, offset), what + site.local,
                                                               True)

    def _guards(self, section: Section, first: int, starts: list[int]) -> None:
        """The blocks of each function of the section that run only where a guard holds."""
        atoms = self._atoms.pop(section.index, None)
        if not atoms:
            return
        bounds = [*starts, section.size]
        for n, start in enumerate(starts):
            mine = {slot: atom for slot, atom in atoms.items() if start // 8 <= slot < bounds[n + 1] // 8}
            if not mine:
                continue
            code = cfg.Code(self.data, section.offset, self.elf.order, start // enums.INSN_SIZE,
                            (bounds[n + 1] - start) // enums.INSN_SIZE)
            found = guards.analyse(code, mine)
            if found:
                self.obj.guards[first + n] = found

    def _helper_calls(self, section: Section, first: int, calls: list[tuple[int, int]]) -> None:
        """The helper calls of a section (most of the calls of most objects), located in one go."""
        if not calls:
            return
        starts, name, base = self.starts[section.index], section.name, section.offset
        functions = self.obj.functions
        offsets = [slot * enums.INSN_SIZE for slot, _imm in calls]
        owners = [bisect.bisect_right(starts, offset) - 1 for offset in offsets]
        resolve = self._resolver(name)
        sources = resolve.many(offsets) if resolve is not None else [None] * len(calls)
        self.obj.calls += [
            Call("helper", imm, name, functions[first + at].name if at >= 0 else None, slot, offset, base + offset,
                 source, first + at if at >= 0 else None)
            for (slot, imm), offset, at, source in zip(calls, offsets, owners, sources)
        ]

    def _edge(self, section: Section, offset: int, target_section: int, target: int, rule: str) -> None:
        caller = self._function_at(section.index, offset)
        callee = self._function_at(target_section, target)
        name = self.obj.functions[callee].name if callee is not None else f"{target_section}+{target}"
        if caller is not None and callee is not None:
            self.obj.callees.setdefault(caller, set()).add(callee)
            self.obj.call_sites.setdefault(callee, []).append((caller, offset // enums.INSN_SIZE))
        self._hit(enums.REFERENCE_RULES[rule], section, offset, symbol=name)

    def _extern_call(self, section: Section, offset: int, symbol: Symbol) -> None:
        extern = self.externs.get(symbol.name)
        weak = symbol.bind == enums.STB_WEAK
        site = self._where(section, offset)
        if extern is not None and extern.func and extern.datasec == enums.KSYMS_SECTION:
            self.obj.calls.append(Call("kfunc", symbol.name, weak=weak, **site))
            rule = "kfunc_weak" if weak else "kfunc_call"
            self._hit(enums.REFERENCE_RULES[rule], section, offset, symbol=symbol.name, weak=weak)
        else:  # without BTF (libbpf then loads no extern), the knowledge base's kfunc list decides
            self.obj.calls.append(Call("extern", symbol.name, weak=weak, **site))

    def _load(self, section: Section, offset: int, symbol: Symbol) -> None:
        """An ld_imm64 relocated against *symbol*: a map, a global, an extern or a function address."""
        elf = self.elf
        function = self._function_at(section.index, offset)
        rules = enums.REFERENCE_RULES
        if symbol.undefined:
            extern = self.externs.get(symbol.name)
            weak = symbol.bind == enums.STB_WEAK
            if extern is None or extern.datasec not in (enums.KSYMS_SECTION, enums.KCONFIG_SECTION):
                self.obj.calls.append(Call("extern", symbol.name, weak=weak, variable=True,
                                           **self._where(section, offset)))
            elif extern.datasec == enums.KCONFIG_SECTION:
                self._atom(section, offset, guards.Atom(guards.KCONFIG, (symbol.name,), symbol.name, False))
                self._hit(rules["kconfig"], section, offset, symbol=symbol.name, weak=weak)
            elif extern.func:
                if weak:
                    self._atom(section, offset, guards.Atom(guards.KSYM, (symbol.name,), f"kfunc {symbol.name}", True))
                self._hit(rules["kfunc_address"], section, offset, symbol=symbol.name, weak=weak)
            else:
                if weak:
                    self._atom(section, offset, guards.Atom(guards.KSYM, (symbol.name,), f"kernel symbol "
                                                            f"{symbol.name}", True))
                rule = "ksym_weak" if weak else "ksym_typeless" if extern.typeless else "ksym_typed"
                self._hit(rules[rule], section, offset, symbol=symbol.name, weak=weak)
            return
        if not 0 < symbol.shndx < len(elf.sections):
            return
        target = elf.sections[symbol.shndx]
        if target.name in (enums.MAPS_SECTION, enums.LEGACY_MAPS_SECTION):
            if function is not None:
                self.obj.map_uses.setdefault(function, set()).add(symbol.name)
        elif _is_data_section(target.name):
            if function is not None:
                self.obj.map_uses.setdefault(function, set()).add(target.name)
            name = symbol.name if symbol.type != enums.STT_SECTION else target.name
            self._hit(rules["global_data"], section, offset, symbol=name, symbol_section=target.name)
        elif target.name == enums.ARENA_SECTION:
            self._hit(rules["arena"], section, offset, symbol=symbol.name or target.name)
        elif target.executable:
            (imm,) = struct.unpack_from(elf.order + "i", self.data, section.offset + offset + 4)
            self._edge(section, offset, target.index, symbol.value + imm, "callback")

    def _atom(self, section: Section, offset: int, atom: guards.Atom) -> None:
        self._atoms.setdefault(section.index, {})[offset // enums.INSN_SIZE] = atom

    # -- BTF -------------------------------------------------------------------------------------------------------

    def _classify_externs(self) -> None:
        btf = self.btf
        in_datasec: dict[int, str] = {}
        for name, datasec in btf.datasecs().items():
            for _none, type_id, _offset, _size in datasec.members:
                in_datasec.setdefault(type_id, name)
        for type_id in sorted(btf.noted[KIND_VAR] + btf.noted[KIND_FUNC]):
            kind, vlen, _flag = btf.info(type_id)
            if kind == KIND_FUNC:
                if vlen == FUNC_EXTERN:
                    self.externs.setdefault(btf.type_name(type_id), _Extern(btf.type_name(type_id), True,
                                                                            in_datasec.get(type_id)))
                continue
            var = btf.type(type_id)
            if var.extra and var.extra[0] == VAR_EXTERN and var.name not in self.externs:
                self.externs[var.name] = _Extern(var.name, False, in_datasec.get(type_id),
                                                 btf.resolve(var.type).id == 0)

    def _member(self, struct_type, name: str):
        for member_name, member_type, _bits in struct_type.members:
            if member_name == name:
                return self.btf.resolve(member_type)
        return None

    def _uint_member(self, struct_type, name: str) -> int | None:
        """The value of ``__uint(name, N)``: ``int (*name)[N]``, the array's length."""
        pointer = self._member(struct_type, name)
        if pointer is None or pointer.kind != KIND_PTR:
            return None
        array = self.btf.resolve(pointer.type)
        return array.extra[2] if array.kind == KIND_ARRAY else None

    def _maps(self) -> None:
        elf, obj = self.elf, self.obj
        maps_section = elf.by_name.get(enums.MAPS_SECTION)
        datasecs = self.btf.datasecs() if self.btf else {}
        if maps_section is not None and enums.MAPS_SECTION in datasecs:
            # A DATASEC in an object file has offsets 0; libbpf places the variables by their ELF symbols.
            placed = {s.name: s.value for s in elf.symbols(lambda _info, shndx: shndx == maps_section.index)}
            for _name, var_id, offset, _size in datasecs[enums.MAPS_SECTION].members:
                var = self.btf.type(var_id)
                if var.kind != KIND_VAR:
                    continue
                offset = placed.get(var.name, offset)
                definition = self.btf.resolve(var.type)
                if definition.kind != KIND_STRUCT:
                    continue
                map_type = self._uint_member(definition, "type")
                if map_type is None:
                    continue
                file_offset = maps_section.offset + offset
                flags = self._uint_member(definition, "map_flags")
                obj.maps.append(MapDefinition(var.name, map_type, enums.MAPS_SECTION, file_offset, "btf", flags))
                inner = self._inner_map(definition)
                if inner is not None:
                    obj.maps.append(MapDefinition(f"{var.name}.inner", inner, enums.MAPS_SECTION, file_offset,
                                                  "inner"))
                if flags and flags & enums.BPF_F_MMAPABLE:
                    self._hit(enums.SECTION_RULES["mmapable_map"], maps_section, offset, symbol=var.name)
        obj.maps += self._legacy_maps()
        for section in elf.sections:
            if _is_data_section(section.name) and section.size and section.type in (enums.SHT_PROGBITS,
                                                                                      enums.SHT_NOBITS):
                obj.maps.append(MapDefinition(section.name, MAP_TYPE_ARRAY, section.name, section.offset,
                                              "global_data"))
            elif section.name in enums.STRUCT_OPS_SECTIONS:
                datasec = datasecs.get(section.name)
                for _name, var_id, offset, _size in datasec.members if datasec else ():
                    var = self.btf.type(var_id)
                    value = self.btf.resolve(var.type) if var.kind == KIND_VAR else None
                    obj.maps.append(MapDefinition(var.name, MAP_TYPE_STRUCT_OPS, section.name,
                                                  section.offset + offset, "struct_ops",
                                                  value_type=value.name if value is not None else None))

    def _inner_map(self, definition) -> int | None:
        """The map type of ``__array(values, struct {...})`` in a map-in-map definition."""
        values = self._member(definition, "values")
        if values is None or values.kind != KIND_ARRAY:
            return None
        pointer = self.btf.resolve(values.extra[0])
        if pointer.kind != KIND_PTR:
            return None
        inner = self.btf.resolve(pointer.type)
        return self._uint_member(inner, "type") if inner.kind == KIND_STRUCT else None

    def _legacy_maps(self) -> list[MapDefinition]:
        section = self.elf.by_name.get(enums.LEGACY_MAPS_SECTION)
        if section is None or section.type == enums.SHT_NOBITS:
            return []
        index = section.index
        symbols = self.elf.symbols(lambda info, shndx: shndx == index and info & 0xF in (enums.STT_OBJECT,
                                                                                         enums.STT_NOTYPE))
        found = []
        for symbol in symbols:
            if not symbol.name:
                continue
            offset = symbol.value
            if offset + 4 > section.size:
                raise ObjectError(f"{self.path}: map {symbol.name} at offset {offset} lies outside section maps")
            # Only the first field, the map type: old loaders accepted map definitions of other lengths.
            (map_type,) = struct.unpack_from(self.elf.order + structs.LEGACY_MAP_DEF[0], self.data,
                                             section.offset + offset)
            found.append(MapDefinition(symbol.name, map_type, enums.LEGACY_MAPS_SECTION, section.offset + offset,
                                       "legacy"))
        return found

    # -- needs of the whole object and of each program -------------------------------------------------------------

    def _object_needs(self) -> None:
        elf = self.elf
        rules = enums.SECTION_RULES
        for section in elf.sections:
            if section.name in enums.STRUCT_OPS_SECTIONS:
                link = section.name.endswith(".link")
                self._hit(rules["struct_ops_link" if link else "struct_ops"], section, None)
                if section.name.startswith(enums.OPTIONAL_PREFIX):
                    self._hit(rules["optional_struct_ops"], section, None)
            elif section.name == enums.ARENA_SECTION:
                self._hit(rules["arena_section"], section, None)
            elif section.name == enums.LEGACY_MAPS_SECTION and section.size:
                self._hit(rules["legacy_maps"], section, None)
        if self.ext is not None and self.ext.core_relocation_count:
            self._hit(rules["core_relocations"], elf.by_name[".BTF.ext"], None, count=self.ext.core_relocation_count)
        if self.btf is not None:
            self._btf_needs()

    def _btf_needs(self) -> None:
        btf, btf_section = self.btf, self.elf.by_name[".BTF"]
        found: dict[str, tuple[str, str, str | None]] = {}  # feature -> (rule, what, symbol): the first sighting
        for kind, (rule, feature) in sorted(enums.BTF_KIND_RULES.items()):
            if kind in btf.kinds:
                first = btf.noted.get(kind)
                found.setdefault(feature, (rule, f"BTF kind {KIND_NAMES[kind]}",
                                           btf.type_name(first[0]) if first else None))
        signed = next((n for n in btf.noted[KIND_ENUM] if btf.info(n)[2]), None)
        if signed is not None:
            rule, feature = enums.BTF_SIGNED_ENUM_RULE
            found.setdefault(feature, (rule, "BTF ENUM with kind_flag (signed)", btf.type_name(signed)))
        subprograms = {f.name for f in self.obj.functions if not f.entry}
        for n in btf.noted[KIND_FUNC]:
            if btf.info(n)[1] == FUNC_GLOBAL and (name := btf.type_name(n)) in subprograms:
                rule, feature = enums.BTF_GLOBAL_FUNC_RULE
                found.setdefault(feature, (rule, "global BPF subprogram (BTF FUNC linkage global)", name))
        for n in btf.noted[KIND_TYPE_TAG]:
            if (name := btf.type_name(n)) in enums.BTF_TYPE_TAGS:
                found.setdefault(enums.BTF_TYPE_TAGS[name], ("btf_type_tag_name", f"BTF type tag {name}", name))
        for n in btf.noted[KIND_DECL_TAG]:
            name = btf.type_name(n)
            for prefix, feature in enums.BTF_DECL_TAG_PREFIXES.items():
                if name.startswith(prefix):
                    found.setdefault(feature, ("btf_decl_tag_name", f"BTF declaration tag {name}", name))
        for n in btf.noted[KIND_STRUCT]:
            if (name := btf.type_name(n)) in enums.BTF_STRUCTS:
                found.setdefault(enums.BTF_STRUCTS[name], ("btf_struct", f"BTF struct {name}", name))
        for feature, (rule, what, name) in found.items():
            self.obj.hits.append(Hit(rule, feature, what, btf_section.name, file_offset=btf_section.offset,
                                     symbol=name or None))

    def _program_needs(self) -> None:
        obj = self.obj
        calls_by_function: dict[int, list[Call]] = {}
        for call in obj.calls:
            if call.function is not None:
                calls_by_function.setdefault(call.function, []).append(call)
        ld_abs = {h.function: h for h in obj.hits if h.rule == "ld_abs" and h.function is not None}
        rules = enums.PROGRAM_RULES
        located = set()
        for entry, function in enumerate(obj.functions):
            if not function.entry:
                continue
            reach = obj.reach(entry)
            if len(reach) > 1:
                for member in sorted(reach):
                    tail = next((c for c in calls_by_function.get(member, ())
                                 if c.kind == "helper" and c.target == enums.HELPER_TAIL_CALL), None)
                    for rule, site in (("tail_call_in_subprog", tail), ("ld_abs_in_subprog", ld_abs.get(member))):
                        if site is not None and (rule, member) not in located:
                            located.add((rule, member))
                            self._located(rules[rule], site)
            slots = sum(obj.functions[n].slots for n in reach)
            if slots > enums.BPF_MAXINSNS:
                rule = rules["large_program"]
                self.obj.hits.append(Hit(rule.name, rule.feature, rule.text.format(count=slots), function.section,
                                         function.name, function.start // enums.INSN_SIZE, function.start,
                                         self.elf.by_name[function.section].offset + function.start,
                                         function=entry))

    def _located(self, rule: enums.Rule, site) -> None:
        self.obj.hits.append(Hit(rule.name, rule.feature, rule.text, site.section, site.program, site.index,
                                 site.offset, site.file_offset, site.source, site.function))
