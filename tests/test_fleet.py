"""The shipped fleet: real Debian builds as build trees of the shipped knowledge base, each with its provenance, and
what they tell of mainline: arrivals dated exactly or bounded, removals, the test-only kfuncs."""

import os

import pytest

from collectors import fleet as fleets
from kb import api
from kb.store import availability, shipped
from kb.vocab import rules
from kb.vocab.facts import Facts, Item, ItemName, Release, Source, Window


@pytest.fixture(scope="module")
def builds():
    return {b.tree: b for b in shipped.load_fleet()}


def test_every_build_is_a_tree_named_by_its_uname_with_its_package(builds):
    assert len(builds) >= 20
    sid = builds["7.2.13+deb14-amd64"]
    assert sid.releases[0].uname == "7.2.13+deb14-amd64" and sid.releases[0].base == "7.2.13"
    assert {k: sid.labels[k] for k in ("distribution", "distribution_version", "arch", "package", "package_version",
                                       "modules_package", "modules")} == {
        "distribution": "debian", "distribution_version": "sid", "arch": "amd64",
        "package": "linux-binary-7.2.13+deb14-amd64", "package_version": "7.2.13-1",
        "modules_package": "linux-modules-7.2.13+deb14-amd64", "modules": "yes"}
    assert len(sid.labels["package_sha256"]) == 64 and sid.source.revision == "sha256:" + sid.labels["package_sha256"]
    assert {b.labels["arch"] for b in builds.values()} >= {"amd64", "arm64", "riscv64"}
    assert {b.releases[0].base.rsplit(".", 1)[0] if b.releases[0].base.count(".") > 1 else b.releases[0].base
            for b in builds.values()} >= {"5.10", "6.1", "6.12", "7.2"}


def test_the_exact_item_sets(builds):
    sid = {(i.kind, i.value): i for i in builds["7.2.13+deb14-amd64"].items}
    assert ("map_type", 35) in sid and sid[("map_type", 35)].name == "BPF_MAP_TYPE_RHASH"
    assert ("kfunc", "bpf_wq_set_callback") in sid and ("kfunc", "bpf_wq_set_callback_impl") not in sid
    assert sid[("kfunc", "bpf_fentry_test1")].signature
    old = builds["5.10.0-46-amd64"]
    assert "kfunc" not in old.covers  # 5.10's BTF tags no kfuncs: the build says nothing of them
    assert max(i.value for i in old.items if i.kind == "helper") < max(v for k, v in sid if k == "helper")
    storage = next(i for i in builds["6.12.118+deb13-amd64"].items if (i.kind, i.value) == ("map_type", 19))
    assert [(n.name, n.is_alias) for n in storage.names] == [("BPF_MAP_TYPE_CGROUP_STORAGE", False),
                                                             ("BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED", True)]


def test_the_kfuncs_modules_register_are_in_their_module_never_lacking(builds):
    """Debian's 6.12 and 7.2 builds were read with their modules: nf_conntrack's, tcp_bbr's kfuncs... are the
    build's, noted with their module; 5.10's modules have no BTF (it came in 5.11), so those builds say so."""
    from kb.outputs.compare import compare

    notes = {i.value: i.note for i in builds["6.12.118+deb13-amd64"].items if i.kind == "kfunc"}
    assert {name: notes[name] for name in ("bpf_ct_release", "bpf_ct_set_nat_info", "bbr_init", "dctcp_init",
                                           "bpf_skb_set_xfrm_info", "bpf_skb_set_fou_encap", "bpf_task_acquire")} == {
        "bpf_ct_release": "in module nf_conntrack", "bpf_ct_set_nat_info": "in module nf_nat",
        "bbr_init": "in module tcp_bbr", "dctcp_init": "in module tcp_dctcp",
        "bpf_skb_set_xfrm_info": "in module xfrm_interface", "bpf_skb_set_fou_encap": "in module fou",
        "bpf_task_acquire": None}
    comparison = compare(api.open_kb(), "6.12.118+deb13-amd64")
    in_modules = {d.name for d in comparison.in_modules}
    assert {"bpf_ct_release", "bpf_skb_ct_lookup", "bbr_init", "dctcp_init"} <= in_modules
    assert not in_modules & {d.name for d in comparison.lacking}
    assert {b.labels["modules"] for b in builds.values() if b.releases[0].base.startswith(("6.", "7."))} == {"yes"}
    assert builds["5.10.0-46-amd64"].labels["modules"] == "probed without its modules"


