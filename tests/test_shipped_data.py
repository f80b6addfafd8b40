"""The shipped knowledge base in data/: complete, consistent, and rebuilt exactly from its sources."""

import os

import pytest

from kb import shipped

SHARED_REFERENCE = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "reference")


@pytest.fixture(scope="module")
def tree():
    return shipped.load()


def test_every_helper_0_to_211_has_a_release_and_commit(tree):
    helpers = {i.value: i for i in tree.items if i.kind == "helper"}
    assert sorted(helpers) == list(range(212))
    for value, item in helpers.items():
        assert item.first_release, value
        assert item.introduced_by and len(item.introduced_by) == 40, value
    assert helpers[195].first_release == "5.19"
    assert helpers[195].introduced_by.startswith("07343110b293")


def test_every_row_names_a_known_source(tree):
    sources = {tree.source, *tree.other_sources}
    assert all(i.source in sources for i in tree.items)
    assert {d[4] for d in tree.disagreements} | {d[6] for d in tree.disagreements} <= sources


def test_unknown_releases_stay_unknown(tree):
    attach = {i.value: i for i in tree.items if i.kind == "attach_type"}
    assert attach[44].name == "BPF_STRUCT_OPS" and attach[44].first_release is None


def test_reference_disagreements_are_kept(tree):
    rows = [d for d in tree.disagreements if d[0] == "helper" and d[1] == 7]
    assert ("first_release", "4.1", "reference:bcc", "4.17", "reference:ebpf-docs") in [d[2:7] for d in rows]


def test_helper_docs_cover_the_header_helpers(tree):
    documented = {d.value for d in tree.helper_docs}
    assert documented == set(range(1, 210))  # the 6.1 header documents 1..209


def test_aliases(tree):
    cmd = {i.value: i for i in tree.items if i.kind == "cmd"}
    assert cmd[10].name == "BPF_PROG_TEST_RUN"
    assert [n.name for n in cmd[10].names] == ["BPF_PROG_TEST_RUN", "BPF_PROG_RUN"]
    assert [n.is_alias for n in cmd[10].names] == [False, True]


def test_data_version_is_content_addressed(tmp_path, tree):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(shipped.data_dir(), copy)
    assert shipped.data_version(copy) == shipped.data_version()
    with open(copy / "items.tsv", "a") as handle:
        handle.write("kfunc\tbpf_new\tbpf_new\t\t\t\treference:bcc+ebpf-docs\t\n")
    assert shipped.data_version(copy) != shipped.data_version()


def test_broken_data_file_is_named(tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(shipped.data_dir(), copy)
    (copy / "names.tsv").write_text("kind\tvalue\n")
    with pytest.raises(shipped.DataError, match="names.tsv: expected the columns"):
        shipped.load(copy)


@pytest.mark.skipif(not os.path.isdir(SHARED_REFERENCE), reason="no shared/reference beside the checkout")
def test_data_is_exactly_what_the_reference_and_header_give(tmp_path):
    from kb import api

    header = "/usr/include/linux/bpf.h"
    if not os.path.exists(header):
        pytest.skip("no real header")
    import hashlib

    version = (shipped.data_dir() / "VERSION").read_text().strip()
    api.import_reference(SHARED_REFERENCE, header, str(tmp_path), version)
    names = ["items.tsv", "disagreements.tsv", "VERSION"]
    with open(header, "rb") as handle:
        same_header = hashlib.sha256(handle.read()).hexdigest()[:16] in (shipped.data_dir() / "sources.tsv").read_text()
    if same_header:  # a newer linux-libc-dev changes the header-derived files, and rightly so
        names += ["names.tsv", "sources.tsv", "helper_docs.jsonl"]
    for name in names:
        assert (tmp_path / name).read_text() == (shipped.data_dir() / name).read_text(), name


def test_former_names_from_the_curated_file(tree):
    helpers = {i.value: i for i in tree.items if i.kind == "helper"}
    assert [n.name for n in helpers[192].names] == ["skb_set_delivery_time", "skb_set_tstamp"]
    assert [n.name for n in helpers[153].names] == ["bpf_per_cpu_ptr", "per_cpu_ptr"]
    # The id keeps its first release and commit whatever it is called.
    assert helpers[192].name == "skb_set_tstamp" and helpers[192].first_release == "5.18"
    assert "curated:kbgen-brief" in tree.other_sources


def test_curated_name_for_an_unknown_item_is_refused(tmp_path):
    import shutil

    copy = tmp_path / "data"
    shutil.copytree(shipped.data_dir(), copy)
    with open(copy / "curated_names.tsv", "a") as handle:
        handle.write("helper\t999\tbpf_nothing\tcurated:test\tno such helper\n")
    with pytest.raises(shipped.DataError, match="curated_names.tsv: helper 999 is not in items.tsv"):
        shipped.load(copy)
