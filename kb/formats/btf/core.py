"""CO-RE: resolve a BPF object's relocations (``.BTF.ext``, :class:`kb.formats.btf.ext.CoreRelocation`) against a
target kernel's BTF, as libbpf's ``relo_core.c`` does before it loads a program.

* The local spec (``bpf_core_parse_spec``): the access string walked over the object's own BTF from the relocated
  type: the first index steps over the root as an array, the next ones pick struct or union members or array
  elements; for an enum relocation, the enumerator; for a type relocation, the type itself.
* Candidates (``bpf_core_find_cands``): every target type of a compatible kind whose name, without its
  ``___flavor`` suffix, is the local type's essential name.
* Matching (``bpf_core_spec_match``): members by exact name, looking inside anonymous members; field types
  compatible (``bpf_core_fields_are_compat``); array indices within bounds (flexible arrays excepted); enumerators
  by essential name; types compatible (``bpf_core_types_are_compat``) or, for ``type_matches``, matching
  (``bpf_core_types_match``).
* Values (``bpf_core_calc_relo``): a field's byte offset, size, signedness and bitfield shifts, existence, the
  target type's id and size, the enumerator's value.  Every matching candidate must give the same value.  With no
  candidate, existence relocations are 0 and every other relocation is *poisoned*: libbpf replaces the instruction
  with a call of an invalid helper, which the verifier refuses unless the code is dead.

Both BTFs only need ``type(id)`` and ``len()`` (:class:`kb.formats.btf.reader.BTF`, or the object reader's index).
"""

from __future__ import annotations

from dataclasses import dataclass

from kb.formats.btf import enums
from kb.formats.btf.ext import CoreRelocation
from kb.vocab.errors import KbgenError

BYTE_OFF, BYTE_SZ, FIELD_EXISTS, SIGNED, LSHIFT_U64, RSHIFT_U64 = 0, 1, 2, 3, 4, 5
LOCAL_TYPE_ID, TARGET_TYPE_ID, TYPE_EXISTS, TYPE_SIZE, ENUMVAL_EXISTS, ENUMVAL_VALUE, TYPE_MATCHES = \
    6, 7, 8, 9, 10, 11, 12
SPEC_MAX_LEN = 64  # BPF_CORE_SPEC_MAX_LEN
MAX_LEVEL = 32  # recursion depth of the type comparisons
INT_SIGNED = 1  # BTF_INT_SIGNED in an INT's encoding
COMPOSITE = (enums.KIND_STRUCT, enums.KIND_UNION)
ANY_ENUM = (enums.KIND_ENUM, enums.KIND_ENUM64)


class CoreError(KbgenError, ValueError):
    """A relocation libbpf itself refuses whatever the target (a bad access string, an ambiguous match)."""


@dataclass(frozen=True)
class Accessor:
    type_id: int  # the struct/union (named member), array element type, or enum the access is in
    index: int
    name: str | None  # member or enumerator name; None for an array index


@dataclass
class Spec:
    root: int
    accessors: list[Accessor]
    bit_offset: int = 0


@dataclass(frozen=True)
class Resolution:
    """What libbpf makes of one relocation on one target."""

    relocation: CoreRelocation
    local: str  # what the object asks for, in words: "struct task_struct.__state", "enum bpf_func_id::BPF_FUNC_loop"
    value: int | None  # the value libbpf patches in; None when poisoned
    target_id: int | None = None  # the matched target type (the first candidate that matched)
    candidates: int = 0  # target types of the essential name
    error: str | None = None  # why libbpf fails the load itself (ambiguous, malformed), whatever the code does

    @property
    def poisoned(self) -> bool:
        return self.value is None and self.error is None

    @property
    def resolved(self) -> bool:
        return self.value is not None


