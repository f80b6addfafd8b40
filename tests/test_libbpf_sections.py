"""libbpf section tables: every historical form parsed exactly, libbpf's matching rules, read at every release tag."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

import collectors.libbpf_sections as sections
from collectors.git import Repository
from collectors.libbpf_sections import release_tables
from kb.formats import libbpf_source
from kb.formats.libbpf_source import SectionTableError, parse_section_defs
from kb.vocab.errors import KbgenError
from kb.vocab.sections import (
    MATCH_PREFIX,
    MATCH_SLOPPY,
    MATCH_STRICT,
    SectionDef,
    first_understood,
    match_for_release,
    match_section,
    matching_rules,
    table_rules,
)


def src(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def line_of(text: str, needle: str) -> int:
    index = text.index(needle)
    return text.count("\n", 0, index) + 1


def sd(pattern, prog_type, eat, flags, line):
    return SectionDef(pattern, prog_type, eat, frozenset(flags), line)


# --- the forms, each written the way that era of libbpf.c lays it out -------------------------------------

MODERN = src("""
    /* a made-up libbpf.c in the flags era */
    enum sec_def_flags {
    	SEC_NONE = 0,
    	SEC_EXP_ATTACH_OPT = 1,
    	SEC_ATTACHABLE = 2,
    	SEC_ATTACHABLE_OPT = SEC_ATTACHABLE | SEC_EXP_ATTACH_OPT,
    	SEC_ATTACH_BTF = 4,
    	SEC_SLEEPABLE = 8,
    	SEC_XDP_FRAGS = 16,
    	SEC_USDT = 32,
    };

    #define SEC_DEF(sec_pfx, ptype, atype, flags, ...) { \\
    	.sec = (char *)sec_pfx, .prog_type = BPF_PROG_TYPE_##ptype, \\
    	.expected_attach_type = atype, .cookie = (long)(flags), __VA_ARGS__ }

    static const struct bpf_sec_def section_defs[] = {
    	SEC_DEF("kprobe+",	KPROBE, 0, SEC_NONE, attach_kprobe),
    	SEC_DEF("kprobe.multi+",	KPROBE, BPF_TRACE_KPROBE_MULTI, SEC_NONE, attach_kprobe_multi),
    	SEC_DEF("usdt+",	KPROBE, 0, SEC_USDT | SEC_SLEEPABLE, attach_usdt),
    	SEC_DEF("tc/ingress",	SCHED_CLS, BPF_TCX_INGRESS, SEC_NONE), /* the tcx spelling */
    	SEC_DEF("tc",		SCHED_CLS, 0, SEC_NONE),
    	SEC_DEF("lsm+",		LSM, BPF_LSM_MAC, SEC_ATTACH_BTF, attach_lsm),
    	SEC_DEF("lsm.s+",	LSM, BPF_LSM_MAC, SEC_ATTACH_BTF | SEC_SLEEPABLE, attach_lsm),
    	// frags first: first match wins
    	SEC_DEF("xdp.frags",	XDP, BPF_XDP, SEC_XDP_FRAGS),
    	SEC_DEF("xdp",		XDP, BPF_XDP, SEC_ATTACHABLE_OPT),
    	SEC_DEF("cgroup/dev",	CGROUP_DEVICE, BPF_CGROUP_DEVICE,
    		SEC_ATTACHABLE_OPT),
    	SEC_DEF("struct_ops+",	STRUCT_OPS, 0, SEC_NONE),
    };

    static int after_the_table(void) { return ARRAY_SIZE(section_defs); }
