"""The published site as people and scripts use it, through Datasette's own test client: the check query and
its agreement with kbgen's one rule, every page and every link, item cards, trees and builds, search, versions."""

import asyncio
import re
from urllib.parse import quote, urlencode

import pytest
from datasette_site import (
    BUILD_BACKPORTS,
    BUILD_RELEASE,
    BUILD_TREE,
    DISTRO_TREE,
    VENDOR_KFUNC,
    build_facts,
    datasette_for,
    distro_facts,
    get,
    published,
    write_user_db,
)

from kb import api
from kb.site import canned, sqlfunctions
from kb.site.crawl import crawl
from kb.vocab.errors import KbgenError
from kb.vocab.versions import Version


@pytest.fixture(scope="module")
def user_db(shared):
    return str(shared("site-user.db", lambda path: write_user_db(path, build_facts(), distro_facts())))


@pytest.fixture(scope="module")
def site(user_db, shared):
    """The site of the mainline tree, with a probed build and a distribution tree beside it."""
    return datasette_for(published(shared, "site", user_db))


@pytest.fixture(scope="module")
def distro_site(user_db, shared):
    return datasette_for(published(shared, "site-distro", user_db, tree=DISTRO_TREE))


def rows(ds, path, **params):
    response = get(ds, f"{path}.json?" + urlencode({"_shape": "array", **params}))
    assert response.status_code == 200, (path, params, response.text[:300])
    return response.json()


def check(ds, kernel, items):
    return rows(ds, "/kb/check", kernel=kernel, items=items)


# -- check: the question people come with ------------------------------------------------------------------------

def test_the_user_story(site):
    found = check(site, "5.15.0-91-generic", "195")
    assert [(r["id"], r["name"], r["available"], r["first_release"], r["why"]) for r in found] == [
        (195, "bpf_map_lookup_percpu_elem", 0, "5.15.0-100.110", "not yet: first in 5.15.0-100.110")]
    html = get(site, "/kb/check?" + urlencode({"kernel": "5.15.0-91-generic", "items": "195, bpf_loop"})).text
    verdict = re.search(r'<p class="kbgen-verdict kbgen-lacks" id="kbgen-verdict">(.*?)</p>', html, re.DOTALL).group(1)
    assert "(judged as 5.15.0-91-generic (ubuntu-test 5.15.0-91.101))" in verdict  # its distribution's own tree
    assert "lacks 2 of the 2 asked for" in verdict
    assert "bpf_map_lookup_percpu_elem</strong> (not yet: first in 5.15.0-100.110)" in verdict
    assert '<tr class="kbgen-missing">' in html


def test_every_spelling_of_an_item(site):
    asked = ("195, bpf_map_lookup_percpu_elem, BPF_FUNC_map_lookup_percpu_elem, map_lookup_percpu_elem, "
             "XDP, BPF_PROG_TYPE_XDP, bpf_dynptr_slice, isa.jmp32_v3, BPF_MAP_TYPE_RINGBUF, no_such_thing")
    found = check(site, "6.1", asked)
    by_word = {}
    for row in found:
        by_word.setdefault(row["asked"], set()).add((row["kind"], row["id"]))
    for word in ("195", "bpf_map_lookup_percpu_elem", "BPF_FUNC_map_lookup_percpu_elem", "map_lookup_percpu_elem"):
        assert by_word[word] == {("helper", 195)}
    assert ("prog_type", 6) in by_word["XDP"] and by_word["BPF_PROG_TYPE_XDP"] == {("prog_type", 6)}
    assert by_word["bpf_dynptr_slice"] == {("kfunc", "bpf_dynptr_slice")}
    assert by_word["isa.jmp32_v3"] == {("feature", "isa.jmp32_v3")}
    assert by_word["BPF_MAP_TYPE_RINGBUF"] == {("map_type", 27)}
    assert found[0]["asked"] in ("bpf_dynptr_slice", "no_such_thing")  # missing first
    unknown = next(r for r in found if r["asked"] == "no_such_thing")
    assert (unknown["available"], unknown["why"]) == (0, "unknown to the knowledge base")
    assert [r["available"] for r in found] == sorted(r["available"] for r in found)