def essential_name(name: str) -> str:
    """The name without its last ``___flavor`` (``bpf_core_essential_name_len``: an ``X___Y`` where X and Y are not
    underscores): task_struct___old -> task_struct."""
    for at in range(len(name) - 5, -1, -1):
        if name[at] != "_" and name[at + 1 : at + 4] == "___" and name[at + 4] != "_":
            return name[: at + 1]
    return name


def _skip(btf, type_id: int):
    """(type, id) behind typedefs and qualifiers (``skip_mods_and_typedefs``)."""
    seen = 0
    t = btf.type(type_id)
    while t.kind in enums.TRANSPARENT_KINDS:
        seen += 1
        if seen > MAX_LEVEL * 8:
            raise CoreError(f"type id {type_id}: reference loop")
        type_id = t.type
        t = btf.type(type_id)
    return t, type_id


def resolve_size(btf, type_id: int) -> int:
    """``btf__resolve_size``: the bytes a type takes."""
    count = 1
    for _ in range(MAX_LEVEL * 8):
        t = btf.type(type_id)
        kind = t.kind
        if kind in (enums.KIND_INT, enums.KIND_STRUCT, enums.KIND_UNION, enums.KIND_ENUM, enums.KIND_ENUM64,
                    enums.KIND_FLOAT, enums.KIND_DATASEC):
            return t.size_or_type * count
        if kind == enums.KIND_PTR:
            return 8 * count
        if kind in enums.TRANSPARENT_KINDS or kind == enums.KIND_VAR:
            type_id = t.type
        elif kind == enums.KIND_ARRAY:
            count *= t.extra[2]
            type_id = t.extra[0]
        else:
            raise CoreError(f"type id {type_id} ({t.kind_name}) has no size")
    raise CoreError(f"type id {type_id}: reference loop")


def _member_offset(t, index: int) -> tuple[int, int]:
    """(bit offset, bitfield size or 0) of a member."""
    offset = t.members[index][2]
    if t.kind_flag:
        return offset & 0xFFFFFF, (offset >> 24) & 0xFF
    return offset, 0


def _kind_compatible(a, b) -> bool:
    return a.kind == b.kind or (a.kind in ANY_ENUM and b.kind in ANY_ENUM)


def _names_match(a: str, b: str) -> bool:
    return not a or not b or essential_name(a) == essential_name(b)


def _is_flex(btf, previous: Accessor, nelems: int) -> bool:
    if previous.name is None or nelems > 0:
        return False
    return previous.index == len(btf.type(previous.type_id).members) - 1


def parse_spec(btf, relocation: CoreRelocation) -> Spec:
    """The local spec of *relocation* over the object's BTF."""
    try:
        indices = [int(part) for part in relocation.access.split(":")]
    except ValueError:
        raise CoreError(f"access string {relocation.access!r} is not a list of indices") from None
    if not indices or len(indices) > SPEC_MAX_LEN:
        raise CoreError(f"access string {relocation.access!r}: {len(indices)} indices")
    kind, root = relocation.kind, relocation.type_id
    if not 0 < root < len(btf):
        raise CoreError(f"type id {root} out of range")
    spec = Spec(root, [])
    if kind in enums.CORE_TYPE_KINDS:
        if indices != [0]:
            raise CoreError(f"type relocation with access string {relocation.access!r}")
        return spec
    t, type_id = _skip(btf, root)
    if kind in enums.CORE_ENUMVAL_KINDS:
        if t.kind not in ANY_ENUM or len(indices) != 1 or not 0 <= indices[0] < len(t.members):
            raise CoreError(f"enum relocation {relocation.access!r} on {t.kind_name} {t.name}")
        spec.accessors.append(Accessor(type_id, indices[0], t.members[indices[0]][0]))
        return spec
    if kind not in enums.CORE_FIELD_KINDS:
        raise CoreError(f"unknown relocation kind {kind}")
    spec.accessors.append(Accessor(type_id, indices[0], None))
    spec.bit_offset = indices[0] * resolve_size(btf, type_id) * 8
    for index in indices[1:]:
        t, type_id = _skip(btf, type_id)
        if t.kind in COMPOSITE:
            if not 0 <= index < len(t.members):
                raise CoreError(f"member {index} of {t.name or 'an anonymous type'} ({len(t.members)} members)")
            name, member_type, _offset = t.members[index]
            spec.bit_offset += _member_offset(t, index)[0]
            if name:
                spec.accessors.append(Accessor(type_id, index, name))
            type_id = member_type
        elif t.kind == enums.KIND_ARRAY:
            element, _index_type, nelems = t.extra
            _element, type_id = _skip(btf, element)
            if not _is_flex(btf, spec.accessors[-1], nelems) and index >= nelems:
                raise CoreError(f"index {index} past an array of {nelems}")
            spec.accessors.append(Accessor(type_id, index, None))
            spec.bit_offset += index * resolve_size(btf, type_id) * 8
        else:
            raise CoreError(f"access {relocation.access!r} steps into a {t.kind_name}")
    return spec


