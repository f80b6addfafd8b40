import fcntl
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from gitfixture import History
from headers import make_header

REAL_HEADER = "/usr/include/linux/bpf.h"

# The files that take longest, slowest first (seconds on two workers, measured December 2026).  pytest-xdist hands
# whole files to the workers in collection order (--dist loadfile --no-loadscope-reorder): these go out first and
# the short files after them even out when the two workers finish.  Its own order, most tests first, left the
# compiler and kbgen-process files, which have few tests each, to run last on one worker while the other idled.
SLOWEST_FIRST = (
    "test_datasette_browser.py",  # 15 s: Chromium, kbgen serve
    "test_datasette_site.py",  # 15 s: 400 requests through Datasette
    "test_faults.py",  # 7-10 s: kbgen serve, full disks
    "test_kb_cache.py",  # 7-9 s: knowledge-base builds
    "test_serve_datasette.py",  # 7-9 s: kbgen serve, publishing
    "test_build_integration.py",  # 3-6 s: make, cmake, meson
    "test_probe.py",
    "test_scan_needs.py",
    "test_tables_go.py",
    "test_site_pages.py",
    "test_signals.py",
    "test_distribution_trees.py",
    "test_hostile_inputs.py",
    "test_malformed_objects.py",
    "test_tables_rust.py",
    "test_scan_fleet.py",
)

BASE = ["unspec", "map_lookup_elem", "map_update_elem"]
ENUMS_V1 = {
    "bpf_cmd": ["BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_PROG_LOAD"],
    "bpf_map_type": ["BPF_MAP_TYPE_UNSPEC", "BPF_MAP_TYPE_HASH"],
    "bpf_prog_type": ["BPF_PROG_TYPE_UNSPEC", "BPF_PROG_TYPE_SOCKET_FILTER"],
}
ENUMS_V2 = {
    "bpf_cmd": ["BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_PROG_LOAD", "BPF_PROG_TEST_RUN",
                "BPF_PROG_RUN = BPF_PROG_TEST_RUN"],
    "bpf_map_type": ["BPF_MAP_TYPE_UNSPEC", "BPF_MAP_TYPE_HASH", "BPF_MAP_TYPE_ARRAY"],
    "bpf_prog_type": ["BPF_PROG_TYPE_UNSPEC", "BPF_PROG_TYPE_SOCKET_FILTER"],
    "bpf_attach_type": ["BPF_CGROUP_INET_INGRESS"],
}
ENUMS_V3 = dict(ENUMS_V2, bpf_link_type=["BPF_LINK_TYPE_UNSPEC = 0", "BPF_LINK_TYPE_RAW_TRACEPOINT = 1"])