@pytest.mark.parametrize("kernel, items, message", [
    ("banana", "195", "not a kernel version: 'banana' (expected e.g. 5.15, 5.15.0-91-generic, v5.19-rc3)"),
    ("22.04", "195", ("not a kernel release: major version 22 (the newest known kernel is 7.1); give a kernel's "
                     "release string, e.g. 5.15.0-91-generic")),
    ("5.15", " , ", "say which items to check"),
])
def test_check_says_what_is_wrong(site, kernel, items, message):
    found = check(site, kernel, items)
    assert len(found) == 1 and found[0]["error"].startswith(message.split(" (the newest")[0])


MAINLINE_KERNELS = ["5.15.0-91-generic", "5.19", "5.19-rc1", "v6.1.12", "6.16", "6.17", "6.18", "7.0", "4.4", "3.0",
                    "6.1.0-13-amd64"]
NAMES = ["195", "bpf_map_lookup_elem", "BPF_FUNC_loop", "XDP", "bpf_stream_vprintk", "cgroup_rstat_flush",
         "bpf_dynptr_slice", "isa.jmp32_v3", "BPF_LINK_TYPE_STRUCT_OPS", "0", "unspec", "nope", "211",
         "bpf_cast_to_kern_ctx", VENDOR_KFUNC, "gone_helper"]


def agreement(ds, kernel, tree, user_db):
    """The check query's rows against kb.api.check's, field by field."""
    sql = check(ds, kernel, ", ".join(NAMES))
    try:
        _target, expected = api.check(kernel, NAMES, db=user_db, tree=tree)
    except KbgenError as err:  # a kernel the tree cannot judge: the query says why, in one row
        assert len(sql) == 1 and sql[0]["error"], (kernel, err, sql)
        assert sql[0]["error"].split(" (")[0] == str(err).split(" (")[0].replace("--kernel ", ""), (err, sql)
        return
    def key(row):
        return (row["asked"], row["kind"], row["id"], bool(row["available"]), row["first_release"], row["removed_in"])
    assert [key(r) for r in sql] == [(e.query, e.kind, e.value, e.available, e.first_release, e.removed_in)
                                     for e in expected]
    for row, exp in zip(sql, expected):
        assert row["why"] == exp.reason or (exp.kind is None and row["why"].startswith("not in the build")), row


@pytest.mark.parametrize("kernel", MAINLINE_KERNELS)
def test_check_judges_as_kbgen_does_mainline(site, user_db, kernel):
    agreement(site, kernel, None, user_db)  # both place the kernel by availability.resolve


@pytest.mark.parametrize("kernel", ["5.15.0-25-generic", "5.15.0-91-generic", "5.15.0-100-generic",
                                    "5.15.0-101-generic", "5.15.0-91.101", "4.4.0-1-generic", "6.2.0-1-generic"])
def test_check_judges_as_kbgen_does_distribution(distro_site, user_db, kernel):
    agreement(distro_site, kernel, DISTRO_TREE, user_db)


def test_check_judges_as_kbgen_does_build(site, user_db):
    """A probed build's release as the kernel: the build answers, whatever tree the site shows."""
    agreement(site, BUILD_RELEASE, BUILD_TREE, user_db)
    found = {r["asked"]: r for r in check(site, BUILD_RELEASE, "195, 211, " + VENDOR_KFUNC)}
    assert found["195"]["available"] == 0 and found["195"]["why"] == f"not in the build {BUILD_TREE}"
    assert found["211"]["available"] == 1 and found[VENDOR_KFUNC]["available"] == 1
    assert {r["judged_as"] for r in found.values()} == {f"{BUILD_RELEASE} ({BUILD_TREE})"}
    # Features are no fact of a build's BTF: mainline judges them at the build's base release, and says so.
    (jmp32,) = check(site, BUILD_RELEASE, "isa.jmp32_v3")
    assert jmp32["available"] == 1 and jmp32["why"].endswith(f"(judged by mainline: tree {BUILD_TREE} does not list it)")
    (movsx,) = check(site, BUILD_RELEASE, "isa.movsx")
    assert movsx["available"] == 0 and movsx["why"].startswith("not yet: first in 6.6")


