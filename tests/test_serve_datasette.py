"""The published knowledge base through Datasette's own test client, and a real server on loopback."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner
from datasette_site import datasette_for, get, published

from kb.cli import cli


@pytest.fixture(scope="module")
def datasette(shared):
    return datasette_for(published(shared, "shipped-site"))


def get_json(ds, path):
    response = get(ds, path)
    assert response.status_code == 200, (path, response.text[:300])
    return response.json()


@pytest.mark.parametrize("path", [
    "/", "/kb", "/kb/helpers", "/kb/helpers/195", "/kb/items", "/kb/disagreements", "/kb/prog_types",
    "/kb/available_on?kernel=5.15&kind=", "/kb/helpers?_search=percpu",
])
def test_pages_return_200(datasette, path):
    assert get(datasette, path).status_code == 200


def test_helpers_json_for_linters(datasette):
    rows = get_json(datasette, "/kb/helpers.json?_shape=array&_size=max")
    assert len(rows) == 212
    assert {"id", "name", "first_release", "commit"} <= set(rows[0])
    h195 = next(r for r in rows if r["id"] == 195)
    assert (h195["name"], h195["first_release"], h195["names"]) == ("bpf_map_lookup_percpu_elem", "5.19",
                                                                      ["bpf_map_lookup_percpu_elem"])
    assert h195["commit"].startswith("07343110b293")


def test_available_on_kernel(datasette):
    on_515 = get_json(datasette, "/kb/available_on.json?_shape=array&kernel=5.15.0-91-generic&kind=helper")
    on_519 = get_json(datasette, "/kb/available_on.json?_shape=array&kernel=5.19&kind=helper")
    assert 195 not in {r["id"] for r in on_515}
    assert 195 in {r["id"] for r in on_519}
    assert 175 in {r["id"] for r in on_515}
    everything = get_json(datasette, "/kb/available_on.json?_shape=array&kernel=4.8&kind=")
    assert ("prog_type", 6) in {(r["kind"], r["id"]) for r in everything}  # XDP


def test_arrived_in_release(datasette):
    rows = get_json(datasette, "/kb/arrived_in.json?_shape=array&release=5.19")
    helpers = {r["id"] for r in rows if r["kind"] == "helper"}
    assert {194, 195, 196, 203} <= helpers and 193 not in helpers and 204 not in helpers


def test_min_kernel_for_helpers(datasette):
    rows = get_json(
        datasette, "/kb/min_kernel_for_helpers.json?_shape=array&helpers=bpf_map_lookup_elem,%20195,skb_set_tstamp"
    )
    assert rows[0]["id"] == 195 and rows[0]["first_release"] == "5.19" and rows[0]["forces_minimum"] == 1
    assert sum(r["forces_minimum"] for r in rows) == 1
    assert {r["id"] for r in rows} == {1, 192, 195}


def test_renamed_and_disagreeing(datasette):
    renamed = get_json(datasette, "/kb/renamed_helpers.json?_shape=array")
    assert [(r["id"], r["history"], r["first_release"]) for r in renamed] == [
        (153, "bpf_per_cpu_ptr → per_cpu_ptr", "5.10"),
        (154, "bpf_this_cpu_ptr → this_cpu_ptr", "5.10"),
        (192, "skb_set_delivery_time → skb_set_tstamp", "5.18"),
    ]
    disagreeing = get_json(datasette, "/kb/disagreeing_sources.json?_shape=array")
    row = next(r for r in disagreeing if r["id"] == 7 and r["field"] == "first_release")
    assert (row["used"], row["used_source"], row["other"], row["other_source"]) == (
        "4.1", "reference:bcc", "4.17", "reference:ebpf-docs")


@pytest.mark.parametrize("path, message", [
    ("/kb/available_on.json?_shape=array&kernel=banana&kind=",
     "not a kernel version: 'banana' (expected e.g. 5.15, 5.15.0-91-generic, v5.19-rc3)"),
    ("/kb/arrived_in.json?_shape=array&release=x", "not a release: x"),
    ("/kb/min_kernel_for_helpers.json?_shape=array&helpers=nope", "unknown helper: nope"),
])
def test_bad_parameters_give_a_clear_message(datasette, path, message):
    assert get_json(datasette, path)[0]["error"] == message


def test_versions_sort_as_versions(datasette):
    rows = get_json(datasette, "/kb/helpers.json?_shape=array&_sort_desc=first_release&_size=max")
    releases = [r["first_release"] for r in rows]
    assert releases.index("5.10") < releases.index("5.9")  # descending: 5.10 is newer


def test_commit_links_upstream_and_docs_render(datasette):
    html = get(datasette, "/kb/helpers/195").text
    assert 'href="https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit/?id=' \
           '07343110b293456d30393e89b86c4dee1ac051c8"' in html
    assert "<em>percpu map</em>" in html
    assert '<dl class="kbgen-item">' in html  # a card, not a one-row table
    # The prototype as bpf_doc.py sets it for the man page: bold, the argument names in italics.
    assert '<code class="kbgen-proto"><strong>void *bpf_map_lookup_percpu_elem(</strong>' in html
    assert "<em>cpu</em>" in html


def test_commit_links_in_canned_queries_and_other_trees(datasette):
    html = get(datasette, "/kb/min_kernel_for_helpers?helpers=195").text
    assert "commit/?id=07343110b293456d30393e89b86c4dee1ac051c8" in html


def test_other_trees_do_not_link_to_mainline_and_renames_show(history, tmp_path):
    db = tmp_path / "kb.db"
    CliRunner().invoke(cli, ["collect", "--repo", history.path, "--tree", "vendor", "--db", str(db), "-q"])
    path = tmp_path / "pub" / "kb.db"
    path.parent.mkdir()
    from kb import api

    assert api.publish(str(path), db=str(db), tree="vendor") == "vendor"
    ds = datasette_for(path)
    html = get(ds, "/kb/helpers/5").text
    assert history.commits["s1"][:12] in html
    assert "git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git/commit" not in html
    assert "Available from vendor 4.2 on." in html
    renamed = get_json(ds, "/kb/renamed_helpers.json?_shape=array")
    assert [(r["id"], r["history"], r["first_release"]) for r in renamed if r["tree"] == "vendor"] == [
        (4, "old_name → new_name → newest_name", "4.1")
    ]
    # Canned queries answer from the published tree, not mainline.
    available = get_json(ds, "/kb/available_on.json?_shape=array&kernel=4.2&kind=helper")
    assert [(r["id"], r["name"], r["first_release"]) for r in available] == [
        (0, "bpf_unspec", "4.0"), (1, "bpf_map_lookup_elem", "4.0"), (2, "bpf_map_update_elem", "4.0"),
        (3, "bpf_probe_read", "4.1"), (4, "bpf_newest_name", "4.1"), (5, "bpf_side_helper", "4.2")]


def test_writes_are_refused(datasette):
    response = get(datasette, "/kb.json?sql=delete+from+helpers")
    assert response.status_code == 400
    assert "Statement must be a SELECT" in response.text
    assert len(get_json(datasette, "/kb/helpers.json?_shape=array&_size=max")) == 212


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_real_server_on_loopback(tmp_path):
    port = free_port()
    env = dict(os.environ, KBGEN_DB=str(tmp_path / "none.db"))
    proc = subprocess.Popen([sys.executable, "-m", "kb", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/kb/helpers.json?_shape=array&id=195"
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    rows = json.load(response)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.time() < deadline, "server did not start"
                time.sleep(0.3)
        assert rows[0]["first_release"] == "5.19"
        request = urllib.request.Request(f"http://127.0.0.1:{port}/kb/helpers/-/insert", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code in (403, 404, 405)
        # A value of a gigabyte is refused before it is made, and the server answers on, small.
        start = time.time()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/kb.json?sql=select+zeroblob(1000000000)", timeout=30)
        assert refused.value.code == 400 and time.time() - start < 5
        with urllib.request.urlopen(url, timeout=5) as response:
            assert json.load(response)[0]["first_release"] == "5.19"
        with open(f"/proc/{proc.pid}/status") as status:
            rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
        assert rss_kib < 1_000_000, rss_kib
        # The port is now in use: a second server says so in one line.
        result = CliRunner().invoke(cli, ["serve", "--port", str(port), "--db", str(tmp_path / "none.db")])
        assert result.exit_code == 2
        assert f"port {port} on 127.0.0.1 is in use" in result.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_corrupt_database(tmp_path):
    db = tmp_path / "kb.db"
    db.write_text("not sqlite" * 100)
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--port", str(free_port())])
    assert result.exit_code == 2
    assert f"{db}: not a usable SQLite database" in result.stderr


def test_save_for_datasette_publish(tmp_path):
    target = tmp_path / "kb.db"
    result = CliRunner().invoke(cli, ["serve", "--save", str(target), "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 0
    assert f"note: {tmp_path / 'none.db'} does not exist yet; serving the shipped knowledge base only" in result.stderr
    import sqlite3

    assert sqlite3.connect(target).execute("select count(*) from helpers").fetchone() == (212,)
    assert sorted(os.listdir(tmp_path)) == ["kb.db"]