def describe(btf, relocation: CoreRelocation, spec: Spec | None = None) -> str:
    """What a relocation asks for, as C would say it: ``struct task_struct.__state``, ``enum bpf_func_id::X``."""
    root = btf.type(relocation.type_id)
    what = {enums.KIND_STRUCT: "struct", enums.KIND_UNION: "union", enums.KIND_ENUM: "enum",
            enums.KIND_ENUM64: "enum", enums.KIND_TYPEDEF: "typedef"}.get(root.kind, root.kind_name.lower())
    head = f"{what} {root.name or '(anonymous)'}"
    if spec is None:
        try:
            spec = parse_spec(btf, relocation)
        except CoreError:
            return f"{head} (access {relocation.access})"
    if relocation.kind in enums.CORE_ENUMVAL_KINDS:
        return f"{head}::{spec.accessors[0].name}"
    if relocation.kind in enums.CORE_TYPE_KINDS:
        return head
    path = ""
    for n, accessor in enumerate(spec.accessors):
        if accessor.name is not None:
            path += f".{accessor.name}"
        elif n or accessor.index:
            path += f"[{accessor.index}]"
    return head + path


class Target:
    """A target kernel's BTF, with its types indexed by essential name (built once, on first use)."""

    def __init__(self, btf, name: str = "target"):
        self.btf = btf
        self.name = name
        self._by_name: dict[str, list[int]] | None = None

    def has_symbol(self, name: str) -> bool:
        """Whether the target has a function or variable of that name (what a weak ``__ksym`` resolves to)."""
        return any(self.btf.type(type_id).kind in (enums.KIND_FUNC, enums.KIND_VAR)
                   for type_id in self._names().get(essential_name(name), ()))

    def has_struct(self, name: str) -> bool:
        return any(self.btf.type(type_id).kind == enums.KIND_STRUCT and self.btf.type(type_id).name == name
                   for type_id in self._names().get(essential_name(name), ()))

    def _names(self) -> dict[str, list[int]]:
        if self._by_name is None:
            by_name: dict[str, list[int]] = {}
            btf = self.btf
            names = getattr(btf, "type_name", None)
            for type_id in range(1, len(btf)):
                name = names(type_id) if names else btf.type(type_id).name
                if name:
                    by_name.setdefault(essential_name(name), []).append(type_id)
            self._by_name = by_name
        return self._by_name

    def candidates(self, local) -> list[int]:
        """The target types libbpf tries for a local type: a compatible kind, the same essential name."""
        found = []
        for type_id in self._names().get(essential_name(local.name), ()):
            if _kind_compatible(self.btf.type(type_id), local):
                found.append(type_id)
        return found


