"""BTF read exactly (every kind, both byte orders) and what a kernel build has: helpers, enums, kfuncs."""

import os
import re
import shutil
import struct
import subprocess

import pytest
from btfbuild import (
    ATTACH_TYPES,
    CMDS,
    HELPERS,
    KFUNCS,
    LINK_TYPES,
    PROG_TYPES,
    BTFBuilder,
    kernel_btf,
)

from kb.formats.btf import enums
from kb.formats.btf.kernel import (
    Enumerator,
    EnumItems,
    build_items,
    c_declaration,
    enum_values,
    function_prototype,
)
from kb.formats.btf.reader import BTF, BTFError, BTFType, parse_btf, read_header

VMLINUX = "/sys/kernel/btf/vmlinux"
ORDERS = pytest.mark.parametrize("order", ["<", ">"])


def every_kind(b: BTFBuilder) -> list[BTFType]:
    """One type of every kind, added to *b*; returns what the reader must give back for each."""
    s = b.string
    expected = [BTFType(0, enums.KIND_UNKN, "", 0, False, 0)]

    def add(type_id, kind, name, vlen, kind_flag, size_or_type, members=(), extra=()):
        assert type_id == len(expected)
        expected.append(BTFType(type_id, kind, name, vlen, kind_flag, size_or_type, list(members), extra))

    add(b.int("int", 4, 1), enums.KIND_INT, "int", 0, False, 4, extra=(1 << 24 | 32,))
    add(b.ptr(1), enums.KIND_PTR, "", 0, False, 1)
    add(b.array(1, 7, 1), enums.KIND_ARRAY, "", 0, False, 0, extra=(1, 1, 7))
    add(b.struct("s", 8, [("a", 1, 0), ("b", 2, 32)]), enums.KIND_STRUCT, "s", 2, False, 8,
        [("a", 1, 0), ("b", 2, 32)])
    add(b.struct("bits", 4, [("x", 1, 0, 3), ("y", 1, 3, 5)]), enums.KIND_STRUCT, "bits", 2, True, 4,
        [("x", 1, 3 << 24), ("y", 1, 5 << 24 | 3)])
    add(b.union("u", 4, [("i", 1, 0)]), enums.KIND_UNION, "u", 1, False, 4, [("i", 1, 0)])
    add(b.enum("e", [("E_A", 0), ("E_NEG", -2), ("E_BIG", 0xFFFFFFFF)]), enums.KIND_ENUM, "e", 3, False, 4,
        [("E_A", 0, None), ("E_NEG", -2, None), ("E_BIG", -1, None)])  # the reader gives 32-bit values signed
    add(b.fwd("f_s"), enums.KIND_FWD, "f_s", 0, False, 0)
    add(b.fwd("f_u", union=True), enums.KIND_FWD, "f_u", 0, True, 0)
    add(b.typedef("t", 1), enums.KIND_TYPEDEF, "t", 0, False, 1)
    add(b.volatile(1), enums.KIND_VOLATILE, "", 0, False, 1)
    add(b.const(1), enums.KIND_CONST, "", 0, False, 1)
    add(b.restrict(2), enums.KIND_RESTRICT, "", 0, False, 2)
    add(b.func_proto(1, [("x", 1)], variadic=True), enums.KIND_FUNC_PROTO, "", 2, False, 1,
        [("x", 1, None), ("", 0, None)])
    add(b.func("f", 14, "global"), enums.KIND_FUNC, "f", 1, False, 14)
    add(b.var("v", 1, "static"), enums.KIND_VAR, "v", 0, False, 1, extra=(0,))
    add(b.datasec(".data", [(16, 0, 4)]), enums.KIND_DATASEC, ".data", 1, False, 4, [(None, 16, 0, 4)])
    add(b.float("double", 8), enums.KIND_FLOAT, "double", 0, False, 8)
    add(b.decl_tag("bpf_kfunc", 15), enums.KIND_DECL_TAG, "bpf_kfunc", 0, False, 15, extra=(-1,))
    add(b.decl_tag("arg", 15, 0), enums.KIND_DECL_TAG, "arg", 0, False, 15, extra=(0,))
    add(b.type_tag("rcu", 1), enums.KIND_TYPE_TAG, "rcu", 0, False, 1)
    add(b.enum64("e64", [("BIG", 1 << 40), ("MAX", (1 << 64) - 1)]), enums.KIND_ENUM64, "e64", 2, False, 8,
        [("BIG", 1 << 40, None), ("MAX", (1 << 64) - 1, None)])
    add(b.func_proto(0, []), enums.KIND_FUNC_PROTO, "", 0, False, 0)
    assert s("int") == 1  # strings are shared: a name used twice is stored once
    return expected


