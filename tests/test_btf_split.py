"""Split BTF (a module's, written against its kernel's vmlinux): ids and string offsets continue the base's."""

import struct

import pytest
from btfbuild import BTFBuilder

from kb.formats.btf import enums
from kb.formats.btf.kernel import build_items
from kb.formats.btf.reader import BTFError, parse_btf, read_header


class SplitBuilder(BTFBuilder):
    """A module's BTF: its first type gets the id after the base's last, its strings the offsets after the base's.

    Names found in *base_strings* are referred to there, as pahole does for a module.
    """

    def __init__(self, base_types: int, base_strings: bytes):
        super().__init__()
        self.first = base_types
        self.shift = len(base_strings)
        for at, text in _strings(base_strings).items():
            self._offsets.setdefault(text, at)

    @property
    def next_id(self) -> int:
        return self.first + len(self._types)

    def string(self, text: str) -> int:
        if text not in self._offsets:
            self._offsets[text] = self.shift + len(self._strings)
            self._strings += text.encode() + b"\0"
        return self._offsets[text]

    def add(self, *args, **kwargs) -> int:
        return super().add(*args, **kwargs) + self.first - 1


def _strings(section: bytes) -> dict[int, str]:
    found, at = {}, 0
    for piece in section.split(b"\0")[:-1]:
        found[at] = piece.decode()
        at += len(piece) + 1
    return found


def base_and_module(order="<"):
    base = BTFBuilder()
    int_ = base.int("int", 4, 1)
    task = base.struct("task_struct", 8, [("pid", int_, 0)])
    task_ptr = base.ptr(task)
    base.decl_tag("bpf_kfunc", base.func("bpf_task_acquire", base.func_proto(task_ptr, [("p", task_ptr)])))
    base_data = base.build(order)
    header = read_header(base_data)
    module = SplitBuilder(len(base._types) + 1, base_data[header.strings_start:])
    conn = module.struct("nf_conn", 16, [("pid", int_, 0), ("status", int_, 32)])  # "pid": the base's string
    proto = module.func_proto(task_ptr, [("ct", module.ptr(conn)), ("p", task_ptr)])
    kfunc = module.func("bpf_ct_task", proto, "global")
    module.decl_tag("bpf_kfunc", kfunc)
    return base_data, module.build(order), {"conn": conn, "kfunc": kfunc, "task": task}


@pytest.mark.parametrize("order", ["<", ">"])
def test_a_module_continues_its_base(order):
    base_data, module_data, ids = base_and_module(order)
    base = parse_btf(base_data)
    module = parse_btf(module_data, base=base)
    assert module.first_id == len(base) == 7 and len(module) == len(base) + 5
    assert module.type(1).name == "int" and module.type(ids["task"]) is base.type(ids["task"])
    conn = module.type(ids["conn"])
    assert conn.name == "nf_conn" and conn.members == [("pid", 1, 0), ("status", 1, 32)]
    assert module.ids(enums.KIND_DECL_TAG) == [len(module) - 1]  # its own tag, not the base's
    assert [t.id for t in module.types] == list(range(len(module)))
    assert module.types[ids["conn"]] == conn and module.types[2] == base.type(2)
    assert module.by_name("nf_conn", enums.KIND_STRUCT) == [conn]

    items = build_items(module)
    assert items.kfuncs_tagged and list(items.kfuncs) == ["bpf_ct_task"]
    kfunc = items.kfuncs["bpf_ct_task"]
    assert kfunc.prototype == "struct task_struct *bpf_ct_task(struct nf_conn *ct, struct task_struct *p)"
    assert (kfunc.type_id, kfunc.linkage) == (ids["kfunc"], "global")
    assert list(build_items(base).kfuncs) == ["bpf_task_acquire"]


def test_a_module_name_past_its_strings_names_the_type():
    base_data, module_data, _ids = base_and_module()
    data = bytearray(module_data)
    header = read_header(data)
    past = read_header(base_data).str_len + header.str_len  # the first offset past the module's strings
    struct.pack_into("<I", data, header.types_start, past)  # nf_conn's name
    with pytest.raises(BTFError, match=f"string offset {header.str_len} past the string section \\(type at byte "
                                       f"{header.types_start}\\)"):
        parse_btf(bytes(data), base=parse_btf(base_data))
