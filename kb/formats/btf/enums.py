"""BTF constants as data (include/uapi/linux/btf.h)."""

BTF_MAGIC = 0xEB9F
BTF_VERSION = 1  # the only version defined

KIND_UNKN = 0
KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_VAR = 14
KIND_DATASEC = 15
KIND_FLOAT = 16
KIND_DECL_TAG = 17
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19

KIND_NAMES = {
    KIND_UNKN: "UNKN", KIND_INT: "INT", KIND_PTR: "PTR", KIND_ARRAY: "ARRAY", KIND_STRUCT: "STRUCT",
    KIND_UNION: "UNION", KIND_ENUM: "ENUM", KIND_FWD: "FWD", KIND_TYPEDEF: "TYPEDEF", KIND_VOLATILE: "VOLATILE",
    KIND_CONST: "CONST", KIND_RESTRICT: "RESTRICT", KIND_FUNC: "FUNC", KIND_FUNC_PROTO: "FUNC_PROTO",
    KIND_VAR: "VAR", KIND_DATASEC: "DATASEC", KIND_FLOAT: "FLOAT", KIND_DECL_TAG: "DECL_TAG",
    KIND_TYPE_TAG: "TYPE_TAG", KIND_ENUM64: "ENUM64",
}

# Kinds whose third word is a type id (the others: a size, or unused).
REFERENCE_KINDS = {
    KIND_PTR, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_FUNC, KIND_FUNC_PROTO, KIND_VAR,
    KIND_DECL_TAG, KIND_TYPE_TAG,
}
# Qualifiers and typedefs that resolving a type looks through.
TRANSPARENT_KINDS = {KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG}

FUNC_LINKAGE = {0: "static", 1: "global", 2: "extern"}

# enum bpf_core_relo_kind (include/uapi/linux/bpf.h): what a CO-RE relocation asks of the target's BTF.
CORE_KIND_NAMES = {
    0: "byte_off", 1: "byte_sz", 2: "field_exists", 3: "signed", 4: "lshift_u64", 5: "rshift_u64",
    6: "local_type_id", 7: "target_type_id", 8: "type_exists", 9: "type_size", 10: "enumval_exists",
    11: "enumval_value", 12: "type_matches",
}
CORE_FIELD_KINDS = frozenset(range(6))
CORE_TYPE_KINDS = frozenset({6, 7, 8, 9, 12})
CORE_ENUMVAL_KINDS = frozenset({10, 11})
# The relocations whose value is a yes/no a program can branch on (bpf_core_*_exists, bpf_core_type_matches).
CORE_EXISTENCE_KINDS = frozenset({2, 8, 10, 12})
