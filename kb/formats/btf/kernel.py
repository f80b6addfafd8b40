"""What one kernel build has, read from its BTF: helper ids, the BPF enums, and its kfuncs.

A kernel's BTF (``/sys/kernel/btf/vmlinux``, or the ``.BTF`` of its vmlinux) holds the enums of
``include/uapi/linux/bpf.h`` exactly as that build compiled them, so unlike a header of another release it
tells which helpers, program, map, attach and link types and ``bpf()`` commands the build has.  Kfuncs are
the functions pahole (1.25 and later, kernels from about 6.2-6.4) tags with the declaration tag
``bpf_kfunc``; a build whose BTF has no such tag at all does not tell its kfuncs, which
:attr:`BuildItems.kfuncs_tagged` says rather than pretending it has none.

Decoding only: plain dataclasses, nothing printed.  Prototypes are rendered as C from the BTF types.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from kb.formats.btf import enums
from kb.formats.btf.reader import BTF, BTFError, BTFType, parse_btf
from kb.vocab.kinds import (
    ENUM_KINDS,
    HELPER,
    HELPER_ENUM,
    HELPER_PREFIX,
    KINDS,
    is_sentinel,
)

# The declaration tag pahole puts on every kfunc (component_idx -1: the function itself).
KFUNC_TAG = "bpf_kfunc"


class Enumerator(NamedTuple):
    name: str  # full enumerator (BPF_PROG_TYPE_XDP); for helpers without BPF_FUNC_ (map_lookup_elem)
    value: int
    alias_of: str | None = None  # the name with this value that came first in the enum (BPF_PROG_RUN's is
    # BPF_PROG_TEST_RUN); None for that first name itself


@dataclass(frozen=True)
class EnumItems:
    """The members of one tracked enum, in enum order, the ``__MAX_*`` counter and what follows it dropped."""

    kind: str  # "helper", "prog_type", "map_type", "attach_type", "link_type" or "cmd"
    enum: str  # the C enum: "bpf_func_id", "bpf_prog_type", ...
    type_id: int | None  # its BTF type id; None when the BTF has no such enum
    enumerators: tuple[Enumerator, ...] = ()

    @property
    def present(self) -> bool:
        return self.type_id is not None

    @property
    def values(self) -> dict[str, int]:
        """Every name, aliases included, to its value."""
        return {e.name: e.value for e in self.enumerators}

    @property
    def first_names(self) -> dict[int, str]:
        """Every value to the name that came first in the enum."""
        return {e.value: e.name for e in self.enumerators if e.alias_of is None}

    @property
    def aliases(self) -> dict[str, str]:
        """Later names to the first name with the same value (BPF_PROG_RUN -> BPF_PROG_TEST_RUN)."""
        return {e.name: e.alias_of for e in self.enumerators if e.alias_of is not None}

    def __len__(self) -> int:
        """The number of distinct values: what the build has, counting an aliased value once."""
        return len({e.value for e in self.enumerators})


@dataclass(frozen=True)
class KFunc:
    name: str
    prototype: str  # C: "struct task_struct *bpf_task_acquire(struct task_struct *p)"
    returns: str  # C type of the return value: "struct task_struct *"
    params: tuple[tuple[str, str], ...]  # (name, C type); a variadic function ends with ("", "...")
    linkage: str  # "static", "global" or "extern" (the FUNC's linkage)
    type_id: int  # the FUNC's BTF type id
    tags: tuple[str, ...] = (KFUNC_TAG,)  # every declaration tag on the function itself, in BTF order


@dataclass
class BuildItems:
    """Everything BPF one kernel build has, as its BTF says."""

    helpers: EnumItems
    prog_types: EnumItems
    map_types: EnumItems
    attach_types: EnumItems
    link_types: EnumItems
    cmds: EnumItems
    kfuncs: dict[str, KFunc]  # by name, sorted
    kfuncs_tagged: bool  # False: the BTF has no bpf_kfunc tag at all (older pahole/kernel), kfuncs are unknown

    def by_kind(self) -> dict[str, EnumItems]:
        """The numbered kinds, keyed as the knowledge base names them ("helper", "prog_type", ...)."""
        return {e.kind: e for e in (self.helpers, self.prog_types, self.map_types, self.attach_types,
                                    self.link_types, self.cmds)}


# kind -> BuildItems field, for the enums of ENUM_KINDS.
_FIELDS = {kind: KINDS[kind].build_field for kind in ENUM_KINDS}


def build_items(btf: BTF | bytes) -> BuildItems:
    """The helpers, BPF enums and kfuncs of the kernel build whose BTF (parsed, or raw bytes) is given.

    Looks only at the enums, the declaration tags and the types the tagged functions reach: time and memory
    follow the size of the BTF, whatever it holds.  Raises :class:`BTFError` for BTF that does not parse, or
    whose kfunc types do not render.
    """
    if not isinstance(btf, BTF):
        btf = parse_btf(btf)
    wanted = {HELPER_ENUM: HELPER} | {ENUM_KINDS[kind][0]: kind for kind in _FIELDS}
    found: dict[str, int] = {}  # enum name -> type id of the fullest one
    sizes: dict[str, int] = {}
    for type_id in sorted(btf.ids(enums.KIND_ENUM) + btf.ids(enums.KIND_ENUM64)):
        name = btf.type_name(type_id)
        if name in wanted:
            vlen = btf.info(type_id)[1]
            if vlen > sizes.get(name, 0):
                found[name], sizes[name] = type_id, vlen  # a forward-declared (empty) or smaller duplicate loses
    kfunc_ids: list[int] = []
    func_tags: dict[int, list[str]] = {}
    tagged = False
    for type_id in btf.ids(enums.KIND_DECL_TAG):
        tag = btf.type(type_id)
        if tag.name == KFUNC_TAG:
            tagged = True
        if tag.extra and tag.extra[0] == -1:
            func_tags.setdefault(tag.type, []).append(tag.name)
            if tag.name == KFUNC_TAG:
                kfunc_ids.append(tag.type)
    items = {kind: _enum_items(btf.type(found[enum]) if enum in found else None, kind, enum)
             for enum, kind in wanted.items()}
    kfuncs: dict[str, KFunc] = {}
    budget = [_render_budget(btf)]
    for type_id in sorted(set(kfunc_ids)):
        func = btf.type(type_id)
        if func.kind != enums.KIND_FUNC:
            continue  # pahole tags only functions; anything else is not a kfunc
        if func.name not in kfuncs:
            kfuncs[func.name] = _kfunc(btf, func, tuple(dict.fromkeys(func_tags.get(type_id, ()))), budget)
    return BuildItems(
        helpers=items[HELPER], **{field: items[kind] for kind, field in _FIELDS.items()},
        kfuncs=dict(sorted(kfuncs.items())), kfuncs_tagged=tagged,
    )


def _render_budget(btf: BTF) -> int:
    """Steps through the types that rendering every kfunc of a build may take together.

    A real build's kfuncs take a few dozen steps each; the bound keeps a file of many tagged functions over
    long type chains linear in its size (each rendering alone is bounded by the number of types).
    """
    return 4 * len(btf) + 4096


def enum_values(t: BTFType) -> list[tuple[str, int]]:
    """An ENUM's or ENUM64's (name, value) pairs, signed or unsigned as its kind_flag says."""
    bits = 64 if t.kind == enums.KIND_ENUM64 else 32
    mask = (1 << bits) - 1
    values = []
    for name, value, _ in t.members:
        value &= mask
        if t.kind_flag and value >> (bits - 1):
            value -= 1 << bits
        values.append((name, value))
    return values


def _enum_items(t: BTFType | None, kind: str, enum: str) -> EnumItems:
    if t is None:
        return EnumItems(kind, enum, None)
    prefix = HELPER_PREFIX if kind == HELPER else ""
    first: dict[int, str] = {}
    enumerators = []
    for name, value in enum_values(t):
        if is_sentinel(name):
            break  # what follows a counter is not a feature (flags or'ed into the values)
        if prefix and name.startswith(prefix):
            name = name[len(prefix):]
        alias_of = first.setdefault(value, name)
        enumerators.append(Enumerator(name, value, alias_of if alias_of != name else None))
    return EnumItems(kind, enum, t.id, tuple(enumerators))


def _kfunc(btf: BTF, func: BTFType, tags: tuple[str, ...], budget: list[int]) -> KFunc:
    proto = btf.type(func.type)
    if proto.kind != enums.KIND_FUNC_PROTO:
        raise BTFError(f"FUNC {func.name} (type id {func.id}) refers to a {proto.kind_name}, not a FUNC_PROTO")
    return KFunc(
        name=func.name,
        prototype=_declare(btf, func.type, func.name, budget),
        returns=_declare(btf, proto.type, "", budget),
        params=_params(btf, proto, budget),
        linkage=enums.FUNC_LINKAGE.get(func.vlen, f"linkage {func.vlen}"),
        type_id=func.id,
        tags=tags,
    )


def function_prototype(btf: BTF, func_id: int) -> str:
    """A FUNC's C prototype: ``struct task_struct *bpf_task_acquire(struct task_struct *p)``."""
    func = btf.type(func_id)
    if func.kind != enums.KIND_FUNC:
        raise BTFError(f"type id {func_id} is a {func.kind_name}, not a FUNC")
    return c_declaration(btf, func.type, func.name)