@ORDERS
def test_every_kind_reads_back_exactly(order):
    b = BTFBuilder()
    expected = every_kind(b)
    btf = parse_btf(b.build(order))
    assert btf.byte_order == order and btf.version == 1 and btf.flags == 0
    assert btf.types == expected
    assert {t.kind for t in btf.types[1:]} == set(enums.KIND_NAMES) - {enums.KIND_UNKN}
    assert btf.resolve(10).name == "int"  # typedef t -> int
    assert btf.by_name("s", enums.KIND_STRUCT)[0].id == 4
    assert btf.datasec(".data").members == [(None, 16, 0, 4)]


@ORDERS
def test_types_decoded_when_asked_equal_the_whole_decode(order):
    b = BTFBuilder()
    expected = every_kind(b)
    data = b.build(order)
    btf = parse_btf(data)
    assert len(btf) == len(expected)
    assert [btf.type(i) for i in reversed(range(len(btf)))] == expected[::-1]  # before .types decodes them all
    assert [btf.type_name(i) for i in range(len(btf))] == [t.name for t in expected]
    assert [btf.info(i) for i in range(len(btf))] == [(t.kind, t.vlen, t.kind_flag) for t in expected]
    for kind in enums.KIND_NAMES:
        assert btf.ids(kind) == [t.id for t in expected if t.kind == kind], kind
    assert btf.strings == data[-len(btf.strings):] and btf.strings.startswith(b"\0int\0")
    assert btf.types == expected
    with pytest.raises(BTFError, match=f"type id {len(expected)} out of range"):
        btf.type(len(expected))


@ORDERS
def test_header_fields_and_a_longer_header(order):
    b = BTFBuilder()
    every_kind(b)
    data = b.build(order, hdr_len=32, gap=b"\0" * 8)
    header = read_header(data + b"trailing")
    assert header.byte_order == order and header.hdr_len == 32
    assert header.types_start == 32 and header.strings_start == 32 + header.type_len + 8
    assert header.size == len(data)
    assert parse_btf(data).types == parse_btf(b.build(order)).types


def test_strings_are_decoded_once_and_utf8_and_offsets_inside_a_string_work():
    b = BTFBuilder()
    b.int("int", 4)
    b.struct("caf\u00e9", 4, [("\u00fcber", 1, 0)])
    b.typedef("x_suffix", 1)
    data = bytearray(b.build())
    # Point the typedef's name into the middle of "x_suffix": BTF allows it.
    hdr = read_header(data)
    typedef_at = hdr.types_start + 12 + 4 + 12 + 12
    name_off = struct.unpack_from("<I", data, typedef_at)[0]
    struct.pack_into("<I", data, typedef_at, name_off + 2)
    btf = parse_btf(bytes(data))
    assert btf.types[2].name == "caf\u00e9" and btf.types[2].members[0][0] == "\u00fcber"
    assert btf.types[3].name == "suffix"


def _types_start(data):
    return read_header(data).types_start