def test_the_fleet_is_compact():
    base = shipped.data_dir() / shipped.FLEET_DIR
    assert sum(os.path.getsize(base / name) for name in os.listdir(base)) <= 2 << 20


def test_a_fleet_build_answers_for_its_uname():
    conn = api.open_kb()
    where = availability.resolve(conn, "6.1.0-57-cloud-amd64")
    assert (where.tree, where.exact) == ("6.1.0-57-cloud-amd64", True)
    where, rows = api.check("7.2.13+deb14-arm64", ["bpf_wq_set_callback_impl", "bpf_wq_set_callback",
                                                   "BPF_MAP_TYPE_RHASH"])
    assert where.tree == "7.2.13+deb14-arm64" and where.exact
    assert {r.query: r.available for r in rows} == {"bpf_wq_set_callback_impl": False, "bpf_wq_set_callback": True,
                                                   "BPF_MAP_TYPE_RHASH": True}
    assert availability.horizon(conn)[0] == "7.2"


def test_mainline_is_dated_to_7_2_exactly_or_within_bounds():
    items = {(i.kind, i.value): i for i in shipped.load().items}
    rhash = items[("map_type", 35)]  # the references: after 7.1; the builds: in 7.2
    assert (rhash.first_release, rhash.first_release_after, rhash.first_release_by) == ("7.2", None, None)
    assert items[("link_type", 15)].first_release == "7.2"
    assoc = items[("cmd", 38)]  # libbpf's sync: 6.19 or 7.0; the builds: not in 6.12, in 7.2
    assert (assoc.first_release, assoc.windows, assoc.first_release_after, assoc.first_release_by) == (
        None, [], "6.18", "7.0")
    cid = items[("kfunc", "scx_bpf_cid_curr")]  # only the builds know it: not in 6.12, in 7.2
    assert (cid.first_release, cid.first_release_after, cid.first_release_by, cid.source) == (
        None, "6.12", "7.2", "fleet:debian")
    for name in ("bpf_wq_set_callback_impl", "bpf_stream_vprintk_impl", "bpf_task_work_schedule_resume_impl",
                 "bpf_task_work_schedule_signal_impl"):
        assert items[("kfunc", name)].removed_in == "7.2", name
    assert items[("kfunc", "bpf_ct_release")].removed_in is None  # a module's kfunc: in no image, not removed
    for name in ("bpf_fentry_test1", "bpf_modify_return_test", "bpf_kfunc_call_test_release",
                 "bpf_kfunc_call_memb_release"):
        assert items[("kfunc", name)].note.startswith("test-only"), name


def test_a_bounded_arrival_is_available_only_from_its_later_bound_on_mainline():
    where, rows = api.check("7.2", ["scx_bpf_cid_curr", "BPF_MAP_TYPE_RHASH", "bpf_wq_set_callback_impl"])
    assert where.tree == "mainline" and where.exact
    assert {r.query: r.available for r in rows} == {"scx_bpf_cid_curr": True, "BPF_MAP_TYPE_RHASH": True,
                                                   "bpf_wq_set_callback_impl": False}
    _where, rows = api.check("6.18", ["scx_bpf_cid_curr"])
    assert not rows[0].available and rows[0].reason.startswith("unknown: arrived between 6.12 and 7.2")


def _build(uname: str, items: list[Item], tagged: bool) -> Facts:
    facts = Facts(uname, "build", Source(f"btf:{uname}@sha256:00"), "btf", "build",
                  releases=[Release(uname, rules.key_text(rules.kernel_key(uname)), uname.split("-")[0].rsplit(".", 1)[0]
                                    if uname.count(".") > 1 else uname)],
                  covers=("helper", "map_type", *(("kfunc",) if tagged else ())),
                  labels={"distribution": "debian", "package": f"linux-image-{uname}", "package_version": "1",
                          "package_sha256": "ab" * 32, "modules": "probed without its modules"})
    facts.items = items
    return facts


