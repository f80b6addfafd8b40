"""Build BTF blobs, tiny ELF vmlinux files and kernel images around them, byte for byte, in tests.

The layouts are written out here from the specifications (include/uapi/linux/btf.h, the ELF gABI,
Documentation/arch/x86/boot.rst, lib/decompress_unlz4.c), not taken from the code under test, so that a
mistake there is not repeated here.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import struct

# BTF kinds (btf.h), spelled out independently of collectors.btf.enums.
INT, PTR, ARRAY, STRUCT, UNION, ENUM, FWD, TYPEDEF, VOLATILE, CONST, RESTRICT = range(1, 12)
FUNC, FUNC_PROTO, VAR, DATASEC, FLOAT, DECL_TAG, TYPE_TAG, ENUM64 = range(12, 20)
LINKAGE = {"static": 0, "global": 1, "extern": 2}
INT_SIGNED, INT_CHAR, INT_BOOL = 1, 2, 4


class BTFBuilder:
    """Add types in id order (each method returns the new type's id), then :meth:`build` either byte order."""

    def __init__(self):
        self._strings = bytearray(b"\0")
        self._offsets = {"": 0}
        self._types: list[tuple[int, int, int, bool, int, list[tuple[str, tuple]]]] = []

    @property
    def next_id(self) -> int:
        """The id the next type added gets (for types that refer forward, such as a self-referencing struct)."""
        return len(self._types) + 1

    def string(self, text: str) -> int:
        if text not in self._offsets:
            self._offsets[text] = len(self._strings)
            self._strings += text.encode() + b"\0"
        return self._offsets[text]

    def add(self, kind: int, name: str, vlen: int, size_or_type: int, records=(), kind_flag=False) -> int:
        """A raw btf_type and the (format, values) records after it; names in records are str, turned to offsets."""
        self._types.append((self.string(name), kind, vlen, kind_flag, size_or_type, list(records)))
        return len(self._types)

    # Kinds.
    def int(self, name: str, size: int, encoding: int = 0, bits: int | None = None, offset: int = 0) -> int:
        bits = size * 8 if bits is None else bits
        return self.add(INT, name, 0, size, [("I", (encoding << 24 | offset << 16 | bits,))])

    def float(self, name: str, size: int) -> int:
        return self.add(FLOAT, name, 0, size)

    def ptr(self, type_id: int) -> int:
        return self.add(PTR, "", 0, type_id)

    def array(self, element: int, nelems: int, index_type: int) -> int:
        return self.add(ARRAY, "", 0, 0, [("III", (element, index_type, nelems))])

    def struct(self, name: str, size: int, members=(), union: bool = False) -> int:
        """members: (name, type, bit offset) or (name, type, bit offset, bitfield size)."""
        bitfields = any(len(m) == 4 for m in members)
        records = []
        for member in members:
            member_name, type_id, offset = member[:3]
            if bitfields:
                offset |= (member[3] if len(member) == 4 else 0) << 24
            records.append(("IIi", (member_name, type_id, offset)))
        return self.add(UNION if union else STRUCT, name, len(members), size, records, kind_flag=bitfields)

    def union(self, name: str, size: int, members=()) -> int:
        return self.struct(name, size, members, union=True)

    def enum(self, name: str, values, size: int = 4, signed: bool = False) -> int:
        records = [("Ii", (n, v if v < 0x80000000 else v - (1 << 32))) for n, v in values]
        return self.add(ENUM, name, len(values), size, records, kind_flag=signed)

    def enum64(self, name: str, values, size: int = 8, signed: bool = False) -> int:
        records = [("III", (n, v & 0xFFFFFFFF, (v >> 32) & 0xFFFFFFFF)) for n, v in values]
        return self.add(ENUM64, name, len(values), size, records, kind_flag=signed)

    def fwd(self, name: str, union: bool = False) -> int:
        return self.add(FWD, name, 0, 0, kind_flag=union)

    def typedef(self, name: str, type_id: int) -> int:
        return self.add(TYPEDEF, name, 0, type_id)

    def volatile(self, type_id: int) -> int:
        return self.add(VOLATILE, "", 0, type_id)

    def const(self, type_id: int) -> int:
        return self.add(CONST, "", 0, type_id)

    def restrict(self, type_id: int) -> int:
        return self.add(RESTRICT, "", 0, type_id)

    def type_tag(self, tag: str, type_id: int) -> int:
        return self.add(TYPE_TAG, tag, 0, type_id)

    def func_proto(self, returns: int, params=(), variadic: bool = False) -> int:
        """params: (name, type); variadic adds the unnamed void parameter BTF marks ``...`` with."""
        params = list(params) + ([("", 0)] if variadic else [])
        return self.add(FUNC_PROTO, "", len(params), returns, [("II", p) for p in params])

    def func(self, name: str, proto: int, linkage: str = "static") -> int:
        return self.add(FUNC, name, LINKAGE[linkage], proto)

    def var(self, name: str, type_id: int, linkage: str = "global") -> int:
        return self.add(VAR, name, 0, type_id, [("I", (LINKAGE[linkage],))])

    def datasec(self, name: str, variables=(), size: int | None = None) -> int:
        """variables: (var type id, offset, size)."""
        size = sum(v[2] for v in variables) if size is None else size
        return self.add(DATASEC, name, len(variables), size, [("III", v) for v in variables])

    def decl_tag(self, tag: str, type_id: int, component_idx: int = -1) -> int:
        return self.add(DECL_TAG, tag, 0, type_id, [("i", (component_idx,))])

    def build(self, byte_order: str = "<", hdr_len: int = 24, gap: bytes = b"") -> bytes:
        """The BTF blob: header (hdr_len bytes, zero-padded), types, *gap*, strings."""
        types = bytearray()
        for name_off, kind, vlen, kind_flag, size_or_type, records in self._types:
            info = (kind_flag << 31) | (kind << 24) | vlen
            types += struct.pack(byte_order + "III", name_off, info, size_or_type)
            for fmt, values in records:
                values = tuple(self.string(v) if isinstance(v, str) else v for v in values)
                types += struct.pack(byte_order + fmt, *values)
        strings = bytes(self._strings)
        header = struct.pack(byte_order + "HBBIIIII", 0xEB9F, 1, 0, hdr_len, 0, len(types),
                             len(types) + len(gap), len(strings))
        return header.ljust(hdr_len, b"\0") + bytes(types) + gap + strings


# Names and values a small "kernel" BTF has, checked by the tests.
HELPERS = [("unspec", 0), ("map_lookup_elem", 1), ("map_update_elem", 2), ("probe_read", 4), ("ktime_get_ns", 5),
           ("map_lookup_percpu_elem", 195)]
PROG_TYPES = [("BPF_PROG_TYPE_UNSPEC", 0), ("BPF_PROG_TYPE_SOCKET_FILTER", 1), ("BPF_PROG_TYPE_XDP", 6),
              ("__MAX_BPF_PROG_TYPE", 7), ("BPF_PROG_TYPE_AFTER_SENTINEL", 8)]
MAP_TYPES = [("BPF_MAP_TYPE_UNSPEC", 0), ("BPF_MAP_TYPE_HASH", 1),
             ("BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED", 19), ("BPF_MAP_TYPE_CGROUP_STORAGE", 19),
             ("__MAX_BPF_MAP_TYPE", 20)]
ATTACH_TYPES = [("BPF_CGROUP_INET_INGRESS", 0), ("BPF_CGROUP_INET_EGRESS", 1), ("__MAX_BPF_ATTACH_TYPE", 2)]
LINK_TYPES = [("BPF_LINK_TYPE_UNSPEC", 0), ("BPF_LINK_TYPE_RAW_TRACEPOINT", 1), ("MAX_BPF_LINK_TYPE", 2)]
CMDS = [("BPF_MAP_CREATE", 0), ("BPF_PROG_TEST_RUN", 10), ("BPF_PROG_RUN", 10), ("BPF_LINK_CREATE", 28),
        ("__MAX_BPF_CMD", 29), ("BPF_COMMON_ATTRS", 1 << 16)]

# kfunc name -> (prototype bpftool-style, linkage, tags on the function)
KFUNCS = {
    "bpf_task_acquire": ("struct task_struct *bpf_task_acquire(struct task_struct *p)", "static", ("bpf_kfunc",)),
    "bpf_cpumask_create": ("struct bpf_cpumask *bpf_cpumask_create(void)", "static", ("bpf_kfunc",)),
    "bpf_rdonly_cast": ("void *bpf_rdonly_cast(const void *obj__ign, u32 btf_id__k)", "global",
                        ("bpf_kfunc", "bpf_fastcall")),
    "bpf_everything": ((
        "const char *const *bpf_everything(volatile int *v, char *const cp, int *restrict rp, "
        "void (*cb)(int, long), int (*arr)[4], enum bpf_prog_type t, union bpf_attr *attr, struct {...} *anon, "
        "union fwd_u *fu, struct fwd_s *fs, enum big64 e64, double d, _Bool b, const volatile u32 cv, "
        "int *user_ptr, int matrix[2][3], int *ptrs[5], ...)"),
        "extern", ("bpf_kfunc",)),
    "bpf_ret_fn": ("int (*bpf_ret_fn(int))(char)", "static", ("bpf_kfunc",)),
}


def kernel_btf(tag_kfuncs: bool = True, byte_order: str = "<") -> bytes:
    """A small kernel's BTF: every kind, the tracked enums (sentinels, aliases), kfuncs with decl tags."""
    b = BTFBuilder()
    int_ = b.int("int", 4, INT_SIGNED)
    char = b.int("char", 1, INT_CHAR | INT_SIGNED)
    long_ = b.int("long", 8, INT_SIGNED)
    bool_ = b.int("_Bool", 1, INT_BOOL)
    uint = b.int("unsigned int", 4)
    u32 = b.typedef("u32", uint)
    double = b.float("double", 8)
    b.enum("bpf_func_id", [(f"BPF_FUNC_{n}", v) for n, v in HELPERS] + [("__BPF_FUNC_MAX_ID", 196)])
    prog_type = b.enum("bpf_prog_type", PROG_TYPES)
    b.enum("bpf_map_type", MAP_TYPES)
    b.enum("bpf_attach_type", ATTACH_TYPES)
    b.enum("bpf_link_type", LINK_TYPES)
    b.enum("bpf_cmd", CMDS)
    b.enum("bpf_cmd", [])  # a forward declaration of the same enum: ignored
    big64 = b.enum64("big64", [("BIG_A", 1 << 40), ("BIG_NEG", -1)], signed=True)
    b.enum64("ubig64", [("UBIG", (1 << 64) - 1)])
    task = b.struct("task_struct", 16, [("pid", int_, 0), ("flags", uint, 32, 3), ("next", b.next_id + 1, 64)])
    b.ptr(task)  # the id "next" refers to (forward reference)
    task_ptr = b.ptr(task)
    attr = b.union("bpf_attr", 8, [("map_type", uint, 0), ("prog_type", uint, 0)])
    anon = b.struct("", 4, [("x", int_, 0)])
    fwd_u, fwd_s = b.fwd("fwd_u", union=True), b.fwd("fwd_s")
    cpumask = b.struct("bpf_cpumask", 8, [])
    int_array = b.array(int_, 4, uint)
    # kfunc prototypes
    b.func(KFUNCS_ORDER[0], b.func_proto(task_ptr, [("p", task_ptr)]))
    b.func(KFUNCS_ORDER[1], b.func_proto(b.ptr(cpumask), []))
    void_ptr, const_void_ptr = b.ptr(0), b.ptr(b.const(0))
    b.func(KFUNCS_ORDER[2], b.func_proto(void_ptr, [("obj__ign", const_void_ptr), ("btf_id__k", u32)]), "global")
    cb = b.ptr(b.func_proto(0, [("", int_), ("", long_)]))
    params = [
        ("v", b.ptr(b.volatile(int_))), ("cp", b.const(b.ptr(char))), ("rp", b.restrict(b.ptr(int_))), ("cb", cb),
        ("arr", b.ptr(int_array)), ("t", prog_type), ("attr", b.ptr(attr)), ("anon", b.ptr(anon)),
        ("fu", b.ptr(fwd_u)), ("fs", b.ptr(fwd_s)), ("e64", big64), ("d", double), ("b", bool_),
        ("cv", b.const(b.volatile(u32))), ("user_ptr", b.ptr(b.type_tag("user", int_))),
        ("matrix", b.array(b.array(int_, 3, uint), 2, uint)), ("ptrs", b.array(b.ptr(int_), 5, uint)),
    ]
    ret = b.ptr(b.const(b.ptr(b.const(char))))
    b.func(KFUNCS_ORDER[3], b.func_proto(ret, params, variadic=True), "extern")
    b.func(KFUNCS_ORDER[4], b.func_proto(b.ptr(b.func_proto(int_, [("", char)])), [("", int_)]))
    funcs = [i for i, t in enumerate(b._types, 1) if t[1] == FUNC]
    not_kfunc = b.func("not_a_kfunc", b.func_proto(int_, [("x", int_)]))
    if tag_kfuncs:
        for func_id in funcs:
            b.decl_tag("bpf_kfunc", func_id)
        b.decl_tag("bpf_fastcall", funcs[2])
        b.decl_tag("bpf_kfunc", not_kfunc, component_idx=0)  # a tag on a parameter: not a kfunc
    b.decl_tag("other_tag", not_kfunc)
    counter = b.var("counter", int_)
    b.datasec(".data..percpu", [(counter, 0, 4)])
    return b.build(byte_order)


KFUNCS_ORDER = list(KFUNCS)


# ELF (gABI): 64-bit, with section headers only: enough for pyelftools and for a vmlinux's .BTF and .rodata.
ET_REL, ET_EXEC = 1, 2
EM_X86_64, EM_S390 = 62, 22
SHT_PROGBITS, SHT_STRTAB, SHT_NOBITS = 1, 3, 8


def make_elf(sections, byte_order: str = "<", machine: int = EM_X86_64, e_type: int = ET_EXEC) -> bytes:
    """An ELF64 file with the named sections [(name, data) or (name, data, sh_type)], then .shstrtab."""
    sections = [s if len(s) == 3 else (*s, SHT_PROGBITS) for s in sections]
    names = bytearray(b"\0")
    name_offsets = []
    for name, _data, _type in [*sections, (".shstrtab", b"", SHT_STRTAB)]:
        name_offsets.append(len(names))
        names += name.encode() + b"\0"
    body = bytearray(b"\0" * 64)  # the ELF header, filled in last
    placed = []
    for (_name, data, sh_type), _ in zip(sections, name_offsets):
        body += b"\0" * (-len(body) % 8)
        placed.append((len(body), len(data), sh_type))
        if sh_type != SHT_NOBITS:
            body += data
    placed.append((len(body), len(names), SHT_STRTAB))
    body += names
    body += b"\0" * (-len(body) % 8)
    shoff = len(body)
    sh = struct.Struct(byte_order + "IIQQQQIIQQ")
    body += b"\0" * sh.size  # the null section
    for (offset, size, sh_type), name_off in zip(placed, name_offsets):
        body += sh.pack(name_off, sh_type, 2 if sh_type != SHT_STRTAB else 0, 0, offset, size, 0, 0, 1, 0)
    ident = b"\x7fELF" + bytes([2, 1 if byte_order == "<" else 2, 1, 0]) + b"\0" * 8
    header = ident + struct.pack(byte_order + "HHIQQQIHHHHHH", e_type, machine, 1, 0, 0, shoff, 0, 64, 0, 0,
                                 sh.size, len(placed) + 1, len(placed))
    body[:64] = header
    return bytes(body)


BANNER = ("Linux version 6.1.0-test-amd64 (builder@example.org) (gcc (Debian 12.2.0-14) 12.2.0) #1 SMP "
          "PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)\n")


def make_vmlinux(btf: bytes, byte_order: str = "<", banner: str | None = BANNER, **options) -> bytes:
    """A tiny vmlinux: .text, .rodata holding the linux_banner, .BTF, .bss."""
    rodata = b"\0" * 100 + b"%s version %s\0Linux version %s\0" + (banner.encode() + b"\0" if banner else b"")
    return make_elf([(".text", b"\x90" * 64), (".rodata", rodata), (".BTF", btf), (".bss", b"\0" * 4096, SHT_NOBITS)],
                    byte_order, **options)


# x86 boot protocol: setup header at 0x1F1 (arch/x86/include/uapi/asm/bootparam.h).
HEADER_VERSION = "6.1.0-test-amd64 (builder@example.org) #1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1 (2023-09-29)"


def make_bzimage(payload: bytes, version: str | None = HEADER_VERSION, protocol: int = 0x020F, setup_sects: int = 3,
                 stub: int = 0x400, trailer: bytes = b"\0" * 64) -> bytes:
    """A bzImage-like file: boot sector and setup (version string inside), then the protected-mode kernel:
    a *stub* of code bytes and the compressed *payload* (payload_offset and payload_length point at it)."""
    setup = bytearray((setup_sects + 1) * 512)
    struct.pack_into("<B", setup, 0x1F1, setup_sects)
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, protocol)
    if version is not None:
        at = 0x600
        setup[at : at + len(version) + 1] = version.encode() + b"\0"
        struct.pack_into("<H", setup, 0x20E, at - 0x200)
    struct.pack_into("<II", setup, 0x248, stub, len(payload))
    setup[0:2] = b"MZ"
    return bytes(setup) + b"\xcc" * stub + payload + trailer