@ORDERS
@pytest.mark.parametrize("mangle, message", [
    (lambda d, o: d[:10], "too short for a BTF header"),
    (lambda d, o: b"\0\0" + d[2:], "bad magic"),
    (lambda d, o: d[:2] + b"\x02" + d[3:], "BTF version 2 at byte 2"),
    (lambda d, o: d[:-5], "string section at byte .* runs past the end of the data"),
    (lambda d, o: d[:20] + struct.pack(o + "I", 1 << 20) + d[24:], "string section .* runs past the end"),
    (lambda d, o: d[:12] + struct.pack(o + "I", 1 << 20) + d[16:], "type section .* runs past the end"),
])
def test_malformed_headers(order, mangle, message):
    data = kernel_btf(byte_order=order)
    with pytest.raises(BTFError, match=message):
        parse_btf(mangle(data, order))


@ORDERS
def test_string_offset_past_the_strings_names_the_type(order):
    b = BTFBuilder()
    b.int("int", 4)
    b.struct("s", 4, [("m", 1, 0)])
    data = bytearray(b.build(order))
    start = _types_start(data)
    struct_at = start + 16
    struct.pack_into(order + "I", data, struct_at + 12, 1 << 20)  # the member's name
    with pytest.raises(BTFError, match=f"string offset {1 << 20} past the string section \\(type at byte {struct_at}"):
        parse_btf(bytes(data))


@ORDERS
def test_records_past_the_type_section(order):
    b = BTFBuilder()
    b.int("int", 4)
    b.enum("e", [("A", 1)])
    data = bytearray(b.build(order))
    enum_at = _types_start(data) + 16
    info = struct.unpack_from(order + "I", data, enum_at + 4)[0]
    struct.pack_into(order + "I", data, enum_at + 4, info + 100)  # vlen 101
    with pytest.raises(BTFError, match=f"type at byte {enum_at}: 101 records run past the type section"):
        parse_btf(bytes(data))


@ORDERS
def test_unknown_kind_and_truncated_type(order):
    b = BTFBuilder()
    b.int("int", 4)
    data = bytearray(b.build(order))
    start = _types_start(data)
    struct.pack_into(order + "I", data, start + 4, 25 << 24)
    with pytest.raises(BTFError, match=f"unknown BTF kind 25 at byte {start}"):
        parse_btf(bytes(data))
    cut = bytearray(b.build(order))
    type_len = struct.unpack_from(order + "I", cut, 12)[0]
    struct.pack_into(order + "I", cut, 12, type_len - 2)  # the INT's data cut short
    with pytest.raises(BTFError, match="records run past the type section"):
        parse_btf(bytes(cut))


def test_unterminated_string():
    b = BTFBuilder()
    b.int("int", 4)
    data = bytearray(b.build())
    data[-1:] = b"x"
    with pytest.raises(BTFError, match="unterminated string"):
        parse_btf(bytes(data))


# build_items on a small kernel's BTF.

def _expected(pairs, prefix=""):
    values, first = [], {}
    for name, value in pairs:
        if name.lstrip("_").startswith("MAX_") or name.endswith("_MAX_ID"):
            break
        name = name.removeprefix(prefix)
        alias = first.setdefault(value, name)
        values.append(Enumerator(name, value, alias if alias != name else None))
    return tuple(values)


