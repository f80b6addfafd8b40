"""A history that lacks something (the header at a release tag, older commits in a shallow clone, a second
release) is collected with one warning line saying so, and never taken as every item removed."""

import subprocess

from click.testing import CliRunner
from conftest import BASE, mine
from gitfixture import History
from headers import make_header

from kb.cli import cli

HEADER = "include/uapi/linux/bpf.h"


def released(path, *tags: str) -> History:
    """A history with one release per tag, each adding a helper to bpf.h."""
    h = History(path)
    for number, tag in enumerate(tags):
        h.commit(tag, make_header(BASE + ["probe_read", "ktime_get_ns"][:number]))
        h.tag(tag)
    return h


def windows(facts, kind, value):
    found = next(i for i in facts.items if i.kind == kind and i.value == value)
    return [(w.since, w.until) for w in found.windows]


def test_a_release_tag_without_the_header_is_a_warning_not_a_removal(tmp_path):
    h = History(tmp_path / "linux")
    h.commit("c0", None, "before bpf", other_file=True)
    h.tag("v3.17")  # before bpf.h existed: no warning
    h.commit("c1", make_header(BASE))
    h.tag("v6.0")
    h.commit("c2", None, "uapi: move bpf.h for a while")
    h.tag("v6.1")
    h.commit("c3", make_header(BASE + ["probe_read"]), "uapi: bring bpf.h back, add probe_read")
    h.tag("v6.2")
    facts = mine(h.path)
    assert facts.warnings == [(f"{h.path}: {HEADER} is missing at tag v6.1 (after v6.0 had it); that release is taken "
                              "to say nothing about the items, not to remove them")]
    assert [(r.version, r.has_header) for r in facts.releases] == [("3.17", False), ("6.0", True), ("6.1", False),
                                                                   ("6.2", True)]
    assert windows(facts, "helper", 1) == [("6.0", None)]
    assert windows(facts, "helper", 3) == [("6.2", None)]


def test_the_newest_release_without_the_header_removes_nothing(tmp_path):
    h = released(tmp_path / "linux", "v6.0", "v6.1")
    h.commit("c3", None, "uapi: bpf.h moved")
    h.tag("v6.2")
    facts = mine(h.path)
    assert len(facts.warnings) == 1 and "is missing at tag v6.2 (after v6.1 had it)" in facts.warnings[0]
    assert windows(facts, "helper", 1) == [("6.0", None)]
    assert windows(facts, "helper", 3) == [("6.1", None)]
    assert all(i.removed_in is None for i in facts.items)


def test_a_shallow_clone_is_a_warning_and_claims_no_first_release(tmp_path):
    h = released(tmp_path / "linux", "v6.0", "v6.1")
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", f"file://{h.path}", str(shallow)], check=True)
    facts = mine(str(shallow))
    assert [r.version for r in facts.releases] == ["6.1"]
    assert facts.warnings == [(f"{shallow}: a shallow clone: releases before v6.1 may be missing, so no item present "
                              "at v6.1 gets a first release")]
    assert windows(facts, "helper", 3) == [(None, None)]
    result = CliRunner().invoke(cli, ["collect", "--repo", str(shallow), "--tree", "mainline", "--db",
                                      str(tmp_path / "kb.db"), "-q"])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("kbgen: warning: ") == 1 and "a shallow clone" in result.stderr


def test_a_single_release_is_a_warning(tmp_path):
    h = History(tmp_path / "linux")
    h.commit("c1", make_header(BASE))
    h.commit("c2", make_header(BASE + ["probe_read"]))
    h.tag("v6.1")
    facts = mine(h.path)
    assert facts.warnings == [(f"{h.path}: {HEADER} is at one release only (v6.1): every item it has is taken as "
                              "arriving there, and nothing can be seen leaving")]
    assert windows(facts, "helper", 3) == [("6.1", None)]
