"""The names people type, read by the one resolver (kb.store.resolve): through the site's check (Datasette's own
client), the Python API and the resolver itself, on the shipped knowledge base."""

from urllib.parse import urlencode

import pytest
from datasette_site import datasette_for, get, published

from kb import api
from kb.store import kbase, resolve
from kb.store.resolve import Resolver


@pytest.fixture(scope="module")
def names():
    return Resolver.of(kbase.open_kb(None), "mainline")


@pytest.fixture(scope="module")
def site(shared):
    return datasette_for(published(shared, "shipped-site"))


def check(ds, kernel, items):
    response = get(ds, "/kb/check.json?" + urlencode({"_shape": "array", "kernel": kernel, "items": items}))
    assert response.status_code == 200, response.text[:300]
    return response.json()


# word -> the (kind, name) items it means, how it was matched
CASES = [
    ("195", [("helper", "map_lookup_percpu_elem")], resolve.ID),
    ("loop", [("helper", "loop")], resolve.NAME),
    ("bpf_loop", [("helper", "loop")], resolve.SPELLING),
    ("BPF_FUNC_loop", [("helper", "loop")], resolve.SPELLING),
    ("dynptr_slice", [("kfunc", "bpf_dynptr_slice")], resolve.SPELLING),
    ("XDP", [("prog_type", "BPF_PROG_TYPE_XDP")], resolve.SPELLING),
    ("struct_ops", [("prog_type", "BPF_PROG_TYPE_STRUCT_OPS")], resolve.SPELLING),
    ("attach_type:XDP", [("attach_type", "BPF_XDP")], resolve.SPELLING),
    ("fentry", [("prog_type", "BPF_PROG_TYPE_TRACING"), ("attach_type", "BPF_TRACE_FENTRY")], resolve.SECTION),
    ("fexit", [("prog_type", "BPF_PROG_TYPE_TRACING"), ("attach_type", "BPF_TRACE_FEXIT")], resolve.SECTION),
    ("uprobe", [("prog_type", "BPF_PROG_TYPE_KPROBE")], resolve.SECTION),
    ("uprobe.s", [("prog_type", "BPF_PROG_TYPE_KPROBE"), ("feature", "verifier.sleepable")], resolve.SECTION),
    ("tc", [("prog_type", "BPF_PROG_TYPE_SCHED_CLS")], resolve.SECTION),
    ("raw_tp", [("prog_type", "BPF_PROG_TYPE_RAW_TRACEPOINT")], resolve.SECTION),
    ("sleepable", [("feature", "verifier.sleepable")], resolve.FEATURE_WORDS),
    ("bounded_loops", [("feature", "verifier.bounded_loops")], resolve.FEATURE_WORDS),
    ("bounded loops", [("feature", "verifier.bounded_loops")], resolve.FEATURE_WORDS),
    ("bpf_printk", [("helper", "trace_printk")], resolve.MACRO),
    ("bpf_obj_new", [("kfunc", "bpf_obj_new_impl")], resolve.MACRO),
    ("kfunc:bpf_obj_new", [("kfunc", "bpf_obj_new")], resolve.NAME),
]


@pytest.mark.parametrize("word, expected, how", CASES)
def test_the_resolver(names, word, expected, how):
    match = names.resolve(word)
    assert [(i.kind, i.name) for i in match.items] == expected and match.how == how


def test_what_was_matched_is_said(names):
    assert "also attach type BPF_XDP, link type BPF_LINK_TYPE_XDP" in names.resolve("XDP").note
    assert "BPF_TRACE_FENTRY" in names.resolve("fentry").note
    assert "macro" in names.resolve("bpf_obj_new").note and "kfunc:bpf_obj_new" in names.resolve("bpf_obj_new").note


def test_unknown_names_suggest_close_ones(names):
    assert names.resolve("bpf_map_lookup_elm").suggestions[0] == "bpf_map_lookup_elem"
    assert "fentry" in names.resolve("fentri").suggestions
    assert names.resolve("zzzzzzzz").suggestions == []