def _fields_compatible(local_btf, local_id: int, target_btf, target_id: int) -> bool:
    for _ in range(MAX_LEVEL):
        local, local_id = _skip(local_btf, local_id)
        target, target_id = _skip(target_btf, target_id)
        if local.kind in COMPOSITE and target.kind in COMPOSITE:
            return True
        if not _kind_compatible(local, target):
            return False
        if local.kind in (enums.KIND_PTR, enums.KIND_FLOAT):
            return True
        if local.kind in (enums.KIND_FWD, *ANY_ENUM):
            return _names_match(local.name, target.name)
        if local.kind == enums.KIND_INT:
            return _int_offset(local) == 0 and _int_offset(target) == 0
        if local.kind != enums.KIND_ARRAY:
            return False
        local_id, target_id = local.extra[0], target.extra[0]
    return False


def _int_offset(t) -> int:
    return (t.extra[0] >> 16) & 0xFF if t.extra else 0


def _types_compatible(local_btf, local_id: int, target_btf, target_id: int, level: int = MAX_LEVEL) -> bool:
    if level <= 0:
        return False
    local, local_id = _skip(local_btf, local_id)
    target, target_id = _skip(target_btf, target_id)
    if not _kind_compatible(local, target):
        return False
    kind = local.kind
    if kind in (enums.KIND_UNKN, enums.KIND_FWD, *COMPOSITE, *ANY_ENUM):
        return True
    if kind == enums.KIND_INT:
        return _int_offset(local) == 0 and _int_offset(target) == 0
    if kind == enums.KIND_PTR:
        return _types_compatible(local_btf, local.type, target_btf, target.type, level - 1)
    if kind == enums.KIND_ARRAY:
        return _types_compatible(local_btf, local.extra[0], target_btf, target.extra[0], level - 1)
    if kind == enums.KIND_FUNC_PROTO:
        if len(local.members) != len(target.members):
            return False
        pairs = [(local.type, target.type)] + [(a[1], b[1]) for a, b in zip(local.members, target.members)]
        return all(_types_compatible(local_btf, a, target_btf, b, level - 1) for a, b in pairs)
    return False


def _types_match(local_btf, local_id: int, target_btf, target_id: int, behind_pointer: bool = False,
                 level: int = MAX_LEVEL) -> bool:
    """``bpf_core_types_match``: the stricter, structural comparison of ``bpf_core_type_matches``."""
    if level <= 0:
        return False
    local, local_id = _skip(local_btf, local_id)
    target, target_id = _skip(target_btf, target_id)
    if not _names_match(local.name, target.name):
        return False
    kind, target_kind = local.kind, target.kind
    if kind == enums.KIND_UNKN:
        return target_kind == kind
    if kind == enums.KIND_FWD:
        if target_kind == kind:
            return local.kind_flag == target.kind_flag
        return (target_kind == enums.KIND_STRUCT and not local.kind_flag) or (
            target_kind == enums.KIND_UNION and local.kind_flag)
    if kind in ANY_ENUM:
        if target_kind not in ANY_ENUM:
            return False
        names = [m[0] for m in target.members]
        return all(any(_names_match(m[0], n) for n in names) for m in local.members)
    if kind in COMPOSITE:
        return _composites_match(local_btf, local, target_btf, target, behind_pointer, level)
    if target_kind != kind:
        return False
    if kind == enums.KIND_INT:
        return local.size_or_type == target.size_or_type and (local.extra[0] >> 24 & INT_SIGNED) == (
            target.extra[0] >> 24 & INT_SIGNED)
    if kind == enums.KIND_PTR:
        return _types_match(local_btf, local.type, target_btf, target.type, True, level - 1)
    if kind == enums.KIND_ARRAY:
        return local.extra[2] == target.extra[2] and _types_match(local_btf, local.extra[0], target_btf,
                                                                  target.extra[0], behind_pointer, level - 1)
    if kind == enums.KIND_FUNC_PROTO:
        if len(local.members) != len(target.members):
            return False
        pairs = [(local.type, target.type)] + [(a[1], b[1]) for a, b in zip(local.members, target.members)]
        return all(_types_match(local_btf, a, target_btf, b, behind_pointer, level - 1) for a, b in pairs)
    return False