def test_the_site_places_kernels_as_availability_does(user_db):
    from kb.store import availability, kbase

    conn = kbase.open_kb(user_db)
    for kernel in ("5.15.0-25-generic", "5.15.0-99-generic", "5.15.0-100-lowlatency", "5.16.0-1-generic", "5.4",
                   BUILD_RELEASE, "4.18.0-513.el8.x86_64", "9.1"):
        where = availability.resolve(conn, kernel)
        placed = sqlfunctions.place_kernel(conn, "mainline", kernel)
        assert (placed["tree"], placed["key"], placed["release"], placed["approximate"], placed["beyond"]) == (
            where.tree, ".".join(str(n).zfill(6) for n in where.key), where.release, where.approximate,
            where.beyond), kernel


# -- the other canned queries ---------------------------------------------------------------------------------------

def test_available_on_honours_windows(site):
    def kfuncs(kernel):
        return {r["id"] for r in rows(site, "/kb/available_on", kernel=kernel, kind="kfunc")}

    assert "cgroup_rstat_flush" in kfuncs("6.10") and "cgroup_rstat_flush" not in kfuncs("6.16")
    assert "bpf_stream_vprintk" in kfuncs("6.17") and "bpf_stream_vprintk" not in kfuncs("6.18")
    assert "bpf_stream_vprintk" in kfuncs("7.0")
    assert {r["tree"] for r in rows(site, "/kb/available_on", kernel=BUILD_RELEASE, kind="")} == {BUILD_TREE}
    assert rows(site, "/kb/available_on", kernel="6.1", kind="banana")[0]["error"] == "unknown kind: banana"


def test_arrived_in_lists_returns_and_removals(site):
    def changes(release):
        return {(r["id"], r["change"]) for r in rows(site, "/kb/arrived_in", release=release)}

    assert ("bpf_stream_vprintk", "removed") in changes("6.18")
    assert ("bpf_stream_vprintk", "returned") in changes("7.0")
    assert ("cgroup_rstat_flush", "removed") in changes("6.16")


def test_min_kernel_for_helpers_says_what_forces_it(site):
    found = rows(site, "/kb/min_kernel_for_helpers", helpers="nope, BPF_FUNC_map_lookup_elem, 195, bpf_loop")
    assert [(r["asked"], r["forces_minimum"]) for r in found] == [
        ("195", 1), ("bpf_loop", 0), ("BPF_FUNC_map_lookup_elem", 0), ("nope", 0)]
    assert found[-1]["error"] == "unknown helper: nope"
    assert rows(site, "/kb/min_kernel_for_helpers", helpers="")[0]["error"] == "say which helpers (names or ids)"


def test_compare_a_build_with_mainline(site):
    found = rows(site, "/kb/compare_with_mainline", tree=BUILD_TREE, release="")
    by_change = {}
    for row in found:
        by_change.setdefault(row["change"], set()).add((row["kind"], row["id"]))
    assert by_change["backport"] == BUILD_BACKPORTS
    assert ("helper", 195) in by_change["lacks"]
    assert {kind for kind, _id in by_change["lacks"]} == {"helper", "kfunc"}
    assert by_change["not in mainline"] == {("kfunc", VENDOR_KFUNC)}
    assert rows(site, "/kb/compare_with_mainline", tree="mainline", release="")[0]["error"] == \
        "mainline is what the others are compared with"


def test_compare_judges_as_the_probe_report_does(site, user_db):
    from kb.outputs import compare as probe
    from kb.store import kbase

    expected = probe.compare(kbase.open_kb(user_db), BUILD_TREE)
    found = rows(site, "/kb/compare_with_mainline", tree=BUILD_TREE, release="")

    def of(change):
        return sorted((r["kind"], str(r["id"])) for r in found if r["change"] == change)

    def differences(listed):
        return sorted((d.kind, str(d.value)) for d in listed)

    assert of("backport") == differences(expected.backports)
    assert of("kept") == differences(expected.kept)
    assert of("lacks") == differences(expected.lacking)
    assert of("not in mainline") == differences(expected.unknown)


# -- pages --------------------------------------------------------------------------------------------------------

QUERY_PAGES = ["/kb/check?kernel=5.15.0-91-generic&items=195", "/kb/check", "/kb/available_on?kernel=5.15&kind=",
               "/kb/available_on?kernel=5.15&kind=helper", "/kb/arrived_in?release=5.19", "/kb/arrived_in",
               "/kb/min_kernel_for_helpers?helpers=195,bpf_loop", f"/kb/compare_with_mainline?tree={BUILD_TREE}&release=",
               "/kb/renamed_helpers", "/kb/disagreeing_sources"]
