"""The merged knowledge base is cached, and the cache never serves stale facts."""

import json
import os

import pytest
from click.testing import CliRunner

from kb.cli import cli
from kb.store import kbase


def export(db):
    return json.loads(CliRunner().invoke(cli, ["export", "--db", str(db), "--kind", "helper"]).stdout)["items"]


def test_cache_is_used_and_follows_the_user_database(history, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # written by this test, not the session's
    db = tmp_path / "kb.db"
    first = export(db)
    cache = kbase._cache_path(str(db))
    assert kbase._from_cache(cache, kbase._cache_key(str(db))) is not None
    monkeypatch.setattr(kbase, "build", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    assert export(db) == first  # served from the cache
    monkeypatch.undo()
    CliRunner().invoke(cli, ["collect", "--repo", history.path, "--tree", "mainline", "--db", str(db), "-q"])
    assert export(db)[1]["first_release"] == "4.0"  # the collected tree, not the cached shipped facts


@pytest.mark.parametrize("damage", ["garbage", "page", "truncated", "empty"])
def test_damaged_cache_is_removed_and_rebuilt_with_one_warning(tmp_path, damage):
    db = tmp_path / "kb.db"
    first = export(db)
    path = kbase._cache_path(str(db))
    with open(path, "rb") as handle:
        data = handle.read()
    if damage == "garbage":
        data = b"garbage"
    elif damage == "page":  # one 4 KiB page of the serialized database overwritten
        data = data[:8192] + b"\xff" * 4096 + data[12288:]
    elif damage == "truncated":
        data = data[: len(data) // 2]
    else:
        data = b""
    with open(path, "wb") as handle:
        handle.write(data)
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--kind", "helper"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["items"] == first
    warnings = [line for line in result.stderr.splitlines() if line]
    assert warnings == [f"kbgen: warning: the cache {path} was damaged; removed it and rebuilt the knowledge base"]
    # Rebuilt and cached again: the next run is quiet.
    again = CliRunner().invoke(cli, ["export", "--db", str(db), "--kind", "helper"])
    assert again.stderr == ""


def test_the_cache_without_connection_serialize(tmp_path, monkeypatch):
    """Python 3.10's sqlite3 has no Connection.serialize: the cache is written and read through a backup."""
    monkeypatch.setattr(kbase, "IN_MEMORY_COPIES", False)
    db = tmp_path / "kb.db"
    first = export(db)
    cached = kbase._from_cache(kbase._cache_path(str(db)), kbase._cache_key(str(db)))
    assert cached is not None and cached.execute("SELECT count(*) FROM items").fetchone()[0] > 700
    monkeypatch.setattr(kbase, "build", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rebuilt")))
    assert export(db) == first


def test_tables_reads_a_cache_but_never_writes_one(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # no other test's cache of the shipped kb
    out, db = tmp_path / "out", tmp_path / "kb.db"
    # One language: which the tables are in has nothing to do with the cache.
    assert CliRunner().invoke(cli, ["tables", "--db", str(db), "-o", str(out), "--lang", "python"]).exit_code == 0
    assert not os.path.exists(kbase._cache_path(str(db)))
    export(db)  # a reading command caches the knowledge base
    if not kbase.IN_MEMORY_COPIES:
        return  # Python 3.10: reading the cache would take a temporary file, so tables builds its own
    monkeypatch.setattr(kbase, "build", lambda *a, **k: (_ for _ in ()).throw(AssertionError("rebuilt")))
    assert CliRunner().invoke(cli, ["tables", "--db", str(db), "-o", str(out), "--lang", "python", "--check"]).exit_code == 0