@ORDERS
def test_build_items_exactly(order):
    items = build_items(kernel_btf(byte_order=order))
    assert items.helpers.enumerators == _expected(HELPERS)
    assert items.helpers.values["map_lookup_percpu_elem"] == 195
    assert items.prog_types.enumerators == _expected(PROG_TYPES)
    assert "BPF_PROG_TYPE_AFTER_SENTINEL" not in items.prog_types.values  # after __MAX_: dropped
    assert items.map_types.aliases == {"BPF_MAP_TYPE_CGROUP_STORAGE": "BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED"}
    assert items.map_types.first_names[19] == "BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED"
    assert len(items.map_types) == 3 and len(items.map_types.enumerators) == 4
    assert items.attach_types.enumerators == _expected(ATTACH_TYPES)
    assert items.link_types.enumerators == _expected(LINK_TYPES)  # MAX_BPF_LINK_TYPE, the old spelling
    assert items.cmds.enumerators == _expected(CMDS)
    assert items.cmds.values == {"BPF_MAP_CREATE": 0, "BPF_PROG_TEST_RUN": 10, "BPF_PROG_RUN": 10,
                                 "BPF_LINK_CREATE": 28}
    assert items.cmds.aliases == {"BPF_PROG_RUN": "BPF_PROG_TEST_RUN"}
    assert all(e.present for e in items.by_kind().values())
    assert list(items.by_kind()) == ["helper", "prog_type", "map_type", "attach_type", "link_type", "cmd"]
    assert items.kfuncs_tagged is True
    assert list(items.kfuncs) == sorted(KFUNCS)  # not_a_kfunc (a tag on its parameter, an other_tag) is not one
    for name, (prototype, linkage, tags) in KFUNCS.items():
        kfunc = items.kfuncs[name]
        assert (kfunc.prototype, kfunc.linkage, kfunc.tags) == (prototype, linkage, tags), name
    acquire = items.kfuncs["bpf_task_acquire"]
    assert acquire.returns == "struct task_struct *" and acquire.params == (("p", "struct task_struct *"),)
    assert items.kfuncs["bpf_cpumask_create"].params == ()
    assert items.kfuncs["bpf_everything"].params[-1] == ("", "...")
    assert items.kfuncs["bpf_everything"].params[3] == ("cb", "void (*)(int, long)")


@ORDERS
def test_untagged_btf_says_so(order):
    items = build_items(parse_btf(kernel_btf(tag_kfuncs=False, byte_order=order)))
    assert items.kfuncs_tagged is False
    assert items.kfuncs == {}
    assert items.helpers.values["map_lookup_percpu_elem"] == 195


def test_btf_without_the_enums():
    b = BTFBuilder()
    b.int("int", 4)
    b.enum("bpf_cmd", [])  # forward declaration only
    items = build_items(b.build())
    assert not items.helpers.present and items.helpers == EnumItems("helper", "bpf_func_id", None)
    assert not items.cmds.present and len(items.cmds) == 0
    assert items.kfuncs_tagged is False


def test_enum_signedness():
    b = BTFBuilder()
    b.enum("u", [("U", 0xFFFFFFFF)])
    b.enum("s", [("S", -1)], signed=True)
    b.enum64("u64", [("U", (1 << 64) - 1)])
    b.enum64("s64", [("S", -5)], signed=True)
    btf = parse_btf(b.build(">"))
    assert [enum_values(t) for t in btf.types[1:]] == [[("U", 0xFFFFFFFF)], [("S", -1)], [("U", (1 << 64) - 1)],
                                                        [("S", -5)]]


def test_rendering_edge_cases():
    b = BTFBuilder()
    int_ = b.int("int", 4, 1)
    loop_a = b.next_id
    b.typedef("a", loop_a + 1)
    b.typedef("b", loop_a)  # a -> b -> a
    ptr_loop = b.ptr(b.next_id)  # a pointer to itself
    var = b.var("v", int_)
    func = b.func("f", b.func_proto(int_, [("x", int_)]))
    not_proto = b.func("g", int_)
    fnptr_array = b.array(b.ptr(b.func_proto(int_, [])), 3, int_)
    btf = parse_btf(b.build())
    assert c_declaration(btf, loop_a) == "a"  # a typedef renders as its name: no need to follow it
    assert c_declaration(btf, 0) == "void" and c_declaration(btf, 0, "x") == "void x"
    with pytest.raises(BTFError, match="reference loop"):
        c_declaration(btf, ptr_loop)
    with pytest.raises(BTFError, match="is a VAR, not a C type"):
        c_declaration(btf, var)
    assert function_prototype(btf, func) == "int f(int x)"
    with pytest.raises(BTFError, match="not a FUNC"):
        function_prototype(btf, int_)
    assert c_declaration(btf, fnptr_array, "table") == "int (*table[3])(void)"
    assert c_declaration(btf, b.next_id - 2) == "int (*)(void)"
    b.decl_tag("bpf_kfunc", not_proto)
    with pytest.raises(BTFError, match="refers to a INT, not a FUNC_PROTO"):
        build_items(b.build())