def size_append(data: bytes) -> bytes:
    """What scripts/Makefile.lib puts after every compressed payload: the decompressed size, 4 bytes LE."""
    return struct.pack("<I", len(data))


def lz4_legacy(data: bytes, chunk: int = 8 << 20) -> bytes:
    """The legacy lz4 frame (lz4 -l): magic 0x184C2102, then each <=8 MiB chunk as LE size + lz4 block."""
    import lz4.block

    out = bytearray(struct.pack("<I", 0x184C2102))
    for at in range(0, len(data), chunk):
        block = lz4.block.compress(data[at : at + chunk], mode="high_compression", store_size=False)
        out += struct.pack("<I", len(block)) + block
    return bytes(out)


def compress(codec: str, data: bytes) -> bytes:
    """*data* compressed the way the kernel's build compresses its payload (without the size trailer)."""
    if codec == "gzip":
        return gzip.compress(data, mtime=0)
    if codec == "xz":
        filters = [{"id": lzma.FILTER_X86}, {"id": lzma.FILTER_LZMA2, "preset": 6}]
        return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32, filters=filters)
    if codec == "lzma":
        return lzma.compress(data, format=lzma.FORMAT_ALONE)
    if codec == "bzip2":
        return bz2.compress(data)
    if codec == "lz4":
        return lz4_legacy(data)
    if codec == "zstd":
        import zstandard

        return zstandard.ZstdCompressor(level=19, write_content_size=False).compress(data)
    raise ValueError(codec)


CODECS = ("gzip", "xz", "lzma", "bzip2", "lz4", "zstd")