""")


def test_modern_sec_def_with_flags():
    defs = parse_section_defs(MODERN)
    first = line_of(MODERN, 'SEC_DEF("kprobe+"')
    assert first == 18
    assert defs == [
        sd("kprobe+", "BPF_PROG_TYPE_KPROBE", None, [], 18),
        sd("kprobe.multi+", "BPF_PROG_TYPE_KPROBE", "BPF_TRACE_KPROBE_MULTI", [], 19),
        sd("usdt+", "BPF_PROG_TYPE_KPROBE", None, ["SEC_USDT", "SEC_SLEEPABLE"], 20),
        sd("tc/ingress", "BPF_PROG_TYPE_SCHED_CLS", "BPF_TCX_INGRESS", [], 21),
        sd("tc", "BPF_PROG_TYPE_SCHED_CLS", None, [], 22),
        sd("lsm+", "BPF_PROG_TYPE_LSM", "BPF_LSM_MAC", ["SEC_ATTACH_BTF"], 23),
        sd("lsm.s+", "BPF_PROG_TYPE_LSM", "BPF_LSM_MAC", ["SEC_ATTACH_BTF", "SEC_SLEEPABLE"], 24),
        sd("xdp.frags", "BPF_PROG_TYPE_XDP", "BPF_XDP", ["SEC_XDP_FRAGS"], 26),
        sd("xdp", "BPF_PROG_TYPE_XDP", "BPF_XDP", ["SEC_ATTACHABLE_OPT"], 27),
        sd("cgroup/dev", "BPF_PROG_TYPE_CGROUP_DEVICE", "BPF_CGROUP_DEVICE", ["SEC_ATTACHABLE_OPT"], 28),
        sd("struct_ops+", "BPF_PROG_TYPE_STRUCT_OPS", None, [], 30),
    ]
    assert all(d.macro == "SEC_DEF" and not d.legacy_form for d in defs)
    assert defs[6].sleepable and not defs[5].sleepable
    # what libbpf_attach_type_by_name() would answer
    assert [d.attach_type for d in defs if d.attach_type] == ["BPF_XDP", "BPF_CGROUP_DEVICE"]
    assert parse_section_defs(MODERN.encode()) == defs


SLOPPY_ERA = src("""
    static const struct bpf_sec_def section_defs[] = {
    	SEC_DEF("socket",		SOCKET_FILTER, 0, SEC_NONE | SEC_SLOPPY_PFX),
    	SEC_DEF("kprobe/",		KPROBE, 0, SEC_NONE, attach_kprobe),
    	SEC_DEF("classifier",		SCHED_CLS, 0, SEC_NONE | SEC_SLOPPY_PFX | SEC_DEPRECATED),
    	SEC_DEF("tc",			SCHED_CLS, 0, SEC_NONE),
    	SEC_DEF("xdp_devmap/",		XDP, BPF_XDP_DEVMAP, SEC_ATTACHABLE | SEC_DEPRECATED),
    	SEC_DEF("xdp",			XDP, BPF_XDP, SEC_ATTACHABLE_OPT | SEC_SLOPPY_PFX),
    	SEC_DEF("syscall",		SYSCALL, 0, SEC_SLEEPABLE),
    	SEC_DEF("sk_lookup",		SK_LOOKUP, BPF_SK_LOOKUP, SEC_ATTACHABLE | SEC_SLOPPY_PFX),
    	SEC_DEF("struct_ops+",		STRUCT_OPS, 0, SEC_NONE),
    };
""")


def test_sloppy_era_flags_as_written_without_sec_none():
    defs = parse_section_defs(SLOPPY_ERA)
    assert defs == [
        sd("socket", "BPF_PROG_TYPE_SOCKET_FILTER", None, ["SEC_SLOPPY_PFX"], 2),
        sd("kprobe/", "BPF_PROG_TYPE_KPROBE", None, [], 3),
        sd("classifier", "BPF_PROG_TYPE_SCHED_CLS", None, ["SEC_SLOPPY_PFX", "SEC_DEPRECATED"], 4),
        sd("tc", "BPF_PROG_TYPE_SCHED_CLS", None, [], 5),
        sd("xdp_devmap/", "BPF_PROG_TYPE_XDP", "BPF_XDP_DEVMAP", ["SEC_ATTACHABLE", "SEC_DEPRECATED"], 6),
        sd("xdp", "BPF_PROG_TYPE_XDP", "BPF_XDP", ["SEC_ATTACHABLE_OPT", "SEC_SLOPPY_PFX"], 7),
        sd("syscall", "BPF_PROG_TYPE_SYSCALL", None, ["SEC_SLEEPABLE"], 8),
        sd("sk_lookup", "BPF_PROG_TYPE_SK_LOOKUP", "BPF_SK_LOOKUP", ["SEC_ATTACHABLE", "SEC_SLOPPY_PFX"], 9),
        sd("struct_ops+", "BPF_PROG_TYPE_STRUCT_OPS", None, [], 10),
    ]
    assert table_rules(defs) == MATCH_SLOPPY


# v0.0.8 - v0.5.0: wrappers over a designated-initializer BPF_PROG_SEC_IMPL, plus SEC_DEF(.field = value).
DESIGNATED_ERA = src("""
    #define BPF_PROG_SEC_IMPL(string, ptype, eatype, eatype_optional,	\\
    			  attachable, attach_btf)			\\
    	{ .sec = string, .len = sizeof(string) - 1, .prog_type = ptype,	\\
    	  .expected_attach_type = eatype,				\\
    	  .is_exp_attach_type_optional = eatype_optional,		\\
    	  .is_attachable = attachable, .is_attach_btf = attach_btf, }

    /* nothing to attach */
    #define BPF_PROG_SEC(string, ptype) BPF_PROG_SEC_IMPL(string, ptype, 0, 0, 0, 0)
    /* attachable, expected attach type optional */
    #define BPF_APROG_SEC(string, ptype, atype) \\
    	BPF_PROG_SEC_IMPL(string, ptype, atype, true, 1, 0)
    /* attachable, expected attach type required */
    #define BPF_EAPROG_SEC(string, ptype, eatype) \\
    	BPF_PROG_SEC_IMPL(string, ptype, eatype, false, 1, 0)
    #define BPF_PROG_BTF(string, ptype, eatype) \\
    	BPF_PROG_SEC_IMPL(string, ptype, eatype, false, 0, 1)
    #define BPF_APROG_COMPAT(string, ptype) BPF_PROG_SEC(string, ptype)

    #define SEC_DEF(sec_pfx, ptype, ...) {	\\
    	.sec = sec_pfx, .len = sizeof(sec_pfx) - 1,	\\
    	.prog_type = BPF_PROG_TYPE_##ptype, __VA_ARGS__ }

    static const struct bpf_sec_def section_defs[] = {
    	BPF_PROG_SEC("socket",			BPF_PROG_TYPE_SOCKET_FILTER),
    	SEC_DEF("kprobe/", KPROBE,
    		.attach_fn = attach_kprobe),
    	SEC_DEF("fentry.s/", TRACING,
    		.expected_attach_type = BPF_TRACE_FENTRY,
    		.is_attach_btf = true,
    		.is_sleepable = true,
    		.attach_fn = attach_trace),
    	SEC_DEF("syscall", SYSCALL,
    		.is_sleepable = true),
    	BPF_PROG_BTF("tp_btf/",			BPF_PROG_TYPE_TRACING,
    						BPF_TRACE_RAW_TP),
    	BPF_EAPROG_SEC("xdp_devmap/",		BPF_PROG_TYPE_XDP,
    						BPF_XDP_DEVMAP),
    	BPF_APROG_SEC("xdp",			BPF_PROG_TYPE_XDP,
    						BPF_XDP),
    	BPF_APROG_COMPAT("cgroup/skb",		BPF_PROG_TYPE_CGROUP_SKB),
    	BPF_EAPROG_SEC("sk_lookup/",		BPF_PROG_TYPE_SK_LOOKUP,
    						BPF_SK_LOOKUP),
    };
