"""`kbgen collect`: recording trees, re-collecting, and every kind of bad input."""

import hashlib
import json
import sqlite3

import pytest
from click.testing import CliRunner
from gitfixture import History
from headers import make_header

from kb.cli import cli


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_collect_then_export(history, tmp_path):
    db = tmp_path / "kb.db"
    result = run("collect", "--repo", history.path, "--tree", "mainline", "--db", str(db), "--quiet")
    assert result.exit_code == 0, result.output
    assert "mainline: 20 items, 5 releases, 1 not in any release" in result.stderr
    exported = json.loads(run("export", "--db", str(db), "--kind", "helper").stdout)["items"]
    side = next(e for e in exported if e["value"] == 5)
    assert side["commit"] == history.commits["s1"]
    assert side["first_release"] == "4.2"


def test_tree_defaults_to_the_directory_name_and_trees_are_kept_apart(history, tmp_path):
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", history.path, "--db", str(db), "-q").exit_code == 0
    assert run("collect", "--repo", history.path, "--tree", "rhel-9", "--tags", "v4.[01]", "--db", str(db),
               "-q").exit_code == 0
    conn = sqlite3.connect(db)
    counts = dict(conn.execute("SELECT tree, count(*) FROM releases GROUP BY tree"))
    assert counts == {"linux": 5, "rhel-9": 2}
    # Re-collecting one tree replaces only that tree's facts.
    assert run("collect", "--repo", history.path, "--tree", "rhel-9", "--tags", "v4.0", "--db", str(db),
               "-q", "--force").exit_code == 0
    counts = dict(conn.execute("SELECT tree, count(*) FROM releases GROUP BY tree"))
    assert counts == {"linux": 5, "rhel-9": 1}


def test_second_run_with_nothing_new_does_no_work(history, tmp_path, monkeypatch):
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", history.path, "--db", str(db), "-q").exit_code == 0
    before = digest(db)
    from collectors import git_history

    monkeypatch.setattr(git_history.GitHistoryCollector, "collect", lambda *a, **k: pytest.fail("collected again"))
    result = run("collect", "--repo", history.path, "--db", str(db), "-q")
    assert result.exit_code == 0
    assert "linux: git:linux:include/uapi/linux/bpf.h up to date" in result.stderr
    assert digest(db) == before


def test_a_new_tag_is_seen(tmp_path):
    h = History(tmp_path / "linux")
    h.commit("c1", make_header(["unspec", "a"]))
    h.tag("v5.0")
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", h.path, "--db", str(db), "-q").exit_code == 0
    h.commit("c2", make_header(["unspec", "a", "b"]))
    h.tag("v5.1")
    result = run("collect", "--repo", h.path, "--db", str(db), "-q")
    assert "3 items, 2 releases" not in result.stderr  # enums count too
    exported = json.loads(run("export", "--db", str(db), "--tree", "linux", "--kind", "helper").stdout)["items"]
    assert [(e["name"], e["first_release"]) for e in exported] == [("unspec", "5.0"), ("a", "5.0"), ("b", "5.1")]


def test_not_a_git_repository(tmp_path):
    db = tmp_path / "kb.db"
    result = run("collect", "--repo", str(tmp_path), "--db", str(db))
    assert result.exit_code == 2
    assert f"{tmp_path}: not a git repository" in result.stderr
    assert not db.exists()


def test_no_tag_matches(history, tmp_path):
    result = run("collect", "--repo", history.path, "--tags", "release-*", "--db", str(tmp_path / "kb.db"))
    assert result.exit_code == 2
    assert "no tag matches 'release-*'" in result.stderr


def test_header_missing_at_every_tag(tmp_path):
    h = History(tmp_path / "other")
    h.commit("c1", None, other_file=True)
    h.tag("v1.0")
    result = run("collect", "--repo", h.path, "--db", str(tmp_path / "kb.db"))
    assert result.exit_code == 2
    assert "include/uapi/linux/bpf.h is missing at every release tag" in result.stderr


def test_malformed_header_names_tag_and_line_and_leaves_the_database_as_it_was(history, tmp_path):
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", history.path, "--db", str(db), "-q").exit_code == 0
    before = digest(db)
    h = History(tmp_path / "broken")
    h.commit("c1", make_header(["unspec", "a"]))
    h.tag("v1.0")
    h.commit("c2", make_header(["unspec", "a", "b"]).replace("FN(b),", "FN(b"))
    h.tag("v1.1")
    result = run("collect", "--repo", h.path, "--tree", "linux", "--db", str(db), "-q")
    assert result.exit_code == 2
    assert "include/uapi/linux/bpf.h at tag v1.1: line" in result.stderr
    assert "unexpected" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert digest(db) == before


def test_corrupt_database(history, tmp_path):
    db = tmp_path / "kb.db"
    db.write_bytes(b"this is not sqlite at all" * 100)
    before = digest(db)
    result = run("collect", "--repo", history.path, "--db", str(db))
    assert result.exit_code == 2
    assert str(db) in result.stderr and "not a usable SQLite database" in result.stderr
    assert digest(db) == before


def test_foreign_sqlite_database_is_refused(history, tmp_path):
    db = tmp_path / "kb.db"
    sqlite3.connect(db).execute("CREATE TABLE t (x)")
    result = run("collect", "--repo", history.path, "--db", str(db))
    assert result.exit_code == 2
    assert "not a kbgen knowledge base" in result.stderr


def test_unwritable_database_location(history, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    db = blocker / "kb.db"
    result = run("collect", "--repo", history.path, "--db", str(db))
    assert result.exit_code == 2
    assert f"{db}: cannot open for writing" in result.stderr
    assert blocker.read_text() == "a file where a directory should be"


def test_default_database_is_the_users(history, user_db):
    result = run("collect", "--repo", history.path, "-q")
    assert result.exit_code == 0
    assert user_db.exists()


def test_progress_is_reported_for_every_distinct_revision(history, tmp_path):
    from kb import api

    seen = []
    api.collect(history.path, db=str(tmp_path / "kb.db"), progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1][0] == seen[-1][1]
    assert [done for done, _total in seen] == list(range(1, len(seen) + 1))


def test_progress_is_quiet_when_not_a_terminal(history, tmp_path):
    result = run("collect", "--repo", history.path, "--db", str(tmp_path / "kb.db"))
    assert "parsing header revisions" not in result.stderr