def test_many_kfuncs_over_a_long_chain_stay_linear():
    """Each kfunc's prototype may walk every type; together they are held to a budget linear in the BTF."""
    b = BTFBuilder()
    chain = b.int("int", 4, 1)
    for _ in range(5_000):
        chain = b.const(chain)
    proto = b.func_proto(chain, [("x", chain)])
    for index in range(2_000):
        b.decl_tag("bpf_kfunc", b.func(f"k{index}", proto))
    with pytest.raises(BTFError, match="declarations too deep for the size of the BTF"):
        build_items(b.build())
    one = BTFBuilder()
    chain = one.int("int", 4, 1)
    for _ in range(5_000):
        chain = one.const(chain)
    one.decl_tag("bpf_kfunc", one.func("k", one.func_proto(chain, [])))
    assert build_items(one.build()).kfuncs["k"].returns == "const " * 5_000 + "int"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rendered_prototypes_are_c(tmp_path):
    """What the renderer writes compiles: every kfunc prototype of the test kernel, with its types declared."""
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler")
    items = build_items(kernel_btf())
    source = "\n".join([
        "typedef unsigned int u32;",
        "struct task_struct; struct bpf_cpumask; union bpf_attr; union fwd_u; struct fwd_s;",
        "enum bpf_prog_type { BPF_PROG_TYPE_UNSPEC }; enum big64 { BIG_A = 1 };",
        *(k.prototype.replace("struct {...}", "struct { int x; }") + ";" for k in items.kfuncs.values()),
        "",
    ])
    path = _write(tmp_path, "protos.c", source)
    done = subprocess.run([compiler, "-fsyntax-only", "-std=gnu11", str(path)], check=False, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


def test_prototypes_of_clang_built_btf(tmp_path):
    """clang writes BTF from C; rendering it back gives the declarations it was written from."""
    clang = shutil.which("clang")
    if clang is None:
        pytest.skip("no clang")
    decls = {
        "bpf_task_acquire": "struct task_struct *bpf_task_acquire(struct task_struct *p)",
        "bpf_dynptr_slice": "void *bpf_dynptr_slice(const struct bpf_dynptr *p, u32 offset, void *buffer__opt, "
                            "u32 buffer__szk)",
        "bpf_cb": "int bpf_cb(int (*cb)(void *, long), const char *const *names, unsigned long flags)",
        "bpf_none": "void bpf_none(void)",
        "bpf_arr": "int bpf_arr(int (*rows)[4], volatile unsigned char *v)",
    }
    source = ["typedef unsigned int u32;", "struct task_struct { int pid; };", "struct bpf_dynptr { long x; };",
              '#define __bpf_kfunc __attribute__((btf_decl_tag("bpf_kfunc")))']
    for decl in decls.values():
        returns_void = decl.startswith("void ") and not decl.startswith("void *")
        source.append(f"__bpf_kfunc {decl} {{ {'' if returns_void else 'return 0;'} }}")
    path = _write(tmp_path, "k.c", "\n".join(source) + "\n")
    obj = tmp_path / "k.o"
    done = subprocess.run([clang, "-target", "bpf", "-g", "-O2", "-c", str(path), "-o", str(obj)],
                          check=False, capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"clang cannot build the test object: {done.stderr.splitlines()[:1]}")
    from elftools.elf.elffile import ELFFile

    with open(obj, "rb") as handle:
        btf = parse_btf(ELFFile(handle).get_section_by_name(".BTF").data())
    items = build_items(btf)
    assert items.kfuncs_tagged
    assert {name: k.prototype for name, k in items.kfuncs.items()} == decls
    assert {k.linkage for k in items.kfuncs.values()} == {"global"}


# The running kernel.

@pytest.fixture(scope="module")
def running():
    if not os.path.exists(VMLINUX):
        pytest.skip(f"{VMLINUX} not present on this machine")
    with open(VMLINUX, "rb") as handle:
        btf = parse_btf(handle.read())
    return btf, build_items(btf)


def test_running_kernel(running):
    _btf, items = running
    assert items.helpers.values["map_lookup_percpu_elem"] == 195
    assert items.helpers.first_names[1] == "map_lookup_elem"
    assert "__BPF_FUNC_MAX_ID" not in items.helpers.values and "BPF_FUNC_unspec" not in items.helpers.values
    assert items.prog_types.values["BPF_PROG_TYPE_XDP"] == 6
    assert items.cmds.aliases.get("BPF_PROG_RUN") == "BPF_PROG_TEST_RUN"
    assert not any(name.startswith("__MAX") for e in items.by_kind().values() for name in e.values)
    assert items.kfuncs_tagged is True
    if "bpf_task_acquire" in items.kfuncs:
        kfunc = items.kfuncs["bpf_task_acquire"]
        assert kfunc.prototype == "struct task_struct *bpf_task_acquire(struct task_struct *p)"
        assert kfunc.tags[0] == "bpf_kfunc"


def _bpftool_dump():
    bpftool = shutil.which("bpftool")
    if bpftool is None:
        pytest.skip("bpftool not installed")
    done = subprocess.run([bpftool, "btf", "dump", "file", VMLINUX], check=False, capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"bpftool cannot dump {VMLINUX}: {done.stderr.strip()}")
    return done.stdout


def test_running_kernel_agrees_with_bpftool(running):
    """Every tracked enum and every kfunc (name, linkage) as bpftool's raw dump of the same BTF shows them."""
    btf, items = running
    dump = _bpftool_dump()
    enums_seen: dict[str, list[tuple[str, int]]] = {}
    funcs: dict[int, tuple[str, str]] = {}
    tagged: set[int] = set()
    current = None
    for line in dump.splitlines():
        if line.startswith("["):
            current = None
            head = re.match(r"\[(\d+)\] (\w+) '([^']*)'(.*)", line)
            type_id, kind, name, rest = int(head[1]), head[2], head[3], head[4]
            if kind in ("ENUM", "ENUM64") and name not in enums_seen:
                current = enums_seen[name] = []
            elif kind == "FUNC":
                funcs[type_id] = (name, re.search(r"linkage=(\w+)", rest)[1])
            elif kind == "DECL_TAG" and name == "bpf_kfunc" and "component_idx=-1" in rest:
                tagged.add(int(re.search(r"type_id=(\d+)", rest)[1]))
        elif current is not None:
            member = re.match(r"\s+'([^']*)' val=(-?\d+)", line)
            current.append((member[1], int(member[2])))
    for kind, enum in items.by_kind().items():
        prefix = "BPF_FUNC_" if kind == "helper" else ""
        assert enum.enumerators == _expected(enums_seen[enum.enum], prefix), kind
    assert {name: linkage for name, linkage in (funcs[i] for i in tagged)} == \
        {name: k.linkage for name, k in items.kfuncs.items()}
    assert len(btf.types) - 1 == max(int(m) for m in re.findall(r"^\[(\d+)\]", dump, re.MULTILINE))


def test_build_items_accepts_parsed_or_raw():
    data = kernel_btf()
    assert build_items(data).kfuncs == build_items(parse_btf(data)).kfuncs
    assert isinstance(parse_btf(data), BTF)
