"""bpf.h parsing: the real header on this machine, and each era's format."""

import pytest
from headers import make_header

from kb.formats.header import HeaderParseError, parse_header


def test_real_header_parses_completely(real_header):
    facts = parse_header(real_header)
    assert facts.helper_format == "mapper"  # Debian's 6.1 header: positional FN() list
    helpers = {h.value: h.name for h in facts.helpers}
    assert list(helpers) == list(range(len(helpers)))
    assert helpers[0] == "unspec"
    assert helpers[195] == "map_lookup_percpu_elem"
    assert helpers[192] == "skb_set_tstamp"
    # Every FN() entry of the macro is an id: count them independently of the parser.
    body = real_header[real_header.index("#define __BPF_FUNC_MAPPER(FN)"):]
    body = body[: body.index("\n\n")]
    assert len(helpers) == body.count("\tFN(")
    enums = {kind: {e.name: e.value for e in entries} for kind, entries in facts.enums.items()}
    assert set(enums) == {"prog_type", "map_type", "attach_type", "link_type", "cmd"}
    assert enums["prog_type"]["BPF_PROG_TYPE_XDP"] == 6
    assert enums["map_type"]["BPF_MAP_TYPE_RINGBUF"] == 27
    assert enums["link_type"]["BPF_LINK_TYPE_KPROBE_MULTI"] == 8
    assert enums["cmd"]["BPF_PROG_RUN"] == enums["cmd"]["BPF_PROG_TEST_RUN"] == 10
    alias = next(e for e in facts.enums["cmd"] if e.name == "BPF_PROG_RUN")
    assert alias.alias_of == "BPF_PROG_TEST_RUN"
    assert not any("MAX" in e.name for entries in facts.enums.values() for e in entries)
    # Values are dense from 0 (the kernel appends; nothing is skipped in these enums).
    for kind in ("prog_type", "map_type", "attach_type", "link_type"):
        values = sorted({e.value for e in facts.enums[kind]})
        assert values == list(range(len(values))), kind


@pytest.mark.parametrize("fmt", ["enum", "mapper", "mapper-ids"])
def test_each_helper_list_format(fmt):
    names = ["unspec", "map_lookup_elem", "map_update_elem", "probe_read"]
    facts = parse_header(make_header(names, fmt))
    assert facts.helper_format == fmt
    assert [(h.value, h.name) for h in facts.helpers] == list(enumerate(names))


def test_explicit_ids_need_not_be_in_order():
    facts = parse_header(make_header({0: "unspec", 1: "a", 5: "late", 2: "b"}, "mapper-ids"))
    assert {h.value: h.name for h in facts.helpers} == {0: "unspec", 1: "a", 2: "b", 5: "late"}


def test_enum_values_implicit_explicit_expression_and_alias():
    text = make_header(["unspec"], "mapper", {
        "bpf_attach_type": ["BPF_A", "BPF_B = 5", "BPF_C", "BPF_D = (1U << 4)", "BPF_E = BPF_B", "BPF_F = 0x20"],
        "bpf_cmd": ["BPF_X", "__MAX_BPF_CMD", "BPF_COMMON_ATTRS = 1 << 16"],
    })
    facts = parse_header(text)
    assert [(e.name, e.value, e.alias_of) for e in facts.enums["attach_type"]] == [
        ("BPF_A", 0, None), ("BPF_B", 5, None), ("BPF_C", 6, None), ("BPF_D", 16, None), ("BPF_E", 5, "BPF_B"),
        ("BPF_F", 32, None),
    ]
    # What follows the __MAX_ counter is a flag, not a command.
    assert [e.name for e in facts.enums["cmd"]] == ["BPF_X"]


def test_line_numbers_of_enumerators(real_header):
    facts = parse_header(real_header)
    lines = real_header.splitlines()
    for entries in facts.enums.values():
        for e in entries:
            assert e.name in lines[e.line - 1]
    for h in facts.helpers[:5] + facts.helpers[-5:]:
        assert f"FN({h.name})" in lines[h.line - 1]


@pytest.mark.parametrize(
    "mangle, message, line_text",
    [
        (lambda t: t.replace("\tFN(map_update_elem),", "\tFN(map_update_elem"), "unexpected", "FN(map_update_elem"),
        (lambda t: t.replace("BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_HASH = @"), "cannot evaluate", "BPF_MAP_TYPE_HASH"),
        (lambda t: t.replace("\tFN(probe_read),", "\tFN(probe_read, 3),"), "positional list", "FN(probe_read"),
    ],
)
def test_malformed_header_names_the_line(mangle, message, line_text):
    text = mangle(make_header(["unspec", "map_lookup_elem", "map_update_elem", "probe_read"], "mapper"))
    with pytest.raises(HeaderParseError, match=message) as info:
        parse_header(text)
    assert line_text in text.splitlines()[info.value.line - 1]


def test_duplicate_explicit_id_is_an_error():
    text = make_header({0: "unspec", 1: "a"}, "mapper-ids").replace("FN(a, 1,", "FN(a, 0,")
    with pytest.raises(HeaderParseError, match="helper id 0 given to both unspec and a"):
        parse_header(text)


def test_unclosed_enum_and_not_a_header():
    with pytest.raises(HeaderParseError, match="enum bpf_cmd is not closed"):
        parse_header("enum bpf_cmd {\n\tBPF_MAP_CREATE,\n")
    with pytest.raises(HeaderParseError, match="no BPF enum or helper list"):
        parse_header("int main(void) { return 0; }\n")
