"""An item whose first release is not established, only bounded (Debian's 7.2 builds have it, its 6.12 builds lack
it; the references: after 6.18, by 7.0), is judged by its bounds everywhere: available from the later bound's
release on, not yet up to the earlier one, "unknown: arrived between A and B" between, never a guess shown as exact."""

import json
import os

import pytest
from click.testing import CliRunner

from kb import api
from kb.cli import cli
from kb.vocab import rules

HERE = os.path.dirname(os.path.abspath(__file__))
BOUNDED_OBJECT = os.path.join(HERE, "bpf", "bounded.bpf.o")  # calls bpf_get_root_mem_cgroup, bpf_put_mem_cgroup


def key(text):
    return rules.kernel_key(text, exact=False)


@pytest.mark.parametrize("kernel, after, by, status", [
    ("7.0", "6.18", "7.0", "available"),
    ("7.0.9", "6.18", "7.0", "available"),  # a stable update of the later bound
    ("7.0-rc2", "6.18", "7.0", "available"),  # an rc is judged as its release
    ("6.19", "6.18", "7.0", "unknown"),
    ("6.18.12", "6.18", "7.0", "not_yet"),  # a stable update of the earlier bound lacks it too
    ("5.10", "6.18", "7.0", "not_yet"),
    ("6.11", None, "6.12", "unknown"),  # no build lacking it: nothing is known before the later bound
    ("6.12.1", None, "6.12", "available"),
])
def test_the_rule(kernel, after, by, status):
    assert rules.arrival_verdict(key(kernel), after and key(after), key(by)) == status


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_info_shows_both_bounds_and_judges_by_them(user_db):
    out = run("info", "BPF_PROG_ASSOC_STRUCT_OPS").stdout
    assert "first release   between 6.18 and 7.0 (not established exactly)" in out
    said = {kernel: run("info", "BPF_PROG_ASSOC_STRUCT_OPS", "--kernel", kernel).stdout.splitlines()[1]
            for kernel in ("6.18.3", "6.19", "7.0", "7.1")}
    assert said == {
        "6.18.3": "  on the kernel   6.18.3: not yet: arrived between 6.18 and 7.0",
        "6.19": "  on the kernel   6.19: unknown: arrived between 6.18 and 7.0; the first release is not established",
        "7.0": "  on the kernel   7.0: available (arrived between 6.18 and 7.0; the first release is not established)",
        "7.1": "  on the kernel   7.1: available (arrived between 6.18 and 7.0; the first release is not established)",
    }


def test_info_as_json_exports_the_bounds_and_the_verdict(user_db):
    document = json.loads(run("info", "BPF_PROG_ASSOC_STRUCT_OPS", "--kernel", "6.19", "--format", "json").stdout)
    (item,) = document["items"]
    assert (item["first_release"], item["first_release_after"], item["first_release_by"]) == (None, "6.18", "7.0")
    assert {k: item["kernel"][k] for k in ("status", "available", "since", "arrival")} == {
        "status": "bounded", "available": False, "since": None, "arrival": "between 6.18 and 7.0"}


def test_check_and_a_distribution_build_judged_as_mainline(user_db):
    _where, rows = api.check("7.0", ["BPF_PROG_ASSOC_STRUCT_OPS"])
    assert rows[0].available and rows[0].first_release is None
    where, rows = api.check("6.19.0-1-amd64", ["BPF_PROG_ASSOC_STRUCT_OPS"])
    assert where.approximate and not rows[0].available  # approximate twice over: the build and the arrival
    assert rows[0].reason == "unknown: arrived between 6.18 and 7.0; the first release is not established"


@pytest.mark.parametrize("kernel, status, code", [
    ("6.12.5", "NEEDS A NEWER KERNEL", 1),  # Debian's 6.12 builds lack them
    ("6.18", "first release not known", 0),  # between the bounds: warned about, not failed
    ("7.2", None, 0),
])
def test_scan_judges_a_call_by_the_bounds(kernel, status, code):
    result = run("scan", BOUNDED_OBJECT, "--kernel", kernel)
    assert result.exit_code == code, result.output
    rows = [line.split("  ") for line in result.stdout.splitlines() if "kfunc bpf_get_root_mem_cgroup" in line]
    assert len(rows) == 1
    fields = [field.strip() for field in rows[0] if field.strip()]
    assert "between 6.12 and 7.2" in fields  # the since column: both bounds, no release shown as exact
    assert (fields[-1] if status else None) == status


def test_the_json_tables_carry_both_bounds(tmp_path, user_db):
    assert run("tables", "--lang", "json", "-o", str(tmp_path)).exit_code == 0
    document = json.loads((tmp_path / "bpf_features.json").read_text())
    (command,) = [e for e in document["cmd"] if e["name"] == "BPF_PROG_ASSOC_STRUCT_OPS"]
    assert (command["first_release"], command["windows"]) == (None, [])
    assert (command["first_release_after"], command["first_release_by"]) == ("6.18", "7.0")
    (helper,) = [e for e in document["helper"] if e["id"] == 195]
    assert (helper["first_release"], helper["first_release_after"], helper["first_release_by"]) == ("5.19", None, None)


def test_diff_lists_a_bounded_arrival_with_its_bounds(user_db):
    lines = run("diff", "6.18", "7.0").stdout.splitlines()
    (line,) = [line for line in lines if "BPF_PROG_ASSOC_STRUCT_OPS" in line]
    assert line.split() == ["between", "6.18", "and", "7.0", "cmd", "38", "BPF_PROG_ASSOC_STRUCT_OPS"]
    assert lines.index(line) > max(n for n, text in enumerate(lines) if text.startswith("6.19 "))  # by 7.0
    document = json.loads(run("diff", "6.18", "7.0", "--format", "json").stdout)
    (change,) = [c for c in document["arrived"] if c["name"] == "BPF_PROG_ASSOC_STRUCT_OPS"]
    assert (change["release"], change["arrival"]) == (None, "between 6.18 and 7.0")
    assert not any("BPF_PROG_ASSOC_STRUCT_OPS" in text for text in run("diff", "7.0", "7.1").stdout.splitlines())