def test_a_list_of_words(names):
    found = names.resolve_all("bounded loops, bpf_loop fentry;XDP\n195")
    assert [m.word for m in found] == ["bounded loops", "bpf_loop", "fentry", "XDP", "195"]
    with pytest.raises(resolve.ResolveError):
        names.resolve_all(", ".join(["x"] * (resolve.MAX_WORDS + 1)))


def test_every_macro_calls_a_known_item(names):
    for macro in resolve.MACROS:
        assert names.resolve(macro.name).items, macro


@pytest.mark.parametrize("word, expected, _how", CASES)
def test_the_site_reads_names_as_the_resolver(site, word, expected, _how):
    rows = check(site, "6.1", word)
    assert sorted((r["kind"], r["name"].removeprefix("bpf_") if r["kind"] == "helper" else r["name"]) for r in rows) \
        == sorted(expected)


def test_xdp_on_5_4_is_the_program_type(site):
    (row,) = check(site, "5.4", "XDP")
    assert (row["name"], row["available"], row["first_release"]) == ("BPF_PROG_TYPE_XDP", 1, "4.8")
    assert "BPF_XDP" in row["matched"]
    html = get(site, "/kb/check?" + urlencode({"kernel": "5.4", "items": "XDP"})).text
    assert "has it" in html and "lacks" not in html


def test_the_site_suggests(site):
    (row,) = check(site, "6.1", "bpf_map_lookup_elm")
    assert row["available"] == 0 and "did you mean bpf_map_lookup_elem" in row["why"]


def test_no_kernel_says_what_is_needed(site):
    rows = check(site, "", "bpf_loop, XDP, bpf_obj_new")
    assert [(r["name"], r["why"]) for r in rows] == [
        ("bpf_loop", "needs 5.17 or newer"), ("BPF_PROG_TYPE_XDP", "needs 4.8 or newer"),
        ("bpf_obj_new_impl", "needs 6.2 or newer")]
    html = get(site, "/kb/check?" + urlencode({"kernel": "", "items": "bpf_loop, XDP, bpf_obj_new"})).text
    assert "needs 6.2 or newer" in html and "<svg" in html


def test_the_api_reads_names_as_the_resolver(tmp_path):
    _where, rows = api.check("5.10", ["XDP", "fentry", "bpf_printk"], db=str(tmp_path / "user.db"))
    assert [(r.query, r.name, r.available) for r in rows] == [
        ("XDP", "BPF_PROG_TYPE_XDP", True), ("fentry", "BPF_PROG_TYPE_TRACING", True),
        ("fentry", "BPF_TRACE_FENTRY", True), ("bpf_printk", "trace_printk", True)]
    (found,) = api.info("sleepable", db=str(tmp_path / "user.db"))
    assert found.item.value == "verifier.sleepable"


def test_the_site_judges_a_bounded_arrival_by_its_bounds(site):
    """BPF_PROG_ASSOC_STRUCT_OPS arrived after 6.18, by 7.0 (tests/test_bounded_arrival.py): the check form says so."""
    said = {kernel: check(site, kernel, "BPF_PROG_ASSOC_STRUCT_OPS")[0] for kernel in ("6.18", "6.19", "7.0", "")}
    assert [said[k]["available"] for k in ("6.18", "6.19", "7.0")] == [0, 0, 1]
    assert said["6.19"]["why"] == "unknown: arrived between 6.18 and 7.0; the first release is not established"
    assert said["7.0"]["why"].startswith("available (arrived between 6.18 and 7.0")
    assert said[""]["first_release"] is None
    assert said[""]["why"] == ("needs 7.0 or newer to be sure: arrived between 6.18 and 7.0; the first release is not "
                               "established")
    changes = get(site, "/kb/diff.json?from=6.18&to=7.0").json()["arrived"]
    assert [(c["release"], c["arrival"]) for c in changes if c["name"] == "BPF_PROG_ASSOC_STRUCT_OPS"] == [
        (None, "between 6.18 and 7.0")]
