"""The shipped knowledge base in data/: complete, consistent, and rebuilt exactly from its sources."""

import os
import shutil

import pytest

from kb.store import shipped
from kb.vocab.kinds import ENUM_KINDS

SHARED_REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference")
VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


@pytest.fixture(scope="module")
def tree():
    return shipped.load()


def by_key(tree):
    return {(i.kind, i.value): i for i in tree.items}


def test_every_helper_0_to_211_has_a_release_commit_and_gpl_flag(tree):
    helpers = {i.value: i for i in tree.items if i.kind == "helper"}
    assert sorted(helpers) == list(range(212))
    for value, item in helpers.items():
        assert item.first_release, value
        assert item.introduced_by and len(item.introduced_by) == 40, value
        assert value == 0 or item.gpl_only is not None, value
    assert helpers[0].first_release == "3.18"
    assert helpers[195].first_release == "5.19"
    assert helpers[195].introduced_by.startswith("07343110b293")
    assert helpers[6].gpl_only is True and helpers[1].gpl_only is False  # trace_printk, map_lookup_elem
    # bcc's table leaves 15 GPL-only helpers unmarked; the 6.18 verifier's answer is used, bcc's kept beside it.
    gpl = [d for d in tree.disagreements if d.field == "gpl_only"]
    assert len(gpl) == 15
    assert all((d.used, d.used_source, d.other, d.other_source) == ("1", "reference:6.18-verifier", "0",
                                                                      "reference:bcc") for d in gpl)


def test_every_row_names_a_known_source(tree):
    sources = {tree.source.id, *(s.id for s in tree.other_sources)}
    assert all(i.source in sources for i in tree.items)
    assert all(r.source in sources for r in tree.relations)
    assert {d.used_source for d in tree.disagreements} | {d.other_source for d in tree.disagreements} <= sources


def test_no_disagreement_between_equal_values_or_a_source_and_itself(tree):
    for d in tree.disagreements:
        assert d.used != d.other, d
        assert d.used_source != d.other_source, d


def test_only_items_after_the_dated_releases_have_no_release(tree):
    undated = [i for i in tree.items if i.first_release is None and i.kind != "feature"]
    assert {(i.kind, i.name) for i in undated} >= {("cmd", "BPF_PROG_ASSOC_STRUCT_OPS"), ("kfunc", "scx_bpf_cid_curr")}
    assert all("not established" in (i.note or "") for i in undated), [i.name for i in undated]
    # Every one of them has its arrival bounded, both bounds stated where known, and no window (no guess).
    assert all(i.first_release_by and not i.windows for i in undated), [i.name for i in undated]
    dated = by_key(tree)
    assert dated[("attach_type", 44)].first_release == "6.4"  # BPF_STRUCT_OPS, undated before v2
    assert dated[("link_type", 0)].first_release == "5.8"
    assert dated[("cmd", 37)].first_release == "6.17"


@pytest.mark.skipif(not os.path.exists(VMLINUX_BTF), reason=f"{VMLINUX_BTF} not present")
def test_every_item_of_this_machines_kernel_is_dated(tree):
    """Every helper and enumerator the running kernel's BTF declares has a first release in the shipped data."""
    from kb.formats.btf.kernel import build_items
    from kb.formats.btf.reader import parse_btf

    with open(VMLINUX_BTF, "rb") as handle:
        build = build_items(parse_btf(handle.read()))
    items = by_key(tree)
    missing = []
    for kind in ("helper", *ENUM_KINDS):
        members = getattr(build, kind + "s")
        assert members.present and len(members) > 5, kind
        missing += [(kind, e.name) for e in members.enumerators
                    if not getattr(items.get((kind, e.value)), "first_release", None)]
    assert missing == []


def test_windows(tree):
    items = by_key(tree)
    flush = items[("kfunc", "cgroup_rstat_flush")]
    assert (flush.first_release, flush.removed_in, [w.text() for w in flush.windows]) == ("6.1", "6.16",
                                                                                          ["6.1..6.16"])
    vprintk = items[("kfunc", "bpf_stream_vprintk")]
    assert [w.text() for w in vprintk.windows] == ["6.17..6.18", "7.0.."] and vprintk.removed_in is None
    assert items[("kfunc", "bpf_stream_vprintk_impl")].first_release == "6.18"
    assert items[("kfunc", "bpf_dynptr_is_rdonly")].first_release == "6.5"
    assert items[("kfunc", "bpf_strnlen")].first_release == "6.17"
    assert items[("kfunc", "hid_bpf_attach_prog")].removed_in == "6.11"
    removed = {i.name for i in tree.items if i.kind == "kfunc" and i.removed_in == "6.17"}
    assert len({n for n in removed if n.startswith("scx_bpf_")}) == 7


