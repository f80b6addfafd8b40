"""The site's own pages through Datasette's client: the diff of two kernels, the fleet matrix, a program type's
helpers and kfuncs, and what the landing, tree and table pages agree on (names, releases, search)."""

import csv
import io
import re
from urllib.parse import urlencode

import pytest
from datasette_site import BUILD_RELEASE, build_user_db, datasette_for, get, published

from kb.store import availability, kbase


@pytest.fixture(scope="module")
def user_db(shared):
    return build_user_db(shared)


@pytest.fixture(scope="module")
def site(user_db, shared):
    return datasette_for(published(shared, "build-site", user_db))


def ok(ds, path):
    response = get(ds, path)
    assert response.status_code == 200, (path, response.text[:300])
    return response


def verdict(html):
    text = re.search(r'id="kbgen-verdict">(.*?)</p>', html, re.DOTALL).group(1)
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def test_the_diff_page_agrees_with_the_rule(site, user_db):
    found = ok(site, "/kb/diff.json?" + urlencode({"from": "5.15", "to": "6.1"})).json()
    arrived, removed = availability.between(kbase.open_kb(user_db), "mainline", "5.15", "6.1")
    assert [(r["kind"], r["id"]) for r in found["arrived"]] == [(c.item.kind, c.item.value) for c in arrived]
    assert [(r["kind"], r["id"]) for r in found["removed"]] == [(c.item.kind, c.item.value) for c in removed]
    assert {"kind": "helper", "id": 181, "name": "bpf_loop", "release": "5.17"}.items() <= next(
        r for r in found["arrived"] if r["id"] == 181).items()
    html = ok(site, "/kb/diff?from=5.15&to=6.1").text
    assert f"A 6.1 kernel has {len(arrived)} items a 5.15 kernel lacks" in verdict(html)
    assert '<a href="/kb/helpers/181">bpf_loop</a>' in html and "/kb/arrived_in?release=5.17" in html


def test_the_diff_page_says_what_is_wrong(site):
    assert verdict(ok(site, "/kb/diff?from=6.1&to=5.15").text) == "5.15 is older than 6.1"
    response = get(site, "/kb/diff.json?from=banana&to=6.1")
    assert response.status_code == 400 and "banana" in response.json()["error"]


def test_diff_is_linked_from_the_timeline_and_release_pages(site):
    assert "/kb/diff?from=5.15&amp;to=6.1" in ok(site, "/").text
    assert "/kb/diff?from=5.18&amp;to=5.19" in ok(site, "/kb/arrived_in?release=5.19").text


def test_the_fleet_matrix(site):
    query = urlencode({"items": "bpf_loop, XDP, 195", "kernels": "5.4 6.1"})
    html = ok(site, f"/kb/fleet?{query}").text
    header = re.findall(r'<th scope="col" class="kbgen-kernel[^"]*">([^<]*)', html)
    assert BUILD_RELEASE in header and header[-2:] == ["5.4", "6.1"]  # every build (shipped ones too), then kernels
    cells = ok(site, f"/kb/fleet.json?{query}").json()["cells"]
    running = [k for k in header if all(c["available"] for c in cells if c["kernel"] == k)]
    assert "6.1" in running and "5.4" not in running and BUILD_RELEASE not in running  # the build lacks 195
    assert verdict(html).startswith(f"{len(running)} of {len(header)} kernels have all 3 items:")
    by = {(c["name"], c["kernel"]): c for c in cells}
    assert by[("bpf_map_lookup_percpu_elem", BUILD_RELEASE)]["available"] is False
    assert by[("bpf_loop", "5.4")]["reason"] == "not yet: first in 5.17"
    assert by[("BPF_PROG_TYPE_XDP", "5.4")]["available"] is True
    rows = list(csv.DictReader(io.StringIO(ok(site, f"/kb/fleet.csv?{query}").text)))
    assert len(rows) == len(cells) == 3 * len(header) and [r["kernel"] for r in rows[:len(header)]] == header


def test_the_fleet_matrix_says_what_is_unknown(site):
    html = ok(site, "/kb/fleet?items=bpf_map_lookup_elm").text
    assert "unknown item: bpf_map_lookup_elm (did you mean bpf_map_lookup_elem" in html


def test_a_program_type_lists_what_it_can_call(site):
    html = ok(site, "/kb/prog_types/6?kernel=5.4").text
    table = re.search(r'<table[^>]*id="kbgen-callable">(.*?)</table>', html, re.DOTALL).group(1)
    assert "<th>first release</th><th>GPL-only</th><th>on 5.4</th>" in table
    assert re.search(r'<a href="/kb/helpers/1">bpf_map_lookup_elem</a></td><td>helper</td><td>3.19</td>'
                     r'<td>any license</td><td>✓ yes</td>', table)
    assert re.search(r'bpf_loop</a></td><td>helper</td><td>5.17</td><td>any license</td><td>✗ no</td>', table)
    assert "available on 5.4" in verdict(html)


def test_the_trees_page_agrees_with_the_landing_page(site):
    landing = ok(site, "/").text
    counted = int(re.search(r'<a href="/kb/trees/mainline">mainline</a>.*?</td>\s*<td>[^<]*</td><td>[^<]*</td>'
                            r'<td>(\d+)</td>', landing, re.DOTALL).group(1))
    tree = ok(site, "/kb/trees/mainline").text
    assert "none recorded" not in tree and f"{counted}, named by its items' first releases" in tree


def test_the_landing_page_links_what_people_want(site):
    landing = ok(site, "/").text
    for table in ("helpers", "kfuncs", "prog_types", "map_types", "features"):
        assert f'href="/kb/{table}"' in landing
    database = ok(site, "/kb").text
    for table in ("relations", "section_rules", "item_names", "windows"):
        assert f'href="/kb/{table}"' not in database  # machinery, reachable but not listed


def test_names_one_way_everywhere(site):
    (helper,) = ok(site, "/kb/helpers.json?_shape=array&id=181").json()
    assert helper["name"] == "bpf_loop" and helper["names"] == ["bpf_loop"]
    arrived = ok(site, "/kb/arrived_in.json?_shape=array&release=5.17").json()
    assert "bpf_loop" in [r["name"] for r in arrived]
    assert all(r["about"] for r in arrived if r["kind"] == "helper")  # the signature where no subject is known
    available = ok(site, "/kb/available_on.json?_shape=array&kernel=6.1&kind=helper").json()
    assert all(r["name"].startswith("bpf_") for r in available)


def test_search_finds_prefixes_exact_first(site):
    found = ok(site, "/kb/helpers.json?_shape=array&_search=perc").json()
    assert "bpf_map_lookup_percpu_elem" in [r["name"] for r in found]
    html = ok(site, "/kb/helpers?_search=loop").text
    names = re.findall(r'<td class="col-name[^"]*">(?:<a [^>]*>)?([^<]+)', html)
    assert names[0] == "bpf_loop", names[:5]