def _composites_match(local_btf, local, target_btf, target, behind_pointer: bool, level: int) -> bool:
    kind, target_kind = local.kind, target.kind
    if behind_pointer:
        return target_kind == kind or (target_kind == enums.KIND_FWD and (kind == enums.KIND_UNION) ==
                                       target.kind_flag)
    if target_kind != kind or len(local.members) > len(target.members):
        return False
    by_name = {m[0]: m for m in target.members}
    for name, member_type, _offset in local.members:
        other = by_name.get(name)
        if other is None or not _types_match(local_btf, member_type, target_btf, other[1], behind_pointer, level - 1):
            return False
    return True


def _match_member(local_btf, accessor: Accessor, target_btf, target_id: int, spec: Spec, depth: int = 0):
    """Find the local member *accessor* names in the target composite *target_id* (inside anonymous members too):
    the id of the matched member's type, or None."""
    local_member = local_btf.type(accessor.type_id).members[accessor.index]
    target, target_id = _skip(target_btf, target_id)
    if target.kind not in COMPOSITE or depth > SPEC_MAX_LEN:
        return None
    for index, (name, member_type, _offset) in enumerate(target.members):
        bit_offset = _member_offset(target, index)[0]
        spec.bit_offset += bit_offset
        if not name:
            found = _match_member(local_btf, accessor, target_btf, member_type, spec, depth + 1)
            if found is not None:
                return found
        elif name == local_member[0]:
            spec.accessors.append(Accessor(target_id, index, name))
            if _fields_compatible(local_btf, local_member[1], target_btf, member_type):
                return member_type
            spec.accessors.pop()
            spec.bit_offset -= bit_offset
            return None
        spec.bit_offset -= bit_offset
    return None


def _match(local_btf, local: Spec, kind: int, target_btf, target_id: int) -> Spec | None:
    """The target spec of a candidate, or None when it does not match (``bpf_core_spec_match``)."""
    spec = Spec(target_id, [])
    if kind in enums.CORE_TYPE_KINDS:
        matches = _types_match if kind == TYPE_MATCHES else _types_compatible
        return spec if matches(local_btf, local.root, target_btf, target_id) else None
    if kind in enums.CORE_ENUMVAL_KINDS:
        target, target_id = _skip(target_btf, target_id)
        if target.kind not in ANY_ENUM:
            return None
        want = essential_name(local.accessors[0].name or "")
        for index, member in enumerate(target.members):
            if essential_name(member[0]) == want:
                spec.accessors.append(Accessor(target_id, index, member[0]))
                return spec
        return None
    next_id = target_id
    for n, accessor in enumerate(local.accessors):
        if n and accessor.name is not None:
            found = _match_member(local_btf, accessor, target_btf, target_id, spec)
            if found is None:
                return None
            next_id = found
        else:
            if n:
                target, target_id = _skip(target_btf, target_id)
                if target.kind != enums.KIND_ARRAY:
                    return None
                element, _index_type, nelems = target.extra
                if not _is_flex(target_btf, spec.accessors[-1], nelems) and accessor.index >= nelems:
                    return None
                _element, next_id = _skip(target_btf, element)
                target_id = next_id
            spec.accessors.append(Accessor(target_id, accessor.index, None))
            spec.bit_offset += accessor.index * resolve_size(target_btf, target_id) * 8
        target_id = next_id
    return spec