""")


def test_designated_era_macros_expanded_from_their_defines():
    defs = parse_section_defs(DESIGNATED_ERA)
    at = lambda needle: line_of(DESIGNATED_ERA, needle)
    assert defs == [
        sd("socket", "BPF_PROG_TYPE_SOCKET_FILTER", None, [], at('("socket"')),
        sd("kprobe/", "BPF_PROG_TYPE_KPROBE", None, [], at('("kprobe/"')),
        sd("fentry.s/", "BPF_PROG_TYPE_TRACING", "BPF_TRACE_FENTRY", ["SEC_ATTACH_BTF", "SEC_SLEEPABLE"],
           at('("fentry.s/"')),
        sd("syscall", "BPF_PROG_TYPE_SYSCALL", None, ["SEC_SLEEPABLE"], at('("syscall"')),
        sd("tp_btf/", "BPF_PROG_TYPE_TRACING", "BPF_TRACE_RAW_TP", ["SEC_ATTACH_BTF"], at('("tp_btf/"')),
        sd("xdp_devmap/", "BPF_PROG_TYPE_XDP", "BPF_XDP_DEVMAP", ["SEC_ATTACHABLE"], at('("xdp_devmap/"')),
        sd("xdp", "BPF_PROG_TYPE_XDP", "BPF_XDP", ["SEC_ATTACHABLE_OPT"], at('("xdp"')),
        sd("cgroup/skb", "BPF_PROG_TYPE_CGROUP_SKB", None, [], at('("cgroup/skb"')),
        sd("sk_lookup/", "BPF_PROG_TYPE_SK_LOOKUP", "BPF_SK_LOOKUP", ["SEC_ATTACHABLE"], at('("sk_lookup/"')),
    ]
    assert at('("xdp"') == 39
    assert [d.macro for d in defs][:3] == ["BPF_PROG_SEC", "SEC_DEF", "SEC_DEF"]
    assert all(d.legacy_form for d in defs) and table_rules(defs) == MATCH_PREFIX
    assert defs[6].attach_type == "BPF_XDP" and defs[0].attach_type is None


# v0.0.3 - v0.0.5: positional initializer; attachable wrappers name only the attach type.
SECTION_NAMES_ERA = src("""
    #define BPF_PROG_SEC_IMPL(string, ptype, eatype, is_attachable, atype) \\
    	{ string, sizeof(string) - 1, ptype, eatype, is_attachable, atype }
    #define BPF_PROG_SEC(string, ptype) BPF_PROG_SEC_IMPL(string, ptype, 0, 0, 0)
    #define BPF_APROG_SEC(string, ptype, atype) \\
    	BPF_PROG_SEC_IMPL(string, ptype, 0, 1, atype)
    #define BPF_EAPROG_SEC(string, ptype, eatype) \\
    	BPF_PROG_SEC_IMPL(string, ptype, eatype, 1, eatype)
    #define BPF_APROG_COMPAT(string, ptype) BPF_PROG_SEC(string, ptype)

    static const struct {
    	const char *sec;
    	size_t len;
    	enum bpf_prog_type prog_type;
    	enum bpf_attach_type expected_attach_type;
    	int is_attachable;
    	enum bpf_attach_type attach_type;
    } section_names[] = {
    	BPF_PROG_SEC("kprobe/",			BPF_PROG_TYPE_KPROBE),
    	BPF_PROG_SEC("xdp",			BPF_PROG_TYPE_XDP),
    	BPF_APROG_SEC("cgroup_skb/ingress",	BPF_PROG_TYPE_CGROUP_SKB,
    						BPF_CGROUP_INET_INGRESS),
    	BPF_APROG_COMPAT("sk_skb",		BPF_PROG_TYPE_SK_SKB),
    	BPF_EAPROG_SEC("cgroup/bind4",		BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
    						BPF_CGROUP_INET4_BIND),
    };

    #undef BPF_PROG_SEC_IMPL
