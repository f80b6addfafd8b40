"""Trees of any kind: a distribution kernel's history, its own release tags, its backports.

Synthetic Ubuntu-, RHEL- and Debian-style trees backport helper 195 (bpf_map_lookup_percpu_elem, 5.19 in
mainline) into a 5.x kernel between two of their releases; a running kernel's release string is judged by
the tree's own releases, never by mainline arithmetic.
"""

import importlib.util
import json

import pytest
from click.testing import CliRunner
from gitfixture import History
from headers import make_header

from kb.cli import cli

PERCPU_OBJECT = "tests/bpf/percpu.bpf.o"  # calls helper 195 and defines a BPF_MAP_TYPE_PERCPU_ARRAY map
MAP_TYPES = ["BPF_MAP_TYPE_UNSPEC", "BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_ARRAY", "BPF_MAP_TYPE_PROG_ARRAY",
             "BPF_MAP_TYPE_PERF_EVENT_ARRAY", "BPF_MAP_TYPE_PERCPU_HASH", "BPF_MAP_TYPE_PERCPU_ARRAY"]
ENUMS = {"bpf_cmd": ["BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_PROG_LOAD"], "bpf_map_type": MAP_TYPES,
         "bpf_prog_type": ["BPF_PROG_TYPE_UNSPEC", "BPF_PROG_TYPE_SOCKET_FILTER", "BPF_PROG_TYPE_KPROBE"]}
BASE = {0: "unspec", 1: "map_lookup_elem", 2: "map_update_elem"}
BACKPORTED = {**BASE, 195: "map_lookup_percpu_elem"}

SCHEMES = {
    # scheme: (release tags, where the backport lands, Debian ABI names, kernel without it, kernel with it)
    "ubuntu": (["Ubuntu-5.15.0-25.25", "Ubuntu-5.15.0-91.101", "Ubuntu-5.15.0-100.110"], 2, None,
               "5.15.0-91-generic", "5.15.0-100-generic"),
    "rhel": (["kernel-5.14.0-284.el9", "kernel-5.14.0-362.el9", "kernel-5.14.0-427.el9"], 2, None,
             "5.14.0-362.24.1.el9_3.x86_64", "5.14.0-427.13.1.el9_4.x86_64"),
    "debian": (["debian/6.1.76-1", "debian/6.1.85-1", "debian/6.1.90-1"], 2, [18, 20, 21],
               "6.1.0-20-amd64", "6.1.0-21-amd64"),
}


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def build_tree(path, scheme):
    tags, backport_at, abinames, _old, _new = SCHEMES[scheme]
    h = History(path)
    for n, tag in enumerate(tags):
        helpers = BACKPORTED if n >= backport_at else BASE
        if n == backport_at:
            h.commit(f"backport{n}", make_header(helpers, "mapper-ids", ENUMS), "bpf: backport map_lookup_percpu_elem")
        files = {"debian/config/defines": f"[abi]\nabiname: {abinames[n]}\n"} if abinames else None
        h.commit(f"r{n}", make_header(helpers, "mapper-ids", ENUMS), f"release {tag}", files=files)
        h.tag(tag)
    return h


@pytest.fixture(scope="module", params=sorted(SCHEMES))
def distro(request, tmp_path_factory):
    base = tmp_path_factory.mktemp(request.param)
    history = build_tree(base / "kernel", request.param)
    db = base / "kb.db"
    result = run("collect", "--repo", history.path, "--tree", f"{request.param}-tree", "--db", str(db), "-q")
    assert result.exit_code == 0, result.output
    return request.param, history, db


def test_releases_are_the_trees_own(distro, tmp_path):
    scheme, _history, db = distro
    exported = json.loads(run("export", "--tree", f"{scheme}-tree", "--kind", "helper", "--db", str(db)).stdout)
    helper = next(i for i in exported["items"] if i["value"] == 195)
    tags = SCHEMES[scheme][0]
    expected = {"ubuntu": "5.15.0-100.110", "rhel": "5.14.0-427.el9", "debian": "6.1.90-1"}[scheme]
    assert helper["first_release"] == expected
    assert [(w["since"], w["until"]) for w in helper["windows"]] == [(expected, None)]
    assert helper["source"].startswith("git:kernel:")
    out = tmp_path / "tables.json"
    assert run("tables", "--tree", f"{scheme}-tree", "--lang", "json", "-o", str(out), "--db", str(db)).exit_code == 0
    releases = json.loads(out.read_text())["releases"]
    assert len(releases) == len(tags)


def test_scan_judges_by_the_trees_releases(distro):
    scheme, _history, db = distro
    _tags, _at, _abi, without, with_it = SCHEMES[scheme]
    lacking = run("scan", PERCPU_OBJECT, "--tree", f"{scheme}-tree", "--kernel", without, "--db", str(db))
    assert lacking.exit_code == 1, lacking.output
    assert "map_lookup_percpu_elem" in lacking.stdout and "NEEDS A NEWER KERNEL" in lacking.stdout
    having = run("scan", PERCPU_OBJECT, "--tree", f"{scheme}-tree", "--kernel", with_it, "--db", str(db))
    assert having.exit_code == 0, having.output
    if scheme != "debian":  # mainline arithmetic would say the opposite: 195 is 5.19 in mainline
        assert run("scan", PERCPU_OBJECT, "--kernel", with_it).exit_code == 1


