"""The merged knowledge base is cached, and the cache never serves stale facts."""

import json

from click.testing import CliRunner

from kb import kbase
from kb.cli import cli


def export(db):
    return json.loads(CliRunner().invoke(cli, ["export", "--db", str(db), "--kind", "helper"]).stdout)


def test_cache_is_used_and_follows_the_user_database(history, tmp_path, monkeypatch):
    db = tmp_path / "kb.db"
    first = export(db)
    cache = kbase._cache_path(str(db))
    assert kbase._from_cache(cache, kbase._cache_key(str(db))) is not None
    monkeypatch.setattr(kbase, "_build", lambda *a: (_ for _ in ()).throw(AssertionError("rebuilt")))
    assert export(db) == first  # served from the cache
    monkeypatch.undo()
    CliRunner().invoke(cli, ["collect", "--repo", history.path, "--tree", "mainline", "--db", str(db), "-q"])
    assert export(db)[1]["first_release"] == "4.0"  # the collected tree, not the cached shipped facts


def test_corrupt_cache_is_ignored(tmp_path):
    db = tmp_path / "kb.db"
    first = export(db)
    with open(kbase._cache_path(str(db)), "wb") as handle:
        handle.write(b"garbage")
    assert export(db) == first
