"""`kbgen export`: the stable interface linters import."""

import csv
import io
import json

from click.testing import CliRunner

from kb.cli import cli

REQUIRED = {"kind", "id", "name", "names", "first_release", "commit", "subject", "source"}


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_shipped_mainline_export_has_every_helper(user_db):
    result = run("export", "--kind", "helper")
    assert result.exit_code == 0, result.output
    helpers = json.loads(result.stdout)["items"]
    assert [h["value"] for h in helpers] == list(range(212))
    assert [h["id"] for h in helpers] == [str(n) for n in range(212)]  # ids are strings in every kind
    assert all(REQUIRED <= set(h) for h in helpers)
    h195 = helpers[195]
    assert (h195["name"], h195["first_release"]) == ("map_lookup_percpu_elem", "5.19")
    assert h195["commit"].startswith("07343110b293")
    assert h195["source"] == "reference:bcc+ebpf-docs"
    assert all(h["first_release"] for h in helpers)


def test_enum_kinds_and_unknown_release_is_null(user_db):
    types = json.loads(run("export", "--kind", "cmd").stdout)["items"]  # BPF_PROG_ASSOC_STRUCT_OPS: 6.19 or 7.0
    assert {t["kind"] for t in types} == {"cmd"}
    unknown = [t for t in types if t["first_release"] is None]
    assert unknown and all(t["unreleased"] is False for t in unknown)  # unknown is not "unreleased"


def test_collected_tree_export_marks_unreleased(history, tmp_path):
    db = tmp_path / "kb.db"
    run("collect", "--repo", history.path, "--tree", "fixture", "--db", str(db), "-q")
    items = json.loads(run("export", "--tree", "fixture", "--db", str(db)).stdout)["items"]
    unreleased = [i for i in items if i["unreleased"]]
    assert [(i["kind"], i["id"], i["name"], i["first_release"]) for i in unreleased] == [
        ("helper", "7", "unreleased_helper", None)
    ]
    renamed = next(i for i in items if i["kind"] == "helper" and i["value"] == 4)
    assert renamed["names"] == ["old_name", "new_name", "newest_name"]


def test_csv(user_db):
    rows = list(csv.DictReader(io.StringIO(run("export", "--format", "csv", "--kind", "cmd").stdout)))
    run_row = next(r for r in rows if r["id"] == "10")
    assert run_row["name"] == "BPF_PROG_TEST_RUN"
    assert set(run_row["names"].split("|")) == {"BPF_PROG_TEST_RUN", "BPF_PROG_RUN"}


def test_output_file_is_written_atomically(user_db, tmp_path):
    target = tmp_path / "helpers.json"
    assert run("export", "--kind", "helper", "-o", str(target)).exit_code == 0
    assert len(json.loads(target.read_text())["items"]) == 212
    assert [p.name for p in tmp_path.iterdir()] == ["helpers.json"] or "user" in {p.name for p in tmp_path.iterdir()}


def test_unknown_tree(user_db):
    result = run("export", "--tree", "rhel-9")
    assert result.exit_code == 2
    assert "no tree named 'rhel-9'" in result.stderr


def test_missing_db_is_just_the_shipped_kb(tmp_path):
    result = run("export", "--db", str(tmp_path / "nope.db"), "--kind", "link_type")
    assert result.exit_code == 0
    assert not (tmp_path / "nope.db").exists()