def test_names_oldest_first_aliases_after_their_originals(tree):
    items = by_key(tree)
    assert [n.name for n in items[("helper", 192)].names] == ["skb_set_delivery_time", "skb_set_tstamp"]
    assert [n.name for n in items[("helper", 153)].names] == ["bpf_per_cpu_ptr", "per_cpu_ptr"]
    assert [n.name for n in items[("helper", 154)].names] == ["bpf_this_cpu_ptr", "this_cpu_ptr"]
    storage = items[("map_type", 19)]
    assert storage.name == "BPF_MAP_TYPE_CGROUP_STORAGE"
    assert [(n.name, n.is_alias) for n in storage.names] == [("BPF_MAP_TYPE_CGROUP_STORAGE", False),
                                                             ("BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED", True)]
    run = items[("cmd", 10)]
    assert [(n.name, n.is_alias, n.first_release) for n in run.names] == [
        ("BPF_PROG_TEST_RUN", False, "4.12"), ("BPF_PROG_RUN", True, "5.14")]


def test_features_and_relations(tree):
    items = by_key(tree)
    jmp32 = items[("feature", "isa.jmp32_v3")]
    assert (jmp32.first_release, jmp32.libbpf) == ("5.1", "required")
    assert "0x06" in jmp32.detect
    assert items[("feature", "btf.decl_tag")].libbpf == "sanitized:libbpf v0.6.0"
    assert sum(1 for i in tree.items if i.kind == "feature") == 70
    callable_from = {(r.value, r.other_value) for r in tree.relations if r.kind == "helper"
                     and r.relation == "callable_from"}
    assert (195, 6) in callable_from  # map_lookup_percpu_elem from XDP, as documented
    works_with = {(r.value, r.other_value) for r in tree.relations if r.relation == "works_with"}
    assert (195, 5) in works_with  # ... with BPF_MAP_TYPE_PERCPU_HASH
    kfunc_types = {r.other_value for r in tree.relations if r.value == "bpf_cpumask_create"}
    assert 26 in kfunc_types  # BPF_PROG_TYPE_TRACING
    assert tree.qualifier == "as documented"


def test_helper_docs_cover_the_header_helpers(tree):
    documented = {d.value for d in tree.helper_docs}
    assert documented == set(range(1, 210))  # the 6.1 header documents 1..209


def test_data_version_is_content_addressed(tmp_path, tree):
    copy = tmp_path / "data"
    shutil.copytree(shipped.data_dir(), copy)
    assert shipped.data_version(copy) == shipped.data_version()
    with open(copy / "items.tsv", "a") as handle:
        handle.write("kfunc\tbpf_new\tbpf_new\t\t\t\t\t\treference:ebpf-docs\t\n")
    assert shipped.data_version(copy) != shipped.data_version()


@pytest.mark.parametrize("name, content, message", [
    ("names.tsv", "kind\tvalue\n", "names.tsv: expected the columns"),
    ("items.tsv", None, "items.tsv: data row 2: unknown source 'reference:nobody'"),
    ("items.tsv", "windows", "items.tsv: data row 2: not a window: '3.18'"),
])
def test_broken_data_file_is_named(tmp_path, name, content, message):
    copy = tmp_path / "data"
    shutil.copytree(shipped.data_dir(), copy)
    lines = (copy / name).read_text().splitlines()
    header = next(n for n, line in enumerate(lines) if not line.startswith("#"))
    if content is None:
        cells = lines[header + 1].split("\t")
        cells[8] = "reference:nobody"
        lines[header + 1] = "\t".join(cells)
    elif content == "windows":
        cells = lines[header + 1].split("\t")
        cells[4] = "3.18"
        lines[header + 1] = "\t".join(cells)
    else:
        lines = content.splitlines()
    (copy / name).write_text("\n".join(lines) + "\n")
    with pytest.raises(shipped.DataError, match=message):
        shipped.load(copy)


@pytest.mark.skipif(not os.path.isdir(SHARED_REFERENCE), reason="no shared/reference beside the checkout")
def test_data_is_exactly_what_the_reference_and_header_give(tmp_path):
    import hashlib

    from kb import api

    header = "/usr/include/linux/bpf.h"
    if not os.path.exists(header):
        pytest.skip("no real header")
    version = (shipped.data_dir() / "VERSION").read_text().strip()
    shutil.copytree(shipped.data_dir() / shipped.FLEET_DIR, tmp_path / shipped.FLEET_DIR)  # the fleet dates items
    api.import_reference(SHARED_REFERENCE, header, str(tmp_path), version)
    names = ["items.tsv", "features.tsv", "relations.tsv", "disagreements.tsv", "VERSION"]
    with open(header, "rb") as handle:
        same_header = hashlib.sha256(handle.read()).hexdigest()[:16] in (shipped.data_dir() / "sources.tsv").read_text()
    if same_header:  # a newer linux-libc-dev changes the header-derived files, and rightly so
        names += ["names.tsv", "sources.tsv", "helper_docs.jsonl"]
    for name in names:
        assert (tmp_path / name).read_text() == (shipped.data_dir() / name).read_text(), name