def test_a_c_header_with_the_release_table_for_abi_releases(distro, tmp_path):
    """KERNEL_VERSION() cannot hold these releases: the header judges by the tree's own release table
    (tests/test_tables_c_trees.py compiles it)."""
    scheme, _history, db = distro
    default = run("tables", "--tree", f"{scheme}-tree", "-o", str(tmp_path / "out"), "--db", str(db))
    assert default.exit_code == 0, default.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["bpf_features.h", "bpf_features.py"]
    header = (tmp_path / "out" / "bpf_features.h").read_text()
    assert "bpf_kb_releases[BPF_KB_RELEASE_COUNT + 1]" in header and "KERNEL_VERSION(5, 19, 0)" not in header


def test_generated_python_judges_the_same(distro, tmp_path):
    scheme, _history, db = distro
    _tags, _at, _abi, without, with_it = SCHEMES[scheme]
    out = tmp_path / f"{scheme}.py"
    assert run("tables", "--tree", f"{scheme}-tree", "--lang", "python", "-o", str(out), "--db", str(db)).exit_code == 0
    spec = importlib.util.spec_from_file_location(f"tables_{scheme}", out)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.helper_available(195, without) is False
    assert module.helper_available(195, with_it) is True
    assert module.helper_available("map_lookup_elem", without) is True


def test_info_and_diff_in_the_tree(distro):
    scheme, _history, db = distro
    _tags, _at, _abi, without, with_it = SCHEMES[scheme]
    info = run("info", "195", "--tree", f"{scheme}-tree", "--kernel", without, "--db", str(db)).stdout
    assert "not yet: first in" in info
    diff = run("diff", without, with_it, "--tree", f"{scheme}-tree", "--db", str(db)).stdout
    assert "map_lookup_percpu_elem" in diff


def test_a_kernel_older_than_the_tree_is_one_clear_line(distro):
    scheme, _history, db = distro
    result = run("scan", PERCPU_OBJECT, "--tree", f"{scheme}-tree", "--kernel", "4.4.0-1-generic", "--db", str(db))
    assert result.exit_code == 2
    assert "is older than every release of tree" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_library_is_not_recorded_as_mainline(tmp_path):
    h = History(tmp_path / "libbpf")
    h.commit("c1", make_header(BASE))
    h.tag("v0.7.0")
    h.commit("c2", make_header({**BASE, 3: "probe_read"}))
    h.tag("v0.8.0")
    db = tmp_path / "kb.db"
    refused = run("collect", "--repo", h.path, "--tree", "mainline", "--db", str(db), "-q")
    assert refused.exit_code == 2
    assert "are not kernel releases" in refused.stderr and not db.exists()
    assert run("collect", "--repo", h.path, "--tree", "libbpf", "--db", str(db), "-q").exit_code == 0
    forced = run("collect", "--repo", h.path, "--tree", "mainline", "--db", str(db), "-q", "--force")
    assert forced.exit_code == 0


def test_tag_pattern_teaches_a_scheme(tmp_path):
    h = History(tmp_path / "vendor")
    h.commit("c1", make_header(BASE))
    h.tag("rel-5.10-b1")
    h.commit("c2", make_header({**BASE, 3: "probe_read"}))
    h.tag("rel-5.10-b2")
    db = tmp_path / "kb.db"
    result = run("collect", "--repo", h.path, "--tree", "vendor", "--db", str(db), "-q",
                 "--tag-pattern", r"rel-(?P<major>\d+)\.(?P<minor>\d+)-b(?P<build>\d+)")
    assert result.exit_code == 0, result.output
    helper = next(i for i in json.loads(run("export", "--tree", "vendor", "--db", str(db)).stdout)["items"]
                  if i["kind"] == "helper" and i["value"] == 3)
    assert helper["first_release"] == "5.10-b2"
    bad = run("collect", "--repo", h.path, "--db", str(db), "--tag-pattern", "(?P<major>\\d+)")
    assert bad.exit_code == 2 and "needs the named groups major and minor" in bad.stderr


def test_linux_history_before_bpf_is_still_kernel_releases(tmp_path):
    """linux.git's 2.6 tags are releases without bpf.h: they do not make linux look like a library."""
    h = History(tmp_path / "linux")
    h.commit("c0", None, other_file=True)
    h.tag("v2.6.39")
    h.commit("c1", make_header(BASE))
    h.tag("v3.18")
    result = run("collect", "--repo", h.path, "--tree", "mainline", "--db", str(tmp_path / "kb.db"), "-q")
    assert result.exit_code == 0, result.output


def test_a_tree_keeps_one_release_scheme(distro, tmp_path):
    scheme, history, db = distro
    other = History(tmp_path / "other")
    other.commit("c1", make_header(BASE))
    other.tag("v5.15")
    mixed = run("collect", "--repo", other.path, "--tree", f"{scheme}-tree", "--db", str(db), "-q")
    assert mixed.exit_code == 2
    assert f"tree {scheme}-tree holds {scheme} releases" in mixed.stderr
    into_mainline = run("collect", "--repo", history.path, "--tree", "mainline", "--db", str(tmp_path / "m.db"), "-q")
    assert into_mainline.exit_code == 2 and "tree mainline holds mainline releases" in into_mainline.stderr