def _field_value(btf, spec: Spec, kind: int) -> int:
    if kind == FIELD_EXISTS:
        return 1
    last = spec.accessors[-1]
    if last.name is None:
        if kind == BYTE_OFF:
            return spec.bit_offset // 8
        if kind == BYTE_SZ:
            return resolve_size(btf, last.type_id)
        raise CoreError("a relocation of this kind cannot apply to an array access")
    parent = btf.type(last.type_id)
    member_type = parent.members[last.index][1]
    member, member_id = _skip(btf, member_type)
    bit_offset = spec.bit_offset
    bit_size = _member_offset(parent, last.index)[1]
    if bit_size:
        byte_size = member.size_or_type
        byte_offset = bit_offset // 8 // byte_size * byte_size
        while bit_offset + bit_size - byte_offset * 8 > byte_size * 8:
            if byte_size >= 8:
                raise CoreError("a bitfield no 64-bit load can read")
            byte_size *= 2
            byte_offset = bit_offset // 8 // byte_size * byte_size
    else:
        byte_size = resolve_size(btf, member_id)
        byte_offset = bit_offset // 8
        bit_size = byte_size * 8
    if kind == BYTE_OFF:
        return byte_offset
    if kind == BYTE_SZ:
        return byte_size
    if kind == SIGNED:
        return int((member.kind in ANY_ENUM and member.kind_flag) or (
            member.kind == enums.KIND_INT and bool(member.extra[0] >> 24 & INT_SIGNED)))
    if kind == LSHIFT_U64:
        if getattr(btf, "byte_order", "<") == ">":
            return (8 - byte_size) * 8 + (bit_offset - byte_offset * 8)
        return 64 - (bit_offset + bit_size - byte_offset * 8)
    return 64 - bit_size  # RSHIFT_U64


def _value(target_btf, spec: Spec | None, kind: int) -> int | None:
    """The value a relocation takes from a matched target spec (None: poisoned)."""
    if kind in (FIELD_EXISTS, TYPE_EXISTS, TYPE_MATCHES, ENUMVAL_EXISTS):
        return int(spec is not None)
    if spec is None:
        return None
    if kind in enums.CORE_FIELD_KINDS:
        return _field_value(target_btf, spec, kind)
    if kind == TARGET_TYPE_ID:
        return spec.root
    if kind == TYPE_SIZE:
        return resolve_size(target_btf, spec.root)
    if kind == ENUMVAL_VALUE:
        accessor = spec.accessors[0]
        return target_btf.type(accessor.type_id).members[accessor.index][1]
    raise CoreError(f"unknown relocation kind {kind}")


def resolve(local_btf, relocation: CoreRelocation, target: Target) -> Resolution:
    """Resolve one relocation of an object (whose BTF is *local_btf*) against *target*."""
    try:
        local = parse_spec(local_btf, relocation)
    except (CoreError, IndexError) as err:
        return Resolution(relocation, describe(local_btf, relocation), None, error=f"malformed relocation: {err}")
    what = describe(local_btf, relocation, local)
    if relocation.kind == LOCAL_TYPE_ID:
        return Resolution(relocation, what, relocation.type_id)
    root = local_btf.type(relocation.type_id)
    if not root.name:
        return Resolution(relocation, what, None, error="a relocation of an anonymous type: libbpf refuses it")
    candidates = target.candidates(root)
    found: list[tuple[int, Spec, int | None]] = []
    try:
        for candidate in candidates:
            spec = _match(local_btf, local, relocation.kind, target.btf, candidate)
            if spec is None:
                continue
            value = _value(target.btf, spec, relocation.kind)
            if found and relocation.kind in enums.CORE_FIELD_KINDS and spec.bit_offset != found[0][1].bit_offset:
                return Resolution(relocation, what, None, found[0][0], len(candidates),
                                  f"field offset ambiguity: {found[0][1].bit_offset // 8} or {spec.bit_offset // 8}")
            if found and value != found[0][2]:
                return Resolution(relocation, what, None, found[0][0], len(candidates),
                                  f"value ambiguity: {found[0][2]} or {value}")
            found.append((candidate, spec, value))
        if not found:
            return Resolution(relocation, what, _value(target.btf, None, relocation.kind), None, len(candidates))
    except (CoreError, IndexError) as err:
        return Resolution(relocation, what, None, None, len(candidates), f"cannot resolve: {err}")
    return Resolution(relocation, what, found[0][2], found[0][0], len(candidates))