_QUALIFIERS = {enums.KIND_CONST: "const", enums.KIND_VOLATILE: "volatile", enums.KIND_RESTRICT: "restrict"}


def _params(btf: BTF, proto: BTFType, budget: list[int]) -> tuple[tuple[str, str], ...]:
    """(name, C type) of each parameter; ("", "...") for the unnamed void one that makes a function variadic."""
    return tuple((name, "...") if _variadic(proto, index) else (name, _declare(btf, type_id, "", budget))
                 for index, (name, type_id, _) in enumerate(proto.members))


def _param_list(btf: BTF, proto: BTFType, budget: list[int]) -> str:
    if not proto.members:
        return "void"
    return ", ".join("..." if _variadic(proto, index) else _declare(btf, type_id, name, budget)
                     for index, (name, type_id, _) in enumerate(proto.members))


def _variadic(proto: BTFType, index: int) -> bool:
    return index == len(proto.members) - 1 and proto.members[index][1] == 0


def c_declaration(btf: BTF, type_id: int, name: str = "") -> str:
    """A C declaration of *name* with type *type_id* (just the type when *name* is empty).

    ``c_declaration(btf, int_ptr_array, "a")`` is ``int *a[4]``; a function prototype type with a name
    gives the function's prototype.  Type tags (``__rcu``, ``__user``) are annotations, not C: left out.
    """
    return _declare(btf, type_id, name, [len(btf) + 1])


