"""The export linters rely on: a JSON Schema, a format version, and README tables generated from the code."""

import csv
import io
import json
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from kb.cli import cli
from kb.outputs import export
from kb.vocab.kinds import ITEM_KINDS

README = Path(__file__).parent.parent / "README.md"


def run(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_schema_validates_everything_kbgen_exports(user_db, history, tmp_path):
    schema = json.loads(run("export", "--schema").stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    everything = json.loads(run("export", "--kind", "all").stdout)
    jsonschema.validate(everything, schema)
    assert everything["format_version"] == export.FORMAT_VERSION
    assert {i["kind"] for i in everything["items"]} == set(ITEM_KINDS)
    # A mined tree's export (subjects, authors, unreleased items) validates too.
    db = tmp_path / "kb.db"
    run("collect", "--repo", history.path, "--tree", "fixture", "--db", str(db), "-q")
    jsonschema.validate(json.loads(run("export", "--tree", "fixture", "--db", str(db)).stdout), schema)


def test_the_schema_rejects_what_is_not_an_export(user_db):
    schema = export.schema()
    document = json.loads(run("export", "--kind", "helper").stdout)
    document["items"][0]["first_release"] = 5.19
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(document))
    assert errors and "first_release" in str(errors[0].path)


def test_windows_through_the_export(user_db):
    items = {(i["kind"], i["id"]): i for i in json.loads(run("export", "--kind", "kfunc").stdout)["items"]}
    assert items[("kfunc", "cgroup_rstat_flush")]["removed_in"] == "6.16"
    windows = items[("kfunc", "bpf_stream_vprintk")]["windows"]
    assert [(w["since"], w["until"]) for w in windows] == [("6.17", "6.18"), ("7.0", None)]
    assert windows[0]["since_key"] == [6, 17, 0, 999] and windows[1]["until_key"] is None


def test_a_distribution_tree_exports_its_releases_and_carries_mainline_facts(user_db, tmp_path):
    """Windows of 5.15.0-100.110 compare by the keys the export gives, without re-implementing kbgen; GPL-only,
    which a distribution's header does not say, is mainline's, marked as carried."""
    from test_distribution_trees import build_tree

    history = build_tree(tmp_path / "kernel", "ubuntu")
    db = tmp_path / "kb.db"
    assert run("collect", "--repo", history.path, "--tree", "jammy", "--db", str(db), "-q").exit_code == 0
    document = json.loads(run("export", "--tree", "jammy", "--db", str(db)).stdout)
    jsonschema.validate(document, export.schema())
    assert document["scheme"] == "ubuntu"
    releases = document["releases"]
    assert [r["version"] for r in releases] == ["5.15.0-25.25", "5.15.0-91.101", "5.15.0-100.110"]
    assert [r["key"] for r in releases] == sorted(r["key"] for r in releases)
    assert releases[2]["key"] == [5, 15, 0, 999, 100, 110]
    items = {(i["kind"], i["id"]): i for i in document["items"]}
    percpu = items[("helper", "195")]
    assert percpu["windows"][0]["since_key"] == releases[2]["key"]
    assert (percpu["gpl_only"], percpu["carried"]) == (False, ["gpl_only"])
    assert items[("helper", "1")]["carried"] == ["gpl_only"] and items[("helper", "1")]["gpl_only"] is False
    assert json.loads(run("export", "--kind", "helper").stdout)["items"][1]["carried"] == []


def test_csv_for_each_kind_has_the_same_columns(user_db):
    for kind in ITEM_KINDS:
        rows = list(csv.DictReader(io.StringIO(run("export", "--kind", kind, "--format", "csv").stdout)))
        assert rows and tuple(rows[0]) == export.FIELD_NAMES, kind
    vprintk = next(r for r in csv.DictReader(io.StringIO(run("export", "--kind", "kfunc", "--format", "csv").stdout))
                   if r["id"] == "bpf_stream_vprintk")
    assert vprintk["windows"] == "6.17..6.18,7.0.."


def test_readme_tables_are_the_codes():
    text = README.read_text()
    assert export.markdown_table() in text, "README's export field table differs from kb/outputs/export.py FIELDS"
    assert f"format_version` is {export.FORMAT_VERSION}" in text