def test_dump_and_load_give_the_same_builds(tmp_path):
    old = _build("6.12.1-1-amd64", [Item("helper", 1, "map_lookup_elem", names=[ItemName("map_lookup_elem")]),
                                    Item("map_type", 19, "BPF_MAP_TYPE_CGROUP_STORAGE",
                                         names=[ItemName("BPF_MAP_TYPE_CGROUP_STORAGE"),
                                                ItemName("BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED", is_alias=True)]),
                                    Item("kfunc", "bpf_new", "bpf_new", signature="int bpf_new(void)"),
                                    Item("kfunc", "bpf_ct_release", "bpf_ct_release", note="in module nf_conntrack",
                                         signature="void bpf_ct_release(struct nf_conn *nfct)")], True)
    new = _build("7.2.1-1-amd64", [Item("helper", 1, "map_lookup_elem"), Item("map_type", 40, "BPF_MAP_TYPE_NEW"),
                                   Item("kfunc", "bpf_new", "bpf_new", signature="int bpf_new(int)")], True)
    shipped.dump_fleet([new, old], str(tmp_path))
    loaded = {b.tree: b for b in shipped.load_fleet(tmp_path)}
    assert list(loaded) == ["6.12.1-1-amd64", "7.2.1-1-amd64"]
    items = {(i.kind, i.value): i for i in loaded["6.12.1-1-amd64"].items}
    assert [n.name for n in items[("map_type", 19)].names] == ["BPF_MAP_TYPE_CGROUP_STORAGE",
                                                               "BPF_MAP_TYPE_CGROUP_STORAGE_DEPRECATED"]
    assert items[("kfunc", "bpf_new")].signature == "int bpf_new(void)" and items[("kfunc", "bpf_new")].note is None
    assert items[("kfunc", "bpf_ct_release")].note == "in module nf_conntrack"
    assert items[("helper", 1)].windows == [Window("6.12.1-1-amd64")]
    newer = {(i.kind, i.value): i for i in loaded["7.2.1-1-amd64"].items}
    assert newer[("kfunc", "bpf_new")].signature == "int bpf_new(int)" and ("map_type", 40) in newer
    text = (tmp_path / "fleet" / "items.tsv").read_text()
    assert "helper\t1\tmap_lookup_elem\t0\t\t\t0-1\n" in text
    assert "kfunc\tbpf_ct_release\tbpf_ct_release\t0\tvoid bpf_ct_release(struct nf_conn *nfct)\tnf_conntrack\t0\n" in text
    assert loaded["7.2.1-1-amd64"].labels["package_sha256"] == "ab" * 32
    shipped.dump_fleet([old, new], str(tmp_path / "again"))
    assert (tmp_path / "again" / "fleet" / "items.tsv").read_text() == text  # order-independent, reproducible


def test_a_damaged_fleet_file_is_named(tmp_path):
    shipped.dump_fleet([_build("7.2.1-1-amd64", [Item("helper", 1, "map_lookup_elem")], False)], str(tmp_path))
    items = tmp_path / "fleet" / "items.tsv"
    items.write_text(items.read_text().replace("\t0\n", "\t0-4\n"))
    with pytest.raises(shipped.DataError, match=r"items.tsv: data row 2: builds '0-4' names a build past the 1"):
        shipped.load_fleet(tmp_path)


def test_a_manifest_lists_builds_with_their_packages(tmp_path):
    from test_bulk_probe import package_root
    from test_probe import PLAIN

    root = package_root(tmp_path / "sid-amd64", "7.2.1+deb14-amd64", PLAIN, control=False)
    manifest = tmp_path / "MANIFEST.tsv"
    manifest.write_text("\t".join(fleets.MANIFEST_COLUMNS) + "\n" + "".join(
        f"{package}\t7.2.1-1\tamd64\tsid\t{digest}\t{root}\t7.2.1+deb14-amd64\n"
        for package, digest in (("linux-binary-7.2.1+deb14-amd64", "a" * 64),
                                ("linux-modules-7.2.1+deb14-amd64", "b" * 64))))
    out = tmp_path / "data"
    out.mkdir()
    api.import_fleet(str(manifest), str(out), jobs=1)
    [build] = shipped.load_fleet(out)
    assert build.tree == "7.2.1+deb14-amd64"
    assert (build.labels["package"], build.labels["package_sha256"], build.labels["modules_package_sha256"]) == (
        "linux-binary-7.2.1+deb14-amd64", "a" * 64, "b" * 64)


def test_the_export_states_both_bounds():
    records = {r["id"]: r for r in api.export(kind="kfunc").records}
    assert {k: records["scx_bpf_cid_curr"][k] for k in ("first_release", "first_release_after", "first_release_by",
                                                         "windows")} == {
        "first_release": None, "first_release_after": "6.12", "first_release_by": "7.2", "windows": []}
    assert (records["bpf_cpumask_create"]["first_release_after"], records["bpf_cpumask_create"]["first_release_by"]) \
        == (None, None)  # dated exactly: no bounds