def _declare(btf: BTF, type_id: int, inner: str, budget: list[int]) -> str:
    """Build the declarator inside out, from the name towards the base type, C's way."""
    qualifiers: list[str] = []  # met since the last pointer: they qualify what comes next
    start = type_id
    while True:
        budget[0] -= 1
        if budget[0] < 0:
            raise BTFError(f"type id {start}: reference loop (or declarations too deep for the size of the BTF)")
        t = btf.type(type_id)
        kind = t.kind
        if kind in _QUALIFIERS:
            qualifiers.append(_QUALIFIERS[kind])
            type_id = t.type
        elif kind == enums.KIND_TYPE_TAG:
            type_id = t.type
        elif kind == enums.KIND_PTR:
            if qualifiers:  # const pointer: "char *const p"
                inner = " ".join(qualifiers) + (f" {inner}" if inner else "")
                qualifiers = []
            inner = "*" + inner
            if _skip_qualifiers(btf, t.type, budget).kind in (enums.KIND_ARRAY, enums.KIND_FUNC_PROTO):
                inner = f"({inner})"
            type_id = t.type
        elif kind == enums.KIND_ARRAY:
            element, _index_type, count = t.extra
            inner = f"{inner}[{count}]"
            type_id = element  # qualifiers of an array qualify its elements
        elif kind == enums.KIND_FUNC_PROTO:
            qualifiers = []  # a qualified function type means nothing in C
            inner = f"{inner}({_param_list(btf, t, budget)})"
            type_id = t.type
        else:
            base = " ".join([*qualifiers, _base_name(t)])
            return f"{base} {inner}" if inner else base


def _skip_qualifiers(btf: BTF, type_id: int, budget: list[int]) -> BTFType:
    t = btf.type(type_id)
    while t.kind in _QUALIFIERS or t.kind == enums.KIND_TYPE_TAG:
        budget[0] -= 1
        if budget[0] < 0:
            raise BTFError(f"type id {type_id}: reference loop")
        t = btf.type(t.type)
    return t


def _base_name(t: BTFType) -> str:
    kind = t.kind
    if t.id == 0:
        return "void"
    if kind in (enums.KIND_INT, enums.KIND_FLOAT, enums.KIND_TYPEDEF):
        return t.name
    if kind in (enums.KIND_STRUCT, enums.KIND_UNION, enums.KIND_ENUM, enums.KIND_ENUM64, enums.KIND_FWD):
        keyword = _TAG_KEYWORD[kind]
        if kind == enums.KIND_FWD and t.kind_flag:
            keyword = "union"
        return f"{keyword} {t.name}" if t.name else f"{keyword} {{...}}"
    raise BTFError(f"type id {t.id} is a {t.kind_name}, not a C type")


_TAG_KEYWORD = {enums.KIND_STRUCT: "struct", enums.KIND_UNION: "union", enums.KIND_ENUM: "enum",
                enums.KIND_ENUM64: "enum", enums.KIND_FWD: "struct"}
