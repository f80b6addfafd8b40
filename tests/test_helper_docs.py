"""The helper documentation block, read as the kernel's scripts/bpf_doc.py reads it."""

import pytest
from headers import make_header

from kb.formats.header import parse_header
from kb.formats.helper_docs import HelperDocError, parse_helper_docs


def test_real_header_documents_every_helper(real_header):
    docs = parse_helper_docs(real_header)
    names = {h.name for h in parse_header(real_header).helpers}
    assert {d.name for d in docs} == names - {"unspec"}
    by_name = {d.name: d for d in docs}
    doc = by_name["map_lookup_percpu_elem"]
    assert doc.signature == "void *bpf_map_lookup_percpu_elem(struct bpf_map *map, const void *key, u32 cpu)"
    assert doc.description == "Perform a lookup in *percpu map* for an entry associated to\n*key* on *cpu*."
    assert doc.returns.startswith("Map value associated to *key* on *cpu*, or **NULL**")
    assert by_name["trace_printk"].signature == "long bpf_trace_printk(const char *fmt, u32 fmt_size, ...)"
    # A helper documented once per context keeps every variant (bpf_doc.py lists them all too).
    variants = real_header.count(" * u64 bpf_get_socket_cookie(")
    assert variants > 1
    assert sum(1 for d in docs if d.name == "get_socket_cookie") == variants


def test_blank_lines_inside_a_description_are_kept():
    docs = parse_helper_docs(make_header(["unspec", "a"], "mapper"))
    assert docs[0].description == "Does a things, with *flags*.\n\nA second paragraph."
    assert docs[0].returns == "0 on success, or a negative error in case of failure."


def test_space_indented_sections_are_accepted():
    text = make_header(["unspec", "a"], "mapper").replace(" * \tDescription", " *     Description")
    text = text.replace(" * \t\tDoes", " *     \tDoes")
    assert parse_helper_docs(text)[0].description.startswith("Does a things")


def test_sections_headers_before_5_17_leave_out_read_as_empty():
    """5.15's header documents bpf_get_current_pid_tgid with a Return section only, as bpf_helpers_doc.py allowed."""
    text = make_header(["unspec", "a", "b"], "mapper")
    text = text.replace(" * \tReturn\n * \t\t0 on success, or a negative error in case of failure.\n", "", 1)
    text = text.replace(" * \tDescription\n * \t\tDoes b things, with *flags*.\n *\n * \t\tA second paragraph.\n", "")
    a, b = parse_helper_docs(text)
    assert (a.name, a.description.startswith("Does a"), a.returns) == ("a", True, "")
    assert (b.name, b.description, b.returns) == ("b", "", "0 on success, or a negative error in case of failure.")


def test_unreadable_prototype_names_the_line():
    text = make_header(["unspec", "a", "b"], "mapper").replace(" * long bpf_b(void *ctx, u64 flags)", " * long bpf_b(")
    with pytest.raises(HelperDocError, match="cannot read helper prototype") as info:
        parse_helper_docs(text)
    assert text.splitlines()[info.value.line - 1] == " * long bpf_b("


def test_old_headers_have_no_doc_block():
    assert parse_helper_docs(make_header(["unspec", "a"], "enum")) == []