ROW_PAGES = ["/kb/helpers/195", "/kb/helpers/0", "/kb/kfuncs/bpf_dynptr_slice", "/kb/prog_types/6", "/kb/map_types/1",
             "/kb/attach_types/44", "/kb/link_types/1", "/kb/commands/0", "/kb/features/isa.jmp32~5Fv3",
             "/kb/items/mainline,attach_type,44", f"/kb/items/{BUILD_TREE},kfunc,{VENDOR_KFUNC}",
             f"/kb/items/{BUILD_TREE},helper,1", "/kb/item_names/mainline,helper,192,skb_set_delivery_time",
             "/kb/trees/mainline", "/kb/trees/libbpf", f"/kb/trees/{BUILD_TREE}", f"/kb/trees/{DISTRO_TREE}",
             f"/kb/releases/{BUILD_TREE},{quote(BUILD_RELEASE.replace('.', '~2E'))}",
             f"/kb/releases/{DISTRO_TREE},5~2E15~2E0-100~2E110", "/kb/releases/libbpf,1~2E0~2E0",
             "/kb/windows/mainline,kfunc,bpf_stream_vprintk,1", "/kb/sources/reference~3Abcc"]


@pytest.mark.parametrize("path", ["/", "/kb", "/-/kbgen.css", *QUERY_PAGES, *ROW_PAGES])
def test_every_page_answers(site, path):
    response = get(site, path)
    assert response.status_code == 200, response.text[:500]
    if "." not in path.rsplit("/", 1)[-1]:
        assert get(site, path.replace("?", ".json?", 1) if "?" in path else path + ".json").status_code == 200


def test_no_internal_link_is_broken(site):
    """A fixed sample of the links (the full crawl: bench/crawl_datasette.py)."""
    result = asyncio.run(crawl(site, tuple(QUERY_PAGES + ROW_PAGES), sample=150))
    assert result.failures() == {}
    assert result.found > 1500 and len(result.statuses) > 150 + len(result.seeds) - 5, result.summary()
    print(result.summary())


def test_the_landing_page(site):
    html = get(site, "/").text
    assert '<form class="kbgen-form" action="/kb/check" method="get">' in html
    assert 'name="kernel"' in html and 'name="items"' in html and f'<option value="{BUILD_RELEASE}">' in html
    bars = re.findall(r'<a href="([^"]+)" class="kbgen-bar" data-release="([^"]+)">', html)
    assert ("/kb/arrived_in?release=5.19", "5.19") in bars and len(bars) > 60
    assert [release for _href, release in bars] == sorted((r for _h, r in bars), key=Version.parse)
    assert "5.19: 14 arrived (10 helpers, 1 link type, 3 features)" in html
    assert "Knowledge base data version 20" in html and "backport" in html
    linter = re.search(r'<a href="(/kb/helpers\.json\?_shape=array&amp;_size=max)">', html).group(1)
    helpers = get(site, linter.replace("&amp;", "&")).json()
    assert next(h for h in helpers if h["id"] == 195)["first_release"] == "5.19"
    assert f'<a href="/kb/trees/{BUILD_TREE}">{BUILD_TREE}</a>' in html


def test_the_release_page(site):
    html = get(site, "/kb/arrived_in?release=5.19").text
    assert "<h1" in html and "What arrived in 5.19</h1>" in html
    assert '<a href="/kb/arrived_in?release=5.18" rel="prev">' in html
    assert '<a href="/kb/arrived_in?release=6.0" rel="next">' in html
    assert '<a href="/kb/helpers/195">bpf_map_lookup_percpu_elem</a>' in html


def test_canned_queries_read_as_pages(site):
    html = get(site, "/kb/available_on?kernel=5.15&kind=helper").text
    assert "<title>What is available on a kernel: 5.15, helper · kbgen</title>" in html
    assert 'id="sql-query"' not in html and "show the SQL" in html
    assert re.search(r'<select id="qp\d" name="kind">.*<option value="helper" selected>helper</option>', html, re.DOTALL)
    shown = get(site, "/kb/available_on?kernel=5.15&kind=helper&_show_sql=1").text
    assert 'id="sql-query"' in shown and "kbgen_judge" in shown
    names = set(canned.queries())
    assert {"check", "available_on", "arrived_in", "min_kernel_for_helpers", "compare_with_mainline"} <= names
    assert all(query["hide_sql"] and query["title"] for query in canned.queries().values())


