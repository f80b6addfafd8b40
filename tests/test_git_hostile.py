"""Hostile git content: tag names and commit subjects with any byte are read, or skipped with one line, never a
traceback; the rest of the repository is collected."""

import os
import subprocess
import sys

import pytest
from conftest import BASE, mine
from gitfixture import HEADER, History
from headers import make_header

from kb.vocab.warnings import KbgenWarning

# The smallest section table libbpf's format reader takes: libbpf-like repositories run both collectors.
LIBBPF_C = 'static const struct bpf_sec_def section_defs[] = {\n\tSEC_DEF("kprobe+", KPROBE, 0, SEC_NONE),\n};\n'


def git(path: str, *args: str | bytes) -> str:
    env = dict(os.environ, GIT_AUTHOR_DATE="2021-03-01T12:00:00+00:00", GIT_COMMITTER_DATE="2021-03-01T12:00:00+00:00")
    subprocess.run(["git", "-C", path, *args], check=True, capture_output=True, env=env)
    return subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def item(facts, kind, value):
    return next(i for i in facts.items if i.kind == kind and i.value == value)


def test_a_tag_name_that_is_not_utf8_is_warned_about_and_skipped(tmp_path):
    h = History(tmp_path / "linux")
    h.commit("c1", make_header(BASE))
    h.tag("v5.0")
    h.commit("c2", make_header(BASE + ["probe_read"]))
    h.tag("v5.1")
    git(h.path, "tag", b"v5.2\xff")
    git(h.path, "tag", "-a", "-m", "annotated too", b"v5.3-\xff\xfe")
    with pytest.warns(KbgenWarning) as caught:
        facts = mine(h.path)
    assert [str(w.message) for w in caught] == [f"{h.path}: tag v5.2\\xff is not UTF-8; skipped",
                                                f"{h.path}: tag v5.3-\\xff\\xfe is not UTF-8; skipped"]
    assert [r.version for r in facts.releases] == ["5.0", "5.1"]
    assert item(facts, "helper", 3).first_release == "5.1"


def test_commit_subjects_and_authors_with_any_byte(tmp_path):
    h = History(tmp_path / "linux")
    h.commit("c1", make_header(BASE))
    h.tag("v5.0")
    with open(os.path.join(h.path, HEADER), "w") as handle:
        handle.write(make_header(BASE + ["probe_read"]))
    git(h.path, "add", HEADER)
    added = git(h.path, "commit", "-q", "--author", b"J\xf6rg <j@example.org>", "-m",
                b"bpf: add probe_read \x1e, \x1f and \xff")
    h.commit("c3", make_header(BASE + ["probe_read", "ktime_get_ns"]), "bpf: add ktime_get_ns\x1e")
    h.tag("v5.1")
    facts = mine(h.path)
    probe = item(facts, "helper", 3)
    assert probe.introduced_by == added
    # git re-encodes a message that is not UTF-8 as Latin-1 where it can; what it cannot is replaced, not fatal
    assert probe.subject[:-1] == "bpf: add probe_read \x1e, \x1f and " and probe.subject[-1] in "\xff\ufffd"
    assert probe.author in ("J\xf6rg", "J\ufffdrg")
    assert item(facts, "helper", 4).subject == "bpf: add ktime_get_ns\x1e"
    assert [r.version for r in facts.releases] == ["5.0", "5.1"]


def test_collect_warns_once_per_bad_tag_with_every_collector_of_the_repository(tmp_path):
    """A libbpf-like repository runs two collectors, the second in a forked process: still one line."""
    h = History(tmp_path / "libbpf")
    h.commit("c1", make_header(BASE), files={"src/libbpf.c": LIBBPF_C})
    h.tag("v0.7.0")
    h.commit("c2", make_header(BASE + ["probe_read"]), "bpf: add probe_read \x1e")
    h.tag("v0.8.0")
    git(h.path, "tag", b"v0.9.0\xff")
    db = tmp_path / "kb.db"
    result = subprocess.run([sys.executable, "-m", "kb", "collect", "--repo", h.path, "--tree", "libbpf", "--db",
                             str(db), "-q"], capture_output=True, text=True, errors="replace", check=False)
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("is not UTF-8") == 1, result.stderr
    assert f"kbgen: warning: {h.path}: tag v0.9.0\\xff is not UTF-8; skipped" in result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert "libbpf: 11 items, 2 releases" in result.stderr
    assert "libbpf: 0 items, 2 releases, 0 not in any release, from git:libbpf:src/libbpf.c" in result.stderr