def build_history(path):
    """A history with the real one's hard parts, each commit labelled for the assertions.

    v4.0  enum-format helper list                      (c1)
          probe_read added                             (c2)
    v4.1-rc1  __BPF_FUNC_MAPPER format, old_name (4)  (c3)
    v4.1  old_name renamed new_name before any release (c4); map type ARRAY, BPF_PROG_RUN alias (c5)
          side branch adds side_helper (5)             (s1), merged by m1 after main adds link types (c6)
    v4.2  at m1
          new_name renamed newest_name                 (c7)
    v4.9  at c7 (tagged with a later date than v4.10)
          header deleted (c8) and re-added in ___BPF_FUNC_MAPPER format with late_helper (6)  (c9)
    v4.10 at c9
          unreleased_helper (7) at HEAD                (c10)
    """
    h = History(path)
    h.commit("c0", None, "initial commit without the header", other_file=True)
    h.commit("c1", make_header(BASE, "enum", ENUMS_V1), "bpf: introduce bpf syscall")
    h.tag("v4.0", date="2020-02-01T00:00:00+00:00")
    h.commit("c2", make_header(BASE + ["probe_read"], "enum", ENUMS_V1), "tracing: add probe_read")
    helpers = BASE + ["probe_read", "old_name"]
    h.commit("c3", make_header(helpers, "mapper", ENUMS_V1), "bpf: FN mapper; add bpf_old_name")
    h.tag("v4.1-rc1")
    helpers = BASE + ["probe_read", "new_name"]
    h.commit("c4", make_header(helpers, "mapper", ENUMS_V1), "bpf: rename old_name to new_name")
    h.tag("v4.1", annotated=False)
    h.commit("c5", make_header(helpers, "mapper", ENUMS_V2), "bpf: add array maps and BPF_PROG_RUN")
    h.branch("bpf-next", "HEAD")
    h.commit("s1", make_header(helpers + ["side_helper"], "mapper", ENUMS_V2), "bpf: add bpf_side_helper")
    h.checkout("master")
    h.commit("c6", make_header(helpers, "mapper", ENUMS_V3), "bpf: add link types")
    h.merge("bpf-next", "m1", "Merge branch 'bpf-next'")
    h.tag("v4.2")
    helpers = BASE + ["probe_read", "newest_name", "side_helper"]
    h.commit("c7", make_header(helpers, "mapper", ENUMS_V3), "bpf: rename new_name to newest_name")
    h.tag("v4.9", date="2021-06-01T00:00:00+00:00")
    h.commit("c8", None, "uapi: move bpf.h away for a while")
    ids = dict(enumerate(helpers)) | {6: "late_helper"}
    h.commit("c9", make_header(ids, "mapper-ids", ENUMS_V3), "uapi: bring bpf.h back with explicit ids")
    h.tag("v4.10", date="2021-01-01T00:00:00+00:00")
    h.commit("c10", make_header(ids | {7: "unreleased_helper"}, "mapper-ids", ENUMS_V3), "bpf: add unreleased")
    h.tag("not-a-release")
    return h


def pytest_collection_modifyitems(items):
    rank = {name: place for place, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def history(tmp_path_factory):
    return build_history(tmp_path_factory.mktemp("linux") / "linux")


def mine(path, **options):
    """The git-history collector's facts for the repository at *path*."""
    from collectors.git_history import GitHistoryCollector

    return GitHistoryCollector(str(path), **options).collect()


@pytest.fixture(scope="session")
def collected(history):
    return mine(history.path, tree="mainline")


@pytest.fixture
def user_db(tmp_path, monkeypatch):
    path = tmp_path / "user" / "kb.db"
    path.parent.mkdir()
    monkeypatch.setenv("KBGEN_DB", str(path))
    return path


@pytest.fixture
def real_header():
    if not os.path.exists(REAL_HEADER):
        pytest.skip(f"{REAL_HEADER} not installed (Debian linux-libc-dev)")
    with open(REAL_HEADER) as handle:
        return handle.read()


@pytest.fixture(scope="session")
def shared(tmp_path_factory):
    """shared(name, make): the file or directory *name*, made by make(path) once per run, by whichever pytest-xdist
    worker asks first (the others wait for it).  For expensive inputs tests read and never change: a published site,
    a user database, the shipped knowledge base's cache."""
    base = tmp_path_factory.getbasetemp()
    # Each xdist worker's base temp is a directory of the run's; without xdist the run has the one.
    directory = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / "shared"
    directory.mkdir(exist_ok=True)

    def made(name, make):
        path = directory / name
        with open(directory / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not path.exists():
                staging = Path(tempfile.mkdtemp(prefix=f"{name}.", dir=directory))
                make(staging / name)
                os.replace(staging / name, path)  # whole or not at all, should make fail
        return path

    return made


@pytest.fixture(scope="session", autouse=True)
def private_cache(shared, tmp_path_factory):
    """Each worker keeps its knowledge-base cache to itself (tests damage it), set for the whole session so that
    module fixtures and the commands tests start use it too; it starts with the shipped knowledge base, built once
    per run (what every command of a missing user database reads first)."""
    from kb.store import kbase

    def build(path):
        with pytest.MonkeyPatch.context() as env:
            env.setenv("XDG_CACHE_HOME", str(path))
            env.delenv("KBGEN_NO_CACHE", raising=False)
            kbase.open_kb(None)

    home = tmp_path_factory.getbasetemp() / "cache"
    shutil.copytree(shared("cache", build), home)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("XDG_CACHE_HOME", str(home))
        yield home