""")


def test_section_names_era_attach_type_apart_from_expected_attach_type():
    defs = parse_section_defs(SECTION_NAMES_ERA)
    assert defs == [
        sd("kprobe/", "BPF_PROG_TYPE_KPROBE", None, [], 18),
        sd("xdp", "BPF_PROG_TYPE_XDP", None, [], 19),
        sd("cgroup_skb/ingress", "BPF_PROG_TYPE_CGROUP_SKB", None, ["SEC_ATTACHABLE"], 20),
        sd("sk_skb", "BPF_PROG_TYPE_SK_SKB", None, [], 22),
        sd("cgroup/bind4", "BPF_PROG_TYPE_CGROUP_SOCK_ADDR", "BPF_CGROUP_INET4_BIND", ["SEC_ATTACHABLE"], 23),
    ]
    assert [d.attach_type for d in defs] == [None, None, "BPF_CGROUP_INET_INGRESS", None, "BPF_CGROUP_INET4_BIND"]


def test_btf_wrapper_of_the_six_parameter_positional_impl():
    text = src("""
        #define BPF_PROG_SEC_IMPL(string, ptype, eatype, is_attachable, btf, atype) \\
        	{ string, sizeof(string) - 1, ptype, eatype, is_attachable, btf, atype }
        #define BPF_PROG_BTF(string, ptype, eatype) \\
        	BPF_PROG_SEC_IMPL(string, ptype, eatype, 0, 1, 0)
        static const struct { const char *sec; } section_names[] = {
        	BPF_PROG_BTF("fentry/", BPF_PROG_TYPE_TRACING, BPF_TRACE_FENTRY),
        };
    """)
    assert parse_section_defs(text) == [
        sd("fentry/", "BPF_PROG_TYPE_TRACING", "BPF_TRACE_FENTRY", ["SEC_ATTACH_BTF"], 6)]


def test_pre_release_impl_marks_unattachable_with_einval():
    text = src("""
        #define BPF_PROG_SEC_IMPL(string, ptype, eatype, atype) \\
        	{ string, sizeof(string) - 1, ptype, eatype, atype }
        #define BPF_PROG_SEC(string, ptype) BPF_PROG_SEC_IMPL(string, ptype, 0, -EINVAL)
        #define BPF_APROG_SEC(string, ptype, atype) BPF_PROG_SEC_IMPL(string, ptype, 0, atype)
        static const struct { const char *sec; } section_names[] = {
        	BPF_PROG_SEC("socket", BPF_PROG_TYPE_SOCKET_FILTER),
        	BPF_APROG_SEC("sockops", BPF_PROG_TYPE_SOCK_OPS, BPF_CGROUP_SOCK_OPS),
        };
    """)
    defs = parse_section_defs(text)
    assert defs == [sd("socket", "BPF_PROG_TYPE_SOCKET_FILTER", None, [], 6),
                    sd("sockops", "BPF_PROG_TYPE_SOCK_OPS", None, ["SEC_ATTACHABLE"], 7)]
    assert defs[1].attach_type == "BPF_CGROUP_SOCK_OPS"


def test_wrappers_without_defines_take_their_last_meaning():
    text = src("""
        static const struct bpf_sec_def section_defs[] = {
        	BPF_APROG_SEC("sk_msg", BPF_PROG_TYPE_SK_MSG, BPF_SK_MSG_VERDICT),
        	BPF_PROG_BTF("fexit/", BPF_PROG_TYPE_TRACING, BPF_TRACE_FEXIT),
        };
    """)
    assert parse_section_defs(text) == [
        sd("sk_msg", "BPF_PROG_TYPE_SK_MSG", "BPF_SK_MSG_VERDICT", ["SEC_ATTACHABLE_OPT"], 2),
        sd("fexit/", "BPF_PROG_TYPE_TRACING", "BPF_TRACE_FEXIT", ["SEC_ATTACH_BTF"], 3),
    ]


def test_no_table_and_empty_table():
    assert parse_section_defs("int main(void) { return SEC_DEF_COUNT; }\n") == []
    assert parse_section_defs(b"") == []
    assert parse_section_defs("static const struct bpf_sec_def section_defs[] = {\n};\n") == []


# --- tables that cannot be read --------------------------------------------------------------------------

def raises_at(text: str, line: int, *words: str) -> SectionTableError:
    with pytest.raises(SectionTableError) as caught:
        parse_section_defs(text)
    error = caught.value
    assert isinstance(error, KbgenError)
    assert error.line == line
    assert f"line {line}" in str(error)
    for word in words:
        assert word in str(error)
    return error


def test_unterminated_macro_at_end_of_file():
    text = src("""
        static const struct bpf_sec_def section_defs[] = {
        	SEC_DEF("kprobe+", KPROBE, 0, SEC_NONE),
        	SEC_DEF("uprobe+", KPROBE, 0,
    """)
    raises_at(text, 3, "unterminated", "SEC_DEF(")


def test_unterminated_macro_before_the_closing_brace():
    text = src("""
        static const struct bpf_sec_def section_defs[] = {
        	SEC_DEF("kprobe+", KPROBE, 0, SEC_NONE,
        	SEC_DEF("uprobe+", KPROBE, 0, SEC_NONE),
        };
    """)
    raises_at(text, 2, "unterminated")


@pytest.mark.parametrize("entry, word", [
    ('SEC_DEF("kprobe+", KPROBE, 0, SEC_BOGUS),', "SEC_BOGUS"),  # not in the enum
    ('SEC_DEF("kprobe+", KPROBE, 0, sec_none),', "flag"),
    ('SEC_DEF("kprobe+", "KPROBE", 0, SEC_NONE),', "program type"),
    ('SEC_DEF("kprobe+", KPROBE, 7, SEC_NONE),', "attach type"),
    ('SEC_DEF(kprobe, KPROBE, 0, SEC_NONE),', "string literal"),
    ('SEC_DEF("kprobe+", KPROBE, 0),', "arguments"),
    ('SEC_DEF("kprobe+", KPROBE, 0, SEC_NONE, 42),', "42"),
    ('SEC_DEF("kprobe+", KPROBE, .is_magic = true),', ".is_magic"),
    ('SEC_DEF("lsm/", LSM, .is_sleepable = maybe),', "maybe"),
    ('BPF_MYSTERY_SEC("kprobe/", BPF_PROG_TYPE_KPROBE),', "BPF_MYSTERY_SEC"),
    ('BPF_APROG_SEC("xdp", BPF_PROG_TYPE_XDP),', "arguments"),
    ('"kprobe/",', "unreadable"),
])
def test_unknown_arguments_name_the_line(entry, word):
    text = src("""
        enum sec_def_flags { SEC_NONE = 0, SEC_SLEEPABLE = 8, };
        static const struct bpf_sec_def section_defs[] = {
        	SEC_DEF("socket", SOCKET_FILTER, 0, SEC_NONE),
        	/* the bad one */
        	ENTRY
        };
    """).replace("ENTRY", entry)
    raises_at(text, 5, word)


def test_preprocessor_inside_the_table():
    text = src("""
        static const struct bpf_sec_def section_defs[] = {
        #ifdef HAVE_IT
        	SEC_DEF("socket", SOCKET_FILTER, 0, SEC_NONE),
        #endif
        };
    """)
    raises_at(text, 2, "preprocessor")


def test_unreadable_impl_parameter():
    text = src("""
        #define BPF_PROG_SEC_IMPL(string, ptype, colour) { string, ptype, colour }
        #define BPF_PROG_SEC(string, ptype) BPF_PROG_SEC_IMPL(string, ptype, 0)
        static const struct { const char *sec; } section_names[] = {
        	BPF_PROG_SEC("socket", BPF_PROG_TYPE_SOCKET_FILTER),
        };
    """)
    raises_at(text, 4, "colour")


# --- matching --------------------------------------------------------------------------------------------

MODERN_DEFS = parse_section_defs(MODERN)
SLOPPY_DEFS = parse_section_defs(SLOPPY_ERA)
PREFIX_DEFS = parse_section_defs(DESIGNATED_ERA)


def pattern(found: SectionDef | None) -> str | None:
    return found.pattern if found else None


@pytest.mark.parametrize("name, expected", [
    ("kprobe/do_sys_open", "kprobe+"),
    ("kprobe", "kprobe+"),  # "type+": the bare type too
    ("kprobex", None),
    ("kprobe.multi/vfs_*", "kprobe.multi+"),  # "kprobe+" needs '/' or the end right after "kprobe"
    ("lsm.s/file_open", "lsm.s+"),
    ("lsm/file_open", "lsm+"),
    ("xdp.frags", "xdp.frags"),
    ("xdp", "xdp"),
    ("xdp_prog", None),
    ("tc", "tc"),
    ("tc/ingress", "tc/ingress"),
    ("tc/egress", None),
    ("struct_ops/foo", "struct_ops+"),
    ("usdt/lib:prov:probe", "usdt+"),
    ("cgroup/device", None),
    ("who_knows", None),
])
def test_strict_matching(name, expected):
    assert pattern(match_section(MODERN_DEFS, name, strict=True)) == expected
    # without sloppy entries strict mode changes nothing
    assert pattern(match_section(MODERN_DEFS, name, strict=False)) == expected


def test_sleepable_variants_are_plain_entries():
    found = match_section(MODERN_DEFS, "lsm.s/bprm_committed_creds", strict=True)
    assert found.sleepable and found.prog_type == "BPF_PROG_TYPE_LSM" and found.expected_attach_type == "BPF_LSM_MAC"
    assert not match_section(MODERN_DEFS, "lsm/bprm_committed_creds", strict=True).sleepable
    assert match_section(MODERN_DEFS, "usdt/x", strict=True).sleepable  # its flags say so, nothing else


@pytest.mark.parametrize("name, sloppy, strict", [
    ("socket", "socket", "socket"),
    ("socket_filter", "socket", None),  # SEC_SLOPPY_PFX: a prefix unless LIBBPF_STRICT_SEC_NAME
    ("classifier/ingress", "classifier", None),
    ("xdp_redirect", "xdp", None),
    ("xdp_devmap/x", "xdp_devmap/", "xdp_devmap/"),
    ("kprobe/x", "kprobe/", "kprobe/"),
    ("kprobe", None, None),  # "type/" always wants the '/'
    ("tc_prog", None, None),  # not sloppy: exact in both modes
    ("syscall", "syscall", "syscall"),
    ("sk_lookup/foo", "sk_lookup", None),
    ("struct_ops", "struct_ops+", "struct_ops+"),
])
def test_sloppy_rules_of_0_6_to_0_8(name, sloppy, strict):
    assert pattern(match_section(SLOPPY_DEFS, name, strict=False)) == sloppy
    assert pattern(match_section(SLOPPY_DEFS, name, strict=True)) == strict
    # the v1.0 rules have no sloppy mode at all
    assert pattern(match_section(SLOPPY_DEFS, name, strict=False, rules=MATCH_STRICT)) == strict


@pytest.mark.parametrize("name, expected", [
    ("kprobe/do_sys_open", "kprobe/"),
    ("kprobe", None),
    ("fentry.s/x", "fentry.s/"),
    ("xdp", "xdp"),
    ("xdp.frags", "xdp"),  # a plain prefix: first match wins
    ("xdp_devmap/x", "xdp_devmap/"),
    ("syscall_helper", "syscall"),
    ("sk_lookup", None),  # the entry is "sk_lookup/"
    ("sk_lookup/redir", "sk_lookup/"),
    ("socketx", "socket"),
    ("tc", None),
])
def test_legacy_prefix_rules(name, expected):
    assert pattern(match_section(PREFIX_DEFS, name, strict=True)) == expected
    assert pattern(match_section(PREFIX_DEFS, name, strict=False, rules=MATCH_PREFIX)) == expected


def test_table_order_decides_between_overlapping_entries():
    xdp_first = [sd("xdp", "BPF_PROG_TYPE_XDP", None, [], 1),
                 sd("xdp.frags", "BPF_PROG_TYPE_XDP", "BPF_XDP", ["SEC_XDP_FRAGS"], 2)]
    assert match_section(xdp_first, "xdp.frags", strict=False, rules=MATCH_PREFIX).line == 1
    assert match_section(xdp_first, "xdp.frags", strict=True, rules=MATCH_STRICT).line == 2
    assert match_section(list(reversed(xdp_first)), "xdp.frags", strict=False, rules=MATCH_PREFIX).line == 2


def test_autoload_prefix():
    assert match_section(MODERN_DEFS, "?kprobe/x", strict=True) is None
    assert pattern(match_section(MODERN_DEFS, "?kprobe/x", strict=True, strip_autoload_prefix=True)) == "kprobe+"
    assert match_for_release(MODERN_DEFS, "?tc", "0.7.0") is None
    assert pattern(match_for_release(MODERN_DEFS, "?tc", "0.8.0")) == "tc"


@pytest.mark.parametrize("version, rules", [
    ("0.0.3", MATCH_PREFIX), ("v0.2", MATCH_PREFIX), ("0.5.0", MATCH_PREFIX),
    ("v0.6.0", MATCH_SLOPPY), ("0.7.0", MATCH_SLOPPY), ("0.8.3", MATCH_SLOPPY),
    ("v1.0.0", MATCH_STRICT), ("1.7.0", MATCH_STRICT),
])
def test_matching_rules_per_release(version, rules):
    assert matching_rules(version) == rules


def test_match_for_release_uses_that_release_default_mode():
    assert pattern(match_for_release(SLOPPY_DEFS, "xdp_redirect", "0.7.0")) == "xdp"
    assert match_for_release(SLOPPY_DEFS, "xdp_redirect", "0.7.0", strict=True) is None
    assert match_for_release(SLOPPY_DEFS, "xdp_redirect", "1.0.0") is None
    assert pattern(match_for_release(PREFIX_DEFS, "xdp_redirect", "0.5.0")) == "xdp"


def test_bad_versions_and_rules():
    with pytest.raises(KbgenError):
        matching_rules("latest")
    with pytest.raises(KbgenError):
        match_section(MODERN_DEFS, "xdp", strict=True, rules="fuzzy")


# --- mining a repository ---------------------------------------------------------------------------------

V010 = SECTION_NAMES_ERA
V020 = DESIGNATED_ERA
V100 = SLOPPY_ERA.replace(" | SEC_SLOPPY_PFX", "").replace(" | SEC_DEPRECATED", "").replace(
    '\tSEC_DEF("kprobe/",\t\tKPROBE, 0, SEC_NONE, attach_kprobe),\n',
    '\tSEC_DEF("kprobe+",\t\tKPROBE, 0, SEC_NONE, attach_kprobe),\n'
    '\tSEC_DEF("lsm.s+",\t\tLSM, BPF_LSM_MAC, SEC_ATTACH_BTF | SEC_SLEEPABLE),\n',
).replace('\tSEC_DEF("xdp_devmap/",\t\tXDP, BPF_XDP_DEVMAP, SEC_ATTACHABLE),\n', "")
V100 = V100.replace('\tSEC_DEF("xdp",', '\tSEC_DEF("xdp.frags",\t\tXDP, BPF_XDP, SEC_XDP_FRAGS),\n\tSEC_DEF("xdp",')


class Repo:
    def __init__(self, path):
        self.path = str(path)
        self.day = 0
        os.makedirs(self.path, exist_ok=True)
        self.git("init", "-q", "-b", "master")
        self.git("config", "user.name", "Test")
        self.git("config", "user.email", "test@example.org")
        self.git("config", "commit.gpgsign", "false")
        self.git("config", "tag.gpgsign", "false")

    def git(self, *args):
        self.day += 1
        stamp = f"2021-01-{self.day:02d}T12:00:00+00:00"
        env = dict(os.environ, GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        return subprocess.run(["git", "-C", self.path, *args], check=True, capture_output=True, text=True,
                              env=env).stdout

    def commit(self, content: str | None, message: str):
        full = os.path.join(self.path, "src", "libbpf.c")
        if content is None:
            self.git("rm", "-q", "src/libbpf.c")
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as handle:
                handle.write(content)
            self.git("add", "src/libbpf.c")
        self.git("commit", "-q", "--allow-empty", "-m", message)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    r = Repo(tmp_path_factory.mktemp("libbpf"))
    r.commit("/* no table yet */\n", "start")
    r.git("tag", "v0.0.9")
    r.commit(V010, "section_names table")
    r.git("tag", "-a", "v0.1.0", "-m", "v0.1.0")
    r.commit(V020, "designated SEC_DEF")
    r.git("tag", "v0.2.0")
    r.git("commit", "-q", "--allow-empty", "-m", "nothing for libbpf.c")
    r.git("tag", "-a", "v0.2.1", "-m", "same blob")
    r.git("tag", "not-a-release")
    r.commit(V100, "flags")
    r.git("tag", "v1.0.0-rc1")
    r.git("tag", "-a", "v1.0.0", "-m", "v1.0.0")
    return r


def tables_of(path, tags=None, warnings=None):
    return release_tables(Repository(str(path)), tags, warnings)


def first(tables, name, *, same_as_newest=False) -> tuple[str, str] | None:
    """The first release that understands *name* and the pattern it matches there."""
    found = first_understood([t.table for t in tables], name, same_as_newest=same_as_newest)
    return (found[0].release, found[1].pattern) if found else None


def test_release_tables_of_every_release(repo):
    tables = tables_of(repo.path)
    assert [t.tag for t in tables] == ["v0.0.9", "v0.1.0", "v0.2.0", "v0.2.1", "v1.0.0"]
    assert [t.table.rules for t in tables] == [MATCH_PREFIX] * 4 + [MATCH_STRICT]
    assert [len(t.defs) for t in tables] == [0, 5, 9, 9, 10]
    assert [t.blob is not None for t in tables] == [True] * 5
    assert tables[3].defs is tables[2].defs  # v0.2.0 and v0.2.1 share their blob: parsed once

    def having(pattern, *rest):
        return [t.tag for t in tables if any(d.key[:1 + len(rest)] == (pattern, *rest) for d in t.defs)]

    assert having("kprobe/") == ["v0.1.0", "v0.2.0", "v0.2.1"]
    assert having("kprobe+") == ["v1.0.0"] and having("lsm.s+") == ["v1.0.0"]
    assert having("xdp")[0] == "v0.1.0"
    # "xdp" changes meaning in v0.2.0 (expected attach type set): a new entry, same pattern
    assert having("xdp", "BPF_PROG_TYPE_XDP", None) == ["v0.1.0"]
    assert having("xdp", "BPF_PROG_TYPE_XDP", "BPF_XDP")[0] == "v0.2.0"


def test_first_release_that_understands_a_name(repo):
    tables = tables_of(repo.path)
    assert first(tables, "kprobe/do_sys_open") == ("0.1.0", "kprobe/")
    assert first(tables, "sk_lookup") == ("1.0.0", "sk_lookup")  # "sk_lookup/" wanted the slash
    assert first(tables, "sk_lookup/x")[0] == "0.2.0"
    assert first(tables, "xdp.frags") == ("0.1.0", "xdp")  # prefix matching understood it, as XDP
    assert first(tables, "xdp.frags", same_as_newest=True)[0] == "1.0.0"
    assert first(tables, "xdp", same_as_newest=True)[0] == "0.2.0"
    assert first(tables, "nothing/at_all") is None
    matches = [t.table.match("xdp_devmap/x") for t in tables]
    assert [m.pattern if m else None for m in matches] == [None, "xdp", "xdp_devmap/", "xdp_devmap/", None]


def test_release_tables_one_for_each_ref_one_cat_file_each_blob_parsed_once(repo, monkeypatch):
    import git.cmd

    repository = Repository(repo.path)
    commands, parsed = [], []
    real_popen, real_parse = subprocess.Popen, libbpf_source.parse_section_defs

    class Counted(real_popen):
        def __init__(self, args, *rest, **options):
            commands.append(" ".join(a for a in args[1:] if not a.startswith("--git-dir")))
            super().__init__(args, *rest, **options)

    def parse(source):
        parsed.append(source)
        return real_parse(source)

    monkeypatch.setattr(subprocess, "Popen", Counted)
    monkeypatch.setattr(git.cmd, "safer_popen", Counted)
    monkeypatch.setattr(libbpf_source, "parse_section_defs", parse)
    release_tables(repository)
    assert sorted(c.split(" --format")[0] for c in commands) == [
        "cat-file --batch", "cat-file --batch-check", "for-each-ref"]
    assert len(parsed) == len(set(parsed)) == 4


def test_release_tables_explicit_tags_and_bare_repository(repo, tmp_path):
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", repo.path, str(bare)], check=True)
    tables = tables_of(bare, ["v1.0.0", "v0.1.0"])
    assert [t.tag for t in tables] == ["v0.1.0", "v1.0.0"]
    assert first(tables, "socket")[0] == "1.0.0"
    with pytest.raises(KbgenError, match="not a version"):
        tables_of(bare, ["not-a-release"])
    with pytest.raises(KbgenError, match="no tag v9.9.9"):
        tables_of(bare, ["v1.0.0", "v9.9.9"])


def test_missing_file_is_a_warning_not_a_removal(tmp_path):
    r = Repo(tmp_path / "gone")
    r.commit(MODERN, "table")
    r.git("tag", "v1.0.0")
    r.commit(None, "file removed")
    r.git("tag", "v1.1.0")
    warnings = []
    tables = tables_of(r.path, warnings=warnings)
    assert [(x.tag, x.blob is not None, len(x.defs)) for x in tables] == [("v1.0.0", True, 11), ("v1.1.0", False, 0)]
    assert warnings == [(f"{r.path}: src/libbpf.c is missing at tag v1.1.0 (after v1.0.0 had one); that release is "
                         "left out")]
    facts = sections.LibbpfSectionsCollector(r.path).collect()
    assert [x.version for x in facts.releases] == ["1.0.0"]
    assert warnings[0] in facts.warnings


def test_bad_repository(tmp_path):
    with pytest.raises(KbgenError, match="nowhere"):
        tables_of(tmp_path / "nowhere")


def test_bad_table_names_tag_and_line(tmp_path):
    r = Repo(tmp_path / "bad")
    r.commit(MODERN.replace("SEC_USDT | SEC_SLEEPABLE", "SEC_USDT | SEC_SNOOZE"), "typo")
    r.git("tag", "v1.2.0")
    with pytest.raises(SectionTableError) as caught:
        tables_of(r.path)
    assert "v1.2.0:src/libbpf.c line 20" in str(caught.value) and "SEC_SNOOZE" in str(caught.value)
    assert caught.value.line == 20