def card(ds, path):
    response = get(ds, path)
    assert response.status_code == 200
    return response.text


def test_a_helper_card(site):
    html = card(site, "/kb/helpers/195")
    assert "<title>bpf_map_lookup_percpu_elem (helper, mainline) · kbgen</title>" in html
    assert "Available from Linux 5.19 on." in html
    assert "Not GPL-only" in html
    assert re.search(r"<dt>Program types that can call it</dt>\s*<dd>\d+, <span class=\"kbgen-qualifier\">as documented",
                     html)
    assert '<a href="/kb/prog_types/6">BPF_PROG_TYPE_XDP</a>' in html
    assert "commit/?id=07343110b293456d30393e89b86c4dee1ac051c8" in html
    assert "https://docs.ebpf.io/linux/helper-function/bpf_map_lookup_percpu_elem/" in html
    assert "https://man7.org/linux/man-pages/man7/bpf-helpers.7.html#:~:text=bpf_map_lookup_percpu_elem%28struct" in html
    assert "<em>percpu map</em>" in html
    assert "GPL-only: the verifier refuses it" in card(site, "/kb/helpers/6")
    assert f'<a href="/kb/items/{BUILD_TREE},helper,1">{BUILD_TREE}</a>: Present in the build {BUILD_RELEASE}.' in \
        card(site, "/kb/helpers/1")


def test_cards_of_other_kinds(site):
    removed = card(site, "/kb/kfuncs/cgroup_rstat_flush")
    assert "Available from Linux 6.1 until 6.16. Removed in 6.16." in removed
    assert "https://docs.ebpf.io/linux/kfuncs/cgroup_rstat_flush/" in removed
    back = card(site, "/kb/kfuncs/bpf_stream_vprintk")
    assert "Available from Linux 6.17 until 6.18, and again from 7.0 on." in back
    xdp = card(site, "/kb/prog_types/6")
    assert "<dt>Helpers it can call</dt>" in xdp and "<dt>Kfuncs it can call</dt>" in xdp
    assert "https://docs.ebpf.io/linux/program-type/BPF_PROG_TYPE_XDP/" in xdp
    probed = card(site, f"/kb/items/{BUILD_TREE},helper,1")
    assert "Present in the build" in probed and "probed (a live probe" in probed
    assert '<a href="/kb/items/mybuild,prog_type,6">BPF_PROG_TYPE_XDP</a>' in probed
    vendor = card(site, f"/kb/items/{BUILD_TREE},kfunc,{VENDOR_KFUNC}")
    assert "int vendor_only_kfunc(struct task_struct *task)" in vendor
    feature = card(site, "/kb/features/isa.jmp32~5Fv3")
    assert "Available from Linux 5.1 on." in feature and "<dt>libbpf on older kernels</dt>" in feature


def test_build_and_tree_pages(site):
    html = card(site, f"/kb/trees/{BUILD_TREE}")
    assert "A probed kernel build" in html
    assert "Backports (2)" in html and '<a href="/kb/items/mybuild,helper,211">bpf_cgrp_storage_delete</a>' in html
    assert '<a href="/kb/helpers/195">bpf_map_lookup_percpu_elem</a>' in html  # it lacks what mainline has by 6.1
    assert "Not in mainline (1)" in html
    release = card(site, f"/kb/releases/{BUILD_TREE},{BUILD_RELEASE.replace('.', '~2E')}")
    assert "Backports (2)" in release and "Mainline base</dt><dd>6.1" in release
    distro = card(site, f"/kb/trees/{DISTRO_TREE}")
    assert "A line of kernel history with 3 releases (ubuntu scheme)" in distro
    arrived = card(site, f"/kb/releases/{DISTRO_TREE},5~2E15~2E0-100~2E110")
    assert '<a href="/kb/items/ubuntu-test,helper,195">bpf_map_lookup_percpu_elem</a>' in arrived
    assert "Backports (1)" in arrived


def test_a_distribution_tree_published(distro_site):
    html = card(distro_site, "/kb/helpers/195")
    assert "Available from ubuntu-test 5.15.0-100.110 on." in html
    assert get(distro_site, "/").status_code == 200
    bars = re.findall(r'data-release="([^"]+)"', get(distro_site, "/").text)
    assert bars == ["5.15.0-25.25", "5.15.0-100.110"]


# -- fixed: search, versions, names, tables --------------------------------------------------------------------------

@pytest.mark.parametrize("table", ["helpers", "kfuncs", "prog_types", "features", "items"])
@pytest.mark.parametrize("text", ["per-cpu", '"bpf', "cpu)", "195", "*", "AND", "NEAR(", "a:b", "'", "\\", "^x", "-",
                                  "dynptr", "", "ünïcode", "bpf_map_lookup_elem("])
def test_search_never_fails(site, table, text):
    assert get(site, f"/kb/{table}?" + urlencode({"_search": text})).status_code == 200


def test_search_finds(site):
    assert rows(site, "/kb/helpers", _search="195")[0]["id"] == 195
    assert "bpf_dynptr_slice" in {r["id"] for r in rows(site, "/kb/kfuncs", _search="dynptr")}
    assert 195 in {r["id"] for r in rows(site, "/kb/helpers", _search="percpu")}
    assert {153, 154} <= {r["id"] for r in rows(site, "/kb/helpers", _search="per-cpu")}  # per_cpu_ptr, this_cpu_ptr


def test_versions_filter_and_sort_as_versions(site):
    everything = rows(site, "/kb/items", tree="mainline", _size="max")
    by_rule = sum(1 for r in everything if r["first_release"] and Version.parse(r["first_release"]) <= Version.parse("5.15"))
    filtered = get(site, "/kb/items.json?tree=mainline&first_release__lte=5.15").json()
    assert filtered["filtered_table_rows_count"] == by_rule
    releases = [r["first_release"] for r in rows(site, "/kb/items", tree="mainline", _sort="first_release",
                                                  _size="max") if r["first_release"]]
    assert releases == sorted(releases, key=Version.parse)
    html = get(site, "/kb/items?_facet=first_release&tree=mainline").text
    facet = re.search(r'id="facet-first_release".*?</ul>', html, re.DOTALL).group(0)
    listed = re.findall(r'>(\d+\.\d+)</a>', facet)
    assert listed == sorted(listed, key=Version.parse) and "5.9" in listed and "5.10" in listed


def test_names_are_arrays(site):
    helper = rows(site, "/kb/helpers", id="192")[0]
    assert helper["names"] == ["bpf_skb_set_delivery_time", "bpf_skb_set_tstamp"]
    row = get(site, "/kb/helpers/192.json?_shape=array").json()[0]
    assert row["names"] == ["bpf_skb_set_delivery_time", "bpf_skb_set_tstamp"]
    raw = get(site, "/kb/helpers.json?_shape=array&id=192&_json=signature").json()[0]
    assert isinstance(raw["names"], str)  # a reader's own _json choice stands


def test_tables_are_compact(site):
    html = get(site, "/kb/helpers").text
    headers = re.findall(r'<th class="col-(\w+)"', html)
    assert headers == ["id", "name", "first_release", "removed_in", "commit", "gpl_only", "signature"]
    everything = re.search(r'<a href="([^"]+)">show every column</a>', html).group(1).replace("&amp;", "&")
    assert 'class="col-description"' in get(site, everything).text
    assert "\\ ()" not in html and "``" not in html


def test_every_table_is_described(site):
    import yaml

    from kb.site import serve

    with open(serve.metadata_path()) as handle:
        described = yaml.safe_load(handle)["databases"]["kb"]["tables"]
    tables = {t["name"] for t in get(site, "/kb.json").json()["tables"]}
    assert tables - set(described) == set()
    assert all(described[t].get("description") or described[t].get("hidden") for t in tables)


def test_machinery_tables_are_not_pages(site):
    html = get(site, "/kb").text
    assert "_fts" not in html
    assert get(site, "/kb/helpers_fts").status_code == 403
    assert get(site, "/kb/kfuncs_fts_idx").status_code == 403
